import { describe, expect, it } from "vitest";
import {
  COMBINATION_FEATURES,
  combinationFeatures,
  compose,
  type ReaderSettings,
  rerank,
} from "../../core/answer.ts";
import type { Passage } from "../../core/retrieval.ts";
import type { Candidate } from "../../core/selector.ts";
import type { ReadScore } from "../../core/types.ts";
import { readerFavouriteFirst } from "../helpers/reader-settings.ts";

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
  it("reads each logit, its gap to the best, its rank (ties sharing the better rank) and the span's sureness", () => {
    const span = (probability: number) => ({ start: 0, end: 4, probability });
    const xs = combinationFeatures(
      [{ logit: -1 }, { logit: 2, span: span(0.5) }, { logit: 2, span: span(0.8) }],
      [1.5, 0, -0.5],
    );
    expect(COMBINATION_FEATURES).toHaveLength(xs[0]!.length);
    // No span: the floor, the logit of 1e-4; the span's gap is to the surest span read (logit 4).
    const floor = Math.log(1e-4 / (1 - 1e-4));
    expect(xs[0]!.slice(0, 6)).toEqual([-1, -3, 1.5, 0, 1 / 3, 1]);
    expect(xs[0]![6]).toBeCloseTo(floor, 10);
    expect(xs[0]![7]).toBeCloseTo(floor - Math.log(4), 10);
    expect(xs[1]!.slice(0, 7)).toEqual([2, 0, 0, -1.5, 1, 1 / 2, 0]);
    expect(xs[1]![7]).toBeCloseTo(-Math.log(4), 10);
    expect(xs[2]!.slice(0, 6)).toEqual([2, 0, -0.5, -2, 1, 1 / 3]);
    expect(xs[2]![6]).toBeCloseTo(Math.log(4), 10);
    expect(xs[2]![7]).toBe(0);
  });

  it("orders the read sentences by a tree model over those features, the unread after them", () => {
    const settings = readerFavouriteFirst({ follower: 0.4 });
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

  it("decides not found on the match strength of the trees' best sentence, whichever the reader put first", () => {
    // The reader's first shares few of the question's words; the trees' best many.
    const readersFirst = { ...candidate(20, 0.8), dense: 0.5, lexical: 0.1 };
    const treesBest = { ...candidate(0, 0.2), dense: 0.6, lexical: 0.7 };
    const passages = [{ doc: { id: "d" }, chunk: { start: 0, end: 100 } } as unknown as Passage];
    const opts = { maxSentences: 1, threshold: 0.45, follower: 1 };
    // 0.6 × 0.5 + 0.4 × 0.1 = 0.34 on its own; 0.6 × 0.6 + 0.4 × 0.7 = 0.64 by the trees' best.
    expect(compose([readersFirst, treesBest], passages, opts).notFound).toBe(true);
    const judged = compose([readersFirst, treesBest], passages, { ...opts, evidenceFrom: treesBest });
    expect(judged.notFound).toBe(false);
    expect(judged.evidence).toBeCloseTo(0.64, 10);
    expect(judged.sentences.map((s) => s.start)).toEqual([20]);
    // And the other way: a weak trees' best refuses even a strong-looking reader's first.
    const refused = compose([treesBest, readersFirst], passages, { ...opts, evidenceFrom: readersFirst });
    expect(refused.notFound).toBe(true);
  });
});
