/**
 * The answer engine: retrieval, sentence selection and citation checks behind one narrow port
 * that both transports (HTTP/SSE and WebSocket) and the evaluation use.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { AdmissionQueue } from "./admission.ts";
import {
  answerFrom,
  invalidCitations,
  readForAnswer,
  SELECTOR,
  type Selector,
  shortAnswerChecks,
  toSources,
} from "./answer.ts";
import type { SearchBackend } from "./backend.ts";
import { boilerplateOf } from "./boilerplate.ts";
import type { IndexConfig, RetrievalConfig, ServerConfig } from "./config.ts";
import { answerInConversation } from "./conversation.ts";
import { EmbedQueue } from "./embed-queue.ts";
import { AppError } from "./errors.ts";
import { unanswerable } from "./exclusions.ts";
import { readingQuestion } from "./followup.ts";
import type { Answerer } from "./generate/answerer.ts";
import { withPages } from "./pages.ts";
import type {
  AnswerEvent,
  AskRequest,
  Citation,
  DocumentBody,
  GeneratedAnswer,
  Generation,
  Health,
  NotFoundReason,
  SearchHit,
  SearchResult,
} from "./protocol.ts";
import {
  beforeEveryDocumentMessage,
  emptyRangeMessage,
  NO_DOCUMENTS_BEFORE_AS_OF,
  NO_DOCUMENTS_IN_RANGE,
} from "./range.ts";
import { type Passage, type RetrievalMode, retrieve } from "./retrieval.ts";
import { shapeSources } from "./sources.ts";
import { verifiedStarters } from "./starters.ts";
import type { DateFilter, Embedder, Reader } from "./types.ts";

/**
 * The settings the engine reads: how passages are retrieved and an answer composed, how many
 * query vectors it keeps, and how many answers it computes at once and how fast it streams them.
 */
export type EngineConfig = RetrievalConfig &
  Pick<IndexConfig, "queryCacheSize"> &
  Pick<ServerConfig, "maxInFlight" | "maxQueue" | "streamDelayMs">;

