/** Shapes shared by the indexer, the answer engine, the transports and the page. */

/** A document as ingested from the corpus. `text` is the body the offsets refer to. */
export interface Doc {
  /** Stable id: the file's path under the corpus without extension, or a record's own id. */
  id: string;
  title: string;
  /** YYYY-MM-DD when known. */
  date?: string;
  url?: string;
  /** Path of the file it came from, relative to the corpus folder (plus `#line` for JSONL records). */
  source: string;
  text: string;
  /** Paginated formats (PDF): the offset in `text` where each page starts; see core/pages.ts. */
  pages?: number[];
  /** sha256 of everything that affects indexing (title, date, text, pages). */
  hash: string;
}

/** A span of a document's text: `doc.text.slice(start, end) === text`. */
export interface Span {
  start: number;
  end: number;
  text: string;
}

export interface Chunk extends Span {
  /** `${docId}#${ordinal}` */
  id: string;
  docId: string;
  ordinal: number;
}

export type EmbedKind = "query" | "passage";

/** A sentence for the reader: its text and the title of its document. */
export interface ReadItem {
  title: string;
  text: string;
}

/** What the reader makes of one sentence for a question. */
export interface ReadScore {
  /** The relevance logit: how surely the sentence answers the question (its sigmoid is a probability). */
  logit: number;
  /** The likeliest answer inside the sentence: UTF-16 offsets into `text`, and its probability. */
  span?: { start: number; end: number; probability: number };
}

/**
 * The reading model's port: a cross-encoder that reads the question against each sentence
 * (reader/README.md). Scored in the embedding workers, so it adds no thread of its own.
 */
export interface Reader {
  readonly modelId: string;
  read(question: string, items: readonly ReadItem[]): Promise<ReadScore[]>;
}

/** The port every embedding backend implements. Vectors are unit length. */
export interface Embedder {
  readonly modelId: string;
  readonly dim: number;
  readonly pooling: "cls" | "mean";
  /** Largest input in tokens, special tokens included. */
  readonly maxTokens: number;
  embed(texts: readonly string[], kind: EmbedKind): Promise<Float32Array[]>;
  /** Tokens the model sees for this text, without special tokens. */
  countTokens(text: string): number;
  /** The reader, when its model was loaded beside the embedding model. */
  readonly reader?: Reader | undefined;
  dispose(): Promise<void>;
}

/** What a wrapper of an Embedder passes on to the one it wraps unchanged: everything but `embed`. */
export function forwarding(inner: Embedder): Omit<Embedder, "embed"> {
  return {
    modelId: inner.modelId,
    dim: inner.dim,
    pooling: inner.pooling,
    maxTokens: inner.maxTokens,
    countTokens: (text) => inner.countTokens(text),
    reader: inner.reader,
    dispose: () => inner.dispose(),
  };
}

/** A problem with one corpus file; the rest of the corpus is still indexed. */
export interface IngestIssue {
  source: string;
  code:
    | "FILE_UNREADABLE"
    | "FILE_MALFORMED"
    | "FILE_EMPTY"
    | "FILE_BINARY"
    | "FILE_TOO_LARGE"
    | "FILE_ENCRYPTED"
    | "FILE_NO_TEXT"
    | "FILE_UNSUPPORTED";
  message: string;
}

/** Described once, with the other wire shapes, in core/protocol.ts. */
export type { DateFilter, HistoryTurn } from "./protocol.ts";
