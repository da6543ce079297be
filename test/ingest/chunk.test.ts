import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Span } from "../../core/types.ts";
import { type ChunkOptions, chunkDocument, chunkText } from "../../ingest/chunk.ts";
import { splitSentences } from "../../ingest/sentences.ts";

/**
 * A small deterministic stand-in for the model tokenizer: one token per CJK character, per run of
 * other letters, per run of digits and per other non-space symbol. Like WordPiece it is additive
 * across whitespace. The real tokenizer is exercised in the embedder tests.
 */
const TOKEN =
  /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]|(?:(?![\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}])\p{L})+|\p{N}+|[^\s\p{L}\p{N}]/gu;
const countTokens = (text: string): number => text.match(TOKEN)?.length ?? 0;

const opts = (maxTokens: number, overlapTokens = 0, prefixTokens = 0): ChunkOptions => ({
  maxTokens,
  overlapTokens,
  countTokens,
  prefixTokens,
});

const texts = (spans: Span[]): string[] => spans.map((s) => s.text);

/** Checks every invariant of a chunking; fails by throwing. */
function expectValidChunks(text: string, o: ChunkOptions, chunks: Span[]): void {
  const sentenceStarts = new Set(splitSentences(text).map((s) => s.start));
  for (const [i, c] of chunks.entries()) {
    expect(text.slice(c.start, c.end)).toBe(c.text);
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.text.trim()).toBe(c.text);
    expect(countTokens(c.text) + (o.prefixTokens ?? 0)).toBeLessThanOrEqual(o.maxTokens);
    // Never between the halves of a surrogate pair.
    expect(isLowSurrogate(text.charCodeAt(c.start)) && isHighSurrogate(text.charCodeAt(c.start - 1))).toBe(
      false,
    );
    expect(isHighSurrogate(text.charCodeAt(c.end - 1)) && isLowSurrogate(text.charCodeAt(c.end))).toBe(false);
    const prev = chunks[i - 1];
    if (!prev) continue;
    expect(c.start).toBeGreaterThan(prev.start);
    expect(c.end).toBeGreaterThan(prev.end);
    if (c.start < prev.end) {
      // Overlap: whole trailing sentences of the previous chunk, within the overlap budget.
      expect(sentenceStarts.has(c.start)).toBe(true);
      expect(countTokens(text.slice(c.start, prev.end))).toBeLessThanOrEqual(o.overlapTokens);
    }
  }
  const covered = new Uint8Array(text.length);
  for (const c of chunks) covered.fill(1, c.start, c.end);
  for (let i = 0; i < text.length; i++) {
    if (/\S/.test(text[i]!)) expect(covered[i], `character ${i} of ${JSON.stringify(text)}`).toBe(1);
  }
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

const word = fc.oneof(
  fc.constantFrom("the", "minister", "said", "Monday", "Dec.", "U.S.", "Mr.", "3.5", "percent", "Xinhua"),
  fc.stringMatching(/^[a-z]{1,12}$/),
  fc.constantFrom("中国将继续努力", "东京", "😀", "👍🏽", "supercalifragilisticexpialidocious"),
);
const separator = fc.constantFrom(
  " ",
  " ",
  " ",
  ", ",
  ". ",
  "! ",
  "? ",
  '." ',
  "\n",
  "\n\n",
  "。",
  "  ",
  "\r\n",
);
/** Generated "prose": words, punctuation, line and paragraph breaks, some CJK and emoji. */
const prose = fc
  .array(fc.tuple(word, separator), { maxLength: 120 })
  .map((pairs) => pairs.map(([w, s]) => w + s).join(""));
const anyText = fc.oneof(prose, fc.string({ unit: "binary", maxLength: 300 }), fc.string({ maxLength: 300 }));
const options = fc
  .record({
    maxTokens: fc.integer({ min: 1, max: 80 }),
    overlapTokens: fc.integer({ min: 0, max: 30 }),
    prefixTokens: fc.integer({ min: 0, max: 20 }),
  })
  .filter((o) => o.prefixTokens < o.maxTokens)
  .map((o) => opts(o.maxTokens, o.overlapTokens, o.prefixTokens));

