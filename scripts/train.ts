/**
 * `npm run train -- [--dataset DIR] [--cache DIR] [--folds N] [--limit N] [--out FILE]`: trains
 * the answer-sentence selector on a dataset's answerable questions, then the short-answer span
 * model on the spans of the sentence each question's out-of-fold selector put first, and writes
 * both with their provenance and out-of-fold figures (folds of articles) to core/selector-model.json.
 * Candidate features are cached under data/train-cache, keyed by the code that computes them.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { FEATURES, probability, type SelectorModel } from "../core/selector.ts";
import { type ShortAnswerModel, SPAN_FEATURES } from "../core/short-answer.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { BOOST_DEFAULTS, type BoostOptions, describeBoost, fitBoosted, modelJson } from "../eval/boost.ts";
import { loadDataset } from "../eval/dataset.ts";
import { cacheKey, fileSha256 } from "../eval/index-cache.ts";
import { DEFAULT_CACHE_ROOT } from "../eval/session.ts";
import {
  SPAN_LABEL_F1,
  type SpanRow,
  spanFigures,
  spanLabel,
  spanProbabilities,
  spanRows,
} from "../eval/short-train.ts";
import {
  articleFolds,
  extractRows,
  featureKey,
  PASSAGES,
  PREFILTER,
  readRows,
  type TrainRow,
  writeRows,
} from "../eval/train.ts";
import { parseCommand, positiveInt, runCli } from "./cli.ts";
import { formatDuration } from "./progress.ts";

const COMMAND = {
  usage:
    "usage: npm run train -- [--dataset DIR] [--cache DIR] [--folds N] [--limit N] [--out FILE] [--features FILE]",
  summary:
    "Trains the answer-sentence selector and the short-answer span model on a dataset's answerable questions and writes both, with their provenance and out-of-fold figures, to core/selector-model.json.",
  options: {
    dataset: { type: "string" },
    cache: { type: "string" },
    folds: { type: "string" },
    limit: { type: "string" },
    out: { type: "string" },
    features: { type: "string" },
  },
  help: [
    "--dataset DIR          the dataset folder (default ../shared/eval/squad-dev)",
    "--cache DIR            reuse indexes built earlier for the same corpus",
    "--folds N              folds of articles for the out-of-fold figures (default 4)",
    "--limit N              only the first N questions",
    "--out FILE             where the model is written (default core/selector-model.json)",
    "--features FILE        read the candidate features from this file instead of the cache",
  ],
} as const;
const USAGE = COMMAND.usage;
/**
 * How the selector is fitted. Boosted trees over the same features chose the right sentence more
 * often out of fold than the logistic regression they replace (0.7505 against 0.7431 of 7,793
 * squad-dev questions, 4 folds of articles), at about a minute per fit on 2 cores.
 */
const SELECTOR_FIT: BoostOptions = BOOST_DEFAULTS;
/** How the short-answer span model is fitted: the selector's settings, on fewer rows. */
const SPAN_FIT: BoostOptions = BOOST_DEFAULTS;
/**
 * A short answer is said when the span model's probability reaches this. At 0.4 it gives about as
 * many short answers as the hand-set rule it replaced (33.3% of squad-dev questions out of fold,
 * against 32.6%), and more of them right; the figures at other thresholds are in the provenance.
 */
const SPAN_THRESHOLD = 0.4;
const SPAN_CURVE = [0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7];
/** A second sentence may cost at most this much of the share of cited sentences that hold an answer. */
const CITED_PRECISION_COST = 0.02;
/** Code whose change changes the features. */
const FEATURE_SOURCES = ["core/selector.ts", "core/nlp.ts", "core/text.ts", "core/retrieval.ts"];

interface FoldFigures {
  questions: number;
  /** The best candidate holds a gold answer. */
  top1: number;
  /** The same for the earlier hand-weighted blend (the prefilter order). */
  baselineTop1: number;
  /** Some candidate holds a gold answer (the ceiling of any selector). */
  ceiling: number;
  logLoss: number;
  /** With a second sentence when its probability reaches each threshold. */
  followers: { threshold: number; accuracy: number; citedPrecision: number }[];
}

