import { describe, expect, it } from "vitest";
import type { AnswerEvent } from "../../core/protocol.ts";
import { answerOccurs, answerOccursAsText } from "../../eval/answer-match.ts";
import type { EvalQuestion } from "../../eval/dataset.ts";
import { hasAnyAnswer } from "../../eval/metrics.ts";
import { scoreAnswer } from "../../eval/score.ts";

// [case, text, gold answer, found]
const CASES: [string, string, string, boolean][] = [
  // possessives
  [
    "finds a name followed by a possessive",
    "George Washington's February 22 birth date",
    "George Washington",
    true,
  ],
  ["finds a name with a curly possessive", "George Washington’s birth date", "George Washington", true],
  ["finds a plural possessive", "the Jesus' disciples", "Jesus", true],
  ["finds a possessive answer in the same possessive", "at Levi's Stadium", "Levi's Stadium", true],
  ["keeps SQuAD's reading of an apostrophe", "at Levi's Stadium", "levis stadium", true],
  ["finds a straight-quoted answer in curly-quoted text", "the ‘Iron Lady’ of Britain", "'Iron Lady'", true],
  ["finds an answer in double curly quotes", "he called it “the big one”", '"the big one"', true],
  ["finds a contraction written with a curly apostrophe", "it doesn’t rain", "doesn't rain", true],
  // dashes
  ["finds a hyphenated range in an en-dash range", "in 1990–1995 it grew", "1990-1995", true],
  ["finds an en-dash range in a hyphenated range", "in 1990-1995 it grew", "1990–1995", true],
  ["finds a spaced range", "from 1990 – 1995 it grew", "1990-1995", true],
  ["finds a score with an em dash", "won 24—10 at home", "24-10", true],
  ["reads a minus sign as a hyphen", "temperatures of −40 degrees", "-40 degrees", true],
  ["finds a word joined by a non-breaking hyphen", "an e‑mail address", "e-mail", true],
  // punctuation that separates words without a space
  ["finds a year before a citation mark", "opened nearby in 1978,[citation needed] at Olive", "1978", true],
  [
    "finds an answer ending in a full stop before a citation mark",
    "persecution in Switzerland and the Netherlands.[citation needed] A group",
    "Switzerland and the Netherlands.",
    true,
  ],
  ["finds a word before a footnote number", "discovered by Curie.[12] Later", "Curie", true],
  ["finds an abbreviation with its dots", "the U.S. Army", "U.S.", true],
  ["finds an abbreviation without its dots", "the U.S. Army", "US Army", true],
  ["finds a number written with a thousands separator", "a crowd of 71,088 people", "71088", true],
  // compatibility forms
  ["folds full-width letters", "the ＵＮ agency", "UN", true],
  ["folds decomposed accents", "Beyonce\u0301 sang", "Beyoncé", true],
  // what must still fail
  ["does not find a number inside a longer one", "won 500 games", "50", false],
  ["does not find a word prefix", "in Hangzhous", "Hangzhou", false],
  ["does not find a number inside a thousands-separated one", "a crowd of 1,000 people", "1", false],
  ["does not find a number inside a decimal", "grew 5.5 million", "5", false],
  ["does not find an hour inside a time", "at 3:45 pm", "3", false],
  [
    "does not find a name followed by other letters",
    "George Washingtonian ideals",
    "George Washington",
    false,
  ],
  ["does not find a different name", "John Adams was born", "George Washington", false],
  ["never finds an answer of punctuation only", "anything at all", "—", false],
  ["never finds an answer of an article only", "a cat", "a", false],
];

describe("answerOccurs", () => {
  it.each(CASES)("%s", (_name, text, answer, found) => {
    expect(answerOccurs(text, [answer])).toBe(found);
  });

  it("finds nothing when there are no answers", () => {
    expect(answerOccurs("Washington", [])).toBe(false);
  });

  it("accepts any of several answers", () => {
    expect(answerOccurs("It was played at Levi’s Stadium.", ["Santa Clara", "Levi's Stadium"])).toBe(true);
  });

  it("matches every pair the SQuAD-normalised check matches", () => {
    for (const [, text, answer] of CASES) {
      if (hasAnyAnswer(text, [answer])) expect(answerOccurs(text, [answer])).toBe(true);
    }
  });
});

describe("answerOccursAsText", () => {
  it.each([
    ["They support the plan.", ["SUPPORT"], false],
    ["Status: SUPPORT.", ["SUPPORT"], true],
    ["There is not enough info here.", ["NOT ENOUGH INFO"], false],
    ["The NFL said so.", ["NFL"], true],
    ["the nfl said so.", ["NFL"], false],
    ["The Buffalo Bills won.", ["Buffalo bills"], true],
    ["They support the plan.", ["CONTRADICT", "support"], true],
    ["Anything.", [], false],
  ] as const)("%j holds %j: %s", (text, answers, expected) => {
    expect(answerOccursAsText(text, answers)).toBe(expected);
  });
});

describe("answer accuracy", () => {
  const q: EvalQuestion = {
    id: "q1",
    question: "Whose birthday is celebrated on Presidents' Day?",
    answers: ["George Washington"],
    goldDocIds: ["d1"],
    expectNotFound: false,
    goldPassageIds: [],
    line: 1,
  };
  const sentence = "Presidents’ Day marks George Washington’s February 22 birth date.";
  const doc = `Holidays. ${sentence}`;

  it("counts an answer holding the gold answer in a possessive as correct", () => {
    const start = doc.indexOf(sentence);
    const events: AnswerEvent[] = [
      {
        type: "sources",
        notFound: false,
        sources: [
          {
            n: 1,
            docId: "d1",
            chunkId: "d1#0",
            title: "Holidays",
            source: "h.txt",
            start: 0,
            end: doc.length,
            snippet: doc,
            score: 1,
          },
        ],
      },
      {
        type: "done",
        answer: `${sentence} [1]`,
        notFound: false,
        query: q.question,
        citations: [
          {
            n: 1,
            docId: "d1",
            chunkId: "d1#0",
            start,
            end: start + sentence.length,
            text: sentence,
            answerStart: 0,
            answerEnd: sentence.length,
          },
        ],
        timings: { retrievalMs: 1, firstDeltaMs: 1, totalMs: 2 },
      },
    ];
    const result = scoreAnswer(q, events, () => doc, { evidence: 0.7, notFound: false });
    expect(result.correct).toBe(true);
    expect(result.citations[0]).toMatchObject({ verbatim: true, answerBearing: true });
  });
});
