/**
 * The answer engine: retrieval, sentence selection and citation checks behind one narrow port
 * that both transports (HTTP/SSE and WebSocket) and the evaluation use.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { IndexHolder } from "../embeddings/index-holder.ts";
import { answerFrom, invalidCitations, toSources } from "./answer.ts";
import type { Config } from "./config.ts";
import { EmbedQueue } from "./embed-queue.ts";
import { AppError } from "./errors.ts";
import type { Answerer } from "./generate/answerer.ts";
import { Limiter } from "./limiter.ts";
import type {
  AnswerEvent,
  AskRequest,
  Citation,
  DocumentBody,
  Generation,
  Health,
  SourceRef,
} from "./protocol.ts";
import { type Passage, type RetrievalMode, retrieve } from "./retrieval.ts";
import type { DateFilter, Embedder } from "./types.ts";

export interface EngineDeps {
  config: Config;
  embedder: Embedder;
  indexes: IndexHolder;
  log?: (level: "debug" | "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
  /** Writes verified generated answers; without it (the default) every answer is extractive. */
  generator?: Answerer | undefined;
}

export interface SearchHit extends SourceRef {
  dense: { rank: number; score: number } | null;
  lexical: { rank: number; score: number } | null;
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  timings: { retrievalMs: number };
}

export interface Engine {
  /** Ranked passages with each retriever's rank and score. */
  search(q: string, opts: { k: number; filters?: DateFilter; mode?: RetrievalMode }): Promise<SearchResult>;
  /** The answer as a stream of events: sources, deltas, done. Stops when `signal` aborts. */
  answer(req: AskRequest, signal?: AbortSignal): AsyncGenerator<AnswerEvent>;
  document(id: string): DocumentBody | undefined;
  health(): Health;
  readonly limiter: Limiter;
  readonly queue: EmbedQueue;
}

/** Splits text into streamable pieces of a few words, keeping every character. */
export function streamPieces(text: string, wordsPerPiece = 4): string[] {
  const tokens = text.match(/\s*\S+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i += wordsPerPiece)
    out.push(tokens.slice(i, i + wordsPerPiece).join(""));
  const joined = out.join("");
  if (joined.length < text.length) out.push(text.slice(joined.length));
  return out;
}

/** Starter questions from the newest titles; "Tell me about" adds no terms that dilute the title's. */
function exampleQuestions(titles: string[]): string[] {
  return titles.slice(0, 3).map((t) => `Tell me about ${t.length > 100 ? `${t.slice(0, 97)}…` : t}`);
}

export function createEngine(deps: EngineDeps): Engine {
  const { config, embedder, indexes } = deps;
  const queue = new EmbedQueue(embedder);
  const limiter = new Limiter(config.maxInFlight, config.maxQueue);
  const embedQuery = (text: string, signal?: AbortSignal) => queue.embed(text, signal);

  async function* answer(req: AskRequest, signal?: AbortSignal): AsyncGenerator<AnswerEvent> {
    const t0 = performance.now();
    const release = await limiter.acquire(signal);
    const lease = indexes.lease();
    try {
      const { index } = lease;
      const k = req.k ?? config.k;
      const r = await retrieve({ index, embedder, config, embedQuery }, req.question, {
        k,
        filters: req.filters,
        history: req.history,
        signal,
      });
      signal?.throwIfAborted();
      const retrievalMs = performance.now() - t0;
      const composed = answerFrom(index.store, r, req.question, config);
      const sources = toSources(r.passages);
      const bad = invalidCitations(composed.answer, composed.citations, sources);
      if (bad.length > 0) {
        // A citation that does not check out is a bug; it is never sent.
        deps.log?.("error", "citation_check_failed", {
          count: bad.length,
          chunkIds: bad.map((c) => c.chunkId),
        });
        throw new AppError("INTERNAL", "the answer could not be checked against its sources");
      }
      yield { type: "sources", sources, notFound: composed.notFound };
      let firstDeltaMs = 0;
      // Not-found stays the extractive decision: the model is not asked without evidence.
      let generated: { text: string; citations: Citation[] } | undefined;
      let generation: Generation | undefined;
      if (deps.generator && !composed.notFound) {
        const input = {
          store: index.store,
          passages: r.passages,
          question: req.question,
          history: req.history ?? [],
        };
        for await (const ev of deps.generator.answer(input, signal)) {
          if (ev.type === "result") {
            generated = ev.answer;
            generation = ev.generation;
            continue;
          }
          if (firstDeltaMs === 0) firstDeltaMs = performance.now() - t0;
          yield ev;
        }
      }
      if (!generated) {
        for (const piece of composed.pieces.flatMap((p) => streamPieces(p))) {
          signal?.throwIfAborted();
          if (config.streamDelayMs > 0) await sleep(config.streamDelayMs, undefined, { signal });
          if (firstDeltaMs === 0) firstDeltaMs = performance.now() - t0;
          yield { type: "delta", text: piece };
        }
      }
      const round = (ms: number) => Math.round(ms * 10) / 10;
      yield {
        type: "done",
        answer: generated?.text ?? composed.answer,
        citations: generated?.citations ?? composed.citations,
        ...(generation ? { generation } : {}),
        notFound: composed.notFound,
        query: r.query,
        timings: {
          retrievalMs: round(retrievalMs),
          firstDeltaMs: round(firstDeltaMs || performance.now() - t0),
          totalMs: round(performance.now() - t0),
        },
      };
    } finally {
      lease.release();
      release();
    }
  }

  return {
    limiter,
    queue,
    answer,
    async search(q, opts) {
      const t0 = performance.now();
      const lease = indexes.lease();
      try {
        const r = await retrieve({ index: lease.index, embedder, config, embedQuery }, q, opts);
        const hits = toSources(r.passages).map((s, i) => {
          const p = r.passages[i] as Passage;
          return { ...s, dense: p.dense ?? null, lexical: p.lexical ?? null };
        });
        return {
          query: r.query,
          hits,
          timings: { retrievalMs: Math.round((performance.now() - t0) * 10) / 10 },
        };
      } finally {
        lease.release();
      }
    },
    document(id) {
      const doc = indexes.index.store.getDoc(id);
      if (!doc) return undefined;
      const { hash: _hash, ...body } = doc;
      return body;
    },
    health() {
      const index = indexes.index;
      const counts = index.manifest.counts;
      return {
        status: "ok",
        model: index.manifest.model.name,
        documents: counts.docs,
        chunks: counts.chunks,
        builtAt: index.manifest.builtAt,
        dateRange: index.store.dateRange(),
        examples: exampleQuestions(index.store.recentTitles(3)),
        authRequired: config.accessToken !== undefined,
        limits: {
          maxQuestionChars: config.maxQuestionChars,
          maxHistoryTurns: config.maxHistoryTurns,
          maxHistoryChars: config.maxHistoryChars,
          maxK: config.maxK,
        },
      };
    },
  };
}
