/**
 * Whether a gold answer occurs in a text: the check behind answer accuracy, answer in context and
 * answer-bearing citations. Pure.
 *
 * It is deliberately more forgiving than SQuAD's normalisation (`normalizeAnswer` in metrics.ts,
 * which exact match and F1 of short answers keep): that script deletes ASCII punctuation only,
 * so "Washington's" never holds "Washington", a curly apostrophe or an en dash survives as a
 * character of its own, and "1990–1995" does not hold "1990-1995". Here both sides are
 * normalised the same way:
 *
 * - Unicode compatibility forms are folded (NFKC: full-width letters, ligatures, composed accents);
 * - curly and other single quotes become `'`, double quotes `"`, every dash and the minus sign `-`;
 * - a possessive `'s` (or the bare `'` after a final s) is dropped, so "Washington's" reads
 *   "Washington" and "Jesus'" reads "Jesus"; the apostrophe alone deleted, as SQuAD does
 *   ("levis"), is a second reading;
 * - punctuation and symbols are removed (in a second reading, read as spaces), letters
 *   lower-cased, the articles a/an/the removed, and whitespace collapsed, as SQuAD does.
 *
 * Punctuation may join ("e-mail", "U.S.") or separate ("1990 – 1995", "1978,[citation needed]"),
 * so it is tried both ways: deleted, and read as a space. The answer must occur as whole words in
 * one reading, with text and answer read the same way, so "50" is still not found in "500". On
 * ASCII text every match of the SQuAD-normalised check is still a match.
 */

const SINGLE_QUOTES = /[\u2018\u2019\u201A\u201B\u2032\u2035\u02BC\u0060\u00B4]/g;
const DOUBLE_QUOTES = /[\u201C\u201D\u201E\u201F\u2033\u2036\u00AB\u00BB]/g;
/** Dash punctuation (hyphen, en and em dashes, ...) and the minus sign. */
const DASHES = /[\p{Pd}\u2212]/gu;
/** `'s` closing a word, or `'` after a word's final s: the English possessive. */
const POSSESSIVE = /(?<=[\p{L}\p{N}])'s(?![\p{L}\p{N}])|(?<=[\p{L}]s)'(?![\p{L}\p{N}])/gu;
const PUNCTUATION = /[\p{P}\p{S}]/gu;
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/giu;

/**
 * The readings of a text, in a fixed order: the possessive dropped or only its apostrophe deleted
 * (SQuAD's "levis" for "Levi's"), times punctuation deleted or read as a space.
 */
export type MatchForms = readonly string[];

/** Punctuation deleted, as SQuAD does: "U.S." reads "us", "1990-1995" reads "19901995". */
function joined(s: string): string {
  return words(s.replace(PUNCTUATION, ""));
}

/**
 * Punctuation read as a space, so "1978,[citation needed]" reads "1978 citation needed" and
 * "1990 – 1995" reads "1990 1995"; except a comma, point or colon between digits, which is deleted
 * (in "1,000" or "5.5", "1" and "5" are not numbers of their own).
 */
function spaced(s: string): string {
  return words(s.replace(/(?<=\p{N})[.,:](?=\p{N})/gu, "").replace(PUNCTUATION, " "));
}

function words(s: string): string {
  return s.replace(ARTICLES, " ").split(/\s+/).filter(Boolean).join(" ");
}

/** The normalised readings of a text or an answer. */
export function matchForms(s: string): MatchForms {
  return readings(s, false);
}

/** The readings; with `keepCase`, letters keep their case (see {@link answerOccursAsText}). */
function readings(s: string, keepCase: boolean): MatchForms {
  const folded = s.normalize("NFKC");
  const base = (keepCase ? folded : folded.toLowerCase())
    .replace(SINGLE_QUOTES, "'")
    .replace(DOUBLE_QUOTES, '"')
    .replace(DASHES, "-");
  const forms: string[] = [];
  for (const apostrophes of [base.replace(POSSESSIVE, ""), base.replace(/'/g, "")]) {
    forms.push(joined(apostrophes), spaced(apostrophes));
  }
  return forms;
}

const holds = (text: string, answer: string) => answer !== "" && ` ${text} `.includes(` ${answer} `);

/** True when the answer occurs in the text as whole words in one of the readings, read alike. */
export function formsContain(text: MatchForms, answer: MatchForms): boolean {
  return text.some((t, i) => holds(t, answer[i] ?? ""));
}

/**
 * True when any of the (raw) gold answers occurs in the (raw) text. An answer that normalises to
 * nothing (only punctuation or articles) is never found.
 */
export function answerOccurs(text: string, answers: readonly string[]): boolean {
  if (answers.length === 0) return false;
  const t = matchForms(text);
  return answers.some((a) => formsContain(t, matchForms(a)));
}

/** Written in capitals only, with two or more letters: "SUPPORT", "NOT ENOUGH INFO", "NFL". */
const CAPITALS = (a: string) => /\p{Lu}.*\p{Lu}/su.test(a) && !/\p{Ll}/u.test(a);

/**
 * Whether a gold answer occurs in the text as text of it: as {@link answerOccurs}, except that an
 * answer written in capitals only must occur in capitals. A label (SUPPORT, CONTRADICT) found only
 * as an ordinary word ("they support it") is not text of the document; an acronym (NFL) still is.
 * Other answers are compared as `answerOccurs` compares them, case-folded.
 */
export function answerOccursAsText(text: string, answers: readonly string[]): boolean {
  if (answers.length === 0) return false;
  const folded = matchForms(text);
  let cased: MatchForms | undefined;
  return answers.some((a) => {
    if (!formsContain(folded, matchForms(a))) return false;
    if (!CAPITALS(a)) return true;
    cased ??= readings(text, true);
    return formsContain(cased, readings(a, true));
  });
}
