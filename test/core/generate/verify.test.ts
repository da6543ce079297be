import { describe, expect, it } from "vitest";
import {
  type EvidencePassage,
  parseMarkers,
  sentenceEnd,
  verifySentence,
} from "../../../core/generate/verify.ts";

const DOC_A =
  "Intro text. The Eiffel Tower was completed in 1889 for the World's Fair. It is 330 metres tall.";
const A_START = DOC_A.indexOf("The Eiffel");
const DOC_B = "Big Ben is the nickname of the Great Bell in London. The bell was not cast in 1850.";

function passage(n: number, docId: string, doc: string, from: number): EvidencePassage {
  const text = doc.slice(from);
  const sentences: { start: number; end: number }[] = [];
  for (const m of text.matchAll(/[^.]+\./g)) {
    const lead = m[0].length - m[0].trimStart().length;
    sentences.push({ start: from + m.index + lead, end: from + m.index + m[0].length });
  }
  return { n, docId, chunkId: `${docId}#0`, start: from, text, sentences };
}

const PASSAGES = [passage(1, "eiffel", DOC_A, A_START), passage(2, "bigben", DOC_B, 0)];

describe("verifySentence", () => {
  const accepted: [string, string, number[]][] = [
    ["copies the passage", "The Eiffel Tower was completed in 1889 [1].", [1]],
    ["leaves words out of the passage's sentence", "The tower was completed in 1889. [1]", [1]],
    ["cites two passages in one marker", "The Eiffel Tower is 330 metres tall [1, 2].", [1, 2]],
    ["keeps a negation its passage has", "The bell was not cast in 1850 [2].", [2]],
    ["reads numbers with thousands separators", "It is 330 metres tall [1].", [1]],
  ];
  it.each(accepted)("accepts a sentence that %s", (_, sentence, cited) => {
    const v = verifySentence(sentence, PASSAGES);
    expect(v).toMatchObject({ ok: true, cited });
  });

  const rejected: [string, string, string][] = [
    ["a number its passage lacks", "The Eiffel Tower was completed in 1899 [1].", "UNSUPPORTED_NUMBER"],
    [
      "a date in another form with a wrong day",
      "The tower opened on 31 March 1889 [1].",
      "UNSUPPORTED_NUMBER",
    ],
    ["a name its passage lacks", "The Eiffel Tower was completed in 1889 in Paris [1].", "UNSUPPORTED_NAME"],
    ["a month its passage lacks", "The Eiffel Tower was completed in May 1889 [1].", "UNSUPPORTED_NAME"],
    [
      "a name found only in another, uncited passage",
      "The Eiffel Tower is in London [1].",
      "UNSUPPORTED_NAME",
    ],
    ["a passage that was not given", "The Eiffel Tower was completed in 1889 [3].", "UNKNOWN_SOURCE"],
    [
      "one given and one not given passage",
      "The Eiffel Tower was completed in 1889 [1][7].",
      "UNKNOWN_SOURCE",
    ],
    ["no citation", "The Eiffel Tower was completed in 1889.", "NO_CITATION"],
    ["a negation its passage lacks", "The Eiffel Tower was never completed [1].", "UNSUPPORTED_NEGATION"],
    ["a rare word its passage lacks", "The Eiffel Tower was demolished in 1889 [1].", "UNSUPPORTED_WORD"],
    ["nothing but a marker", "It was. [1]", "NO_CONTENT"],
    ["a cut-off ending", "The Eiffel Tower was completed in 1889 for the. [1]", "INCOMPLETE"],
  ];
  it.each(rejected)("rejects a sentence with %s", (_, sentence, reason) => {
    expect(verifySentence(sentence, PASSAGES)).toMatchObject({ ok: false, reason });
  });

  it("lets common words through only when the corpus says they are common", () => {
    const s = "The Eiffel Tower was finished in 1889 [1].";
    expect(verifySentence(s, PASSAGES)).toMatchObject({ ok: false, reason: "UNSUPPORTED_WORD" });
    expect(verifySentence(s, PASSAGES, { isCommon: (w) => w === "finished" })).toMatchObject({ ok: true });
  });

  it("names the passage sentence that supports each citation, by document offsets", () => {
    const v = verifySentence("The tower is 330 metres tall [1].", PASSAGES);
    if (!v.ok) throw new Error(v.detail);
    expect(v.text).toBe("The tower is 330 metres tall. [1]");
    const s = v.support[0]!;
    expect(s).toMatchObject({ n: 1, docId: "eiffel", text: "It is 330 metres tall." });
    expect(DOC_A.slice(s.start, s.end)).toBe(s.text);
  });
});

describe("parseMarkers", () => {
  it.each([
    ["A fact [1].", "A fact.", [1]],
    ["A fact. [2][1]", "A fact.", [2, 1]],
    ["A fact [1, 3; 3].", "A fact.", [1, 3]],
    ["No markers.", "No markers.", []],
  ] as const)("reads %j", (sentence, claim, cited) => {
    expect(parseMarkers(sentence)).toEqual({ claim, cited });
  });
});

describe("sentenceEnd", () => {
  it.each([
    ["waits for the character after the full stop", "It was built in 1889.", false, -1],
    ["waits for markers that may follow a full stop", "It was built in 1889. [", false, -1],
    ["ends after the markers", "It was built in 1889 [1]. Next", false, "It was built in 1889 [1].".length],
    [
      "ends after markers that follow the stop",
      "Built in 1889. [1][2] Next",
      false,
      "Built in 1889. [1][2]".length,
    ],
    ["does not end inside a decimal", "It cost 3.5 million [1]", false, -1],
    ["does not end after a title", "Dr. Smith said so [1]. X", false, "Dr. Smith said so [1].".length],
    ["ends at a line break", "A fact [1]\nNext", false, "A fact [1]\n".length],
    ["takes the rest as a sentence at the end", "A fact [1]", true, "A fact [1]".length],
    ["has no sentence in blank text", "  ", true, -1],
  ] as const)("%s", (_, buf, final, end) => {
    expect(sentenceEnd(buf, final)).toBe(end);
  });
});
