/**
 * Hybrid retrieval: dense (HNSW over chunk vectors) and lexical (BM25 over chunk text and title),
 * fused with a weight that adapts to the question (core/fusion.ts), nudged by the period the question names, then capped per
 * document so one article does not crowd out the rest.
 */
import type { ChunkRecord, DateScope, DocMeta, IndexSnapshot, ScoredChunk, StoredChunk } from "./backend.ts";
import { boilerplateFactor, boilerplateOf } from "./boilerplate.ts";
import type { RetrievalConfig } from "./config.ts";
import { addDatePriors, type DateIntent, dateIntent, resolveAsOf } from "./dates.ts";
import { rewriteQuery } from "./followup.ts";
import { type FusionOptions, fuse } from "./fusion.ts";
import { contentTerms } from "./text.ts";
import type { DateFilter, Embedder, HistoryTurn } from "./types.ts";
import { dot } from "./vectors.ts";

export type RetrievalMode = "dense" | "lexical" | "hybrid";

export interface Passage {
  label: number;
  chunk: StoredChunk;
  doc: DocMeta;
  /** Fused score, higher is better. */
  score: number;
  dense?: { rank: number; score: number };
  lexical?: { rank: number; score: number };
}

export interface RetrieveOptions {
  k: number;
  filters?: DateFilter | undefined;
  history?: readonly HistoryTurn[] | undefined;
  mode?: RetrievalMode;
  signal?: AbortSignal | undefined;
  /** The day the question is asked as of (YYYY-MM-DD); see `resolveAsOf` for the default. */
  asOf?: string | undefined;
  /** Skip the per-document cap (evaluation of raw rankings). */
  noCap?: boolean;
}

export interface Retrieval {
  /** The query used for retrieval after follow-up rewriting. */
  query: string;
  queryVector: Float32Array | undefined;
  intent: DateIntent;
  /** The day the question was asked as of: documents after it were left out. */
  asOf: string;
  passages: Passage[];
}

/** Passages this similar to one already chosen are near-duplicates (syndicated copies). */
const NEAR_DUPLICATE = 0.985;

export interface RetrievalDeps {
  /** The index version to read; the caller holds its lease for the length of the request. */
  index: IndexSnapshot;
  embedder: Embedder;
  config: RetrievalConfig;
  /** Embeds a query; defaults to the embedder. The server passes its micro-batching queue. */
  embedQuery?: (text: string, signal?: AbortSignal) => Promise<Float32Array>;
}

const fusionOptions = (c: RetrievalConfig): FusionOptions => ({
  method: c.fusion,
  denseWeight: c.denseWeight,
  rrfK: c.rrfK,
});

/** What both retrievers found for a question, before fusion. */
export interface Candidates {
  query: string;
  queryVector: Float32Array | undefined;
  /** The words the lexical search was made of. */
  terms: string[];
  intent: DateIntent;
  asOf: string;
  /** The corpus's oldest and newest document days. */
  oldest: string | undefined;
  newest: string | undefined;
  /**
   * Cosine similarity, best first: the dense search's hits and, in hybrid mode, every lexical hit
   * it did not return, scored the same way, so that fusion compares like with like.
   */
  dense: ScoredChunk[];
  /** BM25, best first. */
  lexical: ScoredChunk[];
  /** Chunk records already read (the lexical hits the dense search missed), by label. */
  records: Map<number, ChunkRecord>;
}

