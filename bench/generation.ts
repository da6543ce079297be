/**
 * The generation part of `npm run bench` (`--only generation`, with a model configured through
 * CITELINE_LLM_*): how long a user waits, with a language model on, for the quoted answer, for the
 * model's first token, for its first verified sentence and for the whole answer, on the first
 * questions of a dataset. Never part of a default run: the bench needs no model.
 */
import os from "node:os";
import path from "node:path";
import type { Config } from "../core/config.ts";
import { runLlmEval } from "../eval/llm.ts";

export interface GenerationResult {
  dataset: string;
  provider: string;
  model: string;
  /** Questions asked (answerable ones; not-found answers are never sent to the model). */
  questions: number;
  settings: { llmThreads: number; llmPassages: number; llmMaxTokens: number; llmTimeoutMs: number };
  /** The quoted answer's first text, with generation on. */
  quotedMs: { p50: number | null; p95: number | null };
  firstTokenMs: { p50: number | null; p95: number | null };
  /** From the request to the first verified generated sentence, where the model had one. */
  firstSentenceMs: { p50: number | null; p95: number | null };
  /** The whole answer, the generated part included. */
  totalMs: { p50: number | null; p95: number | null };
  /** Questions where at least one generated sentence was verified and shown. */
  answeredByModel: number;
  /** The 1-minute load average before and after: figures taken on a busy machine say so. */
  loadAvg: { before: number; after: number };
}

export async function benchGeneration(opts: {
  datasetDir: string;
  limit: number;
  outDir: string;
  cacheRoot?: string | undefined;
  overrides?: Partial<Config>;
  onLine?: (line: string) => void;
}): Promise<GenerationResult> {
  const before = os.loadavg()[0] ?? 0;
  const s = await runLlmEval({
    datasetDir: opts.datasetDir,
    limit: opts.limit,
    outDir: opts.outDir,
    ...(opts.cacheRoot ? { cacheRoot: opts.cacheRoot } : {}),
    ...(opts.overrides ? { overrides: opts.overrides } : {}),
    ...(opts.onLine ? { onNotice: opts.onLine } : {}),
  });
  const after = os.loadavg()[0] ?? 0;
  const g = s.generated;
  return {
    dataset: path.basename(opts.datasetDir),
    provider: s.provider ?? "none",
    model: s.model ?? "none",
    questions: g.asked,
    settings: s.settings,
    quotedMs: g.firstDeltaMs,
    firstTokenMs: g.firstTokenMs,
    firstSentenceMs: g.firstSentenceMs,
    totalMs: g.totalMs,
    answeredByModel: g.answeredByModel,
    loadAvg: { before: Math.round(before * 100) / 100, after: Math.round(after * 100) / 100 },
  };
}
