import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../core/config.ts";
import { formatSummary } from "../../eval/report.ts";
import { runEval } from "../../eval/run.ts";
import { getEmbedder } from "../helpers/model.ts";

// Three short articles; the questions are about the first and the third.
const DOCS = [
  {
    id: "harbour",
    title: "Harbour reopens",
    text: "The old harbour of Brindle reopened on Monday after a two-year restoration. Mayor Ada Quill cut the ribbon in front of a crowd of fishermen.",
  },
  {
    id: "orchard",
    title: "Orchard harvest",
    text: "Apple growers in the valley expect a record harvest this autumn. Cool nights in September sweetened the fruit.",
  },
  {
    id: "museum",
    title: "Museum opens",
    text: "A museum of clocks opened in Tarnby on Friday. Its oldest piece, a tower clock from 1412, still keeps time.",
  },
];
const QUESTIONS = [
  {
    id: "q1",
    question: "Who cut the ribbon at the Brindle harbour?",
    answers: ["Ada Quill"],
    gold_doc_ids: ["harbour"],
  },
  {
    id: "q2",
    question: "How old is the oldest clock in the Tarnby museum?",
    answers: ["1412"],
    gold_doc_ids: ["museum"],
  },
];

const jsonl = (records: readonly object[]) => `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-eval-integrity-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function dataset(name: string, docs: readonly object[], questions: readonly object[] = QUESTIONS) {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "corpus.jsonl"), jsonl(docs));
  await writeFile(path.join(dir, "questions.jsonl"), jsonl(questions));
  return dir;
}

/** Cache entries (folders) under a cache root, and which of them were written as complete. */
async function cacheEntries(root: string) {
  const keys = existsSync(root) ? await readdir(root) : [];
  return keys.map((key) => ({ key, cached: existsSync(path.join(root, key, "cache.json")) }));
}

// The second document's "url" is a number: the dataset loader accepts the record (it reads only
// id, title, date and text), the product's corpus loader does not.
const BROKEN = DOCS.map((d) => (d.id === "orchard" ? { ...d, url: 5 } : d));
const BROKEN_REASON = `corpus.jsonl line 2: "url" must be a string`;

describe("an evaluation corpus that cannot be indexed whole (real model)", () => {
  it("stops at a malformed record, naming the file, the line and the reason, and caches nothing", async () => {
    const dir = await dataset("broken", BROKEN);
    const cacheRoot = path.join(tmp, "cache-broken");
    const run = runEval({
      datasetDir: dir,
      cacheRoot,
      outDir: path.join(tmp, "out-broken"),
      embedder: await getEmbedder(),
    });
    await expect(run).rejects.toMatchObject({
      code: "FILE_MALFORMED",
      message: `${path.join(dir, "corpus.jsonl")}: 1 of 3 documents could not be indexed (${BROKEN_REASON}); fix the file, or pass --allow-partial to evaluate on the rest`,
    });
    expect(await cacheEntries(cacheRoot)).toEqual([{ key: expect.any(String), cached: false }]);
    expect(existsSync(path.join(tmp, "out-broken", "summary.json"))).toBe(false);
  }, 120_000);

  it("stops at a corpus record over the loader's size limit, which leaves nothing to evaluate", async () => {
    const dir = path.join(tmp, "huge");
    await mkdir(dir, { recursive: true });
    // One 51 MiB record: over the corpus loader's 16 MiB per-record limit (JSONL is streamed).
    const text = "The harbour of Brindle reopened on Monday. ".repeat(Math.ceil((51 * 1024 * 1024) / 43));
    await writeFile(path.join(dir, "corpus.jsonl"), `${JSON.stringify({ id: "harbour", text })}\n`);
    await writeFile(path.join(dir, "questions.jsonl"), jsonl([QUESTIONS[0]!]));
    const cacheRoot = path.join(tmp, "cache-huge");
    const run = runEval({
      datasetDir: dir,
      cacheRoot,
      outDir: path.join(tmp, "out-huge"),
      embedder: await getEmbedder(),
    });
    await expect(run).rejects.toMatchObject({
      code: "FILE_TOO_LARGE",
      message: expect.stringMatching(
        new RegExp(
          `^${escapeRegExp(path.join(dir, "corpus.jsonl"))}: 1 of 1 documents could not be indexed \\(corpus\\.jsonl line 1 is [\\d,]+ bytes; the limit for one record is 16,777,216 bytes \\(CITELINE_MAX_RECORD_BYTES\\)\\); nothing is left to evaluate; fix the file$`,
        ),
      ),
    });
    expect(await cacheEntries(cacheRoot)).toEqual([{ key: expect.any(String), cached: false }]);
  }, 120_000);

  it("evaluates on the rest with allowPartial, says how many documents were dropped, and caches nothing", async () => {
    const dir = await dataset("partial", BROKEN);
    const cacheRoot = path.join(tmp, "cache-partial");
    const notices: string[] = [];
    const opts = {
      datasetDir: dir,
      cacheRoot,
      allowPartial: true,
      modes: ["hybrid"] as const,
      embedder: await getEmbedder(),
      onNotice: (line: string) => notices.push(line),
    };
    const summary = await runEval({ ...opts, outDir: path.join(tmp, "out-partial") });
    expect(summary.dataset.documents).toBe(3);
    expect(summary.index).toMatchObject({ documents: 2, dropped: 1, reused: false });
    expect(summary.modes.hybrid?.recall1).toBe(1);
    expect(notices).toContain(`not indexed: FILE_MALFORMED: ${BROKEN_REASON}`);
    expect(formatSummary(summary)).toContain(
      "PARTIAL: 1 of 3 documents could not be indexed and were dropped (--allow-partial)",
    );
    expect(await cacheEntries(cacheRoot)).toEqual([{ key: summary.index.key, cached: false }]);

    const again = await runEval({ ...opts, outDir: path.join(tmp, "out-partial-2") });
    expect(again.index).toMatchObject({ dropped: 1, reused: false });
  }, 120_000);

  it("does not reuse a cached index that lacks documents of the corpus", async () => {
    const dir = await dataset("stale", BROKEN);
    const cacheRoot = path.join(tmp, "cache-stale");
    const embedder = await getEmbedder();
    const partial = await runEval({
      datasetDir: dir,
      cacheRoot,
      allowPartial: true,
      modes: ["hybrid"],
      embedder,
    });
    // What the runner wrote before partial indexes were refused: an entry for the partial index.
    await writeFile(path.join(partial.index.dir, "cache.json"), "{}\n");
    const run = runEval({ datasetDir: dir, cacheRoot, modes: ["hybrid"], embedder });
    await expect(run).rejects.toMatchObject({ code: "FILE_MALFORMED" });
  }, 120_000);

  it("exits non-zero from the command line with the file and the reason", async () => {
    const dir = await dataset("cli", BROKEN);
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/eval.ts",
        "--dataset",
        dir,
        "--cache",
        path.join(tmp, "cache-cli"),
        "--out",
        path.join(tmp, "out-cli"),
      ],
      { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(
      `error FILE_MALFORMED: ${path.join(dir, "corpus.jsonl")}: 1 of 3 documents could not be indexed (${BROKEN_REASON})`,
    );
  }, 120_000);
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("a dataset whose answers are labels (real model)", () => {
  it("reports answer metrics as not applicable when no gold answer occurs in a gold document", async () => {
    const dir = await dataset("labels", DOCS, [
      { ...QUESTIONS[0], answers: ["SUPPORT"] },
      { ...QUESTIONS[1], answers: ["CONTRADICT"] },
    ]);
    const summary = await runEval({
      datasetDir: dir,
      cacheRoot: path.join(tmp, "cache-labels"),
      outDir: path.join(tmp, "out-labels"),
      modes: ["hybrid"],
      embedder: await getEmbedder(),
    });
    expect(summary.dataset.answers).toEqual({ questions: 2, inGold: 0, applicable: false });
    expect(summary.modes.hybrid).toMatchObject({
      recall1: 1,
      answerInContext: { k: 5, questions: 0, rate: null },
    });
    expect(summary.answer).toMatchObject({
      answerable: 2,
      checkable: 0,
      accuracy: null,
      falseNotFoundRate: 0,
    });
    expect(summary.answer.citations).toMatchObject({
      precision: null,
      precisionPerCitation: null,
      answerBearingRate: null,
    });
    expect(summary.answer.citations.verbatimRate).toBe(1);
    const text = formatSummary(summary);
    expect(text).toContain(
      "answer metrics not applicable: no gold answer of the 2 questions occurs in any of its gold documents",
    );
    expect(text).toMatch(/^answer accuracy +n\/a +of 0 answerable with the answer in a gold document$/m);
  }, 120_000);

  it("does not count a label as text where it occurs only as an ordinary word", async () => {
    // "support" is in the first gold document, as a word; SUPPORT, the label, is in none.
    const docs = DOCS.map((d) =>
      d.id === "harbour" ? { ...d, text: `${d.text} The fishermen support the new quay.` } : d,
    );
    const dir = await dataset("labels-as-words", docs, [
      { ...QUESTIONS[0], answers: ["SUPPORT"] },
      { ...QUESTIONS[1], answers: ["CONTRADICT"] },
    ]);
    const summary = await runEval({
      datasetDir: dir,
      cacheRoot: path.join(tmp, "cache-labels-as-words"),
      outDir: path.join(tmp, "out-labels-as-words"),
      modes: ["hybrid"],
      embedder: await getEmbedder(),
    });
    expect(summary.dataset.answers).toEqual({ questions: 2, inGold: 0, applicable: false });
    expect(summary.answer).toMatchObject({ checkable: 0, accuracy: null });
    expect(formatSummary(summary)).toContain("answer metrics not applicable");
  }, 120_000);

  it("leaves out of the answer metrics only the questions whose answers are not in their documents", async () => {
    const dir = await dataset("mixed", DOCS, [QUESTIONS[0]!, { ...QUESTIONS[1], answers: ["yes"] }]);
    const summary = await runEval({
      datasetDir: dir,
      cacheRoot: path.join(tmp, "cache-labels"),
      outDir: path.join(tmp, "out-mixed"),
      modes: ["hybrid"],
      embedder: await getEmbedder(),
    });
    expect(summary.dataset.answers).toEqual({ questions: 2, inGold: 1, applicable: true });
    expect(summary.answer).toMatchObject({ answerable: 2, checkable: 1, accuracy: 1 });
    expect(summary.modes.hybrid?.answerInContext).toEqual({ k: 5, questions: 1, rate: 1 });
    expect(formatSummary(summary)).toContain(
      "note: the gold answers of 1 of 2 questions occur in none of their gold documents; answer metrics leave those questions out",
    );
  }, 120_000);
});
