/**
 * Hybrid retrieval: dense (HNSW over chunk vectors) and lexical (BM25 over chunk text and title),
 * fused with a weight that adapts to the question (core/fusion.ts), nudged by the period the question names, then capped per
 * document so one article does not crowd out the rest.
 */
import type { LoadedIndex } from "../embeddings/open-index.ts";
import type { DocMeta, StoredChunk } from "../embeddings/store.ts";
import { boilerplateFactor, boilerplateOf } from "./boilerplate.ts";
import type { Config } from "./config.ts";
import { addDatePriors, type DateIntent, dateIntent, inRange, resolveAsOf } from "./dates.ts";
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

/** Per-index facts retrieval needs for every question; computed once per loaded index. */
interface Catalog {
  labelDate: Map<number, string | undefined>;
  newest: string | undefined;
  oldest: string | undefined;
}

const catalogs = new WeakMap<LoadedIndex, Catalog>();

/** Passages this similar to one already chosen are near-duplicates (syndicated copies). */
const NEAR_DUPLICATE = 0.985;

export function catalog(index: LoadedIndex): Catalog {
  let c = catalogs.get(index);
  if (!c) {
    const rows = index.store.db
      .prepare("SELECT c.label AS label, d.date AS date FROM chunks c JOIN docs d ON d.id = c.doc_id")
      .all() as {
      label: number;
      date: string | null;
    }[];
    const range = index.store.dateRange();
    c = {
      labelDate: new Map(rows.map((r) => [r.label, r.date ?? undefined])),
      newest: range?.to,
      oldest: range?.from,
    };
    catalogs.set(index, c);
  }
  return c;
}

export interface RetrievalDeps {
  index: LoadedIndex;
  embedder: Embedder;
  config: Config;
  /** Embeds a query; defaults to the embedder. The server passes its micro-batching queue. */
  embedQuery?: (text: string, signal?: AbortSignal) => Promise<Float32Array>;
}

const fusionOptions = (c: Config): FusionOptions => ({ method: c.fusion, denseWeight: c.denseWeight, rrfK: c.rrfK });

/** Retrieves the passages that best match a question. */
export async function retrieve(
  deps: RetrievalDeps,
  question: string,
  opts: RetrieveOptions,
): Promise<Retrieval> {
  const { index, config } = deps;
  const mode = opts.mode ?? "hybrid";
  const query = rewriteQuery(question, opts.history);
  const cat = catalog(index);
  const asOf = resolveAsOf(opts.asOf, cat.newest, new Date(), config.staleCorpusDays);
  const intent = dateIntent(question, asOf);
  const filter =
    opts.filters && (opts.filters.from !== undefined || opts.filters.to !== undefined)
      ? opts.filters
      : undefined;
  // News published after the day a question is asked could not have been its answer.
  const future = cat.newest !== undefined && cat.newest > asOf;
  const notAfter = (label: number) => {
    const date = cat.labelDate.get(label);
    return date === undefined || date <= asOf;
  };
  const accepts =
    filter || future
      ? (label: number) =>
          (!filter || inRange(cat.labelDate.get(label), filter)) && (!future || notAfter(label))
      : undefined;
  const pool = Math.max(config.candidates, opts.k * 3);

  let queryVector: Float32Array | undefined;
  let dense: { label: number; score: number }[] = [];
  if (mode !== "lexical") {
    queryVector = deps.embedQuery
      ? await deps.embedQuery(query, opts.signal)
      : (await deps.embedder.embed([query], "query"))[0]!;
    opts.signal?.throwIfAborted();
    dense = index.vectors.search(queryVector, pool, accepts);
  }
  const terms = contentTerms(query).slice(0, 32);
  const lexicalHits = mode === "dense" ? [] : index.store.lexicalSearch(terms, pool, filter);
  const lexical = future ? lexicalHits.filter((h) => notAfter(h.label)) : lexicalHits;

  const fused = new Map<number, Omit<Passage, "chunk" | "doc">>();
  for (const f of fuse(dense, lexical, fusionOptions(config), terms.length)) fused.set(f.label, f);

  // Passages made mostly of text repeated across the corpus (newsletter sign-ups, bylines) sink.
  const boiler = boilerplateOf(index);
  for (const p of fused.values()) {
    const share = boiler.share(p.label);
    if (share > 0) p.score *= boilerplateFactor(share);
  }

  addDatePriors([...fused.values()], (label) => cat.labelDate.get(label), {
    intent,
    asOf,
    oldest: cat.oldest,
    prior: cat.newest !== undefined ? config.recencyPrior : 0,
    halfLifeDays: config.recencyHalfLifeDays,
  });

  const ranked = [...fused.values()].sort((a, b) => b.score - a.score || a.label - b.label);
  const perDoc = new Map<string, number>();
  const passages: Passage[] = [];
  const chosen: Float32Array[] = [];
  const deferred: Passage[] = [];
  for (const r of ranked) {
    if (passages.length >= opts.k) break;
    const chunk = index.store.getChunk(r.label);
    if (!chunk) continue;
    const doc = index.store.getDocMeta(chunk.docId);
    if (!doc) continue;
    const passage: Passage = { ...r, chunk, doc };
    const n = perDoc.get(chunk.docId) ?? 0;
    if (!opts.noCap && n >= config.perDocCap) {
      if (deferred.length < opts.k) deferred.push(passage);
      continue;
    }
    // The same story syndicated under several ids adds nothing the first copy did not.
    const vector = index.vectors.vector(r.label);
    if (!opts.noCap && chosen.some((c) => dot(c, vector) > NEAR_DUPLICATE)) {
      if (deferred.length < opts.k) deferred.push(passage);
      continue;
    }
    chosen.push(vector);
    perDoc.set(chunk.docId, n + 1);
    passages.push(passage);
  }
  // When diversity leaves the list short (a one-document corpus), the passages set aside fill it.
  for (const p of deferred) {
    if (passages.length >= opts.k) break;
    passages.push(p);
  }
  return { query, queryVector, intent, asOf, passages };
}
