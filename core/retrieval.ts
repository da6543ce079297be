/**
 * Hybrid retrieval: dense (HNSW over chunk vectors) and lexical (BM25 over chunk text and title),
 * fused by weighted reciprocal rank, nudged by the period the question names, then capped per
 * document so one article does not crowd out the rest.
 */
import type { ChunkRecord, DateScope, DocMeta, IndexSnapshot, ScoredChunk, StoredChunk } from "./backend.ts";
import { boilerplateFactor, boilerplateOf } from "./boilerplate.ts";
import type { Config } from "./config.ts";
import { type DateIntent, dateIntent, inRange, recencyWeight, resolveAsOf } from "./dates.ts";
import { rewriteQuery } from "./followup.ts";
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
  config: Config;
  /** Embeds a query; defaults to the embedder. The server passes its micro-batching queue. */
  embedQuery?: (text: string, signal?: AbortSignal) => Promise<Float32Array>;
}

/** Retrieves the passages that best match a question. */
export async function retrieve(
  deps: RetrievalDeps,
  question: string,
  opts: RetrieveOptions,
): Promise<Retrieval> {
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

  let queryVector: Float32Array | undefined;
  const denseHits = async (): Promise<ScoredChunk[]> => {
    if (mode === "lexical") return [];
    queryVector = deps.embedQuery
      ? await deps.embedQuery(query, opts.signal)
      : (await deps.embedder.embed([query], "query"))[0]!;
    opts.signal?.throwIfAborted();
    return index.dense(queryVector, pool, scope);
  };
  const [dense, lexical, boiler] = await Promise.all([
    denseHits(),
    mode === "dense" ? [] : index.lexical(contentTerms(query).slice(0, 32), pool, scope),
    boilerplateOf(index),
  ]);
  const dateOf = new Map<number, string | undefined>();
  for (const h of [...dense, ...lexical]) dateOf.set(h.label, h.date);

  const fused = new Map<number, Omit<Passage, "chunk" | "doc">>();
  const w = mode === "hybrid" ? config.denseWeight : mode === "dense" ? 1 : 0;
  // Each retriever contributes by rank (RRF) or by its score scaled to [0, 1] over its own
  // candidates ("score" fusion keeps how much better the first hit is than the tenth).
  const contribution = (list: { score: number }[]) => {
    if (config.fusion === "rrf") return (i: number) => 1 / (config.rrfK + i + 1);
    const top = list[0]?.score ?? 0;
    const bottom = list[list.length - 1]?.score ?? 0;
    const span = top - bottom || 1;
    return (i: number) => (list[i]!.score - bottom) / span;
  };
  const denseC = contribution(dense);
  const lexicalC = contribution(lexical);
  dense.forEach((h, i) => {
    fused.set(h.label, { label: h.label, score: w * denseC(i), dense: { rank: i + 1, score: h.score } });
  });
  lexical.forEach((h, i) => {
    const p = fused.get(h.label) ?? { label: h.label, score: 0 };
    p.score += (1 - w) * lexicalC(i);
    p.lexical = { rank: i + 1, score: h.score };
    fused.set(h.label, p);
  });

  // Passages made mostly of text repeated across the corpus (newsletter sign-ups, bylines) sink.
  for (const p of fused.values()) {
    const share = boiler.share(p.label);
    if (share > 0) p.score *= boilerplateFactor(share);
  }

  // The period a question names lifts documents of that period above the rest; "latest" lifts
  // newer documents in proportion to their age within the corpus up to the as-of day. Every
  // question also carries a mild prior for documents near the day it is asked.
  const boost = config.fusion === "rrf" ? 1 / (config.rrfK + 1) : 1;
  const prior = newest !== undefined ? config.recencyPrior * boost : 0;
  if (intent.range || intent.recency || prior > 0) {
    const start = oldest ? Date.parse(oldest) : 0;
    const span = oldest ? Date.parse(asOf) - start : 0;
    for (const p of fused.values()) {
      const date = dateOf.get(p.label);
      if (intent.range && inRange(date, intent.range)) p.score += boost;
      if (intent.recency && date && span > 0)
        p.score += boost * Math.min(1, Math.max(0, (Date.parse(date) - start) / span));
      if (prior > 0) p.score += prior * recencyWeight(date, asOf, config.recencyHalfLifeDays);
    }
  }

  const ranked = [...fused.values()].sort((a, b) => b.score - a.score || a.label - b.label);
  const perDoc = new Map<string, number>();
  const passages: Passage[] = [];
  const chosen: Float32Array[] = [];
  const deferred: Passage[] = [];
  // Chunks are read a window at a time: most questions fill k from the first window.
  const window = Math.max(16, opts.k * 2);
  for (let i = 0; i < ranked.length && passages.length < opts.k; i += window) {
    const slice = ranked.slice(i, i + window);
    const records = await index.chunks(slice.map((r) => r.label));
    for (const [j, r] of slice.entries()) {
      if (passages.length >= opts.k) break;
      const record: ChunkRecord | undefined = records[j];
      if (!record) continue;
      const { chunk, doc, vector } = record;
      const passage: Passage = { ...r, chunk, doc };
      const n = perDoc.get(chunk.docId) ?? 0;
      if (!opts.noCap && n >= config.perDocCap) {
        if (deferred.length < opts.k) deferred.push(passage);
        continue;
      }
      // The same story syndicated under several ids adds nothing the first copy did not.
      if (!opts.noCap && chosen.some((c) => dot(c, vector) > NEAR_DUPLICATE)) {
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