function figures(rows: readonly TrainRow[], probs: readonly number[][]): FoldFigures {
  let top1 = 0;
  let baseline = 0;
  let ceiling = 0;
  let loss = 0;
  let n = 0;
  rows.forEach((r, i) => {
    const p = probs[i]!;
    const order = p.map((_, j) => j).sort((a, b) => p[b]! - p[a]! || a - b);
    if (r.y[order[0] ?? -1] === 1) top1++;
    if (r.y[0] === 1) baseline++;
    if (r.y.includes(1)) ceiling++;
    r.y.forEach((y, j) => {
      const q = Math.min(1 - 1e-9, Math.max(1e-9, p[j]!));
      loss -= y * Math.log(q) + (1 - y) * Math.log(1 - q);
      n++;
    });
  });
  const followers = [...Array.from({ length: 16 }, (_, i) => 0.2 + i * 0.05), 1.01].map((threshold) => {
    let correct = 0;
    let cited = 0;
    let bearing = 0;
    rows.forEach((r, i) => {
      const p = probs[i]!;
      const order = p.map((_, j) => j).sort((a, b) => p[b]! - p[a]! || a - b);
      const chosen = [order[0]!];
      if (order[1] !== undefined && p[order[1]]! >= threshold) chosen.push(order[1]);
      cited += chosen.length;
      const hits = chosen.filter((j) => r.y[j] === 1).length;
      bearing += hits;
      if (hits > 0) correct++;
    });
    return {
      threshold: round(threshold),
      accuracy: round(correct / rows.length),
      citedPrecision: round(bearing / cited),
    };
  });
  return {
    questions: rows.length,
    top1: round(top1 / rows.length),
    baselineTop1: round(baseline / rows.length),
    ceiling: round(ceiling / rows.length),
    logLoss: round(loss / Math.max(1, n)),
    followers,
  };
}

