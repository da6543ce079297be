/**
 * Pure helpers over answer text: splitting it into plain runs and `[n]` citation markers,
 * matching markers to citations, cutting a snippet around a cited sentence, formatting the copy
 * text, and deciding which URLs may become links.
 */
import type { Citation, SourceRef } from "../../core/protocol.ts";

export type Segment =
  | {
      kind: "text";
      text: string;
      start: number;
      /** answerStart of the cited sentence this run belongs to, if any. */
      sentence?: number;
    }
  | { kind: "marker"; n: number; start: number; end: number };

const MARKER = /\[(\d{1,3})\]/g;

/**
 * Splits `answer` into text runs and markers. Only `[n]` with 1 ≤ n ≤ sourceCount is a marker;
 * anything else (a bracketed year in a quote, say) stays text. Text runs are further split at the
 * boundaries of cited sentences, so a sentence can be highlighted with its chip.
 */
export function segmentAnswer(
  answer: string,
  sourceCount: number,
  citations: readonly Citation[] = [],
): Segment[] {
  const out: Segment[] = [];
  const sentences = uniqueSentences(citations);
  const pushText = (from: number, to: number) => {
    let pos = from;
    while (pos < to) {
      const inside = sentences.find((s) => s.start <= pos && pos < s.end);
      if (inside) {
        const end = Math.min(to, inside.end);
        out.push({ kind: "text", text: answer.slice(pos, end), start: pos, sentence: inside.start });
        pos = end;
      } else {
        const next = sentences.filter((s) => s.start > pos).reduce((min, s) => Math.min(min, s.start), to);
        const end = Math.min(to, next);
        out.push({ kind: "text", text: answer.slice(pos, end), start: pos });
        pos = end;
      }
    }
  };
  let last = 0;
  for (const m of answer.matchAll(MARKER)) {
    const n = Number(m[1]);
    if (n < 1 || n > sourceCount) continue;
    pushText(last, m.index);
    out.push({ kind: "marker", n, start: m.index, end: m.index + m[0].length });
    last = m.index + m[0].length;
  }
  pushText(last, answer.length);
  return out;
}

function uniqueSentences(citations: readonly Citation[]): { start: number; end: number }[] {
  const seen = new Map<number, number>();
  for (const c of citations) if (c.answerEnd > c.answerStart) seen.set(c.answerStart, c.answerEnd);
  return [...seen].map(([start, end]) => ({ start, end })).sort((a, b) => a.start - b.start);
}

/**
 * The citation a marker at offset `at` stands for: among the citations of source `n`, the one
 * whose sentence ends last before the marker (markers follow the sentence they support).
 */
export function citationForMarker(
  citations: readonly Citation[],
  n: number,
  at: number,
): Citation | undefined {
  let best: Citation | undefined;
  for (const c of citations) {
    if (c.n !== n || c.answerEnd > at) continue;
    if (!best || c.answerEnd > best.answerEnd) best = c;
  }
  return best ?? citations.find((c) => c.n === n);
}

export interface SnippetWindow {
  before: string;
  match: string;
  after: string;
  /** True when text was cut off before `before` / after `after`. */
  clippedStart: boolean;
  clippedEnd: boolean;
}

/**
 * The part of `text` around [start, end) with about `context` characters either side, cut at
 * word boundaries. Offsets outside the text give the start of the text with no match.
 */
export function snippetWindow(text: string, start: number, end: number, context = 140): SnippetWindow {
  if (!(start >= 0 && end <= text.length && start <= end)) {
    const cut = Math.min(text.length, context * 2);
    return cutWindow(text, 0, 0, 0, cut);
  }
  let from = Math.max(0, start - context);
  let to = Math.min(text.length, end + context);
  if (from > 0) {
    const space = text.indexOf(" ", from);
    if (space !== -1 && space < start) from = space + 1;
  }
  if (to < text.length) {
    const space = text.lastIndexOf(" ", to);
    if (space > end) to = space;
  }
  return cutWindow(text, from, start, end, to);
}

function cutWindow(text: string, from: number, start: number, end: number, to: number): SnippetWindow {
  return {
    before: text.slice(from, start),
    match: text.slice(start, end),
    after: text.slice(end, to),
    clippedStart: from > 0,
    clippedEnd: to < text.length,
  };
}

/** Source numbers in the order the answer first cites them. */
export function citedNumbers(answer: string, sourceCount: number): number[] {
  const ns: number[] = [];
  for (const s of segmentAnswer(answer, sourceCount))
    if (s.kind === "marker" && !ns.includes(s.n)) ns.push(s.n);
  return ns;
}

/** The answer as plain text for the clipboard: the text, then the sources it cites, numbered. */
export function answerForClipboard(answer: string, sources: readonly SourceRef[]): string {
  const cited = citedNumbers(answer, sources.length);
  const listed = cited.length > 0 ? cited.sort((a, b) => a - b) : sources.map((s) => s.n);
  const lines = listed
    .map((n) => sources[n - 1])
    .filter((s): s is SourceRef => s !== undefined)
    .map(
      (s) =>
        `[${s.n}] ${s.title}${s.date ? ` (${s.date})` : ""}${s.url && safeHref(s.url) ? ` ${s.url}` : ""}`,
    );
  return lines.length > 0 ? `${answer.trim()}\n\nSources:\n${lines.join("\n")}\n` : `${answer.trim()}\n`;
}

/** `url` as a link target when it is an absolute http(s) URL; anything else (javascript:, data:) never is. */
export function safeHref(url: string): string | undefined {
  try {
    const u = new URL(url.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `2024-12-09` as `Dec 9, 2024`; anything else unchanged. */
export function formatDate(iso: string): string {
  const m = DATE.exec(iso);
  if (!m) return iso;
  const month = months[Number(m[2]) - 1];
  return month ? `${month} ${Number(m[3])}, ${m[1]}` : iso;
}
