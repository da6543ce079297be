import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VectorIndex } from "../../../backends/embedded/vector-index.ts";
import { dot } from "../../../core/vectors.ts";
import { getEmbedder } from "../../helpers/model.ts";
import { sharedPath } from "../../helpers/shared.ts";

const SQUAD = sharedPath("eval", "squad-dev");
const PASSAGES = 400;
const QUESTIONS = 50;
const K = 10;

function readJsonl<T>(file: string, n: number): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .slice(0, n)
    .map((line) => JSON.parse(line) as T);
}

/** Labels unlike positions, so a label/position mix-up cannot pass. */
const labelOf = (i: number) => 1000 + i * 7;

let passages: Float32Array[];
let questions: Float32Array[];
let index: VectorIndex;
let tmp: string;

/** The true top k by brute-force dot product (vectors are unit length). */
function exactTopK(q: Float32Array, k: number, skip: ReadonlySet<number> = new Set()) {
  return passages
    .map((v, i) => ({ label: labelOf(i), score: dot(q, v) }))
    .filter((h) => !skip.has(h.label))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

beforeAll(async () => {
  const embedder = await getEmbedder();
  const texts = readJsonl<{ text: string }>(path.join(SQUAD, "passages.jsonl"), PASSAGES).map((p) => p.text);
  // Every 40th question, so they spread over the passages' articles rather than the first one.
  const asked = readJsonl<{ question: string }>(path.join(SQUAD, "questions.jsonl"), QUESTIONS * 40)
    .filter((_, i) => i % 40 === 0)
    .map((q) => q.question);
  passages = await embedder.embed(texts, "passage");
  questions = await embedder.embed(asked, "query");
  // A small initial capacity, so building also exercises resizing.
  index = VectorIndex.create(embedder.dim, 16);
  for (const [i, v] of passages.entries()) index.add(labelOf(i), v);
  tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-vectors-"));
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("VectorIndex over real SQuAD passages", () => {
  it("holds every added passage", () => {
    expect(passages).toHaveLength(PASSAGES);
    expect(questions).toHaveLength(QUESTIONS);
    expect(index.size).toBe(PASSAGES);
  });

  it("finds the exact top 10 with recall of at least 0.99 and cosine scores, best first", () => {
    let found = 0;
    for (const q of questions) {
      const hits = index.search(q, K);
      const exact = exactTopK(q, K);
      expect(hits).toHaveLength(K);
      const want = new Set(exact.map((h) => h.label));
      found += hits.filter((h) => want.has(h.label)).length;
      for (const [i, h] of hits.entries()) {
        expect(h.score).toBeCloseTo(dot(q, passages[(h.label - 1000) / 7]!), 4);
        if (i > 0) expect(h.score).toBeLessThanOrEqual(hits[i - 1]!.score);
      }
    }
    expect(found / (QUESTIONS * K)).toBeGreaterThanOrEqual(0.99);
  });

  it("returns the same results after a save and load", () => {
    const file = path.join(tmp, "round-trip.hnsw");
    index.save(file);
    const loaded = VectorIndex.load(file, 384);
    expect(loaded.size).toBe(index.size);
    for (const q of questions) {
      const before = index.search(q, K);
      const after = loaded.search(q, K);
      expect(after.map((h) => h.label)).toEqual(before.map((h) => h.label));
      for (const [i, h] of after.entries()) expect(h.score).toBeCloseTo(before[i]!.score, 6);
    }
    expect(Array.from(loaded.vector(labelOf(3)))).toEqual(Array.from(index.vector(labelOf(3))));
  });

  it("never returns a removed label, before or after a save and load", () => {
    const file = path.join(tmp, "removed.hnsw");
    index.save(file);
    const copy = VectorIndex.load(file, 384);
    const removed = new Set<number>();
    for (const q of questions.slice(0, 10)) {
      const top = copy.search(q, 1)[0]!;
      copy.remove(top.label);
      removed.add(top.label);
    }
    const check = (vectors: VectorIndex) => {
      for (const q of questions.slice(0, 10)) {
        const hits = vectors.search(q, K);
        expect(hits).toHaveLength(K);
        expect(hits.filter((h) => removed.has(h.label))).toEqual([]);
        const want = new Set(exactTopK(q, K, removed).map((h) => h.label));
        expect(hits.filter((h) => want.has(h.label)).length).toBeGreaterThanOrEqual(K - 1);
      }
    };
    check(copy);
    copy.save(file);
    check(VectorIndex.load(file, 384));
    // The original, which nothing was removed from, still finds them.
    expect(index.search(questions[0]!, 1)[0]!.label).toBe([...removed][0]);
  });

  it("loaded read-only, reads every stored vector from the file exactly as hnswlib holds it, and none of a removed label", () => {
    const file = path.join(tmp, "points.hnsw");
    const copy = VectorIndex.load(path.join(tmp, "round-trip.hnsw"), 384);
    // A removal, then an add that takes the removed element's place (hnswlib reuses it).
    copy.remove(labelOf(5));
    copy.add(99_999, passages[5]!);
    copy.save(file);
    const readonly = VectorIndex.load(file, 384, { readonly: true });
    try {
      const labels = [...passages.keys()].map(labelOf).filter((l) => l !== labelOf(5));
      for (const label of [...labels, 99_999]) {
        expect(readonly.vector(label)).toEqual(copy.vector(label));
      }
      expect(() => readonly.vector(labelOf(5))).toThrow("Label not found");
      expect(() => readonly.add(1, passages[0]!)).toThrow("this vector index was loaded read-only");
    } finally {
      readonly.close();
    }
  });

  it("keeps only labels the filter accepts", () => {
    const even = (label: number) => label % 2 === 0;
    for (const q of questions.slice(0, 10)) {
      const hits = index.search(q, K, even);
      expect(hits).toHaveLength(K);
      expect(hits.every((h) => even(h.label))).toBe(true);
      const odd = new Set(passages.map((_, i) => labelOf(i)).filter((l) => !even(l)));
      expect(hits[0]!.label).toBe(exactTopK(q, 1, odd)[0]!.label);
    }
  });
});
