import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import type { Embedder } from "../../core/types.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { splitSentences } from "../../ingest/sentences.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);
const seedText = readFileSync(SEED, "utf8");
const sentences = splitSentences(seedText).map((s) => s.text);

const opened: Embedder[] = [];
async function open(overrides: { embedWorkers: number; embedBatchSize: number }): Promise<Embedder> {
  const embedder = await createEmbedder({ ...loadConfig(), ...overrides });
  opened.push(embedder);
  return embedder;
}
afterAll(async () => {
  for (const e of opened) await e.dispose();
});

describe("the embedding worker pool", () => {
  it("gives bit-identical vectors with one worker or two, whatever worker takes a batch", async () => {
    const one = await open({ embedWorkers: 1, embedBatchSize: 3 });
    const two = await open({ embedWorkers: 2, embedBatchSize: 3 });
    const texts = sentences.slice(0, 10);
    expect(texts).toHaveLength(10);
    const [a, b] = await Promise.all([one.embed(texts, "passage"), two.embed(texts, "passage")]);
    for (const [i, v] of a.entries()) expect(Array.from(b[i]!), texts[i]).toEqual(Array.from(v));
  });

  it("leaves the main thread free while the model computes a batch", async () => {
    const embedder = await open({ embedWorkers: 1, embedBatchSize: 8 });
    const long = Array.from({ length: 8 }, (_, i) => `${i} ${seedText.slice(0, 600)}`);
    await embedder.embed(long.slice(0, 1), "passage");
    // One batch of eight long texts: an in-thread session blocks the event loop for all of it, so
    // a timer cannot fire until it ends; with a worker, the timer keeps firing meanwhile.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await embedder.embed(long, "passage");
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it("refuses to embed once disposed, with a clear error", async () => {
    const embedder = await createEmbedder({ ...loadConfig(), embedWorkers: 1 });
    await embedder.dispose();
    await expect(embedder.embed(["hello"], "passage")).rejects.toThrow("the embedder was disposed");
  });
});
