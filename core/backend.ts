/**
 * The search-backend port: everything retrieval, answer composition, the engine, the server and
 * the evaluation read from an index, and everything the indexer writes into one. `core/` owns
 * these interfaces; storage engines implement them as adapters (the embedded hnswlib + SQLite
 * index by default, a distributed engine as another adapter) and nothing in `core/` imports an
 * adapter.
 *
 * Shape of a backend:
 * - `SearchBackend` hands out leases on an `IndexSnapshot`: one consistent, published version of
 *   the index. An answer reads every passage, sentence and statistic from the snapshot it leased,
 *   so a version published meanwhile never mixes into it.
 * - `BackendWriter` stages a new version beside the published one and switches to it atomically
 *   in `publish`; until then readers see the previous version, and an interrupted build leaves it
 *   untouched.
 *
 * Chunks are addressed by `label`: an integer the writer assigns, unique within a snapshot and
 * never reused for another chunk of the same index (vectors of deleted labels may linger).
 * Offsets (`start`, `end`) are UTF-16 code units into the document's `text`, as everywhere.
 * Every query method is async so that a networked backend can implement it; an adapter that
 * cannot reach its store rejects with a {@link BackendError} coded `BACKEND_UNAVAILABLE`.
 */
import type { BackendConfig, IndexConfig } from "./config.ts";
import { AppError } from "./errors.ts";
import type { Chunk, DateFilter, Doc, Embedder, Span } from "./types.ts";

/** The embedding model an index was built with; an index built with another is refused. */
export interface ModelInfo {
  name: string;
  dim: number;
  pooling: "cls" | "mean";
}

/** The chunker settings an index was built with; an index built with others is refused. */
export interface ChunkerInfo {
  maxTokens: number;
  overlapTokens: number;
  version: number;
}

/** What a reader or writer requires of the index it opens. */
export interface BackendExpectation {
  model: ModelInfo;
  chunker: ChunkerInfo;
}

/**
 * Bumped when the chunker's output, or the vectors of the same texts, change for the same
 * settings. 2: model batches are formed by token count across a group's texts, 16 texts each (the
 * quantised model's vectors depend on the batch a text is in). Since index format 4 a group's
 * texts are its chunk inputs only, no longer with its sentences, which moves a fresh build's chunk
 * vectors (squad-dev: cosine to the earlier vector 0.9929 at least, 0.9975 on average). That was
 * left at 2 on purpose, so that an index of format 3 is upgraded with the vectors it holds rather
 * than embedded again; an upgraded index and a fresh one differ by that much.
 */
export const CHUNKER_VERSION = 2;

/** The chunker settings an index built now records. */
export function chunkerInfo(config: Pick<IndexConfig, "chunkMaxTokens" | "chunkOverlapTokens">): ChunkerInfo {
  return {
    maxTokens: config.chunkMaxTokens,
    overlapTokens: config.chunkOverlapTokens,
    version: CHUNKER_VERSION,
  };
}

/** The model an index built with this embedder records. */
export function modelInfo(embedder: Pick<Embedder, "modelId" | "dim" | "pooling">): ModelInfo {
  return { name: embedder.modelId, dim: embedder.dim, pooling: embedder.pooling };
}

/** A document without its text. */
export type DocMeta = Omit<Doc, "text">;

/** A chunk as stored, with the label the writer gave it. */
export interface StoredChunk extends Chunk {
  label: number;
}

/**
 * Which documents a search may return. Both conditions apply when both are set. The search
 * returns the best `k` among the chunks that pass, not the passing part of an unfiltered top k.
 */
export interface DateScope {
  /** Only documents dated within the range, ends included; an undated document is in no range. */
  range?: DateFilter | undefined;
  /** Leaves out documents dated after this day (YYYY-MM-DD); undated documents are kept. */
  notAfter?: string | undefined;
}

/** One hit of a dense or lexical search. */
export interface ScoredChunk {
  label: number;
  /** Higher is better: cosine similarity (dense) or BM25 (lexical). */
  score: number;
  /** The date of the chunk's document (YYYY-MM-DD), if it has one. */
  date: string | undefined;
}

