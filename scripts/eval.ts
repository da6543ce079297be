/**
 * `npm run eval -- --dataset DIR [--mode dense|lexical|hybrid|all] [--k N] [--limit N] [--out DIR]
 * [--cache DIR] [--calibrate [--unanswerable DIR]] [--selector-folds FILE] [--allow-partial] [--llm]`:
 * scores retrieval and answers on a dataset (see eval/), or with --calibrate, the not-found
 * threshold, or with --llm, generated answers beside extractive ones (eval/llm.ts). Ctrl-C stops
 * after the current question.
 */
import { readFile } from "node:fs/promises";
import { BACKENDS, type BackendName } from "../core/config.ts";
import type { RetrievalMode } from "../core/retrieval.ts";
import { runCalibration } from "../eval/calibrate.ts";
import { formatLlmSummary, runLlmEval } from "../eval/llm.ts";
import { formatCalibration, formatSummary } from "../eval/report.ts";
import { ALL_MODES, runEval, type SelectorFolds, type Stage } from "../eval/run.ts";
import type { Progress } from "../ingest/indexer.ts";
import { positiveInt as cliPositiveInt, parseCommand, runCli, usageError } from "./cli.ts";
import { formatDuration, progressLine } from "./progress.ts";

const COMMAND = {
  usage:
    "usage: npm run eval -- --dataset DIR [--mode dense|lexical|hybrid|all] [--k N] [--limit N] [--out DIR] [--cache DIR] [--calibrate [--unanswerable DIR]] [--selector-folds FILE] [--allow-partial] [--llm] [--backend embedded|weaviate]",
  summary:
    "Scores retrieval and answers on a dataset folder holding corpus.jsonl ({id,title,date?,text} per line) and questions.jsonl ({id,question,answers[],gold_doc_ids[]} per line); see docs/evaluation.md.",
  options: {
    dataset: { type: "string" },
    mode: { type: "string" },
    k: { type: "string" },
    limit: { type: "string" },
    out: { type: "string" },
    cache: { type: "string" },
    calibrate: { type: "boolean" },
    unanswerable: { type: "string" },
    "selector-folds": { type: "string" },
    "allow-partial": { type: "boolean" },
    llm: { type: "boolean" },
    backend: { type: "string" },
  },
  help: [
    "--dataset DIR          the dataset folder (required)",
    "--mode MODE            dense, lexical, hybrid or all (default all)",
    "--k N                  passages per question (default 5)",
    "--limit N              only the first N questions",
    "--out DIR              write the per-question report here",
    "--cache DIR            reuse indexes built earlier for the same corpus",
    "--calibrate            fit the not-found threshold instead of scoring",
    "--unanswerable DIR     with --calibrate: also ask this dataset's not-found questions",
    "--selector-folds FILE  score each question with the selector fold that never saw its article",
    "--allow-partial        evaluate even when some documents could not be indexed",
    "--llm                  generated answers (CITELINE_LLM_*) beside extractive ones",
    "--backend NAME         embedded (default) or weaviate (CITELINE_WEAVIATE_*); overrides CITELINE_BACKEND",
  ],
} as const;
const USAGE = COMMAND.usage;

const bad = (message: string) => usageError(message, USAGE);
const positiveInt = (name: string, raw: string | undefined, max: number) =>
  cliPositiveInt(name, raw, max, USAGE);

function parse(argv: string[]) {
  const values = parseCommand(COMMAND, argv);
  if (!values.dataset) throw bad("--dataset is required");
  const mode = values.mode ?? "all";
  if (values.backend !== undefined && !(BACKENDS as readonly string[]).includes(values.backend)) {
    throw bad(`--backend is "${values.backend}"; it must be one of ${BACKENDS.join(", ")}`);
  }
  if (mode !== "all" && !(ALL_MODES as readonly string[]).includes(mode)) {
    throw bad(`--mode is "${mode}"; it must be one of dense, lexical, hybrid, all`);
  }
  return {
    dataset: values.dataset,
    modes: mode === "all" ? ALL_MODES : [mode as RetrievalMode],
    k: positiveInt("--k", values.k, 50) ?? 5,
    limit: positiveInt("--limit", values.limit, Number.MAX_SAFE_INTEGER),
    out: values.out,
    cache: values.cache,
    calibrate: values.calibrate ?? false,
    allowPartial: values["allow-partial"] ?? false,
    unanswerable: values.unanswerable,
    selectorFolds: values["selector-folds"],
    llm: values.llm ?? false,
    backend: values.backend,
  };
}

/** A progress bar on a terminal, a plain line every few seconds otherwise. */
function progressReporter() {
  const tty = process.stderr.isTTY === true;
  let current: Stage | undefined;
  let lastPlain = 0;
  const label = (stage: Stage) => (stage === "index" ? "indexing" : "questions");
  const unit = (stage: Stage) => (stage === "index" ? " chunks" : "");
  return {
    report(stage: Stage, p: Progress) {
      if (stage !== current) {
        if (tty && current) process.stderr.write("\n");
        current = stage;
        lastPlain = 0;
      }
      if (tty) {
        const prefix = `${label(stage)} `;
        const columns = (process.stderr.columns ?? 80) - prefix.length;
        process.stderr.write(`\r${prefix}${progressLine(p, columns)}`);
      } else if (p.done === p.total || performance.now() - lastPlain > 5000) {
        lastPlain = performance.now();
        console.error(
          `${label(stage)} ${p.done}/${p.total}${unit(stage)}, ${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaS)}`,
        );
      }
    },
    end() {
      if (tty && current) process.stderr.write("\n");
      current = undefined;
    },
  };
}

await runCli(async () => {
  const args = parse(process.argv.slice(2));
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error("\ninterrupting after the current question (Ctrl-C again to quit now)");
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const progress = progressReporter();
  const common = {
    datasetDir: args.dataset,
    limit: args.limit,
    outDir: args.out,
    cacheRoot: args.cache,
    allowPartial: args.allowPartial,
    ...(args.backend ? { overrides: { backend: args.backend as BackendName } } : {}),
    onProgress: (stage: Stage, p: Progress) => progress.report(stage, p),
    onNotice: (line: string) => {
      progress.end();
      console.error(line);
    },
    signal: controller.signal,
  };
  try {
    const text = args.llm
      ? formatLlmSummary(await runLlmEval(common))
      : args.calibrate
        ? formatCalibration(await runCalibration({ ...common, unanswerableDir: args.unanswerable }))
        : formatSummary(
            await runEval({
              ...common,
              modes: args.modes,
              k: args.k,
              selectorFolds: args.selectorFolds ? await readFolds(args.selectorFolds) : undefined,
            }),
          );
    progress.end();
    console.log(text);
  } finally {
    progress.end();
  }
});

/** Fold models written by `npm run train`; a file from before the short-answer model is refused. */
async function readFolds(file: string): Promise<SelectorFolds> {
  const folds = JSON.parse(await readFile(file, "utf8")) as SelectorFolds;
  if (folds.models.some((m) => !m.shortAnswer)) {
    throw bad(`${file} has no short-answer models: it predates them; run npm run train to write it again`);
  }
  return folds;
}
