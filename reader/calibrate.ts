/**
 * `npx tsx reader/calibrate.ts rows --candidates FILE [--more FILE] --out FILE`: the selector's
 * training rows of split A, and of every question in --more (candidates of other squad-train
 * articles, reader/prepare.ts --offset 1), for `npm run train -- --features`.
 * `npx tsx reader/calibrate.ts fit --work DIR [--check FILE] [--model-dir DIR] [--selector-in FILE]
 * [--selector-out FILE] [--read-max N] [--reads FILE]`: reads split B's candidates with the committed reader (or the one in
 * --model-dir) in the product's workers, ordered by the committed trees (or those of
 * --selector-in), fits how the engine uses it (reader/fit.ts), writes the settings into
 * core/selector-model.json (or a copy of it at --selector-out) and the provenance beside the
 * model, and measures the evaluation sets whose candidates are in DIR without fitting on them.
 * `--reads FILE` keeps split B's reads: a later fit with the same reader, trees, candidates and
 * --read-max takes them from FILE instead of reading for minutes again (any other is refused).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import type { SelectorModel } from "../core/selector.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { modelJson } from "../eval/boost.ts";
import { writeRows } from "../eval/train.ts";
import { positiveInt, runCli } from "../scripts/cli.ts";
import type { CandidateRow } from "./extract.ts";
import { fitSettings, measure, READ, type ReadRow, readTopCandidates } from "./fit.ts";
import { readCandidates, splitOf, trainRows } from "./splits.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    candidates: { type: "string" },
    more: { type: "string" },
    out: { type: "string" },
    work: { type: "string" },
    check: { type: "string" },
    measure: { type: "string" },
    "model-dir": { type: "string" },
    "selector-in": { type: "string" },
    "read-max": { type: "string" },
    "selector-out": { type: "string" },
    reads: { type: "string" },
  },
});
const SELECTOR = path.join(PROJECT_ROOT, "core", "selector-model.json");
const MODEL_DIR = path.resolve(values["model-dir"] ?? path.join(PROJECT_ROOT, "reader", "model"));
const SELECTOR_IN = path.resolve(values["selector-in"] ?? SELECTOR);
const SELECTOR_OUT = path.resolve(values["selector-out"] ?? SELECTOR);
const FIT_USAGE =
  "usage: npx tsx reader/calibrate.ts fit --work DIR [--check FILE] [--model-dir DIR] [--selector-in FILE] [--selector-out FILE] [--read-max N] [--reads FILE]";
/** Far above what the engine reads of a question (a handful of sentences); more is a typo. */
const READ_MAX_LIMIT = 100;
await runCli(async () => {
  // Checked before the reader loads: NaN or 0 would read nothing and fit on nothing.
  const readMax = positiveInt("--read-max", values["read-max"], READ_MAX_LIMIT, FIT_USAGE) ?? READ;

  if (positionals[0] === "rows") {
    const rows = await readCandidates(values.candidates!);
    const split = splitOf(rows);
    const a = rows.filter((r) => split(r) === "A");
    const more = values.more ? await readCandidates(values.more) : [];
    const groups = new Set(rows.map((r) => r.group));
    const shared = new Set(more.filter((r) => groups.has(r.group)).map((r) => r.group));
    // Split B must stay out of everything the trees learn.
    if (shared.size > 0)
      throw new Error(`${values.more} shares ${shared.size} articles with ${values.candidates}`);
    await writeRows(values.out!, trainRows([...a, ...more]));
    console.error(
      `split A: ${a.length} questions of ${rows.length}; ${more.length} more from other articles`,
    );
  } else if (positionals[0] === "fit") {
    const work = values.work!;
    const model = JSON.parse(readFileSync(SELECTOR_IN, "utf8")) as SelectorModel & Record<string, unknown>;
    const embedder = await createEmbedder({ ...loadConfig(), readerDir: MODEL_DIR });
    const reader = embedder.reader;
    if (!reader) throw new Error(`no reader model in ${MODEL_DIR}`);
    try {
      const slice = await readCandidates(path.join(work, "candidates-squad-train-slice.jsonl"));
      const split = splitOf(slice);
      const b = slice.filter((r) => split(r) === "B");
      // What the reads depend on: the reader, the trees that order the candidates, the questions, how many.
      const { reader: _fitted, ...selector } = model;
      const key = createHash("sha256")
        .update(readFileSync(path.join(MODEL_DIR, "reader-int8.onnx")))
        .update(JSON.stringify(selector))
        .update(JSON.stringify(b.map((r) => [r.id, r.candidates.length])))
        .update(String(readMax))
        .digest("hex");
      const saved = values.reads && existsSync(values.reads) ? loadReads(values.reads, key, b) : undefined;
      const t0 = performance.now();
      const readB =
        saved ??
        (await readTopCandidates(
          b,
          model,
          reader,
          (n) => console.error(`split B: read ${n}/${b.length}`),
          readMax,
        ));
      const readMs = saved ? undefined : (performance.now() - t0) / Math.max(1, readB.length);
      if (values.reads && !saved) {
        const reads = readB.map(({ read, trees, scores }) => ({ read, trees, scores }));
        await writeFile(values.reads, JSON.stringify({ key, reads }));
      }
      const { settings, figures } = fitSettings(readB);
      const measured: Record<string, unknown> = {
        "squad-train split B (fitted on)": measure(readB, settings),
      };
      // Measured only, never fitted on; `npm run eval` measures the same sets through the whole engine.
      for (const set of (values.measure ?? "").split(",").filter(Boolean)) {
        const file = path.join(work, `candidates-${set}.jsonl`);
        if (!existsSync(file)) continue;
        const rows: ReadRow[] = await readTopCandidates(
          await readCandidates(file),
          model,
          reader,
          undefined,
          readMax,
        );
        measured[set] = measure(rows, settings);
      }
      const round = (x: number) => Number(x.toFixed(6));
      model.reader = {
        ...settings,
        notFound: round(settings.notFound),
        shortAnswer: round(settings.shortAnswer),
        provenance: {
          fittedOn: `split B of squad-train's slice (${readB.length} questions of articles neither the reader nor the trees saw)`,
          figures,
          measured,
        },
      };
      await writeFile(SELECTOR_OUT, modelJson(model));
      const check =
        values.check && existsSync(values.check) ? JSON.parse(readFileSync(values.check, "utf8")) : undefined;
      const provenanceFile = path.join(MODEL_DIR, "provenance.json");
      const previous = existsSync(provenanceFile) ? JSON.parse(readFileSync(provenanceFile, "utf8")) : {};
      await writeFile(
        provenanceFile,
        `${JSON.stringify(
          {
            ...previous,
            // A fit without --check, or from saved reads, keeps the figures it did not measure again.
            int8AgainstFp32: check ?? previous.int8AgainstFp32,
            readPerQuestionMs: readMs === undefined ? previous.readPerQuestionMs : Number(readMs.toFixed(1)),
            read: settings.read,
            sure: settings.sure,
            measured,
          },
          null,
          2,
        )}\n`,
      );
      console.log(JSON.stringify({ figures, measured }, null, 2));
    } finally {
      await embedder.dispose();
    }
  } else {
    console.error("usage: npx tsx reader/calibrate.ts rows|fit ...");
    process.exitCode = 2;
  }
});

/** Split B's reads saved by an earlier fit, when they were made as this fit would make them. */
function loadReads(file: string, key: string, rows: readonly CandidateRow[]): ReadRow[] {
  const saved = JSON.parse(readFileSync(file, "utf8")) as {
    key: string;
    reads: Omit<ReadRow, "row">[];
  };
  if (saved.key !== key || saved.reads.length !== rows.length)
    throw new Error(
      `${file} holds reads by another reader, other trees, other questions or another --read-max; remove it to read again`,
    );
  return rows.map((row, i) => ({ row, ...saved.reads[i]! }));
}