/** A chunk with its document and its (unit) vector, as retrieval turns a hit into a passage. */
export interface ChunkRecord {
  chunk: StoredChunk;
  doc: DocMeta;
  vector: Float32Array;
}

/** A place in a document. */
export interface SpanRef {
  docId: string;
  start: number;
  end: number;
}

/**
 * Where a sentence of a document lies. Sentences are stored as spans only: no sentence text is
 * embedded, so there is no sentence vector.
 */
export interface SentenceSpan {
  start: number;
  end: number;
}

/** The extent of a chunk, without its text. */
export interface ChunkSpan extends SpanRef {
  label: number;
}

/** A sentence whose exact text recurs across documents, with every place it occurs. */
export interface RecurringSentence {
  text: string;
  spans: SpanRef[];
}

/** The opening of one of the newest documents. */
export interface DocumentLead {
  id: string;
  title: string;
  /** The first 600 characters of the text. */
  lead: string;
}

/** A document as the list of indexed documents shows it: no text, its size in pages and passages. */
export interface DocumentSummary {
  id: string;
  title: string;
  date?: string;
  /** The file it came from (see `Doc.source`). */
  source: string;
  /** Paginated documents (PDF): how many pages. */
  pages?: number;
  /** How many chunks (passages) it was cut into. */
  passages: number;
}

/** Facts about a snapshot, known when it is opened (health, logs, the recency prior). */
export interface CorpusFacts {
  /** The adapter that serves it ("embedded", ...). */
  backend: string;
  /** The published version the snapshot reads. */
  version: string;
  model: ModelInfo;
  /** When the version was built (ISO 8601). */
  builtAt: string;
  counts: { docs: number; chunks: number; sentences: number };
  /** Oldest and newest document dates; null when no document has a date. */
  dateRange: { from: string; to: string } | null;
}

/** One published version of the index, open for queries. */
export interface IndexSnapshot {
  readonly facts: CorpusFacts;
  /** The `k` chunks nearest to a unit query vector, best first. */
  dense(vector: Float32Array, k: number, scope?: DateScope): Promise<ScoredChunk[]>;
  /**
   * The `k` best chunks by BM25 over chunk text and document title, for plain words OR-ed
   * together. No term is ever read as query syntax. No terms, no hits.
   */
  lexical(terms: readonly string[], k: number, scope?: DateScope): Promise<ScoredChunk[]>;
  /** Chunks by label, in the order asked; undefined for a label the snapshot does not hold. */
  chunks(labels: readonly number[]): Promise<(ChunkRecord | undefined)[]>;
  /** A whole document, or undefined. */
  document(id: string): Promise<Doc | undefined>;
  /** For each span, in order: the document's sentences that lie wholly inside it, by start. */
  sentences(spans: readonly SpanRef[]): Promise<SentenceSpan[][]>;
  /** For each term, in order: how many chunks contain it, as the lexical search tokenises it. */
  docFreq(terms: readonly string[]): Promise<number[]>;
  /** Documents dated within the range, ends included. */
  countInRange(range: DateFilter): Promise<number>;
  /** The newest documents (undated last, then by id) with the opening of their text. */
  recentDocuments(limit: number): Promise<DocumentLead[]>;
  /**
   * Sentences whose exact text occurs in documents with at least `minTitles` distinct titles
   * (the boilerplate candidates), each with every place it occurs.
   */
  recurringSentences(minTitles: number): Promise<RecurringSentence[]>;
  /** The chunks of these documents, as spans. */
  chunkSpans(docIds: readonly string[]): Promise<ChunkSpan[]>;
  /** Every document, by source then id, with its passage count. */
  listDocuments(): Promise<DocumentSummary[]>;
}

/** A snapshot held for the length of a request; released exactly once. */
export interface SnapshotLease {
  readonly snapshot: IndexSnapshot;
  release(): void;
}

/**
 * The read side of a backend: the published snapshot, switched when a newer version is
 * published. A replaced snapshot stays usable until its last lease is released.
 */
export interface SearchBackend {
  /** The snapshot a new request would lease. */
  current(): IndexSnapshot;
  lease(): SnapshotLease;
  /** Switches to a newly published version, if any; true when it switched. A bad one is refused. */
  refresh(): Promise<boolean>;
  /** Stops watching for new versions and closes every snapshot. */
  close(): Promise<void>;
  /**
   * Whether the store answers now (a networked backend asks it; a local one may omit this and is
   * taken to be reachable). /api/health reports it, so a server whose store went away says so.
   */
  probe?(): Promise<BackendProbe>;
}