describe("chunkText properties", () => {
  it("gives exact, ordered, covering chunks within the token bound for any text", () => {
    fc.assert(
      fc.property(anyText, options, (text, o) => {
        expectValidChunks(text, o, chunkText(text, o));
      }),
      { numRuns: 300 },
    );
  });

  it("gives exact, ordered, covering chunks within the token bound for prose", () => {
    fc.assert(
      fc.property(prose, options, (text, o) => {
        expectValidChunks(text, o, chunkText(text, o));
      }),
      { numRuns: 500 },
    );
  });

  it("repeats nothing when the overlap budget is zero", () => {
    fc.assert(
      fc.property(prose, fc.integer({ min: 1, max: 60 }), (text, max) => {
        const chunks = chunkText(text, opts(max, 0));
        for (let i = 1; i < chunks.length; i++)
          expect(chunks[i]!.start).toBeGreaterThanOrEqual(chunks[i - 1]!.end);
      }),
    );
  });

  it("never asks the tokenizer about more than a few times the text", () => {
    fc.assert(
      fc.property(prose, options, (text, o) => {
        let chars = 0;
        chunkText(text, {
          ...o,
          countTokens: (t) => {
            chars += t.length;
            return countTokens(t);
          },
        });
        // At most each sentence, then each of its words, then each of their characters.
        expect(chars).toBeLessThanOrEqual(3 * text.length);
      }),
    );
  });
});

