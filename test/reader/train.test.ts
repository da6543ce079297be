import { copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, PROJECT_ROOT } from "../../core/config.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { ensureBase, ensureTools, sh } from "../../reader/tools.ts";

// CI never trains: this runs the trainer for one step on six questions, exports and quantises
// the model, and loads it in Node, so the training path keeps working.
const work = await mkdtemp(path.join(os.tmpdir(), "citeline-reader-train-"));
afterAll(() => rm(work, { recursive: true, force: true }));

describe("npm run train:reader's trainer", () => {
  it("trains a step, exports int8 ONNX and the engine's reader loads it", async () => {
    const python = ensureTools();
    const base = ensureBase();
    const candidates = path.join(PROJECT_ROOT, "test", "fixtures", "reader-candidates.jsonl");
    const common = ["--candidates", candidates, "--tokenizer", base.tokenizer, "--work", work];
    const model = path.join(work, "model");
    sh(python, [
      "reader/train.py",
      "train",
      ...common,
      "--base",
      base.onnx,
      "--layers",
      "2",
      "--max-steps",
      "1",
      "--batch",
      "4",
    ]);
    sh(python, [
      "reader/train.py",
      "export",
      ...common,
      "--base",
      base.onnx,
      "--out",
      path.join(model, "reader-int8.onnx"),
    ]);
    expect((await stat(path.join(model, "reader-int8.onnx"))).size).toBeGreaterThan(1_000_000);
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
});
