import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AutoTokenizer, env } from "@xenova/transformers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import type { Embedder } from "../../core/types.ts";
import { dot } from "../../core/vectors.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { splitSentences } from "../../ingest/sentences.ts";
import { getEmbedder } from "../helpers/model.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);
const PASSAGES = sharedPath("eval", "squad-dev", "passages.jsonl");

const sentencesOf = (text: string) => splitSentences(text).map((s) => s.text);
/** The seed article's body, without its ` date … title` header line. */
const seedSentences = sentencesOf(readFileSync(SEED, "utf8").split("\n").slice(1).join("\n"));
const superBowlSentences = sentencesOf(
  (JSON.parse(readFileSync(PASSAGES, "utf8").split("\n")[0]!) as { text: string }).text,
);

const norm = (v: Float32Array) => Math.sqrt(dot(v, v));

let embedder: Embedder;
beforeAll(async () => {
  embedder = await getEmbedder();
}, 60_000);

describe("createEmbedder with the real bge-small-en-v1.5 model", () => {
  it("gives 384-dimensional unit vectors for passages and queries", async () => {
    expect(embedder.dim).toBe(384);
    const texts = [seedSentences[0]!, superBowlSentences[0]!, "a", "Who is China's foreign minister?"];
    for (const kind of ["passage", "query"] as const) {
      const vectors = await embedder.embed(texts, kind);
      expect(vectors).toHaveLength(texts.length);
      for (const v of vectors) {
        expect(v).toBeInstanceOf(Float32Array);
        expect(v).toHaveLength(384);
        expect(norm(v)).toBeCloseTo(1, 5);
      }
    }
  });

  it.each([
    { label: "the empty string", text: "", tokens: 0 },
    { label: "two common words", text: "hello world", tokens: 2 },
    { label: "the question", text: "Who is China's foreign minister?", tokens: 8 },
    { label: "a word split into word pieces", text: "unaffable", tokens: 3 },
    { label: "an accented name", text: "Hernán Santa Cruz", tokens: 4 },
    { label: "a text over the model's 512-token limit", text: "word ".repeat(1000), tokens: 1000 },
  ])("counts the tokens in $label without special tokens or truncation", ({ text, tokens }) => {
    expect(embedder.countTokens(text)).toBe(tokens);
  });

  it("counts tokens exactly as the model's own tokenizer does, less [CLS] and [SEP]", async () => {
    const config = loadConfig();
    env.localModelPath = config.modelsDir;
    env.allowRemoteModels = false;
    const tokenizer = await AutoTokenizer.from_pretrained("Xenova/bge-small-en-v1.5");
    const texts = [...seedSentences, ...superBowlSentences, readFileSync(SEED, "utf8").slice(0, 1500)];
    for (const text of texts) {
      const ids = (tokenizer(text) as { input_ids: { dims: number[] } }).input_ids;
      expect(embedder.countTokens(text), text).toBe(ids.dims[1]! - 2);
    }
  });

  it("ranks the seed sentence naming Wang Yi first for a question about China's foreign minister", async () => {
    const answer = seedSentences.filter((s) => s.includes("Foreign Minister Wang Yi"));
    expect(answer).toHaveLength(1);
    const others = seedSentences.filter((s) => s !== answer[0]);
    expect(others.length).toBeGreaterThan(5);
    expect(superBowlSentences.length).toBeGreaterThan(3);

    const [question] = await embedder.embed(["Who is China's foreign minister?"], "query");
    const candidates = [answer[0]!, ...others, ...superBowlSentences];
    const vectors = await embedder.embed(candidates, "passage");
    const scores = vectors.map((v) => dot(question!, v));
    const best = scores[0]!;
    for (const [i, score] of scores.entries()) {
      if (i > 0) expect(score, candidates[i]).toBeLessThan(best);
    }
    // Unrelated text is not merely below the answer but clearly below it.
    const unrelated = scores.slice(1 + others.length);
    expect(Math.max(...unrelated)).toBeLessThan(best - 0.1);
  });

  it("returns vectors in input order, equal to embedding each text alone, one text per model call", async () => {
    // Lengths differ and are not in input order, so the embedder reorders them and must scatter
    // the vectors back. One text per call: see the next test for why batches are not exact.
    const single = await createEmbedder({ ...loadConfig(), embedBatchSize: 1 });
    const texts = [seedSentences[0]!, "Broncos.", superBowlSentences[1]!, seedSentences[2]!];
    const together = await single.embed(texts, "passage");
    for (const [i, text] of texts.entries()) {
      const [alone] = await single.embed([text], "passage");
      for (let d = 0; d < 384; d++) expect(Math.abs(together[i]![d]! - alone![d]!)).toBeLessThan(1e-4);
    }
  });

  it("returns vectors in input order when texts share a batch", async () => {
    // The quantized model scales activations per batch (DynamicQuantizeLinear), so a vector moves
    // slightly with its batch-mates (cosine ~0.995): order is checked by nearest match, not 1e-4.
    const texts = [seedSentences[0]!, "Broncos.", superBowlSentences[1]!, seedSentences[2]!];
    const together = await embedder.embed(texts, "passage");
    const alone = await Promise.all(texts.map(async (t) => (await embedder.embed([t], "passage"))[0]!));
    for (const [i, v] of together.entries()) {
      const sims = alone.map((a) => dot(v, a));
      expect(sims[i]).toBeGreaterThan(0.99);
      expect(sims.indexOf(Math.max(...sims))).toBe(i);
    }
  });

  it("embeds a question as the same text as a passage: bge v1.5 is used without its instruction", async () => {
    const text = "Who is China's foreign minister?";
    const [q] = await embedder.embed([text], "query");
    const [p] = await embedder.embed([text], "passage");
    expect(dot(q!, p!)).toBeGreaterThan(0.99999);
  });
});

describe("createEmbedder without the model files", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("fails with MODEL_MISSING naming `npm run model:fetch` when downloads are off", async () => {
    const modelsDir = await mkdtemp(path.join(os.tmpdir(), "citeline-models-"));
    const modelCacheDir = await mkdtemp(path.join(os.tmpdir(), "citeline-cache-"));
    dirs.push(modelsDir, modelCacheDir);
    const attempt = createEmbedder({
      model: "bge-small-en-v1.5",
      modelsDir,
      modelCacheDir,
      embedBatchSize: 8,
      allowDownload: false,
    });
    await expect(attempt).rejects.toMatchObject({
      name: "AppError",
      code: "MODEL_MISSING",
      message: expect.stringContaining("`npm run model:fetch`"),
    });
    await expect(attempt).rejects.toThrow(modelsDir);
  });
});
