import { describe, expect, it } from "vitest";
import { addDatePriors } from "../../core/dates.ts";
import { adaptiveWeight, confidence, type FusionOptions, fuse, type Hit } from "../../core/fusion.ts";

/** A list whose first score stands `gap` above an otherwise gently falling tail. */
function list(labels: number[], top: number, gap: number): Hit[] {
  return labels.map((label, i) => ({ label, score: i === 0 ? top : top - gap - i * 0.01 }));
}
const labels = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const score: FusionOptions = { method: "score", denseWeight: 0.5, rrfK: 60 };
const adaptive: FusionOptions = { ...score, method: "adaptive" };

describe("a list's confidence", () => {
  it("is how far its first score stands above the rest", () => {
    expect(confidence(list(labels(0, 30), 0.9, 0.3))).toBeGreaterThan(
      confidence(list(labels(0, 30), 0.9, 0.01)),
    );
  });
  it.each([
    ["empty", []],
    ["one hit", [{ label: 1, score: 3 }]],
    ["a flat list", labels(0, 10).map((label) => ({ label, score: 2 }))],
  ])("is 0 for %s", (_name, hits) => {
    expect(confidence(hits)).toBe(0);
  });
});

describe("the adaptive dense share", () => {
  // Lists of the same shape: equally sure of their first hit.
  const d = list(labels(0, 30), 0.8, 0.05);
  const l = list(labels(100, 30), 0.8, 0.05);
  it("leaves a long question to the dense list", () => {
    expect(adaptiveWeight(d, l, 16)).toBeGreaterThan(0.9);
  });
  it("gives a short question's lexical list at least a third", () => {
    expect(adaptiveWeight(d, l, 3)).toBeLessThan(0.67);
  });
  it("grows with the question's length", () => {
    expect(adaptiveWeight(d, l, 12)).toBeGreaterThan(adaptiveWeight(d, l, 6));
  });
  it("leans to the list that is surer of its first hit", () => {
    const sureLexical = list(labels(100, 30), 20, 10);
    const unsureLexical = list(labels(100, 30), 20, 0.01);
    expect(adaptiveWeight(d, sureLexical, 5)).toBeLessThan(adaptiveWeight(d, unsureLexical, 5));
  });
});

describe("fuse", () => {
  it("gives a candidate first in both lists the score 1 under every method", () => {
    for (const method of ["adaptive", "score", "rrf"] as const) {
      const fused = fuse(list([1, 2, 3], 0.9, 0.1), list([1, 3, 2], 12, 2), { ...score, method }, 6);
      expect(fused.find((f) => f.label === 1)!.score).toBeCloseTo(1, 10);
    }
  });
  it("keeps each list's rank and raw score", () => {
    const fused = fuse(list([1, 2], 0.9, 0.1), list([2, 7], 12, 2), score, 6);
    expect(fused.find((f) => f.label === 2)).toMatchObject({
      dense: { rank: 2 },
      lexical: { rank: 1, score: 12 },
    });
    expect(fused.find((f) => f.label === 7)!.dense).toBeUndefined();
  });
  it.each([
    ["no dense hits", [], list([5, 6], 10, 1), 5],
    ["no lexical hits", list([5, 6], 0.9, 0.1), [], 5],
  ])("with %s ranks by the other list alone", (_name, dense, lexical, first) => {
    const fused = fuse(dense, lexical, adaptive, 4).sort((a, b) => b.score - a.score);
    expect(fused[0]).toMatchObject({ label: first, score: 1 });
    expect(fused.at(-1)!.score).toBe(0);
  });
  it("lets a long question follow the dense list and a short one of rare words the lexical list", () => {
    // Dense prefers 1, BM25 prefers 2, each by a clear margin.
    const dense = [
      { label: 1, score: 0.8 },
      { label: 2, score: 0.7 },
      ...list(labels(10, 20), 0.6, 0.01).slice(1),
    ];
    const lexical = [
      { label: 2, score: 30 },
      { label: 1, score: 18 },
      ...list(labels(40, 20), 15, 0.5).slice(1),
    ];
    const top = (terms: number) =>
      fuse(dense, lexical, adaptive, terms).sort((a, b) => b.score - a.score)[0]!.label;
    expect(top(16)).toBe(1);
    expect(top(3)).toBe(2);
  });
});

describe("date evidence added after fusion", () => {
  const ctx = { asOf: "2023-02-05", oldest: "2022-02-05", prior: 0.1, halfLifeDays: 7 };
  const dates: Record<number, string | undefined> = { 1: "2023-02-04", 2: "2022-06-01", 3: undefined };
  it.each([
    [
      "no period, only the prior",
      { recency: false },
      [1 + 0.1 * 0.5 ** (1 / 7), 1 + 0.1 * 0.5 ** (249 / 7), 1],
    ],
    [
      "a named period lifts the documents in it by 1",
      { recency: false, range: { from: "2023-01-30", to: "2023-02-05" } },
      [2 + 0.1 * 0.5 ** (1 / 7), 1 + 0.1 * 0.5 ** (249 / 7), 1],
    ],
    [
      "'latest' lifts by age within the corpus",
      { recency: true },
      [1 + 364 / 365 + 0.1 * 0.5 ** (1 / 7), 1 + 116 / 365 + 0.1 * 0.5 ** (249 / 7), 1],
    ],
  ])("%s", (_name, intent, expected) => {
    const scored = [1, 2, 3].map((label) => ({ label, score: 1 }));
    addDatePriors(scored, (l) => dates[l], { ...ctx, intent });
    for (const [i, s] of scored.entries()) expect(s.score).toBeCloseTo(expected[i]!, 6);
  });
  it("adds nothing without a period, 'latest' or a prior", () => {
    const scored = [{ label: 1, score: 0.4 }];
    addDatePriors(scored, (l) => dates[l], { ...ctx, prior: 0, intent: { recency: false } });
    expect(scored[0]!.score).toBe(0.4);
  });
});
