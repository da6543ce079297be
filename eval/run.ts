/**
 * The evaluation runner: every question of a dataset through the product's retrieval (each mode)
 * and its answer engine (the hybrid path the server serves), scored, written as per-question
 * JSONL and a JSON summary.
 */
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import type { Selector } from "../core/answer.ts";
import { type Config, loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEngine, type Engine } from "../core/engine.ts";
import { AppError, isAppError } from "../core/errors.ts";
import type { AnswerEvent } from "../core/protocol.ts";
import { type Passage, type RetrievalMode, retrieve } from "../core/retrieval.ts";
import type { Embedder } from "../core/types.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import type { Progress } from "../ingest/indexer.ts";
import { type AnswerQualitySummary, summarizeAnswerQuality } from "./answer-quality.ts";
import {
  type AnswerApplicability,
  answerApplicability,
  answerInGold,
  withoutAnswerVerdicts,
} from "./applicability.ts";
import { type Dataset, type EvalQuestion, loadDataset } from "./dataset.ts";
import { answerEvidence } from "./evidence.ts";
import { locatePassage } from "./metrics.ts";
import { memoQueries } from "./query-memo.ts";
import {
  type AnswerSummary,
  type GoldSpan,
  type ModeResult,
  type ModeSummary,
  type QuestionResult,
  type RankedChunk,
  scoreAnswer,
  scoreRanking,
  summarizeAnswers,
  summarizeMode,
} from "./score.ts";
import { citedDocs, DEFAULT_CACHE_ROOT, openSession, type Session } from "./session.ts";

export const ALL_MODES: readonly RetrievalMode[] = ["dense", "lexical", "hybrid"];
export const RESULTS_FILE = "results.jsonl";
export const SUMMARY_FILE = "summary.json";

export type Stage = "index" | "questions";

export interface EvalOptions {
  datasetDir: string;
  /** Also answer every question without the reader, for the side-by-side table (default true). */
  compareReader?: boolean;
  modes?: readonly RetrievalMode[];
  /** Depth of the answer-in-context and passage metrics (default 5). */
  k?: number;
  /** Only the first N questions. */
  limit?: number | undefined;
  /** Default: eval-results/<dataset name>. */
  outDir?: string | undefined;
  /** Default: data/eval-cache. */
  cacheRoot?: string | undefined;
  /** Evaluate on the documents that could be indexed instead of stopping at an ingest issue. */
  allowPartial?: boolean;
  /** Settings on top of defaults and environment. */
  overrides?: Partial<Config>;
  /** A loaded model to use; by default one is loaded from the configuration and disposed after. */
  embedder?: Embedder;
  onProgress?: (stage: Stage, p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
  /**
   * Selector models trained without some articles, and the model for each article: each question
   * is answered by the model that never saw its gold article (out-of-fold figures).
   */
  selectorFolds?: SelectorFolds | undefined;
}

export interface SelectorFolds {
  /** Article id → index into `models`. */
  foldOf: Record<string, number>;
  models: Selector[];
}

export interface EvalSummary {
  dataset: {
    name: string;
    dir: string;
    documents: number;
    questions: number;
    answerable: number;
    expectNotFound: number;
    /** Questions with gold passages, and gold passages not found verbatim in their document. */
    withGoldPassages: number;
    unlocatedPassages: number;
    /** Questions whose gold answers occur in their gold documents; answer metrics need them. */
    answers: AnswerApplicability;
  };
  index: {
    key: string;
    dir: string;
    reused: boolean;
    buildSeconds: number | null;
    documents: number;
    /** Corpus documents not in the index (non-zero only with allowPartial). */
    dropped: number;
    chunks: number;
    sentences: number;
  };
  /** Every setting the run used, so results can be compared across changes (the token left out). */
  settings: Omit<Config, "accessToken">;
  /** Depth of answer-in-context and passage recall. */
  k: number;
  /** Passages retrieved per mode for the document ranking (product candidate pool, cap on). */
  rankingDepth: number;
  modes: Partial<Record<RetrievalMode, ModeSummary>>;
  answer: AnswerSummary;
  /** First sentence, short answer and refusals. */
  answerQuality: AnswerQualitySummary;
  /** The reader's model id, when answers were read. */
  reader: string | null;
  /** The same questions answered without the reader (when a reader is loaded). */
  readerOff?: { answer: ReturnType<typeof summarizeAnswers>; answerQuality: AnswerQualitySummary };
  /** Whether answers came from fold models that never saw the question's article. */
  selector: "committed" | "out-of-fold";
  /** Questions whose answer failed with an error (listed in the results). */
  errors: number;
  startedAt: string;
  wallSeconds: number;
  files: { results: string; summary: string };
}

/** Runs the evaluation and writes `results.jsonl` and `summary.json` into the output folder. */
export async function runEval(opts: EvalOptions): Promise<EvalSummary> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const dataset = await loadDataset(opts.datasetDir);
  const questions = opts.limit === undefined ? dataset.questions : dataset.questions.slice(0, opts.limit);
  const modes = opts.modes ?? ALL_MODES;
  const k = opts.k ?? 5;
  const overrides = opts.overrides ?? {};
  const outDir = path.resolve(opts.outDir ?? path.join(PROJECT_ROOT, "eval-results", dataset.name));

