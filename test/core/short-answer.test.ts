import { describe, expect, it } from "vitest";
import { SELECTOR, shortAnswerChecks } from "../../core/answer.ts";
import { annotate, answerType } from "../../core/nlp.ts";
import {
  type SentenceEvidence,
  SPAN_FEATURES,
  shortAnswer,
  spanCandidates,
  wholeListStart,
} from "../../core/short-answer.ts";

const DOC_START = 100;
/** The selector is sure of the sentence. */
const SURE: SentenceEvidence = { probability: 0.9, gap: 0.6 };

function short(question: string, sentence: string, evidence = SURE) {
  return shortAnswer(
    question,
    answerType(question),
    { docId: "d", start: DOC_START, text: sentence, annotation: annotate(sentence) },
    evidence,
    SELECTOR.shortAnswer,
  );
}

describe("answerType", () => {
  it.each([
    ["Where was the Hernán Santa Cruz Dialogue held?", "place"],
    ["How many countries and regions sent senior officials?", "number"],
    ["When did the dialogue take place?", "date"],
    ["In what year did the telescope launch?", "date"],
    ["Who said China will keep working with all countries?", "person"],
    ["What percentage of farmland grows wheat?", "number"],
    ["Which city hosted the talks?", "place"],
    ["What is the name of the telescope?", "name"],
    ["What does ESCR stand for?", "none"],
    ["Why did the talks fail?", "none"],
    ["What is the boiling point of mercury?", "none"],
    // What someone said is a statement, not a name in it; what else someone won is a name.
    ["What else did Wang Yi say?", "none"],
    ["What else did she tell reporters about the talks?", "none"],
    ["What else did Pamela Jelimo win after the Olympics?", "name"],
  ])("%s asks for %s", (q, type) => {
    expect(answerType(q)).toBe(type);
  });
});

describe("shortAnswer", () => {
  it.each([
    [
      "Where was the Hernán Santa Cruz Dialogue held?",
      "The 2024 Hernán Santa Cruz Dialogue was held in Hangzhou, east China's Zhejiang Province, on Monday.",
      "Hangzhou",
    ],
    [
      "How many countries and regions sent senior officials?",
      "Senior officials from nearly 50 countries and regions attended the dialogue.",
      "nearly 50",
    ],
    [
      "Who is the commissioner of the NFL?",
      "In early 2012, NFL Commissioner Roger Goodell said the league planned a spectacular game.",
      "Roger Goodell",
    ],
    [
      "In what year did the observatory open?",
      "The observatory opened in 1998 after a decade of work.",
      "1998",
    ],
    [
      "In what year did the league plan the game?",
      "The league planned the game in early 2012, Commissioner Roger Goodell said.",
      "2012",
    ],
    ["In which year did the bridge reopen?", "The bridge reopened in March 2007, two years late.", "2007"],
    [
      "Who said China will keep working with all countries and UN agencies on human rights?",
      "HANGZHOU, Dec. 9 (Xinhua) -- China will continue to work with all countries and UN agencies to pursue the common values of humanity, safeguard human rights with security, promote human rights with development, and advance human rights with cooperation, to contribute to sound and sustainable development of the global human rights cause, Foreign Minister Wang Yi said Monday.",
      "Foreign Minister Wang Yi",
    ],
    ["Which team won?", "The Denver Broncos won the game.", "Denver Broncos"],
    [
      "Where was the dialogue on rights held?",
      "Wang made the remarks in a written message for the Hernán Santa Cruz Dialogue on Economic, Social and Cultural Rights held in Hangzhou.",
      "Hangzhou",
    ],
  ])("answers %s with the verbatim span", (q, sentence, expected) => {
    const a = short(q, sentence);
    expect(a?.text).toBe(expected);
    expect(sentence.slice(a!.start - DOC_START, a!.end - DOC_START)).toBe(expected);
    expect(a?.docId).toBe("d");
  });

  it.each([
    ["What does ESCR stand for?", "ESCR stands for Economic, Social and Cultural Rights."],
    ["How many countries took part?", "The dialogue focused on economic, social and cultural rights."],
    ["In what year did the ferry sink?", "The ferry sank on a Sunday in early spring."],
  ])("gives none for %s", (q, sentence) => {
    expect(short(q, sentence)).toBeUndefined();
  });

  it("gives none from a sentence the selector doubts, where it answers from one it is sure of", () => {
    const q = "Who said China will keep working with all countries and UN agencies on human rights?";
    const sentence =
      "HANGZHOU, Dec. 9 (Xinhua) -- China will continue to work with all countries and UN agencies to pursue the common values of humanity, safeguard human rights with security, promote human rights with development, and advance human rights with cooperation, to contribute to sound and sustainable development of the global human rights cause, Foreign Minister Wang Yi said Monday.";
    expect(short(q, sentence)?.text).toBe("Foreign Minister Wang Yi");
    expect(short(q, sentence, { probability: 0.1, gap: 0 })).toBeUndefined();
  });

  it("prefers a span the question does not already name", () => {
    const a = short("Where did Wang Yi speak?", "Wang Yi spoke in Beijing on Tuesday.");
    expect(a?.text).toBe("Beijing");
  });
});

