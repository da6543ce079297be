import { describe, expect, it } from "vitest";
import { answerFrom, matchStrength, notFoundBar, readKey, SELECTOR } from "../../core/answer.ts";
import { AnnotationCache } from "../../core/nlp.ts";
import type { Retrieval } from "../../core/retrieval.ts";
import { contentTerms, stem } from "../../core/text.ts";
import type { ReadScore } from "../../core/types.ts";
import { readerFavouriteFirst } from "../helpers/reader-settings.ts";

const TEXT = "Gustave Eiffel built the tower in Paris in 1889. It rose above every roof nearby.";
const SPLIT = TEXT.indexOf(" It rose");
const QUESTION = "Who built the tower in Paris?";

/** One passage of one document whose two sentences the trees and a reader see differently. */
function retrieval(cosine: number): Retrieval {
  const passage = {
    label: 0,
    chunk: { id: "d#0", docId: "d", ordinal: 0, start: 0, end: TEXT.length, text: TEXT, label: 0 },
    doc: { id: "d", title: "The tower" },
    score: 1,
    dense: { rank: 1, score: cosine },
  };
  return { query: QUESTION, passages: [passage] } as unknown as Retrieval;
}

describe("answerFrom with the reader", () => {
  it("decides not found on the trees' best sentence when the reader puts another first", () => {
    // The reader puts its favourite first whatever the trees say, and refuses nothing.
    const settings = readerFavouriteFirst({ read: 2 });
    const model = { ...SELECTOR, reader: settings };
    const sentences = [
      [
        { start: 0, end: SPLIT },
        { start: SPLIT + 1, end: TEXT.length },
      ],
    ];
    const reads = new Map<string, ReadScore>([
      [readKey({ docId: "d", start: 0, end: SPLIT }), { logit: -4 }],
      [readKey({ docId: "d", start: SPLIT + 1, end: TEXT.length }), { logit: 4 }],
    ]);
    const weights = new Map(contentTerms(QUESTION).map((t) => [stem(t), 1]));
    const reading = { sentences, weights, annotations: new AnnotationCache(), reads };
    const config = { answerSentences: 1, notFoundThreshold: 0.45 };
    const bar = notFoundBar(0.45, contentTerms(QUESTION).length);
    // The passage's cosine puts the bar between the two sentences' match strengths: the first
    // holds every question term (lexical 1), the second none (lexical 0).
    const cosine = 0.5;
    expect(matchStrength({ dense: cosine, lexical: 0 })).toBeLessThan(bar);
    expect(matchStrength({ dense: cosine, lexical: 1 })).toBeGreaterThan(bar);

    const composed = answerFrom(reading, retrieval(cosine), QUESTION, config, { model });
    // The reader's favourite is the answer, and the bar was met by the trees' best.
    expect(composed.notFound).toBe(false);
    expect(composed.sentences.map((s) => s.start)).toEqual([SPLIT + 1]);
    expect(composed.evidence).toBeCloseTo(matchStrength({ dense: cosine, lexical: 1 }), 10);
  });
});
