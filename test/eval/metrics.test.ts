import { describe, expect, it } from "vitest";
import type { Citation, SourceRef } from "../../core/protocol.ts";
import { chooseHeldOut, recommend, thresholdGrid, thresholdRows } from "../../eval/calibrate.ts";
import { answerBody, checkCitation } from "../../eval/citations.ts";
import type { EvalQuestion } from "../../eval/dataset.ts";
import {
  containsAnswer,
  hasAnyAnswer,
  locatePassage,
  ndcgAt,
  normalizeAnswer,
  overlaps,
  percentile,
  rankDocs,
  recallAt,
  reciprocalRankAt,
} from "../../eval/metrics.ts";
import { type RankedChunk, scoreRanking } from "../../eval/score.ts";

describe("normalizeAnswer", () => {
  it.each([
    ["lower-cases and drops articles", "The Denver Broncos", "denver broncos"],
    ["removes ASCII punctuation without a space", "Levi's Stadium", "levis stadium"],
    ["drops every article and collapses whitespace", "  A  cat, an apple;\tTHE end. ", "cat apple end"],
    ["keeps articles inside words", "theater another", "theater another"],
    ["keeps non-ASCII punctuation, as the official script does", "24–10", "24–10"],
    ["removes dots from abbreviations", "U.S.", "us"],
    ["treats accented letters as word characters", "Éthe the élan", "éthe élan"],
    ["normalises an article alone to nothing", "a", ""],
    ["keeps digits", "Super Bowl 50", "super bowl 50"],
  ])("%s", (_name, input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });
});

describe("containsAnswer", () => {
  it.each([
    ["finds whole words", "denver broncos defeated carolina", "denver broncos", true],
    ["does not find a number inside a longer one", "won 500 games", "50", false],
    ["finds an answer at the end", "it was in hangzhou", "hangzhou", true],
    ["never finds an empty answer", "anything", "", false],
    ["does not find a word prefix", "hangzhous", "hangzhou", false],
  ])("%s", (_name, text, answer, expected) => {
    expect(containsAnswer(text, answer)).toBe(expected);
  });

  it("normalises both sides in hasAnyAnswer", () => {
    expect(hasAnyAnswer("The game was played at Levi's Stadium.", ["Santa Clara", "levis stadium"])).toBe(
      true,
    );
    expect(hasAnyAnswer("The game was played in Miami.", ["Santa Clara"])).toBe(false);
    expect(hasAnyAnswer("The game was played in Miami.", [])).toBe(false);
  });
});

describe("ranking metrics", () => {
  it("ranks a document where its first passage ranks", () => {
    expect(rankDocs(["a", "a", "b", "a", "c", "b"])).toEqual(["a", "b", "c"]);
  });

  const log2 = Math.log2;
  it.each<[string, string[], string[], number, number, number, number]>([
    ["gold second", ["a", "b", "c"], ["b"], 10, 1, 0.5, 1 / log2(3)],
    ["gold second at depth 1", ["a", "b", "c"], ["b"], 1, 0, 0, 0],
    ["gold first at depth 1", ["a", "b", "c"], ["a"], 1, 1, 1, 1],
    ["two gold documents", ["a", "b", "c"], ["a", "c"], 10, 1, 1, (1 + 1 / log2(4)) / (1 + 1 / log2(3))],
    ["half the gold documents", ["a", "b", "c"], ["c", "z"], 10, 0.5, 1 / 3, 1 / log2(4) / (1 + 1 / log2(3))],
    ["gold outside the depth", ["a", "b", "c"], ["c"], 2, 0, 0, 0],
    ["gold never retrieved", ["a", "b"], ["z"], 10, 0, 0, 0],
    ["no gold documents", ["a", "b"], [], 10, 0, 0, 0],
    ["nothing retrieved", [], ["a"], 10, 0, 0, 0],
  ])("%s: recall, reciprocal rank and nDCG", (_name, ranked, gold, n, recall, rr, ndcg) => {
    expect(recallAt(ranked, gold, n)).toBeCloseTo(recall, 10);
    expect(reciprocalRankAt(ranked, gold, n)).toBeCloseTo(rr, 10);
    expect(ndcgAt(ranked, gold, n)).toBeCloseTo(ndcg, 10);
  });
});

