import { describe, expect, it } from "vitest";
import { spanFigures, spanLabel, spanRows } from "../../eval/short-train.ts";
import { featureKey, type TrainRow } from "../../eval/train.ts";

const row = (question: string, answers: string[], texts: string[]): TrainRow => ({
  id: question,
  article: "a",
  question,
  answers,
  x: texts.map(() => []),
  y: texts.map(() => 0),
  texts,
});

describe("spanRows", () => {
  it("takes the spans of the sentence the selector rates highest, scored against the gold answers", () => {
    const r = row(
      "Where was the dialogue held?",
      ["Hangzhou"],
      ["The dialogue was held in Beijing.", "The dialogue was held in Hangzhou, Zhejiang."],
    );
    const [spans] = spanRows([r], [[0.2, 0.7]]);
    expect(spans?.x.length).toBe(spans?.f1.length);
    const best = spans!.f1.indexOf(Math.max(...spans!.f1));
    expect(spans!.em[best]).toBe(1);
    // The evidence features carry the selector's probability and its lead over the next sentence.
    expect(spans!.x[best]).toContain(0.7);
    expect(spans!.x[best]!.some((v) => Math.abs(v - 0.5) < 1e-9)).toBe(true);
    const [other] = spanRows([r], [[0.9, 0.1]]);
    expect(Math.max(...other!.f1)).toBe(0);
  });

  it("gives no spans to a question that asks for no typed answer", () => {
    const [spans] = spanRows(
      [row("Why did the talks fail?", ["money"], ["The talks failed in 2007."])],
      [[0.9]],
    );
    expect(spans?.x).toEqual([]);
  });
});

describe("spanFigures", () => {
  const rows = [
    { article: "a", x: [[], []], f1: [1, 0], em: [1, 0] },
    { article: "b", x: [[]], f1: [0.5], em: [0] },
    { article: "c", x: [], f1: [], em: [] },
  ];
  it("scores the best span of each question that reaches the threshold", () => {
    const [low, high] = spanFigures(rows, [[0.9, 0.3], [0.45], []], [0.4, 0.5]);
    expect(low).toEqual({ threshold: 0.4, given: 2, share: 0.6667, em: 0.5, f1: 0.75 });
    expect(high).toEqual({ threshold: 0.5, given: 1, share: 0.3333, em: 1, f1: 1 });
  });
});

describe("spanLabel", () => {
  it("labels a span that answers by at least half F1", () => {
    expect([spanLabel(0.5), spanLabel(0.49), spanLabel(1)]).toEqual([1, 0, 1]);
  });
});

describe("featureKey", () => {
  it("changes with the index the features were read from, and only with what they depend on", () => {
    const key = featureKey("/data/squad", "code-a", "index-a");
    expect(featureKey("/data/squad", "code-a", "index-a")).toBe(key);
    expect(featureKey("/data/squad", "code-a", "index-b")).not.toBe(key);
    expect(featureKey("/data/squad", "code-b", "index-a")).not.toBe(key);
  });
});