  const base = loadConfig(overrides);
  const embedder = opts.embedder ?? (await createEmbedder(base));
  const memo = memoQueries(embedder);
  let session: Session | undefined;
  let out: WriteStream | undefined;
  try {
    session = await openSession(dataset.corpusFile, {
      overrides,
      cacheRoot: opts.cacheRoot ?? DEFAULT_CACHE_ROOT,
      embedder: memo,
      expectDocuments: dataset.docIds.length,
      allowPartial: opts.allowPartial ?? false,
      source: dataset.corpusFile,
      onIndexProgress: (p) => opts.onProgress?.("index", p),
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const { config } = session;
    // Deep enough for ten documents where the corpus has them, without growing the candidate
    // pool beyond what the product uses (retrieve takes max(candidates, 3k) per retriever).
    const rankingDepth = Math.max(k, config.k, 10, Math.floor(config.candidates / 3));
    const spans = goldSpanLookup(dataset, session);
    const open = session;
    const foldEngines = opts.selectorFolds?.models.map((selector) => ({
      selector,
      engine: createEngine({ config, embedder: memo, backend: open.backend, selector }),
    }));
    // Without the reader, beside it: the same retrieval and selector, the answer step alone differs.
    const readerOff =
      memo.reader && opts.compareReader !== false
        ? createEngine({ config, embedder: memo, backend: open.backend, reader: null })
        : undefined;
    // A question of no article the folds know is answered by the committed model.
    const answering = (q: EvalQuestion): Answering => {
      const fold = opts.selectorFolds?.foldOf[q.goldDocIds[0] ?? q.nearDocId ?? ""];
      const f = fold === undefined ? undefined : foldEngines?.[fold];
      return { ...(f ?? { engine: open.engine, selector: undefined }), readerOff };
    };

    await mkdir(outDir, { recursive: true });
    const resultsFile = path.join(outDir, RESULTS_FILE);
    out = createWriteStream(resultsFile, "utf8");
    const results: QuestionResult[] = [];
    const t0 = performance.now();
    const progress = (done: number) => {
      const elapsedS = (performance.now() - t0) / 1000;
      const r = done / Math.max(elapsedS, 1e-3);
      opts.onProgress?.("questions", {
        done,
        total: questions.length,
        elapsedS,
        rate: r,
        etaS: r > 0 ? (questions.length - done) / r : 0,
      });
    };
    progress(0);
    for (const [i, q] of questions.entries()) {
      if (opts.signal?.aborted) {
        throw new AppError("CANCELLED", `evaluation interrupted after ${i} questions; see ${resultsFile}`);
      }
      const result = await runQuestion(
        q,
        session,
        answering(q),
        memo,
        modes,
        k,
        rankingDepth,
        await spans.of(q),
      );
      results.push(result);
      if (!out.write(`${JSON.stringify(result)}\n`)) await once(out, "drain");
      progress(i + 1);
    }
    out.end();
    await finished(out);

    const modeSummaries: Partial<Record<RetrievalMode, ModeSummary>> = {};
    for (const mode of modes) {
      const rs = results.map((r) => r.modes[mode]).filter((m): m is ModeResult => m !== undefined);
      modeSummaries[mode] = summarizeMode(rs, k);
    }
    const { counts } = session.backend.current().facts;
    const summaryFile = path.join(outDir, SUMMARY_FILE);
    const summary: EvalSummary = {
      dataset: {
        name: dataset.name,
        dir: dataset.dir,
        documents: dataset.docIds.length,
        questions: questions.length,
        answerable: questions.filter((q) => !q.expectNotFound).length,
        expectNotFound: questions.filter((q) => q.expectNotFound).length,
        withGoldPassages: questions.filter((q) => q.goldPassageIds.length > 0).length,
        unlocatedPassages: spans.unlocated(),
        answers: answerApplicability(results),
      },
      index: {
        key: session.cached.key,
        dir: session.cached.dir,
        reused: session.cached.build === undefined,
        buildSeconds: session.cached.build ? Number(session.cached.build.seconds.toFixed(1)) : null,
        documents: counts.docs,
        dropped: session.dropped,
        chunks: counts.chunks,
        sentences: counts.sentences,
      },
      settings: withoutToken(config),
      k,
      rankingDepth,
      modes: modeSummaries,
      selector: opts.selectorFolds ? "out-of-fold" : "committed",
      ...answerSummaries(results),
      reader: memo.reader && opts.compareReader !== false ? memo.reader.modelId : null,
      ...(results.some((r) => r.answerReaderOff !== undefined)
        ? { readerOff: answerSummaries(results.map((r) => ({ ...r, answer: r.answerReaderOff ?? null }))) }
        : {}),
      errors: results.filter((r) => r.error !== null).length,
      startedAt,
      wallSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      files: { results: resultsFile, summary: summaryFile },
    };
    await writeFile(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    out?.destroy();
    await session?.close();
    if (!opts.embedder) await embedder.dispose();
  }
}

interface Answering {
  engine: Engine;
  selector: Selector | undefined;
  readerOff?: Engine | undefined;
}

async function runQuestion(
  q: EvalQuestion,
  session: Session,
  answering: Answering,
  memo: ReturnType<typeof memoQueries>,
  modes: readonly RetrievalMode[],
  k: number,
  depth: number,
  goldSpans: GoldSpan[],
): Promise<QuestionResult> {
  memo.forget();
  // The answer runs first so that it, like a server request, pays for the query embedding;
  // every later retrieval of this question reuses the vector.
  const inGold = answerInGold(q, await session.docTexts(q.goldDocIds));
  let answer: QuestionResult["answer"] = null;
  let answerOff: QuestionResult["answer"] | undefined;
  let error: string | null = null;
  try {
    const answerWith = async (engine: Engine, reader?: null) => {
      const events: AnswerEvent[] = [];
      const ask = q.date === undefined ? { question: q.question } : { question: q.question, asOf: q.date };
      for await (const e of engine.answer(ask)) events.push(e);
      const evidence =
        reader === null
          ? await answerEvidence(session.deps, q.question, q.date, answering.selector, undefined)
          : await answerEvidence(session.deps, q.question, q.date, answering.selector);
      return scoreAnswer(
        q,
        events,
        await session.docTexts([...q.goldDocIds, ...citedDocs(events)]),
        evidence,
      );
    };
    answer = await answerWith(answering.engine);
    if (answering.readerOff) answerOff = await answerWith(answering.readerOff, null);
  } catch (err) {
    if (!isAppError(err)) throw err;
    error = `${err.code}: ${err.message}`;
  }
  const embedMs = memo.queryMs;
  const byMode: Partial<Record<RetrievalMode, ModeResult>> = {};
  for (const mode of modes) {
    const t0 = performance.now();
    const r = await retrieve(session.deps, q.question, { k: depth, mode, asOf: q.date });
    const ms = performance.now() - t0;
    byMode[mode] = scoreRanking(q, r.passages.map(ranked), k, goldSpans, round2(ms));
  }
  const result: QuestionResult = {
    id: q.id,
    line: q.line,
    question: q.question,
    answers: q.answers,
    goldDocIds: q.goldDocIds,
    expectNotFound: q.expectNotFound,
    answerInGold: inGold,
    embedMs: round2(embedMs),
    modes: byMode,
    answer,
    error,
  };
  if (answerOff !== undefined) {
    result.answerReaderOff =
      inGold === false ? withoutAnswerVerdicts({ ...result, answer: answerOff }).answer : answerOff;
  }
  return inGold === false ? withoutAnswerVerdicts(result) : result;
}

function withoutToken(config: Config): Omit<Config, "accessToken"> {
  const { accessToken: _token, ...rest } = config;
  return rest;
}

const round2 = (ms: number) => Math.round(ms * 100) / 100;

function ranked(p: Passage): RankedChunk {
  return { docId: p.doc.id, chunkId: p.chunk.id, start: p.chunk.start, end: p.chunk.end, text: p.chunk.text };
}

/** Gold passage spans in their documents as indexed, located once each. */
function goldSpanLookup(dataset: Dataset, session: Session) {
  const located = new Map<string, GoldSpan | undefined>();
  let unlocated = 0;
  return {
    async of(q: EvalQuestion): Promise<GoldSpan[]> {
      const out: GoldSpan[] = [];
      for (const id of q.goldPassageIds) {
        if (!located.has(id)) {
          const p = dataset.passages?.get(id);
          const text = p && (await session.docTexts([p.docId]))(p.docId);
          const span = p && text !== undefined ? locatePassage(text, p.text) : undefined;
          if (!span) unlocated++;
          located.set(id, p && span ? { docId: p.docId, ...span } : undefined);
        }
        const span = located.get(id);
        if (span) out.push(span);
      }
      return out;
    },
    unlocated: () => unlocated,
  };
}

/** The answer and answer-quality summaries of results (with the reader, and without it). */
function answerSummaries(results: QuestionResult[]) {
  return {
    answer: summarizeAnswers(results),
    answerQuality: summarizeAnswerQuality(
      results.flatMap((r) =>
        r.answer
          ? [
              {
                expectNotFound: r.expectNotFound,
                answers: r.answers,
                notFound: r.answer.notFound,
                quality: r.answer.quality,
              },
            ]
          : [],
      ),
    ),
  };
}
