/**
 * Sentence boundaries for news text, as exact offsets into the original string.
 *
 * One left-to-right pass; every look-back or look-ahead is bounded by a small constant, so the
 * cost is linear in the text length whatever the input.
 */
import type { Span } from "../core/types.ts";

/** Titles and Latin abbreviations that are never the end of a sentence ("Mr. Smith", "e.g. this"). */
const NEVER_FINAL = new Set([
  "Mr",
  "Mrs",
  "Ms",
  "Mx",
  "Dr",
  "Prof",
  "Sen",
  "Sens",
  "Rep",
  "Reps",
  "Gov",
  "Gen",
  "Lt",
  "Col",
  "Maj",
  "Capt",
  "Cmdr",
  "Cdr",
  "Adm",
  "Sgt",
  "Cpl",
  "Pvt",
  "Rev",
  "Hon",
  "Pres",
  "Supt",
  "Insp",
  "Atty",
  "Messrs",
  "Mme",
  "Mlle",
  "Msgr",
  "vs",
  "v",
  "e.g",
  "i.e",
  "cf",
  "viz",
  "approx",
]);

/** Abbreviations that are not final before a number ("No. 5", "Art. 3") but may be otherwise ("No. That"). */
const BEFORE_NUMBER = new Set([
  "No",
  "Nos",
  "no",
  "Art",
  "Vol",
  "vol",
  "Fig",
  "fig",
  "p",
  "pp",
  "Ch",
  "Sec",
  "Para",
]);

/**
 * Abbreviations that usually continue the sentence ("Dec. 9", "U.S. officials", "Apple Inc. shares")
 * but sometimes end it ("based in the U.S. The company ..."). They end a sentence only before a word
 * that typically opens one (see SENTENCE_OPENERS). Dotted initialisms and single capital letters
 * (initials) are treated the same way without being listed.
 */
const AMBIGUOUS = new Set([
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Sept",
  "Oct",
  "Nov",
  "Dec",
  "Inc",
  "Corp",
  "Ltd",
  "Co",
  "Cos",
  "Bros",
  "Jr",
  "Sr",
  "St",
  "Ste",
  "Ave",
  "Blvd",
  "Rd",
  "Mt",
  "Ft",
  "Dept",
  "Univ",
  "Assn",
  "Intl",
  "Natl",
  "Govt",
  "Esq",
  "etc",
  "al",
]);

const SENTENCE_OPENERS = new Set(
  (
    "The A An He She It They We I You His Her Its Their Our My This That These Those There Here " +
    "But And Or So Yet However Meanwhile Also In On At For From By With After Before When While If As " +
    "Although Though Since Because According Last Next Some Many Most Other Others Both Each All No Not " +
    "Now Then Still What Why How Who Where Which Such Under Over Despite During Earlier Later"
  ).split(" "),
);

/** Closing quotes and brackets that belong to the sentence they follow. */
const CLOSERS = new Set(`"'”’»›)]}」』〉》】〕〗〙〛）］｝＞`);
/** Opening quotes and brackets that may start a sentence. */
const OPENERS = new Set(`"'“‘«‹([{「『〈《【〔（［｛`);

const UPPER_OR_CASELESS = /^[\p{Lu}\p{Lt}\p{Lo}\p{N}]/u;
const LOWER = /^\p{Ll}/u;
const LETTER = /^\p{L}/u;

/** Longest word looked at behind a period or ahead of one; longer words are not abbreviations. */
const MAX_WORD = 12;

const TAIL_OTHER = 0; // the sentence so far ends in an ordinary character
const TAIL_TERMINAL = 1; // ... in . ! ? (plus closing quotes/brackets)
const TAIL_ELLIPSIS = 2; // ... in an ellipsis, which does not end a sentence within a line

const ABBR_NONE = 0;
const ABBR_NEVER = 1;
const ABBR_BEFORE_NUMBER = 2;
const ABBR_AMBIGUOUS = 3;

/**
 * Splits `text[from, to)` into sentences.
 *
 * Each span is trimmed, non-empty and satisfies `text.slice(start, end) === text`; spans are in
 * order, do not overlap, and together cover every non-whitespace character of the range.
 *
 * A sentence ends after `.`, `!` or `?` (with any closing quotes or brackets) when whitespace and
 * then an uppercase letter, digit, caseless letter or opening quote/bracket follow, except after
 * known abbreviations, initials and ellipses. It always ends at a blank line, at a line break
 * after a line without terminal punctuation (headlines, datelines, list items), and right after
 * a CJK terminator (。！？).
 */
