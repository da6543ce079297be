import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Span } from "../../core/types.ts";
import { splitSentences } from "../../ingest/sentences.ts";

const XINHUA_LEAD =
  "HANGZHOU, Dec. 9 (Xinhua) -- China will continue to work with all countries and UN agencies to " +
  "pursue the common values of humanity, safeguard human rights with security, promote human rights " +
  "with development, and advance human rights with cooperation, to contribute to sound and sustainable " +
  "development of the global human rights cause, Foreign Minister Wang Yi said Monday.";

const texts = (text: string): string[] => splitSentences(text).map((s) => s.text);

describe("splitSentences", () => {
  it.each<[string, string, string[]]>([
    ["keeps a Xinhua lead with a dateline abbreviation whole", XINHUA_LEAD, [XINHUA_LEAD]],
    [
      "keeps an elided quotation whole",
      "HANGZHOU, Dec. 9 (Xinhua) -- China will continue ... Foreign Minister Wang Yi said Monday.",
      ["HANGZHOU, Dec. 9 (Xinhua) -- China will continue ... Foreign Minister Wang Yi said Monday."],
    ],
    [
      "splits plain sentences",
      "The talks ended. Both sides left! Was it worth it? Nobody knows.",
      ["The talks ended.", "Both sides left!", "Was it worth it?", "Nobody knows."],
    ],
    [
      "does not split after titles",
      "Mr. Smith met Dr. Jones and Prof. Lee. They talked.",
      ["Mr. Smith met Dr. Jones and Prof. Lee.", "They talked."],
    ],
    [
      "does not split after dotted initialisms before a name",
      "The U.S. President and U.N. Secretary-General spoke. Talks continue.",
      ["The U.S. President and U.N. Secretary-General spoke.", "Talks continue."],
    ],
    [
      "splits after an initialism that ends a sentence",
      "The firm is based in the U.S. The move surprised analysts.",
      ["The firm is based in the U.S.", "The move surprised analysts."],
    ],
    [
      "does not split after e.g., i.e. or vs.",
      "Some fruit, e.g. Apples, i.e. Fuji. Arsenal vs. Chelsea ended 2-1.",
      ["Some fruit, e.g. Apples, i.e. Fuji.", "Arsenal vs. Chelsea ended 2-1."],
    ],
    [
      "does not split after No. before a number, but does after the word No",
      "No. 5 was chosen. No. That was wrong.",
      ["No. 5 was chosen.", "No.", "That was wrong."],
    ],
    [
      "does not split after month abbreviations before a date",
      "It opened Jan. 3 and closed Sept. 30. Sales rose.",
      ["It opened Jan. 3 and closed Sept. 30.", "Sales rose."],
    ],
    [
      "does not split after company and street abbreviations before a name",
      "Acme Inc. Chief Executive Jane Doe lives on Main St. She agreed.",
      ["Acme Inc. Chief Executive Jane Doe lives on Main St.", "She agreed."],
    ],
    [
      "does not split after single-letter initials",
      "J. R. R. Tolkien wrote it. George W. Bush read it.",
      ["J. R. R. Tolkien wrote it.", "George W. Bush read it."],
    ],
    [
      "does not split inside decimal numbers",
      "Growth was 3.5 percent, up from 2.9. Prices rose 0.4 percent.",
      ["Growth was 3.5 percent, up from 2.9.", "Prices rose 0.4 percent."],
    ],
    [
      "keeps closing quotes with the sentence they end",
      'He said "no." Then he left. She asked, "Why?" Nobody answered.',
      ['He said "no."', "Then he left.", 'She asked, "Why?"', "Nobody answered."],
    ],
    [
      "keeps closing brackets with the sentence they end",
      "(He left early.) She stayed. [Editor's note.] End",
      ["(He left early.)", "She stayed.", "[Editor's note.]", "End"],
    ],
    [
      "splits before an opening quote",
      'It was over. "We won," he said.',
      ["It was over.", '"We won," he said.'],
    ],
    [
      "does not split before a lowercase word",
      '"Stop!" she shouted. What? no way.',
      ['"Stop!" she shouted.', "What? no way."],
    ],
    [
      "does not split at an ellipsis within a line",
      "He paused... then went on. Wait for it… It came.",
      ["He paused... then went on.", "Wait for it… It came."],
    ],
    [
      "treats unpunctuated text as one sentence",
      "just some words without an end",
      ["just some words without an end"],
    ],
    [
      "ends a sentence at each line without terminal punctuation",
      "China ready to work with all parties: FM\nHANGZHOU, Dec. 9 (Xinhua) -- It said so.",
      ["China ready to work with all parties: FM", "HANGZHOU, Dec. 9 (Xinhua) -- It said so."],
    ],
    [
      "ends list items at line breaks",
      "Key points:\n- first item\n- second item\nDone.",
      ["Key points:", "- first item", "- second item", "Done."],
    ],
    [
      "ends a sentence at a blank line even after an abbreviation",
      "He met Mr.\n\nSmith arrived later.",
      ["He met Mr.", "Smith arrived later."],
    ],
    [
      "joins hard-wrapped lines that continue in lowercase",
      "The minister said on Monday that the plan.\nwould go ahead. It will.",
      ["The minister said on Monday that the plan.\nwould go ahead.", "It will."],
    ],
    [
      "keeps a title abbreviation across a line break",
      "They met Mr.\nSmith on Friday.",
      ["They met Mr.\nSmith on Friday."],
    ],
    [
      "collapses runs of spaces and blank lines",
      "  First one.     Second one.\n\n\n\n   Third one.  \r\n\r\n Fourth  ",
      ["First one.", "Second one.", "Third one.", "Fourth"],
    ],
    [
      "splits CJK text at 。！？ without whitespace",
      "中国将继续努力。他说：“好！”真的吗？是的",
      ["中国将继续努力。", "他说：“好！”", "真的吗？", "是的"],
    ],
    ["returns nothing for whitespace", " \n\t\u3000 ", []],
  ])("%s", (_name, input, expected) => {
    expect(texts(input)).toEqual(expected);
  });

  it("splits only the requested range, with offsets into the whole text", () => {
    const text = "Skip this. Take this one. And this. Not this.";
    const from = text.indexOf("Take");
    const to = text.indexOf("Not") - 1;
    expect(splitSentences(text, from, to)).toEqual([
      { start: from, end: from + 14, text: "Take this one." },
      { start: from + 15, end: from + 24, text: "And this." },
    ]);
  });

  it("splits the paragraphs of a news article into sentences", () => {
    const article =
      "China ready to work with all parties to advance human rights cause: FM\n\n" +
      `${XINHUA_LEAD}\n\n` +
      "Committed to putting the people first, China has found a path. Historic achievements have been made, he added.\n";
    expect(texts(article)).toEqual([
      "China ready to work with all parties to advance human rights cause: FM",
      XINHUA_LEAD,
      "Committed to putting the people first, China has found a path.",
      "Historic achievements have been made, he added.",
    ]);
  });
});