/** Both retrievers' candidates for a question, as retrieval fuses them. */
export async function gatherCandidates(
  deps: RetrievalDeps,
  question: string,
  opts: RetrieveOptions,
): Promise<Candidates> {
  const { index, config } = deps;
  const mode = opts.mode ?? "hybrid";
  const query = rewriteQuery(question, opts.history);
  const range = index.facts.dateRange;
  const newest = range?.to;
  const oldest = range?.from;
  const asOf = resolveAsOf(opts.asOf, newest, new Date(), config.staleCorpusDays);
  const intent = dateIntent(question, asOf);
  const filter =
    opts.filters && (opts.filters.from !== undefined || opts.filters.to !== undefined)
      ? opts.filters
      : undefined;
  // News published after the day a question is asked could not have been its answer.
  const future = newest !== undefined && newest > asOf;
  const scope: DateScope = { range: filter, notAfter: future ? asOf : undefined };
  const pool = Math.max(config.candidates, opts.k * 3);

  const terms = contentTerms(query).slice(0, 32);
  let queryVector: Float32Array | undefined;
  const denseHits = async (): Promise<ScoredChunk[]> => {
    if (mode === "lexical") return [];
    queryVector = deps.embedQuery
      ? await deps.embedQuery(query, opts.signal)
      : (await deps.embedder.embed([query], "query"))[0]!;
    opts.signal?.throwIfAborted();
    return index.dense(queryVector, pool, scope);
  };
  const lexicalHits = async (): Promise<ScoredChunk[]> => {
    if (mode === "dense") return [];
    // The query queue hands its batch to the embedding workers on the next turn of the event
    // loop; searching BM25 (main-thread work) after that turn lets the two run side by side.
    if (mode === "hybrid" && deps.embedQuery) await new Promise((r) => setImmediate(r));
    return index.lexical(terms, pool, scope);
  };
  const [dense, lexical] = await Promise.all([denseHits(), lexicalHits()]);
  // A passage BM25 found but the nearest-neighbour search did not gets its cosine too: without
  // it fusion would read "not among the dense hits" as "dissimilar", and a paraphrased question
  // (where the dense score is the one to trust) would lose the passages only BM25 reached.
  const records = new Map<number, ChunkRecord>();
  if (mode === "hybrid" && queryVector) {
    const seen = new Set(dense.map((h) => h.label));
    const missing = lexical.filter((h) => !seen.has(h.label));
    const found = await index.chunks(missing.map((h) => h.label));
    missing.forEach((h, i) => {
      const record = found[i];
      if (!record) return;
      records.set(h.label, record);
      dense.push({ label: h.label, score: dot(queryVector!, record.vector), date: h.date });
    });
    dense.sort((a, b) => b.score - a.score || a.label - b.label);
  }
  return { query, queryVector, terms, intent, asOf, oldest, newest, dense, lexical, records };
}

/** Retrieves the passages that best match a question. */
export async function retrieve(
  deps: RetrievalDeps,
  question: string,
  opts: RetrieveOptions,
): Promise<Retrieval> {
  const { index, config } = deps;
  const [c, boiler] = await Promise.all([gatherCandidates(deps, question, opts), boilerplateOf(index)]);
  const { query, queryVector, intent, asOf, oldest, newest, dense, lexical } = c;
  const dateOf = new Map<number, string | undefined>();
  for (const h of [...dense, ...lexical]) dateOf.set(h.label, h.date);

  const fused = new Map<number, Omit<Passage, "chunk" | "doc">>();
  for (const f of fuse(dense, lexical, fusionOptions(config), c.terms.length)) fused.set(f.label, f);

  // Passages made mostly of text repeated across the corpus (newsletter sign-ups, bylines) sink.
  for (const p of fused.values()) {
    const share = boiler.share(p.label);
    if (share > 0) p.score *= boilerplateFactor(share);
  }

  addDatePriors([...fused.values()], (label) => dateOf.get(label), {
    intent,
    asOf,
    oldest,
    prior: newest !== undefined ? config.recencyPrior : 0,
    halfLifeDays: config.recencyHalfLifeDays,
  });

  const ranked = [...fused.values()].sort((a, b) => b.score - a.score || a.label - b.label);
  const perDoc = new Map<string, number>();
  const passages: Passage[] = [];
  const chosen: Float32Array[] = [];
  const deferred: Passage[] = [];
  // Chunks are read a window at a time: most questions fill k from the first window.
  const window = Math.max(16, opts.k * 2);
  for (let i = 0; i < ranked.length && passages.length < opts.k; i += window) {
    const slice = ranked.slice(i, i + window);
    const unread = slice.filter((r) => !c.records.has(r.label));
    const read = await index.chunks(unread.map((r) => r.label));
    unread.forEach((r, j) => {
      const record = read[j];
      if (record) c.records.set(r.label, record);
    });
    for (const r of slice) {
      if (passages.length >= opts.k) break;
      const record: ChunkRecord | undefined = c.records.get(r.label);
      if (!record) continue;
      const { chunk, doc, vector } = record;
      const passage: Passage = { ...r, chunk, doc };
      const n = perDoc.get(chunk.docId) ?? 0;
      if (!opts.noCap && n >= config.perDocCap) {
        if (deferred.length < opts.k) deferred.push(passage);
        continue;
      }
      // The same story syndicated under several ids adds nothing the first copy did not.
      if (!opts.noCap && chosen.some((v) => dot(v, vector) > NEAR_DUPLICATE)) {
        if (deferred.length < opts.k) deferred.push(passage);
        continue;
      }
      chosen.push(vector);
      perDoc.set(chunk.docId, n + 1);
      passages.push(passage);
    }
  }
  // When diversity leaves the list short (a one-document corpus), the passages set aside fill it.
  for (const p of deferred) {
    if (passages.length >= opts.k) break;
    passages.push(p);
  }
  return { query, queryVector, intent, asOf, passages };
}
