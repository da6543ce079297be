/**
 * The sources an answer shows: passages far below the best are left out unless cited, and the
 * passages of one document sit together, numbered in a row, so the page shows each document
 * once. Citations and the answer's `[n]` markers are renumbered to match. Pure.
 */
import type { Composed } from "./answer.ts";
import type { Citation, SourceGroup, SourceRef } from "./protocol.ts";

/**
 * A passage joins the sources only when its fused score is at least this share of the best
 * passage's (or when the answer cites it): an unrelated article is not padding at the end.
 */
export const SOURCE_MIN_SHARE = 0.5;

export interface ShapedSources {
  sources: SourceRef[];
  documents: SourceGroup[];
  /** `composed` with citations and markers renumbered to `sources`. */
  composed: Composed;
}

/**
 * Prunes and groups `sources` (numbered in rank order, as `composed` cites them). Documents keep
 * the order of their best passage; a document's passages follow one another in text order.
 */
export function shapeSources(
  composed: Composed,
  sources: readonly SourceRef[],
  minShare = SOURCE_MIN_SHARE,
  /** Source numbers the reader found irrelevant: left out unless cited. */
  irrelevant: ReadonlySet<number> = new Set(),
): ShapedSources {
  const cited = new Set(composed.citations.map((c) => c.n));
  const best = Math.max(0, ...sources.map((s) => s.score));
  const kept = sources.filter(
    (s, i) => i === 0 || cited.has(s.n) || (s.score >= best * minShare && !irrelevant.has(s.n)),
  );

  const byDoc = new Map<string, SourceRef[]>();
  for (const s of kept) {
    const list = byDoc.get(s.docId) ?? [];
    list.push(s);
    byDoc.set(s.docId, list);
  }
  const renumber = new Map<number, number>();
  const out: SourceRef[] = [];
  const documents: SourceGroup[] = [];
  for (const [docId, list] of byDoc) {
    list.sort((a, b) => a.start - b.start);
    const first = list[0]!;
    const group: SourceGroup = { docId, title: first.title, source: first.source, ns: [] };
    if (first.date) group.date = first.date;
    if (first.url) group.url = first.url;
    for (const s of list) {
      const n = out.length + 1;
      renumber.set(s.n, n);
      out.push({ ...s, n });
      group.ns.push(n);
    }
    documents.push(group);
  }
  return { sources: out, documents, composed: renumbered(composed, renumber) };
}

const MARKER_PIECE = /^ (?:\[\d+\])+$/;

/** The answer with every `[n]` marker and citation number mapped through `renumber`. */
function renumbered(composed: Composed, renumber: ReadonlyMap<number, number>): Composed {
  if (composed.citations.length === 0) return composed;
  const pieces: string[] = [];
  // Old and new start of each piece, to move citation offsets with the text they point at.
  const starts: { old: number; now: number; length: number }[] = [];
  let old = 0;
  let now = 0;
  for (const piece of composed.pieces) {
    let next = piece;
    if (MARKER_PIECE.test(piece)) {
      const ns = [...piece.matchAll(/\[(\d+)\]/g)].map((m) => renumber.get(Number(m[1])) ?? Number(m[1]));
      next = ` ${[...new Set(ns)]
        .sort((a, b) => a - b)
        .map((n) => `[${n}]`)
        .join("")}`;
    }
    starts.push({ old, now, length: piece.length });
    pieces.push(next);
    old += piece.length;
    now += next.length;
  }
  const move = (at: number) => {
    const p = starts.find((s) => s.old <= at && at < s.old + s.length) ?? starts[starts.length - 1]!;
    return at - p.old + p.now;
  };
  const citations: Citation[] = composed.citations
    .map((c) => {
      const answerStart = move(c.answerStart);
      return {
        ...c,
        n: renumber.get(c.n) ?? c.n,
        answerStart,
        answerEnd: answerStart + (c.answerEnd - c.answerStart),
      };
    })
    .sort((a, b) => a.answerStart - b.answerStart || a.n - b.n);
  return { ...composed, pieces, answer: pieces.join(""), citations };
}
