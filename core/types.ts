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
  /** sha256 of everything that affects indexing (title, date, text). */
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
    dispose: () => inner.dispose(),
  };
}

/** A problem with one corpus file; the rest of the corpus is still indexed. */
export interface IngestIssue {
  source: string;
  code: "FILE_UNREADABLE" | "FILE_MALFORMED" | "FILE_EMPTY" | "FILE_BINARY" | "FILE_TOO_LARGE";
  message: string;
}

export interface DateFilter {
  /** Inclusive, YYYY-MM-DD. */
  from?: string;
  /** Inclusive, YYYY-MM-DD. */
  to?: string;
}

export interface HistoryTurn {
  role: "user" | "assistant";
  text: string;
}