describe("spans and percentiles", () => {
  it.each([
    ["touching spans do not overlap", { start: 0, end: 5 }, { start: 5, end: 10 }, false],
    ["one shared character overlaps", { start: 0, end: 6 }, { start: 5, end: 10 }, true],
    ["a span inside another overlaps", { start: 0, end: 100 }, { start: 40, end: 50 }, true],
    ["identical spans overlap", { start: 3, end: 4 }, { start: 3, end: 4 }, true],
  ])("%s", (_name, a, b, expected) => {
    expect(overlaps(a, b)).toBe(expected);
    expect(overlaps(b, a)).toBe(expected);
  });

  it.each([
    ["finds a passage", "Intro.\n\nThe passage here.\n\nEnd.", "The passage here.", { start: 8, end: 25 }],
    ["normalises Windows newlines like the corpus loader", "One\ntwo", "One\r\ntwo", { start: 0, end: 7 }],
    ["trims surrounding whitespace", "abc def", "  def\n", { start: 4, end: 7 }],
    ["reports a passage that is not in the document", "abc", "xyz", undefined],
  ])("%s", (_name, doc, passage, expected) => {
    expect(locatePassage(doc, passage)).toEqual(expected);
  });

  it.each<[number[], number, number | undefined]>([
    [[4, 1, 3, 2], 50, 2.5],
    [[4, 1, 3, 2], 0, 1],
    [[4, 1, 3, 2], 100, 4],
    [[1, 2, 3, 4], 95, 3.85],
    [[7], 95, 7],
    [[], 50, undefined],
  ])("percentile of %j at %d is %s", (values, p, expected) => {
    if (expected === undefined) expect(percentile(values, p)).toBeUndefined();
    else expect(percentile(values, p)).toBeCloseTo(expected, 10);
  });
});

