import { describe, expect, it } from "vitest";
import { compose, invalidCitations, toSources } from "../../core/answer.ts";
import type { Passage } from "../../core/retrieval.ts";
import type { Candidate } from "../../core/selector.ts";
import { shapeSources } from "../../core/sources.ts";

// Two made-up documents; each passage is one sentence at a known offset.
const DOCS: Record<string, string> = {
  bridge:
    "Mayor Lena Ortiz opened the Quillby bridge. The bridge cost 40 million crowns. Tolls stay free until 2031.",
  chess: "The Tarnwick team won the chess title. Their coach had played for forty years.",
};

function passage(docId: string, sentence: string, score: number, label: number): Passage {
  const text = DOCS[docId]!;
  const start = text.indexOf(sentence);
  return {
    label,
    score,
    chunk: {
      id: `${docId}#${label}`,
      docId,
      ordinal: label,
      label,
      start,
      end: start + sentence.length,
      text: sentence,
    },
    doc: {
      id: docId,
      title: docId === "bridge" ? "Quillby bridge opens" : "Chess title",
      source: `${docId}.txt`,
      hash: "h",
    },
  } as Passage;
}

/** Passages in rank order: [docId, sentence, fused score]. */
function shaped(ranked: [string, string, number][], cite: number[]) {
  const passages = ranked.map(([d, s, score], i) => passage(d, s, score, i));
  const scored: Candidate[] = cite.map((n, i) => {
    const p = passages[n - 1]!;
    return {
      docId: p.doc.id,
      start: p.chunk.start,
      end: p.chunk.end,
      text: p.chunk.text,
      passage: n - 1,
      dense: 1,
      lexical: 1,
      features: [],
      probability: 1 - i * 0.01,
      annotation: { spans: [], tokens: [] },
    };
  });
  const composed = compose(scored, passages, { maxSentences: 3, threshold: 0.5, follower: 0 });
  return shapeSources(composed, toSources(passages));
}

const OPENED = "Mayor Lena Ortiz opened the Quillby bridge.";
const COST = "The bridge cost 40 million crowns.";
const TOLLS = "Tolls stay free until 2031.";
const CHESS = "The Tarnwick team won the chess title.";
const COACH = "Their coach had played for forty years.";

describe("the sources an answer shows", () => {
  it.each([
    [
      "groups one document's passages together, in text order, renumbering markers and citations",
      [
        ["bridge", TOLLS, 1],
        ["chess", CHESS, 0.9],
        ["bridge", OPENED, 0.8],
      ] as [string, string, number][],
      [3, 1],
      ["bridge:1", "bridge:2", "chess:3"],
      `${OPENED} [1] ${TOLLS} [2]`,
    ],
    [
      "leaves out uncited passages far below the best, keeping cited ones however low",
      [
        ["bridge", OPENED, 1],
        ["bridge", COST, 0.7],
        ["chess", CHESS, 0.3],
        ["chess", COACH, 0.2],
      ] as [string, string, number][],
      [1, 4],
      ["bridge:1", "bridge:2", "chess:3"],
      `${OPENED} [1] ${COACH} [3]`,
    ],
  ])("%s", (_name, ranked, cite, expectedSources, expectedAnswer) => {
    const out = shaped(ranked, cite);
    expect(out.sources.map((s) => `${s.docId}:${s.n}`)).toEqual(expectedSources);
    expect(out.composed.answer).toBe(expectedAnswer);
    expect(invalidCitations(out.composed.answer, out.composed.citations, out.sources)).toEqual([]);
    expect(out.documents.map((d) => [d.docId, d.ns])).toEqual(
      [...new Set(expectedSources.map((s) => s.split(":")[0]!))].map((d) => [
        d,
        expectedSources.filter((s) => s.startsWith(`${d}:`)).map((s) => Number(s.split(":")[1])),
      ]),
    );
  });

  it("keeps every passage when asked to (a request that names k)", () => {
    const passages = [passage("bridge", OPENED, 1, 0), passage("chess", COACH, 0.1, 1)];
    const composed = compose([], passages, { maxSentences: 1, threshold: 0.5, follower: 0.5 });
    expect(shapeSources(composed, toSources(passages), 0).sources).toHaveLength(2);
  });

  it("keeps the best passage when nothing is cited (not found) and drops the far ones", () => {
    const out = shaped(
      [
        ["bridge", OPENED, 0.4],
        ["chess", CHESS, 0.1],
      ],
      [],
    );
    expect(out.sources.map((s) => s.docId)).toEqual(["bridge"]);
    expect(out.composed.notFound).toBe(true);
  });
});
