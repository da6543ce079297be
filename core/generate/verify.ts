/**
 * The check every generated sentence passes before anyone sees it. Pure.
 *
 * A sentence is shown only when it cites at least one of the passages the model was given, cites
 * none it was not given, and every number, name, negation and rare content word in it occurs in
 * the passages it cites. Paraphrase of common words is allowed; invention of specifics is not.
 */
import type { RejectReason } from "../protocol.ts";
import { isStopword, stem, words } from "../text.ts";

/** A passage as the model saw it, numbered as in the prompt. */
export interface EvidencePassage {
  n: number;
  docId: string;
  chunkId: string;
  /** Offset of `text` in the document. */
  start: number;
  text: string;
  /** Sentence spans of the passage, in document offsets (the page highlights these). */
  sentences: readonly { start: number; end: number }[];
}

/** The passage sentence that supports a generated sentence, for one cited number. */
export interface Support {
  n: number;
  docId: string;
  chunkId: string;
  start: number;
  end: number;
  /** doc.text.slice(start, end). */
  text: string;
}

/** Why a sentence fails; the wire shape (a withheld sentence's reason) in core/protocol.ts. */
export type { RejectReason };

export type Verdict =
  | {
      ok: true;
      /** The sentence as shown: the model's words, then its markers in canonical form ("… [1][3]"). */
      text: string;
      /** The sentence without markers. */
      claim: string;
      cited: number[];
      support: Support[];
    }
  | { ok: false; reason: RejectReason; detail: string; sentence: string };

export interface VerifyOptions {
  /** Words common enough in the corpus that a paraphrase may use them without a source. */
  isCommon?: (word: string) => boolean;
}

const MARKER = /\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]/g;
const NUMBER = /\d+(?:[.,]\d+)*/g;
/** A sentence that stops on one of these was cut off ("The name of the game is."). */
const DANGLING = new Set(
  "a an the is are was were be of to in on at by for with from and or but as that which who whose than".split(
    " ",
  ),
);
const NEGATIONS = new Set(["not", "no", "never", "none", "neither", "nor", "without", "cannot"]);

