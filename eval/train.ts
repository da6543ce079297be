/**
 * Training of the answer-sentence selector: candidate features for every answerable question of a
 * dataset (through the product's own retrieval and candidate code), a logistic model fitted by
 * Newton's method with an L2 penalty, out-of-fold figures on folds of articles, and the final
 * model on all of them. Deterministic: no sampling, folds from sorted article ids.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Config } from "../core/config.ts";
import { retrieve } from "../core/retrieval.ts";
import {
  annotationsFor,
  candidates,
  FEATURES,
  type LogisticModel,
  passageSentences,
  termWeights,
} from "../core/selector.ts";
import type { Embedder } from "../core/types.ts";
import type { Progress } from "../ingest/indexer.ts";
import { loadDataset } from "./dataset.ts";
import { hasAnyAnswer } from "./metrics.ts";
import { memoQueries } from "./query-memo.ts";
import { openSession } from "./session.ts";

export const PREFILTER = 20;
export const PASSAGES = 5;

/** One question's candidates: features, and whether each holds a gold answer. */
export interface TrainRow {
  id: string;
  article: string;
  question: string;
  answers: string[];
  x: number[][];
  y: number[];
  texts: string[];
}

export interface ExtractOptions {
  datasetDir: string;
  cacheRoot: string;
  overrides: Partial<Config>;
  embedder: Embedder;
  limit?: number | undefined;
  onProgress?: (p: Progress) => void;
}

/** Features of every answerable question's candidates, as the engine would build them. */
export async function extractRows(opts: ExtractOptions): Promise<TrainRow[]> {
  const dataset = await loadDataset(opts.datasetDir);
  const memo = memoQueries(opts.embedder);
  const session = await openSession(dataset.corpusFile, {
    overrides: opts.overrides,
    cacheRoot: opts.cacheRoot,
    embedder: memo,
    expectDocuments: dataset.docIds.length,
  });
  try {
    const qs = dataset.questions.filter((q) => !q.expectNotFound && q.answers.length > 0);
    const work = opts.limit === undefined ? qs : qs.slice(0, opts.limit);
    const rows: TrainRow[] = [];
    const t0 = performance.now();
    for (const [i, q] of work.entries()) {
      memo.forget();
      const r = await retrieve(session.deps, q.question, { k: session.config.k });
      const index = session.deps.index;
      const cs = candidates(await passageSentences(index, r.passages), r.passages, q.question, {
        weights: await termWeights(index, q.question),
        annotations: annotationsFor(index),
        passages: PASSAGES,
        prefilter: PREFILTER,
      });
      rows.push({
        id: q.id,
        article: q.goldDocIds[0] ?? "",
        question: q.question,
        answers: q.answers,
        x: cs.map((c) => c.features),
        y: cs.map((c) => (hasAnyAnswer(c.text, q.answers) ? 1 : 0)),
        texts: cs.map((c) => c.text),
      });
      const elapsedS = (performance.now() - t0) / 1000;
      const rate = (i + 1) / Math.max(elapsedS, 1e-3);
      opts.onProgress?.({
        done: i + 1,
        total: work.length,
        elapsedS,
        rate,
        etaS: (work.length - i - 1) / rate,
      });
    }
    return rows;
  } finally {
    await session.close();
  }
}

/** Reads rows cached by an earlier extraction. */
export async function readRows(file: string): Promise<TrainRow[] | undefined> {
  if (!existsSync(file)) return undefined;
  const rows: TrainRow[] = [];
  for await (const line of createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity })) {
    if (line.trim()) rows.push(JSON.parse(line) as TrainRow);
  }
  return rows;
}

export async function writeRows(file: string, rows: readonly TrainRow[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

/**
 * A key for cached features: the feature list and candidate settings they were computed with, and
 * the index they were read from (`indexKey`, the eval cache key: corpus, model, chunker), whose
 * vectors the features are made of.
 */
export function featureKey(datasetDir: string, sourceHash: string, indexKey: string): string {
  return createHash("sha256")
    .update(
      JSON.stringify({
        d: path.resolve(datasetDir),
        f: FEATURES,
        p: PREFILTER,
        n: PASSAGES,
        s: sourceHash,
        i: indexKey,
      }),
    )
    .digest("hex")
    .slice(0, 16);
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A is small and positive definite). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/** Fits a logistic model (bias unpenalised) to standardised features by Newton's method. */
export function fitLogistic(
  xs: readonly (readonly number[])[],
  ys: readonly number[],
  l2 = 1,
  names: readonly string[] = FEATURES,
  iterations = 25,
): LogisticModel {
  const d = xs[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  const scale = new Array<number>(d).fill(0);
  for (const x of xs) for (let j = 0; j < d; j++) mean[j]! += x[j]! / xs.length;
  for (const x of xs) for (let j = 0; j < d; j++) scale[j]! += (x[j]! - mean[j]!) ** 2 / xs.length;
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]!) || 1;
  const z = xs.map((x) => [1, ...x.map((v, j) => (v - mean[j]!) / scale[j]!)]);
  let w = new Array<number>(d + 1).fill(0);
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d + 1).fill(0);
    const hess = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    z.forEach((zi, i) => {
      let s = 0;
      for (let j = 0; j <= d; j++) s += w[j]! * zi[j]!;
      const p = 1 / (1 + Math.exp(-s));
      const r = p - ys[i]!;
      const v = p * (1 - p);
      for (let j = 0; j <= d; j++) {
        grad[j]! += r * zi[j]!;
        const hj = hess[j]!;
        for (let k = j; k <= d; k++) hj[k]! += v * zi[j]! * zi[k]!;
      }
    });
    for (let j = 1; j <= d; j++) {
      grad[j]! += l2 * w[j]!;
      hess[j]![j]! += l2;
    }
    for (let j = 0; j <= d; j++) for (let k = 0; k < j; k++) hess[j]![k] = hess[k]![j]!;
    const step = solve(hess, grad);
    const next = w.map((v, j) => v - step[j]!);
    const change = Math.max(...step.map(Math.abs));
    w = next;
    if (change < 1e-8) break;
  }
  const round = (v: number) => Number(v.toFixed(6));
  return {
    features: [...names],
    mean: mean.map(round),
    scale: scale.map(round),
    weights: w.slice(1).map(round),
    bias: round(w[0]!),
  };
}

/** Folds of articles: sorted ids dealt round-robin, so every article is scored by a model that never saw it. */
export function articleFolds(articles: readonly string[], folds: number): Map<string, number> {
  return new Map([...new Set(articles)].sort().map((a, i) => [a, i % folds]));
}
