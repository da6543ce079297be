/**
 * Calibration of the not-found threshold: the evidence score of answerable questions against
 * that of unanswerable ones, and the error rates each threshold would give.
 *
 * Unanswerable questions are the dataset's `expect: "not_found"` ones plus a held-out set: a
 * deterministic ~20% of the documents is left out of a second index, and their questions are
 * asked against it, where nothing answers them.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Config, loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Embedder } from "../core/types.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import type { Progress } from "../ingest/indexer.ts";
import { type EvalQuestion, loadDataset } from "./dataset.ts";
import { answerEvidence } from "./evidence.ts";
import { writeCorpusWithout } from "./index-cache.ts";
import { percentile } from "./metrics.ts";
import { memoQueries } from "./query-memo.ts";
import type { Stage } from "./run.ts";
import { DEFAULT_CACHE_ROOT, openSession, type Session } from "./session.ts";

export const CALIBRATION_RESULTS_FILE = "calibration.jsonl";
export const CALIBRATION_SUMMARY_FILE = "calibration.json";

export interface CalibrateOptions {
  datasetDir: string;
  /** At most N answerable and N held-out questions (the first in the dataset). */
  limit?: number | undefined;
  outDir?: string | undefined;
  cacheRoot?: string | undefined;
  overrides?: Partial<Config>;
  embedder?: Embedder;
  /** Share of documents held out (default 0.2). */
  heldOutShare?: number;
  /**
   * Another dataset over the same corpus whose `expect: "not_found"` questions are also asked
   * (e.g. squad2-unanswerable beside squad-dev).
   */
  unanswerableDir?: string | undefined;
  /** Largest share of answerable questions refused at the operating threshold (default 0.02). */
  maxFalseRefusal?: number;
  onProgress?: (stage: Stage, p: Progress) => void;
  onNotice?: (line: string) => void;
  /** Calibrate on the documents that could be indexed instead of stopping at an ingest issue. */
  allowPartial?: boolean;
  signal?: AbortSignal;
}

export interface Distribution {
  label: string;
  count: number;
  min: number | null;
  p5: number | null;
  p25: number | null;
  p50: number | null;
  p75: number | null;
  p95: number | null;
  max: number | null;
}

export interface ThresholdRow {
  threshold: number;
  /** Answerable questions that would be answered "not found". */
  falseNotFoundRate: number | null;
  /** Unanswerable questions that would be answered "not found". */
  notFoundRate: number | null;
  /** notFoundRate - falseNotFoundRate. */
  youden: number | null;
}

export interface CalibrationReport {
  dataset: string;
  current: number;
  recommended: number;
  heldOutDocs: string[];
  answerable: Distribution;
  unanswerable: Distribution & { heldOut: number; expectNotFound: number };
  histogram: { from: number; to: number; answerable: number; unanswerable: number }[];
  thresholds: ThresholdRow[];
  /** The highest threshold that refuses at most `maxFalseRefusal` of answerable questions. */
  operating: OperatingPoint;
  files: { results: string; summary: string };
}

export interface OperatingPoint {
  maxFalseRefusal: number;
  threshold: number;
  falseRefusalRate: number | null;
  /** Refusal rate per kind of unanswerable question at that threshold. */
  refused: { group: string; questions: number; rate: number | null }[];
}

/**
 * The operating point: the highest threshold (evidence below it is refused) at which at most
 * `maxFalse` of the answerable questions are refused, with each unanswerable group's refusal rate.
 */
export function operatingPoint(
  rows: readonly { group: string; evidence: number }[],
  maxFalse: number,
): OperatingPoint {
  const ans = rows
    .filter((r) => r.group === "answerable")
    .map((r) => r.evidence)
    .sort((a, b) => a - b);
  const threshold = ans.length === 0 ? 0 : ans[Math.min(ans.length - 1, Math.floor(maxFalse * ans.length))]!;
  const share = (xs: readonly number[]) =>
    xs.length === 0 ? null : Number((xs.filter((x) => x < threshold).length / xs.length).toFixed(4));
  const groups = [...new Set(rows.map((r) => r.group))].filter((g) => g !== "answerable").sort();
  return {
    maxFalseRefusal: maxFalse,
    threshold: Number(threshold.toFixed(4)),
    falseRefusalRate: share(ans),
    refused: groups.map((g) => {
      const xs = rows.filter((r) => r.group === g).map((r) => r.evidence);
      return { group: g, questions: xs.length, rate: share(xs) };
    }),
  };
}