describe("spanCandidates", () => {
  const spans = (question: string, sentence: string) =>
    spanCandidates(question, answerType(question), sentence, annotate(sentence), SURE).map((c) =>
      sentence.slice(c.start, c.end),
    );

  it("trims a name of the question's own words and drops a name that is only those", () => {
    expect(
      spans("Who is the commissioner of the NFL?", "NFL Commissioner Roger Goodell met the NFL in New York."),
    ).toEqual(["Roger Goodell", "New York"]);
  });

  it("offers the year of a date for a year question, and no date without one", () => {
    expect(
      spans("In what year did the bridge reopen?", "The bridge reopened in March 2007 on a Sunday."),
    ).toEqual(["2007"]);
  });

  it("offers nothing for a question that asks for no typed answer", () => {
    expect(spans("Why did the talks fail?", "The talks failed in 2007 in Geneva.")).toEqual([]);
  });

  it("gives one feature per name in SPAN_FEATURES", () => {
    const [c] = spanCandidates(
      "Where was it held?",
      "place",
      "It was held in Hangzhou.",
      annotate("It was held in Hangzhou."),
      SURE,
    );
    expect(c?.features).toHaveLength(SPAN_FEATURES.length);
    expect(SELECTOR.shortAnswer.features).toEqual([...SPAN_FEATURES]);
  });
});

describe("shortAnswerChecks", () => {
  const sentence = "The dialogue was held in Hangzhou on Monday.";
  const citation = {
    n: 1,
    docId: "d",
    chunkId: "d#0",
    start: 100,
    end: 100 + sentence.length,
    text: sentence,
    answerStart: 0,
    answerEnd: sentence.length,
  };
  const at = sentence.indexOf("Hangzhou") + 100;
  it.each([
    [
      "accepts a verbatim span inside the first cited sentence",
      { text: "Hangzhou", docId: "d", start: at, end: at + 8 },
      true,
    ],
    [
      "refuses a span whose text differs from the sentence there",
      { text: "Beijing", docId: "d", start: at, end: at + 8 },
      false,
    ],
    ["refuses a span outside the sentence", { text: "Hangzhou", docId: "d", start: 10, end: 18 }, false],
    ["refuses a span of another document", { text: "Hangzhou", docId: "e", start: at, end: at + 8 }, false],
  ])("%s", (_name, short, ok) => {
    expect(shortAnswerChecks(short, [citation])).toBe(ok);
  });
});

describe("wholeListStart", () => {
  const sentence =
    "Noting that ensuring the equal enjoyment of the Economic, Social and Cultural Rights (ESCR) by all is an important goal.";
  const at = (span: string) => [sentence.indexOf(span), sentence.indexOf(span) + span.length] as const;
  it("moves a span that ends a list of capitalised words to the list's first item", () => {
    const [start, end] = at("Social and Cultural Rights");
    expect(sentence.slice(wholeListStart(sentence, start, end), end)).toBe(
      "Economic, Social and Cultural Rights",
    );
  });
  it("leaves a span alone without the list's 'and', or when it starts in lower case", () => {
    const [start, end] = at("Cultural Rights");
    expect(wholeListStart(sentence, start, end)).toBe(start);
    const [s2, e2] = at("equal enjoyment of the Economic, Social and Cultural");
    expect(wholeListStart(sentence, s2, e2)).toBe(s2);
    // Each after a capitalised item and its comma, which the list rule would otherwise take in.
    const towns = "They toured Paris, Lyon and Nice, then went home.";
    expect(wholeListStart(towns, towns.indexOf("Lyon"), towns.indexOf("Lyon") + 4)).toBe(
      towns.indexOf("Lyon"),
    );
    const river = "In Paris, the river and its banks flooded.";
    const r = river.indexOf("the river and its banks");
    expect(wholeListStart(river, r, r + "the river and its banks".length)).toBe(r);
  });
});
