/**
 * `npm run eval -- --llm`: the generated answer beside the extractive one on the same questions
 * and index. Reports accuracy of what the user is shown, how many of the model's sentences passed
 * verification, how often the extractive fallback was taken, latency to the first model token and
 * to the whole answer, and an independent recheck that every shown generated sentence cites a
 * source sentence found verbatim in its document.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import { type Config, loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEngine, type Engine } from "../core/engine.ts";
import { AppError } from "../core/errors.ts";
import type { AnswerEvent, Generation, SourceRef } from "../core/protocol.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import type { Progress } from "../ingest/indexer.ts";
import { createGenerator } from "../llm/select.ts";
import { loadDataset } from "./dataset.ts";
import { answerEvidence } from "./evidence.ts";
import { percentile, rate } from "./metrics.ts";
import { memoQueries } from "./query-memo.ts";
import { scoreAnswer } from "./score.ts";
import { citedDocs, DEFAULT_CACHE_ROOT, openSession } from "./session.ts";

export interface LlmEvalOptions {
  datasetDir: string;
  limit?: number | undefined;
  outDir?: string | undefined;
  cacheRoot?: string | undefined;
  overrides?: Partial<Config>;
  onProgress?: (stage: "index" | "questions", p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
}

interface Side {
  answer: string;
  correct: boolean | null;
  notFound: boolean;
  firstDeltaMs: number;
  totalMs: number;
}

export interface LlmQuestionResult {
  id: string;
  question: string;
  answers: string[];
  extractive: Side;
  generated: Side & {
    generation: Generation | null;
    /** Citations of generated sentences whose source sentence is not verbatim in its document. */
    ungrounded: number;
  };
}

const round = (x: number | undefined, digits = 3) =>
  x === undefined ? null : Math.round(x * 10 ** digits) / 10 ** digits;
const q = (values: number[]) => ({
  p50: round(percentile(values, 50), 0),
  p95: round(percentile(values, 95), 0),
});

async function run(engine: Engine, question: string): Promise<AnswerEvent[]> {
  const events: AnswerEvent[] = [];
  for await (const e of engine.answer({ question })) events.push(e);
  return events;
}

/**
 * The events as the generated side is scored: its `done` carries the generated answer where the
 * model's sentences were verified, and the extractive answer (which is always sent first) where
 * none was. The short answer is a span of the extractive answer, so it goes with it.
 */
function generatedSide(events: AnswerEvent[]): AnswerEvent[] {
  return events.map((e) => {
    if (e.type !== "done" || !e.generated) return e;
    const { shortAnswer: _short, generated, ...rest } = e;
    return { ...rest, answer: generated.answer, citations: generated.citations };
  });
}

/** The independent recheck: each cited source sentence is the document's text at its offsets, inside its passage. */
function ungrounded(events: AnswerEvent[], docText: (id: string) => string | undefined): number {
  let sources: SourceRef[] = [];
  let bad = 0;
  for (const e of events) {
    if (e.type === "sources") sources = e.sources;
    if (e.type !== "done") continue;
    for (const c of e.citations) {
      const src = sources.find((s) => s.n === c.n);
      const ok =
        src !== undefined &&
        src.docId === c.docId &&
        src.start <= c.start &&
        c.end <= src.end &&
        docText(c.docId)?.slice(c.start, c.end) === c.text &&
        c.answerStart < c.answerEnd &&
        c.answerEnd <= e.answer.length;
      if (!ok) bad += 1;
    }
  }
  return bad;
}

