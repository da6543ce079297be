import { describe, expect, it } from "vitest";
import { probability } from "../../core/selector.ts";
import { exactMatch, summarizeAnswerQuality, tokenF1 } from "../../eval/answer-quality.ts";
import { articleFolds, fitLogistic } from "../../eval/train.ts";

describe("SQuAD exact match and F1", () => {
  it.each([
    ["nearly 50", "nearly 50", 1, 1],
    ["The Denver Broncos", "Denver Broncos", 1, 1],
    ["Hangzhou, China", "Hangzhou", 0, 2 / 3],
    ["Beijing", "Hangzhou", 0, 0],
    ["50 countries", "nearly 50", 0, 0.5],
  ])("%s against %s: EM %d, F1 %d", (pred, gold, em, f1) => {
    expect(exactMatch(pred, gold)).toBe(em);
    expect(tokenF1(pred, gold)).toBeCloseTo(f1, 6);
  });
});

describe("summarizeAnswerQuality", () => {
  it("counts refusals on each kind of question and scores short answers only where given", () => {
    const s = summarizeAnswerQuality([
      {
        expectNotFound: false,
        answers: ["a"],
        notFound: false,
        quality: { firstSentenceCorrect: true, shortAnswer: { text: "a", em: 1, f1: 1 } },
      },
      {
        expectNotFound: false,
        answers: ["b"],
        notFound: true,
        quality: { firstSentenceCorrect: null, shortAnswer: null },
      },
      {
        expectNotFound: true,
        answers: [],
        notFound: true,
        quality: { firstSentenceCorrect: null, shortAnswer: null },
      },
      {
        expectNotFound: true,
        answers: [],
        notFound: false,
        quality: { firstSentenceCorrect: null, shortAnswer: null },
      },
    ]);
    expect(s).toEqual({
      firstSentence: { questions: 2, rate: 0.5 },
      shortAnswer: { questions: 1, share: 0.5, em: 1, f1: 1 },
      refusals: { unanswerable: 2, refusalRate: 0.5, answerable: 2, falseRefusalRate: 0.5 },
    });
  });
});

describe("selector training", () => {
  it("fits a logistic model that ranks by the informative feature, the same way every time", () => {
    const xs: number[][] = [];
    const ys: number[] = [];
    for (let i = 0; i < 200; i++) {
      const signal = (i % 10) / 10;
      const noise = ((i * 7919) % 13) / 13;
      xs.push([signal, noise]);
      ys.push(signal + 0.3 * noise > 0.6 ? 1 : 0);
    }
    const a = fitLogistic(xs, ys);
    expect(fitLogistic(xs, ys)).toEqual(a);
    const model = { ...a, prefilter: 1, passages: 1 };
    expect(probability(model, [0.9, 0.5])).toBeGreaterThan(0.8);
    expect(probability(model, [0.1, 0.5])).toBeLessThan(0.2);
    expect(a.weights[0]!).toBeGreaterThan(a.weights[1]!);
  });

  it("puts every article in exactly one fold, whatever order the questions come in", () => {
    const folds = articleFolds(["c", "a", "b", "a", "d", "e"], 2);
    expect([...folds.entries()].sort()).toEqual([
      ["a", 0],
      ["b", 1],
      ["c", 0],
      ["d", 1],
      ["e", 0],
    ]);
  });
});