const round = (x: number) => Number(x.toFixed(4));

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  const datasetDir = path.resolve(
    values.dataset ?? path.join(PROJECT_ROOT, "..", "shared", "eval", "squad-dev"),
  );
  const folds = positiveInt("--folds", values.folds, 20, USAGE) ?? 4;
  const limit = positiveInt("--limit", values.limit, Number.MAX_SAFE_INTEGER, USAGE);
  const out = path.resolve(values.out ?? path.join(PROJECT_ROOT, "core", "selector-model.json"));
  const dataset = await loadDataset(datasetDir);

  const sources = createHash("sha256");
  for (const f of FEATURE_SOURCES) sources.update(await readFile(path.join(PROJECT_ROOT, f), "utf8"));
  // The features are made of the index's vectors: a new chunker or model means new features.
  const indexKey = cacheKey(await fileSha256(dataset.corpusFile), loadConfig({}));
  const cacheFile = path.join(
    PROJECT_ROOT,
    "data",
    "train-cache",
    `${dataset.name}-${featureKey(datasetDir, sources.digest("hex"), indexKey)}${limit ? `-${limit}` : ""}.jsonl`,
  );
  let rows = await readRows(values.features ? path.resolve(values.features) : cacheFile);
  if (rows) console.error(`features from ${path.relative(PROJECT_ROOT, values.features ?? cacheFile)}`);
  else {
    const config = loadConfig({});
    const embedder = await createEmbedder(config);
    let last = 0;
    try {
      rows = await extractRows({
        datasetDir,
        cacheRoot: values.cache ?? DEFAULT_CACHE_ROOT,
        overrides: {},
        embedder,
        limit,
        onProgress: (p) => {
          if (p.done === p.total || performance.now() - last > 10_000) {
            last = performance.now();
            console.error(
              `features ${p.done}/${p.total}, ${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaS)}`,
            );
          }
        },
      });
    } finally {
      await embedder.dispose();
    }
    await writeRows(cacheFile, rows);
    // wink-nlp adds each word it has not seen to its lexicon, and a known word can be tokenised
    // differently ("Commonwealth's"), so an annotation depends on what was annotated before it.
    // The models are fitted in a fresh process that reads the features just cached, as every later
    // run does, so a run that extracts features writes the same model as one that reads them.
    execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
    return;
  }

  console.error(`feature cache for this code: ${path.relative(PROJECT_ROOT, cacheFile)}`);
  const foldOf = articleFolds(
    rows.map((r) => r.article),
    folds,
  );
  const oof: number[][] = rows.map((r) => r.y.map(() => 0));
  const foldModels: SelectorModel[] = [];
  for (let f = 0; f < folds; f++) {
    const train = rows.filter((r) => foldOf.get(r.article) !== f);
    const m = fitBoosted(
      train.flatMap((r) => r.x),
      train.flatMap((r) => r.y),
      FEATURES,
      SELECTOR_FIT,
    );
    const model: SelectorModel = { ...m, prefilter: PREFILTER, passages: PASSAGES };
    foldModels.push(model);
    rows.forEach((r, i) => {
      if (foldOf.get(r.article) === f) oof[i] = r.x.map((x) => probability(model, x));
    });
  }
  const outOfFold = figures(rows, oof);
  // The span model learns from the sentence each question's out-of-fold selector put first, as
  // the product's selector puts one first on text it never saw.
  const spans = spanRows(rows, oof);
  const spanOof: number[][] = spans.map((r) => r.x.map(() => 0));
  const spanFolds: ShortAnswerModel[] = [];
  for (let f = 0; f < folds; f++) {
    const m = { ...fitSpans(spans.filter((r) => foldOf.get(r.article) !== f)), threshold: SPAN_THRESHOLD };
    spanFolds.push(m);
    const probs = spanProbabilities(m, spans);
    spans.forEach((r, i) => {
      if (foldOf.get(r.article) === f) spanOof[i] = probs[i]!;
    });
  }
  const final = fitBoosted(
    rows.flatMap((r) => r.x),
    rows.flatMap((r) => r.y),
    FEATURES,
    SELECTOR_FIT,
  );
  // The follower threshold: the most accurate whose cited sentences stay precise enough.
  const allowed = outOfFold.followers.filter(
    (f) => f.citedPrecision >= outOfFold.top1 - CITED_PRECISION_COST,
  );
  const follower = (allowed.length > 0 ? allowed : outOfFold.followers.slice(-1)).reduce((a, b) =>
    b.accuracy > a.accuracy ? b : a,
  ).threshold;
  const model = {
    ...final,
    follower,
    prefilter: PREFILTER,
    passages: PASSAGES,
    shortAnswer: { ...fitSpans(spans), threshold: SPAN_THRESHOLD },
    provenance: {
      command: `npm run train -- --dataset <eval>/${dataset.name} --folds ${folds}${limit ? ` --limit ${limit}` : ""}`,
      dataset: dataset.name,
      questions: rows.length,
      articles: foldOf.size,
      candidates: rows.reduce((s, r) => s + r.y.length, 0),
      label: "the sentence holds a gold answer (SQuAD normalisation, whole words)",
      model: describeBoost(SELECTOR_FIT),
      folds: { count: folds, by: "article (sorted ids dealt round-robin)" },
      follower: `a second sentence when its probability reaches the threshold with the best out-of-fold accuracy whose share of cited sentences holding an answer is at most ${CITED_PRECISION_COST} below the first sentence's`,
      outOfFold,
      shortAnswer: {
        candidates:
          "typed spans (name, date, number) of the first sentence the out-of-fold selector chose, for questions asking for one",
        spans: spans.reduce((n, r) => n + r.x.length, 0),
        questionsWithSpans: spans.filter((r) => r.x.length > 0).length,
        label: `the span's SQuAD F1 against some gold answer is at least ${SPAN_LABEL_F1}`,
        model: describeBoost(SPAN_FIT),
        threshold: `a span is said when its probability reaches ${SPAN_THRESHOLD}`,
        outOfFold: spanFigures(spans, spanOof, SPAN_CURVE),
      },
    },
  };
  await writeFile(out, modelJson(model));
  // The fold models, for out-of-fold figures from `npm run eval -- --selector-folds`.
  const foldsFile = path.join(PROJECT_ROOT, "data", `selector-folds-${dataset.name}.json`);
  await writeFile(
    foldsFile,
    `${JSON.stringify({ foldOf: Object.fromEntries(foldOf), models: foldModels.map((m, f) => ({ ...m, follower, shortAnswer: spanFolds[f] })) })}\n`,
  );
  console.error(`fold models written to ${path.relative(PROJECT_ROOT, foldsFile)}`);
  console.log(JSON.stringify(model.provenance.outOfFold, null, 2));
  console.log(JSON.stringify(model.provenance.shortAnswer.outOfFold, null, 2));
  console.log(`model written to ${path.relative(PROJECT_ROOT, out)}`);
});

function fitSpans(rows: readonly SpanRow[]) {
  return fitBoosted(
    rows.flatMap((r) => r.x),
    rows.flatMap((r) => r.f1.map(spanLabel)),
    SPAN_FEATURES,
    SPAN_FIT,
  );
}
