import { describe, expect, it } from "vitest";
import { COMBINATION_FEATURES, combinationFeatures, type ReaderSettings, rerank } from "../../core/answer.ts";
import type { Candidate } from "../../core/selector.ts";
import type { ReadScore } from "../../core/types.ts";

function candidate(start: number, probability: number): Candidate {
  return {
    docId: "d",
    start,
    end: start + 10,
    text: `sentence ${start}`,
    passage: 0,
    dense: 0,
    lexical: 0,
    features: [],
    probability,
    annotation: {} as Candidate["annotation"],
  };
}

describe("the reader's combination", () => {
  it("reads each logit, its gap to the best and its rank, ties sharing the better rank", () => {
    const xs = combinationFeatures([-1, 2, 2], [1.5, 0, -0.5]);
    expect(COMBINATION_FEATURES).toHaveLength(xs[0]!.length);
    expect(xs[0]).toEqual([-1, -3, 1.5, 0, 1 / 3, 1]);
    expect(xs[1]).toEqual([2, 0, 0, -1.5, 1, 1 / 2]);
    expect(xs[2]).toEqual([2, 0, -0.5, -2, 1, 1 / 3]);
  });

  it("orders the read sentences by a tree model over those features, the unread after them", () => {
    // One stump on readerRank (feature 4): the reader's favourite wins whatever the trees said.
    const settings: ReaderSettings = {
      features: [...COMBINATION_FEATURES],
      base: 0,
      trees: [
        {
          feature: [4, -1, -1],
          threshold: [0.75, 0, 0],
          left: [1, -1, -1],
          right: [2, -1, -1],
          value: [0, -2, 2],
        },
      ],
      read: 3,
      follower: 0.4,
      notFound: 0,
      shortAnswer: 1,
    };
    const ranked = [candidate(0, 0.9), candidate(20, 0.5), candidate(40, 0.3), candidate(60, 0.2)];
    const reads = new Map<string, ReadScore>([
      ["d:0:10", { logit: -3 }],
      ["d:20:30", { logit: 2 }],
      ["d:40:50", { logit: 0 }],
    ]);
    const out = rerank(ranked, reads, settings);
    expect(out.map((c) => c.start)).toEqual([20, 0, 40, 60]);
    expect(out[0]!.probability).toBeCloseTo(1 / (1 + Math.exp(-2)), 10);
    expect(out[1]!.probability).toBeCloseTo(1 / (1 + Math.exp(2)), 10);
    expect(out[0]!.read).toEqual({ logit: 2 });
    // Never read, never a follower.
    expect(out[3]!.probability).toBeLessThanOrEqual(settings.follower / 2);
    expect(out[3]!.read).toBeUndefined();
  });

  it("keeps a logistic model over the first four features working", () => {
    const settings: ReaderSettings = {
      features: ["reader", "readerGap", "trees", "treesGap"],
      mean: [0, 0, 0, 0],
      scale: [1, 1, 1, 1],
      weights: [0, 0, 1, 0],
      bias: 0,
      read: 2,
      follower: 0.4,
      notFound: 0,
      shortAnswer: 1,
    };
    const ranked = [candidate(0, 0.9), candidate(20, 0.5)];
    const reads = new Map<string, ReadScore>([
      ["d:0:10", { logit: -3 }],
      ["d:20:30", { logit: 2 }],
    ]);
    const out = rerank(ranked, reads, settings);
    expect(out.map((c) => c.start)).toEqual([0, 20]);
    expect(out[0]!.probability).toBeCloseTo(0.9, 10);
  });
});
