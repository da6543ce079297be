import { describe, expect, it } from "vitest";
import { dateIntent, inRange, isIsoDate, recencyWeight, resolveAsOf } from "../../core/dates.ts";
import { isFollowUp, namedPhrases, readingQuestion, rewriteQuery } from "../../core/followup.ts";

const NEWEST = "2024-12-09";

describe("dateIntent", () => {
  it.each([
    ["What did Wang Yi say on Dec. 9?", { from: "2024-12-09", to: "2024-12-09" }, "dec. 9"],
    ["What happened on December 9, 2023?", { from: "2023-12-09", to: "2023-12-09" }, "december 9, 2023"],
    ["News from 2024-11-30 please", { from: "2024-11-30", to: "2024-11-30" }, "2024-11-30"],
    ["What happened on 3 March 2022?", { from: "2022-03-03", to: "2022-03-03" }, "3 march 2022"],
    ["What was reported in November 2024?", { from: "2024-11-01", to: "2024-11-30" }, "november 2024"],
    ["What happened in 2023?", { from: "2023-01-01", to: "2023-12-31" }, "in 2023"],
    ["What happened yesterday?", { from: "2024-12-08", to: "2024-12-08" }, "yesterday"],
    ["What did the minister say last week?", { from: "2024-12-02", to: "2024-12-09" }, "last week"],
  ])("reads %s as a period relative to the newest document", (q, range, matched) => {
    const intent = dateIntent(q, NEWEST);
    expect(intent.range).toEqual(range);
    expect(intent.matched).toBe(matched);
  });

  it("reads a day without a year as the last such day on or before the newest document", () => {
    expect(dateIntent("What happened on Dec. 20?", NEWEST).range).toEqual({
      from: "2023-12-20",
      to: "2023-12-20",
    });
  });

  it("marks questions about the latest news as recency questions without a period", () => {
    expect(dateIntent("What is the latest on human rights?", NEWEST)).toEqual({ recency: true });
  });

  it.each([
    "Who won Super Bowl 50?",
    "What is the boiling point of mercury?",
    "How many of the 300 officials came?",
  ])("finds no period in %s", (q) => {
    expect(dateIntent(q, NEWEST)).toEqual({ recency: false });
  });

  it("ignores impossible dates", () => {
    expect(dateIntent("What happened on 2024-02-30?", NEWEST).range).toBeUndefined();
    expect(isIsoDate("2024-02-29")).toBe(true);
    expect(isIsoDate("2023-02-29")).toBe(false);
  });

  it("keeps undated documents out of any period", () => {
    expect(inRange(undefined, { from: "2024-01-01" })).toBe(false);
    expect(inRange("2024-12-09", { from: "2024-12-01", to: "2024-12-31" })).toBe(true);
    expect(inRange("2024-11-30", { from: "2024-12-01" })).toBe(false);
  });
});

describe("the day a question is asked as of", () => {
  const TODAY = new Date("2026-11-30T15:00:00Z");
  it.each([
    ["an explicit asOf", "2023-01-05", "2026-11-28", "2023-01-05"],
    ["today, for a corpus updated within the window", undefined, "2026-11-28", "2026-11-30"],
    ["the newest document, for a corpus older than the window", undefined, "2024-12-09", "2024-12-09"],
    ["today, for an undated corpus", undefined, undefined, "2026-11-30"],
  ])("is %s", (_name, asOf, newest, expected) => {
    expect(resolveAsOf(asOf, newest, TODAY, 30)).toBe(expected);
  });

  it.each([
    ["this week", "What happened this week?", { from: "2023-01-30", to: "2023-02-05" }],
    ["yesterday", "Who resigned yesterday?", { from: "2023-02-04", to: "2023-02-04" }],
    ["last week", "What did the minister say last week?", { from: "2023-01-29", to: "2023-02-05" }],
    ["a day without a year", "What happened on Dec. 20?", { from: "2022-12-20", to: "2022-12-20" }],
  ])("reads %s relative to asOf, not to the newest document", (_name, q, range) => {
    expect(dateIntent(q, "2023-02-05").range).toEqual(range);
  });

  it.each([
    ["on the day", "2023-02-05", 1],
    ["one half-life before", "2023-01-29", 0.5],
    ["two half-lives before", "2023-01-22", 0.25],
    ["after it", "2023-02-06", 0],
    ["undated", undefined, 0],
  ])("weighs a document dated %s", (_name, date, weight) => {
    expect(recencyWeight(date, "2023-02-05", 7)).toBeCloseTo(weight, 10);
  });
});

describe("follow-up questions", () => {
  it.each([
    ["What else did he say?", true],
    ["Where was it held?", true],
    ["And the date?", true],
    ["Who is China's foreign minister?", false],
    ["Where was the Hernán Santa Cruz Dialogue held?", false],
    ["Which country hosted the dialogue that ESCR experts attended?", false],
  ])("%s is a follow-up: %s", (q, expected) => {
    expect(isFollowUp(q)).toBe(expected);
  });

  it("finds the names a pronoun may refer to, skipping a capitalised first word and days", () => {
    expect(namedPhrases("Foreign Minister Wang Yi said Monday that China will work with the UN.")).toEqual([
      "Foreign Minister Wang Yi",
      "China",
      "UN",
    ]);
  });

  it("expands a follow-up with the previous question and the names in the previous answer", () => {
    const history = [
      { role: "user" as const, text: "Who is China's foreign minister?" },
      { role: "assistant" as const, text: "Foreign Minister Wang Yi said Monday. [1] More text." },
    ];
    expect(rewriteQuery("Where was it held?", history)).toBe(
      "Where was it held? Who is China's foreign minister? Foreign Minister Wang Yi",
    );
  });

  it("names the person a follow-up's he or she stands for, and that is its query", () => {
    const history = [
      { role: "user" as const, text: "Who is China's foreign minister?" },
      { role: "assistant" as const, text: "Foreign Minister Wang Yi said Monday. [1] More text." },
    ];
    expect(readingQuestion("What else did he say?", history)).toBe("What else did Wang Yi say?");
    expect(rewriteQuery("What else did he say?", history)).toBe("What else did Wang Yi say?");
    expect(readingQuestion("What was his role?", history)).toBe("What was Wang Yi's role?");
    expect(readingQuestion("What was her title?", history)).toBe("What was Wang Yi's title?");
    expect(readingQuestion("Who wrote to her?", history)).toBe("Who wrote to Wang Yi?");
    // Not a person, no history, no name of two words, or no pronoun: nothing to resolve.
    expect(readingQuestion("Where was it held?", history)).toBeUndefined();
    expect(readingQuestion("What else did he say?", [])).toBeUndefined();
    expect(
      readingQuestion("What else did he say?", [
        { role: "user", text: "Who spoke?" },
        { role: "assistant", text: "The minister spoke. [1]" },
      ]),
    ).toBeUndefined();
    // A name the question itself said is what it asked about, not the answer.
    expect(
      readingQuestion("What else did she say?", [
        { role: "user", text: "What did Ursula von der Leyen say?" },
        { role: "assistant", text: "Ursula von der Leyen said that Jane Doe was right. [1]" },
      ]),
    ).toBe("What else did Jane Doe say?");
  });

  it("leaves a self-contained question, or one without history, as it is", () => {
    const history = [{ role: "user" as const, text: "Who is China's foreign minister?" }];
    expect(rewriteQuery("Where was the Hernán Santa Cruz Dialogue held?", history)).toBe(
      "Where was the Hernán Santa Cruz Dialogue held?",
    );
    expect(rewriteQuery("What else did he say?", [])).toBe("What else did he say?");
  });
});
