/** Turning a follow-up question into a self-contained retrieval query. Pure. */
import { contentTerms } from "./text.ts";
import type { HistoryTurn } from "./types.ts";

/** Words that point back at something said before; "that", "there" and "other" are left out, being
 * as common in questions that stand on their own ("the country that hosted it"). */
const ANAPHORA =
  /\b(he|she|him|her|his|hers|they|them|their|it|its|this|these|those|the same|else|another|also|too)\b/i;
/** Questions that continue the previous one ("And in 2023?", "What about the UN?"). */
const ELLIPTIC = /^(and|but|so|also|what about|how about)\b/i;

/** True when a question leans on earlier turns to be understood. */
export function isFollowUp(question: string): boolean {
  const q = question.trim();
  if (contentTerms(q).length <= 1) return true;
  return ANAPHORA.test(q) || ELLIPTIC.test(q);
}

/** Capitalised words that name a time or a title, never what a pronoun refers to ("Dec." in "Dec. 9"). */
const NOT_NAMES = new Set(
  (
    "jan feb mar apr jun jul aug sep sept oct nov dec january february march april june july august " +
    "september october november december mon tue tues wed thu thur thurs fri sat monday tuesday " +
    "wednesday thursday friday saturday sunday today yesterday tomorrow mr mrs ms dr"
  ).split(" "),
);

/** A phrase without its leading and trailing time words; empty when nothing else is left. */
function withoutTimeWords(phrase: string): string {
  const words = phrase.split(/\s+/);
  const notName = (w: string | undefined) => w !== undefined && NOT_NAMES.has(w.toLowerCase());
  while (notName(words[0])) words.shift();
  while (notName(words[words.length - 1])) words.pop();
  return words.join(" ");
}

/** Capitalised phrases ("Wang Yi", "Foreign Minister") of a text, which name what a pronoun refers to. */
export function namedPhrases(text: string, limit = 4): string[] {
  const out: string[] = [];
  // "of", "the" and "for" may join capitalised words: "Office of the High Commissioner for Human Rights".
  for (const m of text.matchAll(/\b[A-Z][\p{L}’'-]*(?:\s+(?:(?:of|the|for)\s+)*[A-Z][\p{L}’'-]*)*/gu)) {
    const phrase = withoutTimeWords(m[0]);
    if (phrase === "") continue;
    // A single capitalised word at a sentence start is usually not a name.
    const atStart = m.index === 0 || /[.!?]\s*$/.test(text.slice(Math.max(0, m.index - 3), m.index));
    if (atStart && !m[0].includes(" ")) continue;
    if (!out.includes(phrase)) out.push(phrase);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * The retrieval query for a question in a conversation: the question itself, or, for a
 * follow-up, the question expanded with the question the conversation is about (the latest one
 * that stands on its own, so "And then?" after "What else did he say?" keeps the topic) and the
 * names in the previous answer.
 */
export function rewriteQuery(question: string, history: readonly HistoryTurn[] = []): string {
  if (history.length === 0 || !isFollowUp(question)) return question.trim();
  const users = history.filter((t) => t.role === "user").reverse();
  const lastUser = users.find((t) => !isFollowUp(t.text)) ?? users[0];
  const lastAnswer = [...history].reverse().find((t) => t.role === "assistant");
  const parts = [question.trim()];
  if (lastUser) parts.push(lastUser.text.trim());
  if (lastAnswer) {
    // The first sentence of the answer as given: cut at its citation markers, not at a full stop,
    // which "Dec. 9" or "U.S." also end with.
    const firstSentence = lastAnswer.text.split(/\s*\[\d+\]/)[0] ?? "";
    const said = parts.join(" ").toLowerCase();
    parts.push(...namedPhrases(firstSentence).filter((p) => !said.includes(p.toLowerCase())));
  }
  return parts.join(" ").slice(0, 1000);
}
