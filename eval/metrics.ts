/** Evaluation metrics. Pure: rankings, spans and strings in, numbers out. */

/** ASCII punctuation: what Python's `string.punctuation` holds, which the SQuAD script removes. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/** Articles as whole words; word characters are Unicode-aware, as in Python 3's `re`. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/**
 * Normalises an answer or a text the way the official SQuAD v1.1 evaluation script does:
 * lower-case, remove punctuation, remove the articles a/an/the, collapse whitespace.
 */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(PUNCTUATION, "")
    .replace(ARTICLES, " ")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
}

/**
 * True when the normalised answer occurs in the normalised text as whole words, so "50" is not
 * found in "500". An answer that normalises to nothing is never found.
 */
export function containsAnswer(normalizedText: string, normalizedAnswer: string): boolean {
  if (normalizedAnswer === "") return false;
  return ` ${normalizedText} `.includes(` ${normalizedAnswer} `);
}

/** True when any of the (raw) answers occurs in the (raw) text, both normalised. */
export function hasAnyAnswer(text: string, answers: readonly string[]): boolean {
  const norm = normalizeAnswer(text);
  return answers.some((a) => containsAnswer(norm, normalizeAnswer(a)));
}

/** Document ids in order of first appearance: a document ranks where its first passage ranks. */
export function rankDocs(docIdsOfPassages: readonly string[]): string[] {
  return [...new Set(docIdsOfPassages)];
}

/** Share of the gold documents found in the first `n` of the ranking. */
export function recallAt(ranked: readonly string[], gold: readonly string[], n: number): number {
  if (gold.length === 0) return 0;
  const top = new Set(ranked.slice(0, n));
  return gold.filter((g) => top.has(g)).length / gold.length;
}

/** 1 / rank of the first gold document within the first `n`, else 0. */
export function reciprocalRankAt(ranked: readonly string[], gold: readonly string[], n: number): number {
  const g = new Set(gold);
  const i = ranked.slice(0, n).findIndex((d) => g.has(d));
  return i === -1 ? 0 : 1 / (i + 1);
}

/** nDCG over the first `n`, with binary relevance: gold or not. */
export function ndcgAt(ranked: readonly string[], gold: readonly string[], n: number): number {
  const g = new Set(gold);
  if (g.size === 0) return 0;
  let dcg = 0;
  ranked.slice(0, n).forEach((d, i) => {
    if (g.has(d)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(g.size, n); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

export interface Span {
  start: number;
  end: number;
}

/** True when two half-open spans share at least one character. */
export function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}

/**
 * Where a passage lies in its document: its first occurrence, or undefined when the document
 * does not contain it (after the corpus loader's newline normalisation).
 */
export function locatePassage(docText: string, passageText: string): Span | undefined {
  for (const candidate of [passageText.replace(/\r\n?/g, "\n"), passageText.trim()]) {
    if (candidate === "") continue;
    const start = docText.indexOf(candidate);
    if (start !== -1) return { start, end: start + candidate.length };
  }
  return undefined;
}

/** The p-th percentile (0-100) with linear interpolation between ranks; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Arithmetic mean; undefined when empty. */
export function mean(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** part / whole, or undefined when whole is 0 (a rate over nothing is not 0). */
export function rate(part: number, whole: number): number | undefined {
  return whole === 0 ? undefined : part / whole;
}