/** The cited numbers of a sentence, in order of first appearance, and its text without markers. */
export function parseMarkers(sentence: string): { claim: string; cited: number[] } {
  const cited: number[] = [];
  for (const m of sentence.matchAll(MARKER)) {
    for (const part of (m[1] ?? "").split(/[,;]/)) {
      const n = Number(part.trim());
      if (!cited.includes(n)) cited.push(n);
    }
  }
  const claim = sentence
    .replace(MARKER, "")
    .replace(/\s+([.,;:!?])/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
  return { claim, cited };
}

/** "1,000" and "1000" are one number, "05" and "5" too. */
function normNumber(raw: string): string {
  const plain = raw.replace(/,(?=\d{3}\b)/g, "");
  const n = Number(plain.replace(/,/g, "."));
  return Number.isFinite(n) ? String(n) : plain;
}

function numbersIn(text: string): string[] {
  return (text.match(NUMBER) ?? []).map(normNumber);
}

/** Capitalised words that are not the first word of the sentence: names, months, places. */
function namesIn(claim: string): string[] {
  const tokens = claim.match(/[\p{L}][\p{L}'’-]*/gu) ?? [];
  return tokens
    .slice(1)
    .filter((t) => /^\p{Lu}/u.test(t))
    .map((t) => t.toLowerCase().replace(/['’]s$/, ""))
    .filter((t) => !isStopword(t));
}

/** Two stems match when equal, or when long words share a long prefix ("completion"/"completed"). */
function sameWord(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.length < 7 || b.length < 7) return false;
  return a.slice(0, 7) === b.slice(0, 7);
}

function holds(stems: ReadonlySet<string>, word: string): boolean {
  const s = stem(word);
  if (stems.has(s)) return true;
  for (const t of stems) if (sameWord(s, t)) return true;
  return false;
}

/** Which sentence of a passage supports the claim best: most shared content words and numbers. */
function bestSentence(p: EvidencePassage, claimStems: ReadonlySet<string>, claimNumbers: readonly string[]) {
  const spans = p.sentences.length > 0 ? p.sentences : [{ start: p.start, end: p.start + p.text.length }];
  let best = spans[0]!;
  let bestScore = -1;
  for (const s of spans) {
    const text = p.text.slice(s.start - p.start, s.end - p.start);
    const stems = new Set(words(text).map(stem));
    const nums = new Set(numbersIn(text));
    let score = 0;
    for (const c of claimStems) if (stems.has(c)) score += 1;
    for (const c of claimNumbers) if (nums.has(c)) score += 2;
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return { start: best.start, end: best.end, text: p.text.slice(best.start - p.start, best.end - p.start) };
}

/** Checks one generated sentence against the passages the model was given. */
export function verifySentence(
  sentence: string,
  passages: readonly EvidencePassage[],
  opts: VerifyOptions = {},
): Verdict {
  const reject = (reason: RejectReason, detail: string): Verdict => ({ ok: false, reason, detail, sentence });
  const { claim, cited } = parseMarkers(sentence);
  if (cited.length === 0) return reject("NO_CITATION", "the sentence cites no passage");
  const byN = new Map(passages.map((p) => [p.n, p]));
  const unknown = cited.filter((n) => !byN.has(n));
  if (unknown.length > 0) return reject("UNKNOWN_SOURCE", `cites [${unknown.join("], [")}], not given`);
  const sources = cited.map((n) => byN.get(n)!);
  const evidence = sources.map((p) => p.text).join("\n");
  const evidenceWords = words(evidence);
  const evidenceStems = new Set(evidenceWords.map(stem));
  const evidenceNumbers = new Set(numbersIn(evidence));

  const claimWords = words(claim);
  const content = claimWords.filter((w) => !isStopword(w.replace(/['’]s$/, "")) && !/\d/.test(w));
  const claimNumbers = numbersIn(claim);
  if (content.length === 0 && claimNumbers.length === 0)
    return reject("NO_CONTENT", "the sentence says nothing");
  const last = claimWords.at(-1);
  if (last !== undefined && DANGLING.has(last))
    return reject("INCOMPLETE", `the sentence stops at "${last}"`);

  const number = claimNumbers.find((x) => !evidenceNumbers.has(x));
  if (number !== undefined) return reject("UNSUPPORTED_NUMBER", `"${number}" is not in the cited passages`);
  const name = namesIn(claim).find((w) => !holds(evidenceStems, w));
  if (name !== undefined) return reject("UNSUPPORTED_NAME", `"${name}" is not in the cited passages`);
  const evidenceNegated = evidenceWords.some((w) => NEGATIONS.has(w) || w.endsWith("n't"));
  const negation = claimWords.find((w) => NEGATIONS.has(w) || w.endsWith("n't"));
  if (negation !== undefined && !evidenceNegated) {
    return reject("UNSUPPORTED_NEGATION", `"${negation}" negates what the cited passages say`);
  }
  const isCommon = opts.isCommon ?? (() => false);
  const word = content.find((w) => !holds(evidenceStems, w) && !isCommon(w));
  if (word !== undefined) return reject("UNSUPPORTED_WORD", `"${word}" is not in the cited passages`);

  const claimStems = new Set(content.map(stem));
  const support = sources.map((p) => ({
    n: p.n,
    docId: p.docId,
    chunkId: p.chunkId,
    ...bestSentence(p, claimStems, claimNumbers),
  }));
  return { ok: true, text: `${claim} ${cited.map((n) => `[${n}]`).join("")}`, claim, cited, support };
}

const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "st",
  "jr",
  "sr",
  "vs",
  "no",
  "gen",
  "sen",
  "rep",
  "inc",
]);

/**
 * Where the first complete sentence of streamed text ends, or -1 while it may still grow.
 * A sentence ends after terminal punctuation and any markers that follow it, or at a line break,
 * once the next character shows the sentence is over. With `final`, the rest is a sentence.
 */
export function sentenceEnd(buf: string, final = false): number {
  const re = /[.!?]["'”’)]*((?:\s*\[[\d,;\s]+\])*)\.?|\n/g;
  for (let m = re.exec(buf); m !== null; m = re.exec(buf)) {
    const end = m.index + m[0].length;
    if (m[0] === "\n") {
      if (buf.slice(0, m.index).trim() !== "") return end;
      continue;
    }
    if (end >= buf.length) break;
    const next = buf[end]!;
    if (!/\s/.test(next)) continue;
    // "Dr. Smith" or "U.S. troops": not an end unless markers follow.
    const before = /([\p{L}]+)$/u.exec(buf.slice(0, m.index))?.[1] ?? "";
    const abbreviation =
      ABBREVIATIONS.has(before.toLowerCase()) || (before.length === 1 && /\p{Lu}/u.test(before));
    if (abbreviation && !m[1]) continue;
    // Markers may still follow the punctuation: "… 1889. [1]"
    const rest = buf.slice(end);
    if (!m[1] && /^\s*\[?[\d,;\s]*$/.test(rest) && !final) return -1;
    return end;
  }
  return final && buf.trim() !== "" ? buf.length : -1;
}