/** Documents to hold out: the `share` of ids with the smallest sha256, so reruns agree. */
export function chooseHeldOut(docIds: readonly string[], share: number): string[] {
  if (docIds.length < 5) return [];
  const n = Math.max(1, Math.round(docIds.length * share));
  const h = (id: string) => createHash("sha256").update(id).digest("hex");
  return [...docIds]
    .map((id) => ({ id, h: h(id) }))
    .sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0))
    .slice(0, n)
    .map((x) => x.id);
}

/** Rates per threshold; evidence below the threshold means "not found", as in compose(). */
export function thresholdRows(
  answerable: readonly number[],
  unanswerable: readonly number[],
  thresholds: readonly number[],
): ThresholdRow[] {
  const share = (xs: readonly number[], t: number) =>
    xs.length === 0 ? null : xs.filter((x) => x < t).length / xs.length;
  return thresholds.map((t) => {
    const fnf = share(answerable, t);
    const nf = share(unanswerable, t);
    return {
      threshold: t,
      falseNotFoundRate: fnf,
      notFoundRate: nf,
      youden: fnf === null || nf === null ? null : nf - fnf,
    };
  });
}

/** Threshold grid in steps of `step` covering the evidence seen, plus the current threshold. */
export function thresholdGrid(values: readonly number[], current: number, step = 0.025): number[] {
  const lo = Math.floor((percentile(values, 1) ?? current) / step) * step;
  const hi = Math.ceil((percentile(values, 99) ?? current) / step) * step;
  const grid = new Set<number>([Number(current.toFixed(3))]);
  for (let t = lo; t <= hi + 1e-9; t += step) grid.add(Number(t.toFixed(3)));
  return [...grid].sort((a, b) => a - b);
}

/** The threshold with the highest Youden's J; the lowest such one on ties. */
export function recommend(rows: readonly ThresholdRow[], fallback: number): number {
  let best: ThresholdRow | undefined;
  for (const r of rows) if (r.youden !== null && (!best || r.youden > best.youden!)) best = r;
  return best?.threshold ?? fallback;
}

function distribution(label: string, xs: readonly number[]): Distribution {
  const q = (p: number) => {
    const v = percentile(xs, p);
    return v === undefined ? null : Number(v.toFixed(4));
  };
  return {
    label,
    count: xs.length,
    min: q(0),
    p5: q(5),
    p25: q(25),
    p50: q(50),
    p75: q(75),
    p95: q(95),
    max: q(100),
  };
}

function histogram(answerable: readonly number[], unanswerable: readonly number[], width = 0.05) {
  const all = [...answerable, ...unanswerable];
  if (all.length === 0) return [];
  const lo = Math.floor(Math.min(...all) / width);
  const hi = Math.floor(Math.max(...all) / width);
  const bins = [];
  for (let b = lo; b <= hi; b++) {
    const inBin = (x: number) => Math.floor(x / width) === b;
    bins.push({
      from: Number((b * width).toFixed(3)),
      to: Number(((b + 1) * width).toFixed(3)),
      answerable: answerable.filter(inBin).length,
      unanswerable: unanswerable.filter(inBin).length,
    });
  }
  return bins;
}

type Group = "answerable" | "held-out" | "not_found" | "extra_not_found";