describe("scoreRanking", () => {
  const q: EvalQuestion = {
    id: "q1",
    question: "Where was it?",
    answers: ["Hangzhou"],
    goldDocIds: ["d2"],
    expectNotFound: false,
    goldPassageIds: ["p1"],
    line: 1,
  };
  const chunk = (docId: string, ordinal: number, start: number, end: number, text: string): RankedChunk => ({
    docId,
    chunkId: `${docId}#${ordinal}`,
    start,
    end,
    text,
  });
  const ranked = [
    chunk("d1", 0, 0, 50, "Nothing here."),
    chunk("d1", 1, 40, 90, "Still nothing."),
    chunk("d2", 3, 300, 400, "It was held in Hangzhou."),
    chunk("d3", 0, 0, 80, "Other."),
  ];

  it("scores documents, answer in context and passage overlap at k", () => {
    const r = scoreRanking(q, ranked, 3, [{ docId: "d2", start: 390, end: 500 }], 1.5);
    expect(r).toEqual({
      docs: ["d1", "d2", "d3"],
      chunks: ["d1#0", "d1#1", "d2#3"],
      goldRank: 2,
      recall1: 0,
      recall5: 1,
      recall10: 1,
      rr10: 0.5,
      ndcg10: 1 / Math.log2(3),
      answerInContext: true,
      passageRecall: 1,
      retrievalMs: 1.5,
    });
  });

  it("misses the answer and the passage when they fall below k", () => {
    const r = scoreRanking(q, ranked, 2, [{ docId: "d2", start: 390, end: 500 }], 0);
    expect(r.answerInContext).toBe(false);
    expect(r.passageRecall).toBe(0);
  });

  it("does not count an overlapping span of another document", () => {
    const r = scoreRanking(q, ranked, 4, [{ docId: "d3", start: 100, end: 200 }], 0);
    expect(r.passageRecall).toBe(0);
  });

  it("leaves metrics out for a question without gold documents, answers or passages", () => {
    const none = { ...q, answers: [], goldDocIds: [], goldPassageIds: [], expectNotFound: true };
    const r = scoreRanking(none, ranked, 3, [], 0);
    expect([r.recall1, r.recall5, r.recall10, r.rr10, r.ndcg10, r.answerInContext, r.passageRecall]).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});

describe("checkCitation", () => {
  const docText = "First sentence. The dialogue was held in Hangzhou. Last one.";
  const sentence = "The dialogue was held in Hangzhou.";
  const sStart = docText.indexOf(sentence);
  const source: SourceRef = {
    n: 1,
    docId: "d",
    chunkId: "d#0",
    title: "T",
    source: "corpus.jsonl line 1",
    start: 0,
    end: docText.length,
    snippet: docText,
    score: 0.1,
  };
  const answer = `${sentence} [1]`;
  const citation: Citation = {
    n: 1,
    docId: "d",
    chunkId: "d#0",
    start: sStart,
    end: sStart + sentence.length,
    text: sentence,
    answerStart: 0,
    answerEnd: sentence.length,
  };

  it.each<[string, Partial<Citation>, Partial<SourceRef>, boolean]>([
    ["accepts a sentence that is in its source and document", {}, {}, true],
    ["refuses a source number that is not among the sources", { n: 2 }, {}, false],
    ["refuses a citation naming another chunk", { chunkId: "d#1" }, {}, false],
    ["refuses shifted offsets", { start: sStart + 1, end: sStart + sentence.length + 1 }, {}, false],
    ["refuses text that is not the document's", { text: sentence.replace("Hangzhou", "Beijing") }, {}, false],
    [
      "refuses a sentence outside its source",
      {},
      { start: 0, end: 20, snippet: docText.slice(0, 20) },
      false,
    ],
    [
      "refuses a source whose snippet is not the document's text",
      {},
      { snippet: docText.toUpperCase() },
      false,
    ],
    [
      "refuses answer offsets that do not hold the sentence",
      { answerStart: 1, answerEnd: sentence.length + 1 },
      {},
      false,
    ],
  ])("%s", (_name, c, s, verbatim) => {
    const check = checkCitation({ ...citation, ...c }, [{ ...source, ...s }], answer, docText, ["Hangzhou"]);
    expect(check.verbatim).toBe(verbatim);
  });

  it("refuses a citation when the document is not in the index", () => {
    expect(checkCitation(citation, [source], answer, undefined, []).verbatim).toBe(false);
  });

  it("says whether the sentence holds a gold answer, and nothing for a question without answers", () => {
    expect(checkCitation(citation, [source], answer, docText, ["hangzhou"]).answerBearing).toBe(true);
    expect(checkCitation(citation, [source], answer, docText, ["Beijing"]).answerBearing).toBe(false);
    expect(checkCitation(citation, [source], answer, docText, []).answerBearing).toBeUndefined();
  });

  it("takes the answer's own words without citation markers", () => {
    const two = "It was 1. [1] It was 2. [1][2]";
    const c = (answerStart: number, answerEnd: number, n: number) => ({
      ...citation,
      n,
      answerStart,
      answerEnd,
    });
    expect(answerBody(two, [c(0, 9, 1), c(14, 23, 1), c(14, 23, 2)])).toBe("It was 1. It was 2.");
    expect(answerBody("Not found.", [])).toBe("Not found.");
  });
});

describe("calibration helpers", () => {
  it.each<[string, number[], number[], number, number | null, number | null]>([
    [
      "counts evidence below the threshold as not found",
      [0.5, 0.6, 0.7, 0.8],
      [0.3, 0.45, 0.55],
      0.5,
      0,
      2 / 3,
    ],
    ["treats evidence equal to the threshold as found", [0.5], [0.5], 0.5, 0, 0],
    ["gives no rate for an empty group", [0.5], [], 0.6, 1, null],
  ])("%s", (_name, answerable, unanswerable, t, fnf, nf) => {
    const [row] = thresholdRows(answerable, unanswerable, [t]);
    expect(row?.falseNotFoundRate).toBe(fnf);
    expect(row?.notFoundRate).toBe(nf);
  });

  it("recommends the threshold with the largest gap, the lowest on ties", () => {
    const rows = thresholdRows([0.6, 0.7, 0.8, 0.9], [0.2, 0.3, 0.4, 0.65], [0.3, 0.5, 0.6, 0.7]);
    expect(rows.map((r) => r.youden)).toEqual([0.25, 0.75, 0.75, 0.75]);
    expect(recommend(rows, 0.35)).toBe(0.5);
    expect(recommend([], 0.35)).toBe(0.35);
  });

  it("builds a grid over the evidence that includes the current threshold", () => {
    const grid = thresholdGrid([0.41, 0.5, 0.62], 0.333);
    expect(grid).toEqual([0.333, 0.4, 0.425, 0.45, 0.475, 0.5, 0.525, 0.55, 0.575, 0.6, 0.625]);
  });

  it("holds out a fifth of the documents, the same ones every time", () => {
    const ids = Array.from({ length: 48 }, (_, i) => `doc-${i}`);
    const held = chooseHeldOut(ids, 0.2);
    expect(held).toHaveLength(10);
    expect(new Set(held).size).toBe(10);
    expect(chooseHeldOut([...ids].reverse(), 0.2)).toEqual(held);
    expect(chooseHeldOut(["a", "b", "c", "d"], 0.2)).toEqual([]);
  });
});