export function splitSentences(text: string, from = 0, to = text.length): Span[] {
  const lo = Math.max(0, Math.min(from, text.length));
  const hi = Math.max(lo, Math.min(to, text.length));
  const out: Span[] = [];
  let start = -1; // first character of the sentence in progress, -1 when none
  let end = lo; // just past its last non-whitespace character
  let tail = TAIL_OTHER;
  let abbr = ABBR_NONE;

  const close = (): void => {
    if (start >= 0) out.push({ start, end, text: text.slice(start, end) });
    start = -1;
  };

  let i = lo;
  while (i < hi) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      let j = i;
      let newlines = 0;
      for (; j < hi; j++) {
        const d = text.charCodeAt(j);
        if (!isSpace(d)) break;
        newlines += lineBreakWeight(text, j, hi);
      }
      if (start >= 0 && j < hi && endsBefore(text, j, hi, newlines, tail, abbr)) close();
      i = j;
      continue;
    }
    if (start < 0) start = i;
    if (isCjkTerminator(c)) {
      let k = i + 1;
      while (k < hi && (isCjkTerminator(text.charCodeAt(k)) || CLOSERS.has(text[k]!))) k++;
      end = k;
      close();
      i = k;
      continue;
    }
    if (isTerminator(c)) {
      let k = i;
      let dots = 0;
      let strong = false;
      let ellipsis = false;
      for (; k < hi; k++) {
        const d = text.charCodeAt(k);
        if (d === 0x2e) dots++;
        else if (d === 0x21 || d === 0x3f || d === 0x203d) strong = true;
        else if (d === 0x2026) ellipsis = true;
        else break;
      }
      while (k < hi && CLOSERS.has(text[k]!)) k++;
      tail = !strong && (ellipsis || dots > 1) ? TAIL_ELLIPSIS : TAIL_TERMINAL;
      abbr = !strong && !ellipsis && dots === 1 ? classifyWordBefore(text, i, lo) : ABBR_NONE;
      end = k;
      i = k;
      continue;
    }
    tail = TAIL_OTHER;
    end = i + 1;
    i++;
  }
  close();
  return out;
}

/** Whether the sentence in progress ends at the whitespace run before `next`. */
function endsBefore(text: string, next: number, hi: number, newlines: number, tail: number, abbr: number) {
  if (newlines >= 2) return true;
  if (tail === TAIL_OTHER) return newlines > 0;
  // Across a line break only a lowercase continuation keeps the sentence going (hard-wrapped text).
  if (tail === TAIL_ELLIPSIS) return newlines > 0 && !LOWER.test(codePointAt(text, next));
  if (abbr === ABBR_NEVER) return false;
  if (abbr === ABBR_AMBIGUOUS) return opensSentence(text, next, hi);
  if (abbr === ABBR_BEFORE_NUMBER && isDigit(text.charCodeAt(next))) return false;
  const ch = codePointAt(text, next);
  if (newlines > 0) return !LOWER.test(ch);
  return UPPER_OR_CASELESS.test(ch) || OPENERS.has(ch);
}

/** Classifies the word (letters and inner dots, as in "U.S") that ends at the period `dot`. */
function classifyWordBefore(text: string, dot: number, lo: number): number {
  let b = dot;
  while (b > lo && dot - b <= MAX_WORD) {
    const ch = text[b - 1]!;
    if (ch !== "." && !LETTER.test(ch)) break;
    b--;
  }
  if (b === dot || dot - b > MAX_WORD || text[b] === ".") return ABBR_NONE;
  // "5p." or "B2B." are not abbreviations we know.
  if (b > lo && isDigit(text.charCodeAt(b - 1))) return ABBR_NONE;
  const word = text.slice(b, dot);
  if (NEVER_FINAL.has(word)) return ABBR_NEVER;
  if (BEFORE_NUMBER.has(word)) return ABBR_BEFORE_NUMBER;
  if (AMBIGUOUS.has(word) || word.includes(".")) return ABBR_AMBIGUOUS;
  if (word.length === 1 && word !== word.toLowerCase()) return ABBR_AMBIGUOUS;
  return ABBR_NONE;
}

/** Whether the word at `at` (after an optional opening quote) is one that typically starts a sentence. */
function opensSentence(text: string, at: number, hi: number): boolean {
  let b = at;
  while (b < hi && b - at < 2 && OPENERS.has(text[b]!)) b++;
  let e = b;
  while (e < hi && e - b <= MAX_WORD && LETTER.test(text[e]!)) e++;
  if (e === b || e - b > MAX_WORD || text[e] === ".") return false;
  return SENTENCE_OPENERS.has(text.slice(b, e));
}

/** 1 for a line break, 2 for a paragraph or page break, 0 otherwise; "\r\n" counts once. */
function lineBreakWeight(text: string, j: number, hi: number): number {
  const d = text.charCodeAt(j);
  if (d === 0x0a || d === 0x0b || d === 0x2028) return 1;
  if (d === 0x0d) return j + 1 < hi && text.charCodeAt(j + 1) === 0x0a ? 0 : 1;
  if (d === 0x0c || d === 0x2029) return 2;
  return 0;
}

function codePointAt(text: string, i: number): string {
  return String.fromCodePoint(text.codePointAt(i)!);
}

/** The characters JavaScript's `\s` matches. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isTerminator(c: number): boolean {
  return c === 0x2e || c === 0x21 || c === 0x3f || c === 0x2026 || c === 0x203d;
}

/** 。！？ and the halfwidth ideographic full stop. */
function isCjkTerminator(c: number): boolean {
  return c === 0x3002 || c === 0xff01 || c === 0xff1f || c === 0xff61;
}