/** The outcome of {@link SearchBackend.probe}. */
export type BackendProbe = { ok: true } | { ok: false; code: BackendErrorCode; message: string };

export type BackendLog = (level: "info" | "warn", event: string, fields: Record<string, unknown>) => void;

export interface OpenSearchOptions {
  expect: BackendExpectation;
  /** Look for a newly published version this often (ms); without it, only on `refresh()`. */
  watchMs?: number | undefined;
  log?: BackendLog | undefined;
}

/** What the published version holds, as the writer found it when it opened. */
export interface PublishedState {
  version: string;
  /** Document id → content hash (`Doc.hash`). */
  docs: ReadonlyMap<string, string>;
  chunks: number;
}

/** A document to store with its chunks and their vectors, and its sentences. */
export interface DocumentWrite {
  doc: Doc;
  /** In order; the writer assigns their labels in this order. */
  chunks: { chunk: Chunk; ehash: string; vector: Float32Array }[];
  /**
   * Spans, each with the hash of its text (as `ehash` hashes an embedder input): sentences are
   * never embedded, the hash groups recurring ones (`IndexSnapshot.recurringSentences`).
   */
  sentences: { span: Span; ehash: string }[];
}

/**
 * The write side of a backend, for the indexer: one writer per build, holding the backend's
 * build lock until `close`. A chunk's `ehash` is the hash of the exact text given to the embedder,
 * so a vector computed once (by any earlier build) is reused for the same text.
 */
export interface BackendWriter {
  /** The published version compatible with the expectation; undefined when none (or `full`). */
  readonly published: PublishedState | undefined;
  /** Starts a new version from the published one (or empty). Nothing is visible until `publish`. */
  begin(): Promise<void>;
  /** Stored chunk vectors for these embedder-input hashes; a hash with none is absent from the map. */
  reusableVectors(hashes: readonly string[]): Promise<Map<string, Float32Array>>;
  /** Removes documents with their chunks and sentences from the new version. */
  deleteDocuments(ids: readonly string[]): Promise<void>;
  /** Adds documents (deleted first if they were there) to the new version. */
  write(docs: readonly DocumentWrite[]): Promise<void>;
  /** Makes the new version the published one, atomically. */
  publish(): Promise<{ version: string; counts: { docs: number; chunks: number; sentences: number } }>;
  /** Discards an unpublished version and releases the lock. Always called, also after `publish`. */
  close(): Promise<void>;
}

export interface OpenWriterOptions {
  expect: BackendExpectation;
  /** Ignore the published version: the new one starts empty. */
  full?: boolean | undefined;
  /** One-line messages for the person running the build. */
  notice?: ((line: string) => void) | undefined;
}

/** The codes a backend fails with. */
export type BackendErrorCode =
  | "BACKEND_UNAVAILABLE"
  | "INDEX_MISSING"
  | "INDEX_CORRUPT"
  | "INDEX_FORMAT_OLD"
  | "INDEX_MODEL_MISMATCH"
  | "INDEX_SETTINGS_MISMATCH"
  | "INDEX_LOCKED"
  | "CANCELLED";

/**
 * An expected failure of a backend, with a stable code and a message naming what to do. The
 * transports map it by code like any AppError (server/errors.ts: BACKEND_UNAVAILABLE and
 * INDEX_MISSING/INDEX_CORRUPT are 503). The embedded adapter's refusals come from its index files as
 * AppErrors with the same codes.
 */
export class BackendError extends AppError {
  declare readonly code: BackendErrorCode;

  constructor(code: BackendErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = "BackendError";
  }
}

/**
 * What a backend module provides; `CITELINE_BACKEND` picks one (see backends/select.ts). Both
 * functions read their settings from the configuration.
 */
export interface BackendAdapter {
  readonly name: string;
  openSearch(config: BackendConfig, opts: OpenSearchOptions): Promise<SearchBackend>;
  openWriter(config: BackendConfig, opts: OpenWriterOptions): Promise<BackendWriter>;
}
