import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, PROJECT_ROOT } from "../../core/config.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { ensureBase, ensureTools, sh } from "../../reader/tools.ts";

// CI never trains: this runs the trainer for one step on six questions, goes on from it for one
// step on other articles, exports and quantises the model, and loads it in Node, so the training
// path keeps working.
const work = await mkdtemp(path.join(os.tmpdir(), "citeline-reader-train-"));
afterAll(() => rm(work, { recursive: true, force: true }));

const candidates = path.join(PROJECT_ROOT, "test", "fixtures", "reader-candidates.jsonl");
const shipped = path.join(PROJECT_ROOT, "reader", "model", "reader-int8.onnx");
const common = (base: { tokenizer: string }) => ["--candidates", candidates, "--tokenizer", base.tokenizer];
/** One step of four pairs on the fixture's questions, on one thread. */
const trainArgs = (base: { onnx: string; tokenizer: string }, dir: string, ...extra: string[]) => [
  "reader/train.py",
  "train",
  ...common(base),
  "--work",
  dir,
  "--base",
  base.onnx,
  "--max-steps",
  "1",
  "--batch",
  "4",
  "--threads",
  "1",
  ...extra,
];

describe("npm run train:reader's trainer", () => {
  it("trains a step, goes on from it on other articles, exports int8 ONNX and the engine's reader loads it", async () => {
    const python = ensureTools();
    const base = ensureBase();
    const model = path.join(work, "model");
    const first = path.join(work, "first");
    sh(python, trainArgs(base, first, "--layers", "2"));
    // Going on from that run on other articles (--more), as the shipped model did: the same
    // questions under other article names stand in for them. Candidates that share an article
    // with the slice are refused, so split B stays out of training.
    const rows = (await readFile(candidates, "utf8")).split("\n").filter(Boolean);
    const other = path.join(work, "more.jsonl");
    await writeFile(
      other,
      rows
        .map((l) =>
          JSON.stringify({
            ...(JSON.parse(l) as object),
            group: `other-${(JSON.parse(l) as { group: string }).group}`,
          }),
        )
        .join("\n"),
    );
    const args = (more: string) =>
      trainArgs(
        base,
        work,
        "--layers",
        "2",
        "--init",
        path.join(first, "trained.pt"),
        "--skip-a",
        "--more",
        more,
      );
    const refused = spawnSync(python, args(candidates), { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/shares \d+ articles with/);
    // Four of those six questions drawn at random, then the two that draw left out (--more-unused:
    // how a later run goes on with the questions an earlier one did not draw).
    sh(python, [...args(other), "--sample-more", "4"]);
    const rest = path.join(work, "rest");
    sh(python, [...args(other), "--more-unused", "4", "--work", rest]);
    const trained = async (dir: string) =>
      JSON.parse(await readFile(path.join(dir, "questions.json"), "utf8")) as string[];
    const drawn = await trained(work);
    const left = await trained(rest);
    expect(drawn).toHaveLength(4);
    expect(left).toHaveLength(2);
    expect(new Set([...drawn, ...left])).toEqual(
      new Set(rows.map((l) => (JSON.parse(l) as { id: string }).id)),
    );
    sh(python, [
      "reader/train.py",
      "export",
      ...common(base),
      "--work",
      work,
      "--base",
      base.onnx,
      "--out",
      path.join(model, "reader-int8.onnx"),
    ]);
    expect((await stat(path.join(model, "reader-int8.onnx"))).size).toBeGreaterThan(1_000_000);
    // Read back (--init-onnx), every weight is its fp32 self rounded: within half a step of it.
    sh(python, [
      "reader/train.py",
      "check-init",
      ...common(base),
      "--work",
      work,
      "--base",
      base.onnx,
      "--init-onnx",
      path.join(model, "reader-int8.onnx"),
      "--trained",
      path.join(work, "trained.pt"),
      "--threads",
      "1",
    ]);
    await copyFile(base.tokenizer, path.join(model, "tokenizer.json"));
    const embedder = await createEmbedder({ ...loadConfig(), readerDir: model, embedWorkers: 1 });
    try {
      const scores = await embedder.reader!.read("Who wrote it?", [
        { title: "T", text: "It was written by Ann." },
      ]);
      expect(scores).toHaveLength(1);
      expect(Number.isFinite(scores[0]!.logit)).toBe(true);
    } finally {
      await embedder.dispose();
    }
  }, 600_000);

  it("starts a run from the shipped int8 model, whose weights it reads back to within int8's rounding", () => {
    const python = ensureTools();
    const base = ensureBase();
    const dir = path.join(work, "from-shipped");
    const run = (args: string[]) => spawnSync(python, args, { cwd: PROJECT_ROOT, encoding: "utf8" });
    const checked = run([
      "reader/train.py",
      "check-init",
      ...common(base),
      "--work",
      dir,
      "--base",
      base.onnx,
      "--init-onnx",
      shipped,
      "--threads",
      "1",
    ]);
    expect(checked.status, checked.stderr).toBe(0);
    const figures = JSON.parse(checked.stdout.trim().split("\n").at(-1)!) as {
      pearson: number;
      pearson_start_end: number;
    };
    expect(figures.pearson).toBeGreaterThanOrEqual(0.99);
    expect(figures.pearson_start_end).toBeGreaterThanOrEqual(0.99);

    const wrongLayers = run(trainArgs(base, dir, "--init-onnx", shipped, "--layers", "2"));
    expect(wrongLayers.status).not.toBe(0);
    expect(wrongLayers.stderr).toContain(`--init-onnx: ${shipped} has 6 encoder layers, not --layers 2`);
    sh(python, trainArgs(base, dir, "--init-onnx", shipped));
    // The checkpoint's settings hold the model's hash: the same start resumes, the same run
    // from bge-small instead is refused.
    const again = run(trainArgs(base, dir, "--init-onnx", shipped));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("resuming at step 1 of 1");
    const fresh = run(trainArgs(base, dir, "--layers", "6"));
    expect(fresh.status).not.toBe(0);
    expect(fresh.stderr).toContain("was written with other settings");
  }, 120_000);
});

describe("the trainer's listwise groups", () => {
  it("keeps each question's candidates together in one batch and scores the answer against them", () => {
    const python = ensureTools();
    const base = ensureBase();
    const dir = path.join(work, "listwise");
    const out = spawnSync(python, trainArgs(base, dir, "--layers", "2", "--listwise", "3", "--batch", "8"), {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    expect(out.status, out.stderr).toBe(0);
    const stats = JSON.parse(/^pairs \d+ (\{.*\});/m.exec(out.stdout)![1]!) as Record<string, number>;
    // One group a question (its answer, two wrong candidates in order and one at random), and one
    // for each perturbed question, which is another question.
    const groups = /^groups (\d+), largest (\d+)$/m.exec(out.stdout)!;
    expect(Number(groups[1])).toBe(stats.questions! + stats.perturbed!);
    expect(Number(groups[2])).toBe(4);
    expect(stats.hard_negative).toBe(2 * stats.questions!);
    // The loss: the answer's softmax share in its group, averaged over the groups that hold an
    // answer and a wrong sentence; a group of one adds nothing.
    const loss = spawnSync(
      python,
      [
        "-c",
        [
          "import sys, torch",
          "sys.path.insert(0, 'reader')",
          "from train import listwise_loss",
          "rel = torch.tensor([2.0, 0.0, 0.0, 1.0, 0.5, 0.5])",
          "y = torch.tensor([1.0, 0, 0, 0, 0, 1])",
          "print(round(listwise_loss(rel, y, [(0, 3), (3, 4), (4, 6)]).item(), 5))",
          "print(round(listwise_loss(rel, y, [(3, 4)]).item(), 5))",
        ].join("\n"),
      ],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    );
    expect(loss.status, loss.stderr).toBe(0);
    const [mixed, single] = loss.stdout.trim().split("\n").map(Number);
    const expected = (Math.log(Math.exp(2) + 2) - 2 + Math.log(2)) / 2;
    expect(mixed).toBeCloseTo(expected, 4);
    expect(single).toBe(0);
  }, 120_000);
});