export interface EngineDeps {
  config: EngineConfig;
  embedder: Embedder;
  /** Where passages are searched and read; each request leases one version of the index. */
  backend: SearchBackend;
  /** The answer-sentence selector; the committed one by default (evaluation passes fold models). */
  selector?: Selector;
  /**
   * The reading model; by default the embedder's (loaded beside it in the embedding workers).
   * `null` answers without it (evaluation compares the two).
   */
  reader?: Reader | null;
  log?: (level: "debug" | "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
  /** Writes verified generated answers; without it (the default) every answer is extractive. */
  generator?: Answerer | undefined;
}

export type { SearchHit, SearchResult };

/** What /api/health reports of the index and backend; the transport adds its own access and limits. */
export type IndexHealth = Omit<Health, "authRequired" | "limits">;

export interface Engine {
  /** Ranked passages with each retriever's rank and score. */
  search(
    q: string,
    opts: { k: number; filters?: DateFilter; mode?: RetrievalMode; asOf?: string | undefined },
  ): Promise<SearchResult>;
  /** The answer as a stream of events: sources, deltas, done. Stops when `signal` aborts. */
  answer(req: AskRequest, signal?: AbortSignal): AsyncGenerator<AnswerEvent>;
  document(id: string): Promise<DocumentBody | undefined>;
  /** The index's state for /api/health, with whether the search backend answers now. */
  health(): Promise<IndexHealth>;
  /**
   * Works out the starter questions for the current index (health's `examples`): each is asked
   * and kept only when the index answers it from the document it was made from.
   */
  prepareExamples(): Promise<void>;
  readonly admission: AdmissionQueue;
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

/** The answer when the date filters hold no document: said as such, with nothing to cite. */
async function* emptyRangeAnswer(
  text: string,
  question: string,
  t0: number,
  notFoundReason: NotFoundReason = NO_DOCUMENTS_IN_RANGE,
): AsyncGenerator<AnswerEvent> {
  const reason = { notFound: true, notFoundReason } as const;
  yield { type: "sources", sources: [], ...reason };
  yield { type: "delta", text };
  const ms = Math.round((performance.now() - t0) * 10) / 10;
  yield {
    type: "done",
    answer: text,
    citations: [],
    ...reason,
    query: question,
    timings: { retrievalMs: ms, firstDeltaMs: ms, totalMs: ms },
  };
}

export function createEngine(deps: EngineDeps): Engine {
  const { config, embedder, backend } = deps;
  const reader = deps.reader === null ? undefined : (deps.reader ?? embedder.reader);
  const selector = deps.selector ?? SELECTOR;
  const queue = new EmbedQueue(embedder, undefined, undefined, config.queryCacheSize);
  const admission = new AdmissionQueue(config.maxInFlight, config.maxQueue);
  const embedQuery = (text: string, signal?: AbortSignal) => queue.embed(text, signal);
  /** Starter questions per loaded index; a pending entry while they are being checked. */
  const starters = new WeakMap<object, string[] | Promise<void>>();

  /**
   * True when the engine answers `question`, citing document `docId`. Composed as `answer` does,
   * but outside the admission and the query queue: a background check takes no client's slot.
   */
  const answersFrom = async (question: string, docId: string): Promise<boolean> => {
    const lease = backend.lease();
    try {
      const index = lease.snapshot;
      const r = await retrieve({ index, embedder, config }, question, { k: config.k });
      const composed = answerFrom(
        await readForAnswer(index, r, question, { reader, model: selector }),
        r,
        question,
        config,
        { model: selector },
      );
      return !composed.notFound && composed.citations.some((c) => c.docId === docId);
    } finally {
      lease.release();
    }
  };

  const prepareExamples = (): Promise<void> => {
    const index = backend.current();
    const known = starters.get(index);
    if (Array.isArray(known)) return Promise.resolve();
    if (known) return known;
    const work = index
      .recentDocuments(16)
      .then((docs) => verifiedStarters(docs, answersFrom))
      .then(
        (found) => void starters.set(index, found),
        (err: unknown) => {
          starters.set(index, []);
          deps.log?.("warn", "starter_questions_failed", { error: String(err) });
        },
      );
    starters.set(index, work);
    return work;
  };

  async function* answer(req: AskRequest, signal?: AbortSignal): AsyncGenerator<AnswerEvent> {
    const t0 = performance.now();
    const release = await admission.acquire(signal);
    const lease = backend.lease();
    try {
      const index = lease.snapshot;
      const empty = await emptyRangeMessage(index, req.filters);
      if (empty !== undefined) {
        yield* emptyRangeAnswer(empty, req.question, t0);
        return;
      }
      const tooEarly = await beforeEveryDocumentMessage(index, req.asOf);
      if (tooEarly !== undefined) {
        yield* emptyRangeAnswer(tooEarly, req.question, t0, NO_DOCUMENTS_BEFORE_AS_OF);
        return;
      }
      const k = req.k ?? config.k;
      const r = await retrieve({ index, embedder, config, embedQuery }, req.question, {
        k,
        filters: req.filters,
        history: req.history,
        asOf: req.asOf,
        signal,
      });
      signal?.throwIfAborted();
      const retrievalMs = performance.now() - t0;
      // A follow-up about a person has its sentences weighed with the person named, as its
      // retrieval query (which the reader reads) already has it.
      const asked = readingQuestion(req.question, req.history) ?? req.question;
      const [reading, boilerplate] = await Promise.all([
        readForAnswer(index, r, asked, {
          reader,
          model: selector,
          followUp: (req.history?.length ?? 0) > 0,
        }),
        boilerplateOf(index),
      ]);
      signal?.throwIfAborted();
      let composed = answerInConversation(req.question, req.history, (excluded, ratio) =>
        answerFrom(
          reading,
          r,
          asked,
          { ...config, notFoundThreshold: config.notFoundThreshold * ratio },
          {
            excluded: unanswerable(excluded, boilerplate),
            model: selector,
          },
        ),
      );
      // A client that names k gets k passages; otherwise the weak ones are left out.
      const shaped =
        req.k === undefined
          ? shapeSources(
              composed,
              toSources(r.passages),
              undefined,
              new Set(composed.irrelevant?.map((i) => i + 1)),
            )
          : shapeSources(composed, toSources(r.passages), 0);
      const { sources, documents } = shaped;
      composed = shaped.composed;
      const bad = invalidCitations(composed.answer, composed.citations, sources);
      if (bad.length > 0) {
        // A citation that does not check out is a bug; it is never sent.
        deps.log?.("error", "citation_check_failed", {
          count: bad.length,
          chunkIds: bad.map((c) => c.chunkId),
        });
        throw new AppError("INTERNAL", "the answer could not be checked against its sources");
      }
      if (composed.shortAnswer && !shortAnswerChecks(composed.shortAnswer, composed.citations)) {
        deps.log?.("error", "short_answer_check_failed", { docId: composed.shortAnswer.docId });
        delete composed.shortAnswer;
      }
      yield { type: "sources", sources, documents, notFound: composed.notFound };
      let firstDeltaMs = 0;
      // The extractive answer goes out first and whole, whether or not a model writes one after it.
      // Paced (a typing effect), it goes out a few words at a time. Unpaced, the pieces would reach
      // the client in one burst anyway: one delta holds them all, so an answer costs the server one
      // frame instead of one per few words.
      const pieces =
        config.streamDelayMs > 0
          ? composed.pieces.flatMap((p) => streamPieces(p))
          : [composed.answer].filter((t) => t !== "");
      for (const piece of pieces) {
        signal?.throwIfAborted();
        if (config.streamDelayMs > 0) await sleep(config.streamDelayMs, undefined, { signal });
        if (firstDeltaMs === 0) firstDeltaMs = performance.now() - t0;
        yield { type: "delta", text: piece };
      }
      const paged = (citations: Citation[]) =>
        withPages(citations, (n) => {
          const chunkId = sources[n - 1]?.chunkId;
          return r.passages.find((p) => p.chunk.id === chunkId)?.doc.pages;
        });
      const citations = paged(composed.citations);
      const shortAnswer = composed.shortAnswer ? { shortAnswer: composed.shortAnswer } : {};
      let generated: GeneratedAnswer | undefined;
      let generation: Generation | undefined;
      // Not-found stays the extractive decision: the model is not asked without evidence.
      if (deps.generator && !composed.notFound) {
        const { kind: provider, model } = deps.generator.provider;
        yield {
          type: "extractive",
          answer: composed.answer,
          citations,
          ...shortAnswer,
          generator: { provider, model },
        };
        // The extractive answer is computed and sent: the model's wait takes no answer slot (its
        // adapter queues its own work), so other questions are not held behind it.
        release();
        // The model numbers passages as the sources are numbered (pruned and grouped by document).
        const byChunk = new Map(r.passages.map((p) => [p.chunk.id, p]));
        const input = {
          index,
          passages: sources.flatMap((s) => byChunk.get(s.chunkId) ?? []),
          question: req.question,
          history: req.history ?? [],
        };
        let firstSentenceMs: number | undefined;
        for await (const ev of deps.generator.answer(input, signal)) {
          if (ev.type === "result") {
            if (ev.answer) generated = { answer: ev.answer.text, citations: paged(ev.answer.citations) };
            generation = ev.generation;
            continue;
          }
          if (ev.type === "generated") {
            firstSentenceMs ??= performance.now() - t0;
            yield { ...ev, citations: paged(ev.citations) };
          } else yield ev;
        }
        if (generation && firstSentenceMs !== undefined)
          generation.firstSentenceMs = Math.round(firstSentenceMs);
      }
      const round = (ms: number) => Math.round(ms * 10) / 10;
      yield {
        type: "done",
        answer: composed.answer,
        citations,
        ...(generation ? { generation } : {}),
        ...(generated ? { generated } : {}),
        notFound: composed.notFound,
        ...shortAnswer,
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

  const examplesFor = (index: object): string[] => {
    const known = starters.get(index);
    if (Array.isArray(known)) return known;
    // A newly published index: its questions are checked in the background meanwhile.
    if (!known) void prepareExamples();
    return [];
  };

  return {
    admission,
    queue,
    answer,
    prepareExamples,
    async search(q, opts) {
      const t0 = performance.now();
      const lease = backend.lease();
      try {
        const notFoundReason =
          (await emptyRangeMessage(lease.snapshot, opts.filters)) !== undefined
            ? NO_DOCUMENTS_IN_RANGE
            : (await beforeEveryDocumentMessage(lease.snapshot, opts.asOf)) !== undefined
              ? NO_DOCUMENTS_BEFORE_AS_OF
              : undefined;
        if (notFoundReason) {
          const retrievalMs = Math.round((performance.now() - t0) * 10) / 10;
          return { query: q, hits: [], notFoundReason, timings: { retrievalMs } };
        }
        const r = await retrieve({ index: lease.snapshot, embedder, config, embedQuery }, q, opts);
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
    async document(id) {
      const lease = backend.lease();
      try {
        const doc = await lease.snapshot.document(id);
        if (!doc) return undefined;
        const { hash: _hash, ...body } = doc;
        return body;
      } finally {
        lease.release();
      }
    },
    async health() {
      const index = backend.current();
      const { counts, model, builtAt, dateRange } = index.facts;
      const probe = backend.probe ? await backend.probe() : ({ ok: true } as const);
      return {
        status: probe.ok ? "ok" : "degraded",
        backend: probe.ok
          ? { name: index.facts.backend, ok: true }
          : { name: index.facts.backend, ok: false, code: probe.code, message: probe.message },
        model: model.name,
        documents: counts.docs,
        chunks: counts.chunks,
        builtAt,
        dateRange,
        examples: examplesFor(index),
      };
    },
  };
}