export async function runLlmEval(opts: LlmEvalOptions) {
  const dataset = await loadDataset(opts.datasetDir);
  const questions = (
    opts.limit === undefined ? dataset.questions : dataset.questions.slice(0, opts.limit)
  ).filter((x) => !x.expectNotFound);
  const overrides = opts.overrides ?? {};
  const base = loadConfig(overrides);
  if (base.llmGguf === undefined && base.llmUrl === undefined) {
    throw new AppError(
      "CONFIG_INVALID",
      "--llm needs a model: set CITELINE_LLM_GGUF (a GGUF file) or CITELINE_LLM_URL and CITELINE_LLM_MODEL",
    );
  }
  const outDir = path.resolve(opts.outDir ?? path.join(PROJECT_ROOT, "eval-results", `${dataset.name}-llm`));
  const embedder = memoQueries(await createEmbedder(base));
  const rejections = new Map<string, number>();
  const examples: { reason: string; detail: string; sentence: string }[] = [];
  const log = (_level: string, event: string, fields: Record<string, unknown>) => {
    if (event === "generated_sentence_rejected") {
      const reason = String(fields.reason);
      rejections.set(reason, (rejections.get(reason) ?? 0) + 1);
      if (examples.length < 20) {
        examples.push({ reason, detail: String(fields.detail), sentence: String(fields.sentence) });
      }
    }
  };
  const generator = await createGenerator(base, log);
  const session = await openSession(dataset.corpusFile, {
    overrides,
    cacheRoot: opts.cacheRoot ?? DEFAULT_CACHE_ROOT,
    embedder,
    expectDocuments: dataset.docIds.length,
    ...(opts.onProgress ? { onIndexProgress: (p: Progress) => opts.onProgress?.("index", p) } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const generating = createEngine({
    config: session.config,
    embedder,
    backend: session.backend,
    generator,
    log,
  });
  const results: LlmQuestionResult[] = [];
  await mkdir(outDir, { recursive: true });
  const out = createWriteStream(path.join(outDir, "results.jsonl"), "utf8");
  const t0 = performance.now();
  try {
    for (const [i, question] of questions.entries()) {
      if (opts.signal?.aborted) break;
      const evidence = await answerEvidence(session.deps, question.question);
      const extractiveEvents = await run(session.engine, question.question);
      const generatedEvents = generatedSide(await run(generating, question.question));
      const docText = await session.docTexts(citedDocs([...extractiveEvents, ...generatedEvents]));
      const side = (events: AnswerEvent[]): Side => {
        const s = scoreAnswer(question, events, docText, evidence);
        const done = events.find((e) => e.type === "done");
        return {
          answer: s.answer,
          correct: s.correct,
          notFound: s.notFound,
          firstDeltaMs: done?.type === "done" ? done.timings.firstDeltaMs : 0,
          totalMs: s.totalMs,
        };
      };
      const done = generatedEvents.find((e) => e.type === "done");
      const result: LlmQuestionResult = {
        id: question.id,
        question: question.question,
        answers: question.answers,
        extractive: side(extractiveEvents),
        generated: {
          ...side(generatedEvents),
          generation: done?.type === "done" ? (done.generation ?? null) : null,
          ungrounded: ungrounded(generatedEvents, docText),
        },
      };
      results.push(result);
      if (!out.write(`${JSON.stringify(result)}\n`)) await once(out, "drain");
      const elapsedS = (performance.now() - t0) / 1000;
      const r = (i + 1) / Math.max(elapsedS, 1e-3);
      opts.onProgress?.("questions", {
        done: i + 1,
        total: questions.length,
        elapsedS,
        rate: r,
        etaS: (questions.length - i - 1) / r,
      });
    }
    out.end();
    await finished(out);
  } finally {
    out.destroy();
    await session.close();
    await generator?.close();
    await embedder.dispose();
  }

  const asked = results.filter((r) => r.generated.generation !== null);
  const shownGenerated = asked.filter((r) => r.generated.generation?.mode === "generated");
  const verified = asked.reduce((n, r) => n + (r.generated.generation?.verified ?? 0), 0);
  const rejected = asked.reduce((n, r) => n + (r.generated.generation?.rejected ?? 0), 0);
  const accuracy = (rs: LlmQuestionResult[], pick: (r: LlmQuestionResult) => Side) =>
    round(rate(rs.filter((r) => pick(r).correct).length, rs.length));
  const summary = {
    dataset: dataset.name,
    questions: results.length,
    provider: generator?.provider.kind,
    model: generator?.provider.model,
    settings: {
      llmMaxTokens: base.llmMaxTokens,
      llmPassages: base.llmPassages,
      llmTimeoutMs: base.llmTimeoutMs,
      llmThreads: base.llmThreads,
    },
    extractive: {
      accuracy: accuracy(results, (r) => r.extractive),
      totalMs: q(results.map((r) => r.extractive.totalMs)),
    },
    generated: {
      /** Accuracy of what the user was shown with generation on (generated or fallback text). */
      accuracy: accuracy(results, (r) => r.generated),
      /** Questions the model was asked (not-found answers are not sent to it). */
      asked: asked.length,
      answeredByModel: shownGenerated.length,
      fallbackRate: round(rate(asked.length - shownGenerated.length, asked.length)),
      fallbacks: Object.fromEntries(
        ["no_verified_sentence", "timeout", "provider_error"].map((f) => [
          f,
          asked.filter((r) => r.generated.generation?.fallback === f).length,
        ]),
      ),
      sentences: {
        written: verified + rejected,
        verified,
        rejected,
        passRate: round(rate(verified, verified + rejected)),
      },
      rejections: Object.fromEntries(rejections),
      /** The first rejected sentences, to see what the model writes (summary.json only). */
      rejectedExamples: examples,
      /** Shown generated sentences whose cited source sentence failed the independent recheck. */
      ungroundedCitations: results.reduce((n, r) => n + r.generated.ungrounded, 0),
      /** On the questions the model answered: its accuracy, and the extractive answer's there. */
      accuracyWhereGenerated: accuracy(shownGenerated, (r) => r.generated),
      extractiveAccuracyThere: accuracy(shownGenerated, (r) => r.extractive),
      firstTokenMs: q(asked.flatMap((r) => r.generated.generation?.firstTokenMs ?? [])),
      /** From the request to the first verified sentence, where the model had one. */
      firstSentenceMs: q(asked.flatMap((r) => r.generated.generation?.firstSentenceMs ?? [])),
      firstDeltaMs: q(results.map((r) => r.generated.firstDeltaMs)),
      totalMs: q(results.map((r) => r.generated.totalMs)),
    },
  };
  await writeFile(path.join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return { ...summary, outDir };
}

export type LlmEvalSummary = Awaited<ReturnType<typeof runLlmEval>>;

/** The summary as a side-by-side table. */
export function formatLlmSummary(s: LlmEvalSummary): string {
  const g = s.generated;
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
  const ms = (x: { p50: number | null; p95: number | null }) => `${x.p50 ?? "n/a"} / ${x.p95 ?? "n/a"} ms`;
  return [
    `${s.dataset}: ${s.questions} answerable questions; model ${s.model} (${s.provider})`,
    "",
    "                         extractive      generation on",
    `accuracy                 ${pct(s.extractive.accuracy).padEnd(15)} ${pct(g.accuracy)}`,
    `whole answer p50/p95     ${ms(s.extractive.totalMs).padEnd(15)} ${ms(g.totalMs)}`,
    "",
    `model asked              ${g.asked} (not-found answers are not sent to it)`,
    `answered by the model    ${g.answeredByModel}; fallback rate ${pct(g.fallbackRate)} ${JSON.stringify(g.fallbacks)}`,
    `sentences written        ${g.sentences.written}; passed verification ${g.sentences.verified} (${pct(g.sentences.passRate)})`,
    `rejected, by reason      ${JSON.stringify(g.rejections)}`,
    `unsupported shown        0 by construction; independent recheck of cited source sentences: ${g.ungroundedCitations} failed`,
    `where the model answered accuracy ${pct(g.accuracyWhereGenerated)} (extractive on the same: ${pct(g.extractiveAccuracyThere)})`,
    `first model token        ${ms(g.firstTokenMs)}; first shown text ${ms(g.firstDeltaMs)}`,
    `first verified sentence  ${ms(g.firstSentenceMs)} (where the model had one)`,
    "",
    `results: ${path.join(s.outDir, "results.jsonl")}`,
  ].join("\n");
}