describe("chunkText", () => {
  it("returns no chunks for empty or whitespace-only text", () => {
    expect(chunkText("", opts(10))).toEqual([]);
    expect(chunkText(" \n\n\t\u3000 ", opts(10))).toEqual([]);
  });

  it("packs whole sentences greedily and keeps the whitespace between them", () => {
    const text = "One two three.  Four five six.\nSeven eight nine. Ten.";
    // Sentences count 4, 4, 4 and 2 tokens.
    expect(chunkText(text, opts(9))).toEqual([
      { start: 0, end: 30, text: "One two three.  Four five six." },
      { start: 31, end: 53, text: "Seven eight nine. Ten." },
    ]);
  });

  it("reserves prefixTokens of the budget for the title prefix", () => {
    const text = "One two three.  Four five six.\nSeven eight nine. Ten.";
    expect(texts(chunkText(text, opts(9, 0, 2)))).toEqual([
      "One two three.",
      "Four five six.",
      "Seven eight nine. Ten.",
    ]);
  });

  it("starts the next chunk with the last whole sentences that fit the overlap", () => {
    const text = "A b c. D e f. G h i. J k l. M n o.";
    expect(texts(chunkText(text, opts(12, 4)))).toEqual(["A b c. D e f. G h i.", "G h i. J k l. M n o."]);
    expect(texts(chunkText(text, opts(12, 8)))).toEqual([
      "A b c. D e f. G h i.",
      "D e f. G h i. J k l.",
      "G h i. J k l. M n o.",
    ]);
  });

  it("ends a chunk at a paragraph break once it is at least half full", () => {
    const text = "A b c. D e f.\n\nG h i. J k l. M n o.";
    expect(texts(chunkText(text, opts(12)))).toEqual(["A b c. D e f.", "G h i. J k l. M n o."]);
  });

  it("fills past a paragraph break when the chunk is less than half full", () => {
    const text = "A b c.\n\nD e f. G h i. J k l. M n o.";
    expect(texts(chunkText(text, opts(16)))).toEqual(["A b c.\n\nD e f. G h i. J k l.", "M n o."]);
  });

  it("does not split a dateline sentence at Dec. 9", () => {
    const text = "HANGZHOU, Dec. 9 (Xinhua) -- China said it will work with all. Wang Yi said Monday.";
    expect(texts(chunkText(text, opts(20)))).toEqual([
      "HANGZHOU, Dec. 9 (Xinhua) -- China said it will work with all.",
      "Wang Yi said Monday.",
    ]);
  });

  it("keeps a closing quote with its sentence", () => {
    expect(texts(chunkText('He said "no." Then he left.', opts(6)))).toEqual([
      'He said "no."',
      "Then he left.",
    ]);
  });

  it("splits a long sentence without punctuation at word boundaries, without overlap", () => {
    const words = Array.from({ length: 50 }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}`);
    const text = words.join(" ");
    const chunks = chunkText(text, opts(7, 3));
    expect(chunks.map((c) => c.text.split(" ").length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(chunks.map((c) => c.text).join(" ")).toBe(text);
    expectValidChunks(text, opts(7, 3), chunks);
  });

  it("splits a long CJK paragraph at its sentence ends and a long run at characters", () => {
    const text = "中国将继续同各国合作。推动人权事业发展！共同努力";
    expect(texts(chunkText(text, opts(13)))).toEqual([
      "中国将继续同各国合作。",
      "推动人权事业发展！共同努力",
    ]);
    expect(texts(chunkText(text, opts(4)))).toEqual([
      "中国将继",
      "续同各国",
      "合作。",
      "推动人权",
      "事业发展",
      "！",
      "共同努力",
    ]);
  });

  it("never splits an emoji's surrogate pair", () => {
    const text = "😀😀😀😀😀";
    const chunks = chunkText(text, opts(2));
    expect(texts(chunks)).toEqual(["😀😀", "😀😀", "😀"]);
  });

  it("makes progress with a one-token budget, counting a split word's characters one by one", () => {
    const text = "Mr. Smith said no. 中文。";
    expect(texts(chunkText(text, opts(1, 1)))).toEqual([
      "M",
      "r",
      ".",
      "Smith",
      "said",
      "n",
      "o",
      ".",
      "中",
      "文",
      "。",
    ]);
  });

  it("calls the tokenizer once per sentence when every sentence fits", () => {
    const calls: string[] = [];
    const text = "First one here. Second one here.\n\nThird one.";
    chunkText(text, {
      ...opts(100, 10),
      countTokens: (t) => {
        calls.push(t);
        return countTokens(t);
      },
    });
    expect(calls).toEqual(["First one here.", "Second one here.", "Third one."]);
  });

  it.each<[string, ChunkOptions, string]>([
    ["a zero maxTokens", opts(0), "maxTokens is 0; it must be a positive integer"],
    ["a fractional maxTokens", opts(2.5), "maxTokens is 2.5; it must be a positive integer"],
    ["a negative overlap", opts(10, -1), "overlapTokens is -1; it must be a non-negative integer"],
    ["a negative prefix", opts(10, 0, -1), "prefixTokens is -1; it must be a non-negative integer"],
    [
      "a prefix that fills the budget",
      opts(10, 0, 10),
      "prefixTokens is 10; it must be under maxTokens (10)",
    ],
  ])("refuses %s", (_name, o, message) => {
    expect(() => chunkText("Some text.", o)).toThrow(new RangeError(message));
  });
});

describe("chunkDocument", () => {
  it("numbers chunks from 0 and ids them by document", () => {
    const doc = { id: "2024/xinhua-hr", text: "One two three. Four five six. Seven eight nine." };
    const chunks = chunkDocument(doc, opts(8));
    expect(chunks).toEqual([
      {
        id: "2024/xinhua-hr#0",
        docId: "2024/xinhua-hr",
        ordinal: 0,
        start: 0,
        end: 29,
        text: "One two three. Four five six.",
      },
      {
        id: "2024/xinhua-hr#1",
        docId: "2024/xinhua-hr",
        ordinal: 1,
        start: 30,
        end: 47,
        text: "Seven eight nine.",
      },
    ]);
  });

  it("gives ids and ordinals that match positions for any document", () => {
    fc.assert(
      fc.property(prose, options, (text, o) => {
        const chunks = chunkDocument({ id: "d", text }, o);
        expect(chunks.map((c) => c.id)).toEqual(chunks.map((_, i) => `d#${i}`));
        expect(chunks.map((c) => c.ordinal)).toEqual(chunks.map((_, i) => i));
        expect(chunks.every((c) => c.docId === "d")).toBe(true);
        expect(chunks.map(({ start, end, text }) => ({ start, end, text }))).toEqual(chunkText(text, o));
      }),
    );
  });
});
