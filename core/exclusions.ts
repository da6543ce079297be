/**
 * What an answer never says, whatever its score: sentences given earlier in the conversation,
 * boilerplate repeated across the corpus, headings (a title line alone answers nothing) and
 * questions.
 * Handed to composition as one `has(sentenceKey)` test. Pure.
 */
import type { Boilerplate } from "./boilerplate.ts";

/** A set of sentences as composition tests them: by `sentenceKey`. */
export interface SentenceSet {
  has(key: string): boolean;
}

/** Longest line, in words, that is taken for a heading when it has no closing punctuation. */
export const HEADING_MAX_WORDS = 12;

/**
 * True for a heading-like line: short, on its own, and not closed by sentence punctuation
 * ("Festival history", "Who we are"). The sentence splitter ends such a line at its line break.
 */
export function isHeadingLike(text: string): boolean {
  const s = text.trim().replace(/["”’')\]]+$/u, "");
  if (s === "" || /[.!?…:;]$/u.test(s)) return false;
  return s.split(/\s+/).length <= HEADING_MAX_WORDS;
}

/** True for a question: it asks, it does not answer (a FAQ heading, a rhetorical question). */
export function isQuestion(text: string): boolean {
  return /\?$/u.test(text.trim().replace(/["”’')\]]+$/u, ""));
}

/** The sentences an answer leaves out: `given` (earlier answers), boilerplate, headings, questions. */
export function unanswerable(given: SentenceSet, boilerplate: Boilerplate): SentenceSet {
  return {
    has: (key) => given.has(key) || boilerplate.sentences.has(key) || isHeadingLike(key) || isQuestion(key),
  };
}
