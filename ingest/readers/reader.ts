/**
 * The port every corpus format implements: bytes of one file in, documents and issues out. A new
 * format (PDF, DOCX) is one more reader in this folder, listed in ./index.ts.
 */
import type { Doc, IngestIssue } from "../../core/types.ts";

/** What one file gave: its documents, and a problem per record or file that could not be read. */
export interface Parsed {
  docs: Doc[];
  issues: IngestIssue[];
}

export interface ReadLimits {
  /** Largest file read whole. */
  maxFileBytes: number;
  /** Largest record of a file read record by record. */
  maxRecordBytes: number;
}

/** A corpus file on disk: its path under the corpus (`/`-separated), its path, its size. */
export interface CorpusFile {
  rel: string;
  abs: string;
  size: number;
}

export interface FormatReader {
  /** File extensions it reads, lower case with the dot (".txt"). */
  readonly extensions: readonly string[];
  /**
   * Parses a whole file. Pure: the same bytes always give the same documents. `rel` is the
   * document's source and, without its extension, its id (or the base of its records' ids).
   * Text formats answer at once; document formats (PDF, DOCX) through a promise.
   */
  parse(rel: string, bytes: Buffer): Parsed | Promise<Parsed>;
  /**
   * Reads the file record by record instead, when the reader wants to (a JSONL file always; a
   * JSON array too large to read whole). Undefined: read it whole with `parse`.
   */
  stream?(file: CorpusFile, limits: ReadLimits): Promise<Parsed | undefined>;
}