/** Runs the calibration and writes `calibration.jsonl` and `calibration.json`. */
export async function runCalibration(opts: CalibrateOptions): Promise<CalibrationReport> {
  const dataset = await loadDataset(opts.datasetDir);
  const overrides = opts.overrides ?? {};
  const cacheRoot = opts.cacheRoot ?? DEFAULT_CACHE_ROOT;
  const outDir = path.resolve(opts.outDir ?? path.join(PROJECT_ROOT, "eval-results", dataset.name));
  const limit = (qs: EvalQuestion[]) => (opts.limit === undefined ? qs : qs.slice(0, opts.limit));

  const heldOutDocs = chooseHeldOut(dataset.docIds, opts.heldOutShare ?? 0.2);
  const heldOutSet = new Set(heldOutDocs);
  const answerableQs = limit(dataset.questions.filter((q) => !q.expectNotFound));
  const heldOutQs = new Set(
    limit(
      dataset.questions.filter(
        (q) => !q.expectNotFound && q.goldDocIds.length > 0 && q.goldDocIds.every((d) => heldOutSet.has(d)),
      ),
    ),
  );
  const notFoundQs = new Set(limit(dataset.questions.filter((q) => q.expectNotFound)));
  const answerableSet = new Set(answerableQs);
  const work = dataset.questions.filter((q) => answerableSet.has(q) || heldOutQs.has(q) || notFoundQs.has(q));

  const base = loadConfig(overrides);
  const embedder = opts.embedder ?? (await createEmbedder(base));
  const memo = memoQueries(embedder);
  const sessionOpts = {
    overrides,
    cacheRoot,
    embedder: memo,
    allowPartial: opts.allowPartial ?? false,
    source: dataset.corpusFile,
    onIndexProgress: (p: Progress) => opts.onProgress?.("index", p),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  let full: Session | undefined;
  let reduced: Session | undefined;
  const tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-heldout-"));
  try {
    full = await openSession(dataset.corpusFile, { ...sessionOpts, expectDocuments: dataset.docIds.length });
    if (heldOutDocs.length > 0) {
      opts.onNotice?.(`holding out ${heldOutDocs.length} of ${dataset.docIds.length} documents`);
      const file = path.join(tmp, "corpus.jsonl");
      await writeCorpusWithout(dataset.corpusFile, file, heldOutSet);
      reduced = await openSession(file, {
        ...sessionOpts,
        expectDocuments: dataset.docIds.length - heldOutDocs.length,
        seedFrom: full.cached.indexDir,
      });
    }

    const rows: { id: string; group: Group; evidence: number; dense?: number; lexical?: number }[] = [];
    // Every question is asked as the engine and the eval ask it: as of its date, if it has one.
    const ask = async (deps: Session["deps"], q: EvalQuestion, group: Group) => {
      rows.push({ id: q.id, group, ...(await answerEvidence(deps, q.question, q.date)) });
    };
    if (opts.unanswerableDir) {
      const extra = limit(
        (await loadDataset(opts.unanswerableDir)).questions.filter((q) => q.expectNotFound),
      );
      for (const [i, q] of extra.entries()) {
        if (opts.signal?.aborted)
          throw new AppError("CANCELLED", `calibration interrupted after ${i} questions`);
        memo.forget();
        await ask(full.deps, q, "extra_not_found");
        if ((i + 1) % 200 === 0 || i + 1 === extra.length) {
          opts.onNotice?.(`${i + 1}/${extra.length} questions of ${path.basename(opts.unanswerableDir)}`);
        }
      }
    }
    const t0 = performance.now();
    for (const [i, q] of work.entries()) {
      if (opts.signal?.aborted)
        throw new AppError("CANCELLED", `calibration interrupted after ${i} questions`);
      memo.forget();
      if (notFoundQs.has(q)) await ask(full.deps, q, "not_found");
      if (answerableSet.has(q)) await ask(full.deps, q, "answerable");
      if (reduced && heldOutQs.has(q)) await ask(reduced.deps, q, "held-out");
      const elapsedS = (performance.now() - t0) / 1000;
      const rate = (i + 1) / Math.max(elapsedS, 1e-3);
      opts.onProgress?.("questions", {
        done: i + 1,
        total: work.length,
        elapsedS,
        rate,
        etaS: (work.length - i - 1) / rate,
      });
    }

    const current = full.config.notFoundThreshold;
    const ans = rows.filter((r) => r.group === "answerable").map((r) => r.evidence);
    const un = rows.filter((r) => r.group !== "answerable").map((r) => r.evidence);
    const thresholds = thresholdRows(ans, un, thresholdGrid([...ans, ...un], current));
    await mkdir(outDir, { recursive: true });
    const files = {
      results: path.join(outDir, CALIBRATION_RESULTS_FILE),
      summary: path.join(outDir, CALIBRATION_SUMMARY_FILE),
    };
    await writeFile(files.results, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const report: CalibrationReport = {
      dataset: dataset.name,
      current,
      recommended: recommend(thresholds, current),
      heldOutDocs,
      answerable: distribution("answerable", ans),
      unanswerable: {
        ...distribution("unanswerable", un),
        heldOut: rows.filter((r) => r.group === "held-out").length,
        expectNotFound: rows.filter((r) => r.group === "not_found").length,
      },
      histogram: histogram(ans, un),
      thresholds,
      operating: operatingPoint(rows, opts.maxFalseRefusal ?? 0.02),
      files,
    };
    await writeFile(files.summary, `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await full?.close();
    await reduced?.close();
    await rm(tmp, { recursive: true, force: true });
    if (!opts.embedder) await embedder.dispose();
  }
}
