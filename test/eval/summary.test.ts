import { describe, expect, it } from "vitest";
import { answerInGold, withoutAnswerVerdicts } from "../../eval/applicability.ts";
import {
  type AnswerResult,
  type CitationResult,
  type QuestionResult,
  summarizeAnswers,
} from "../../eval/score.ts";

const cite = (
  n: number,
  start: number,
  end: number,
  answerBearing: boolean,
  verbatim = true,
): CitationResult => ({
  n,
  docId: "d1",
  start,
  end,
  verbatim,
  answerBearing,
});

function question(id: string, citations: CitationResult[], correct: boolean | null = true): QuestionResult {
  const answer: AnswerResult = {
    answer: "…",
    notFound: false,
    correct,
    quality: { firstSentenceCorrect: null, shortAnswer: null },
    citations,
    evidence: 0.7,
    evidenceAgrees: true,
    retrievalMs: 1,
    totalMs: 2,
  };
  return {
    id,
    line: 1,
    question: "?",
    answers: ["x"],
    goldDocIds: ["d1"],
    expectNotFound: false,
    answerInGold: correct !== null,
    embedMs: 1,
    modes: {},
    answer,
    error: null,
  };
}

describe("citation precision", () => {
  it("counts a sentence cited through two overlapping chunks once", () => {
    // Sentence 0-40 lies in the overlap of sources 1 and 2 and holds the answer; 41-80 does not.
    const s = summarizeAnswers([
      question("q1", [cite(1, 0, 40, true), cite(2, 0, 40, true), cite(2, 41, 80, false)]),
    ]);
    expect(s.citations).toMatchObject({
      sentences: 2,
      precision: 0.5,
      onAnswerable: 3,
      precisionPerCitation: 0.6667,
    });
  });

  it("counts the same sentence in two questions' answers once per question", () => {
    const s = summarizeAnswers([
      question("q1", [cite(1, 0, 40, true)]),
      question("q2", [cite(1, 0, 40, false)]),
    ]);
    expect(s.citations).toMatchObject({ sentences: 2, precision: 0.5 });
  });

  it("takes a sentence for verbatim only when every citation of it is", () => {
    const s = summarizeAnswers([question("q1", [cite(1, 0, 40, true), cite(2, 0, 40, true, false)])]);
    expect(s.citations).toMatchObject({ sentences: 1, precision: 0, precisionPerCitation: 0.5 });
  });
});

describe("questions whose answers are not in their gold documents", () => {
  const docs: Record<string, string> = { d1: "The claim is supported by the survey.", d2: "Nothing here." };
  const text = (id: string) => docs[id];

  it.each([
    [
      "finds an answer in a gold document",
      { answers: ["the survey"], goldDocIds: ["d2", "d1"], expectNotFound: false },
      true,
    ],
    [
      "finds a label in no gold document",
      { answers: ["SUPPORT"], goldDocIds: ["d1"], expectNotFound: false },
      false,
    ],
    [
      "does not look outside the gold documents",
      { answers: ["survey"], goldDocIds: ["d2"], expectNotFound: false },
      false,
    ],
    [
      "has nothing to check without answers",
      { answers: [], goldDocIds: ["d1"], expectNotFound: false },
      null,
    ],
    [
      "has nothing to check on a not-found question",
      { answers: ["survey"], goldDocIds: [], expectNotFound: true },
      null,
    ],
  ])("%s", (_name, q, expected) => {
    expect(answerInGold(q, text)).toBe(expected);
  });

  it("leaves them out of accuracy and citation precision, not out of the not-found rate", () => {
    const unchecked = withoutAnswerVerdicts(question("q2", [cite(1, 0, 40, false)], false));
    expect(unchecked.answer).toMatchObject({
      correct: null,
      citations: [{ answerBearing: null, verbatim: true }],
    });
    const s = summarizeAnswers([question("q1", [cite(1, 0, 40, true)]), unchecked]);
    expect(s).toMatchObject({ answerable: 2, checkable: 1, accuracy: 1, falseNotFoundRate: 0 });
    // A refusal counts against every answerable question, and against the checkable ones only
    // when the question is checkable.
    const refused = (r: QuestionResult): QuestionResult => ({
      ...r,
      answer: { ...r.answer!, notFound: true },
    });
    expect(summarizeAnswers([question("q1", []), refused(unchecked)])).toMatchObject({
      falseNotFoundRate: 0.5,
      falseNotFoundCheckableRate: 0,
    });
    expect(summarizeAnswers([refused(question("q1", [], false)), unchecked])).toMatchObject({
      falseNotFoundRate: 0.5,
      falseNotFoundCheckableRate: 1,
    });
    expect(s.citations).toMatchObject({
      total: 2,
      verbatimRate: 1,
      onAnswerable: 1,
      sentences: 1,
      precision: 1,
    });
  });
});