/** Fragments that exercise every rule: abbreviations, terminators, quotes, line breaks, CJK, emoji. */
const fragment = fc.oneof(
  fc.constantFrom(
    "Dec.",
    "U.S.",
    "Mr.",
    "No.",
    "e.g.",
    "J.",
    "3.5",
    "...",
    "…",
    ".",
    "!",
    "?",
    '."',
    "?)",
    '"',
    "(",
    "The",
    "said",
    "Monday",
    "中文句子。",
    "好！",
    "」",
    "😀",
    "👍🏽",
    "\n",
    "\n\n",
    "\r\n",
    " ",
    "   ",
    "\t",
    "\u00a0",
    "\u3000",
  ),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 3 }),
);
const prose = fc.array(fragment, { maxLength: 60 }).map((parts) => parts.join(""));
const anyText = fc.oneof(prose, fc.string({ unit: "binary", maxLength: 200 }), fc.string({ maxLength: 200 }));

/** Checks every invariant of a split of `text[from, to)`; returns nothing so the property fails by throwing. */
function expectValidSplit(text: string, from: number, to: number, spans: Span[]): void {
  let prevEnd = from;
  for (const s of spans) {
    expect(text.slice(s.start, s.end)).toBe(s.text);
    expect(s.text.length).toBeGreaterThan(0);
    expect(s.text.trim()).toBe(s.text);
    expect(s.start).toBeGreaterThanOrEqual(prevEnd);
    prevEnd = s.end;
  }
  expect(prevEnd).toBeLessThanOrEqual(to);
  const covered = new Uint8Array(text.length);
  for (const s of spans) covered.fill(1, s.start, s.end);
  for (let i = from; i < to; i++) {
    if (/\S/.test(text[i]!)) expect(covered[i], `character ${i} of ${JSON.stringify(text)}`).toBe(1);
  }
}

describe("splitSentences properties", () => {
  it("gives exact, trimmed, ordered, non-overlapping spans covering all non-whitespace", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expectValidSplit(text, 0, text.length, splitSentences(text));
      }),
      { numRuns: 500 },
    );
  });

  it("keeps the same guarantees for any sub-range", () => {
    fc.assert(
      fc.property(
        anyText.chain((text) =>
          fc.tuple(fc.constant(text), fc.nat({ max: text.length }), fc.nat({ max: text.length })),
        ),
        ([text, a, b]) => {
          const from = Math.min(a, b);
          const to = Math.max(a, b);
          expectValidSplit(text, from, to, splitSentences(text, from, to));
        },
      ),
      { numRuns: 300 },
    );
  });
});
