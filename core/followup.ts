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

/** Capitalised phrases ("Wang Yi", "Foreign Minister") of a text, which name what a pronoun refers to. */
export function namedPhrases(text: string, limit = 4): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\b[A-Z][\p{L}’'-]*(?:\s+[A-Z][\p{L}’'-]*)*/gu)) {
    const phrase = m[0];
    // A single capitalised word at a sentence start is usually not a name.
    const atStart = m.index === 0 || /[.!?]\s*$/.test(text.slice(Math.max(0, m.index - 3), m.index));
    if (atStart && !phrase.includes(" ")) continue;
    if (!out.includes(phrase)) out.push(phrase);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * The retrieval query for a question in a conversation: the question itself, or, for a
 * follow-up, the question expanded with the previous question and the names in the previous
 * answer.
 */
export function rewriteQuery(question: string, history: readonly HistoryTurn[] = []): string {
  if (history.length === 0 || !isFollowUp(question)) return question.trim();
  const lastUser = [...history].reverse().find((t) => t.role === "user");
  const lastAnswer = [...history].reverse().find((t) => t.role === "assistant");
  const parts = [question.trim()];
  if (lastUser) parts.push(lastUser.text.trim());
  if (lastAnswer) {
    const clean = lastAnswer.text.replace(/\[\d+\]/g, "");
    const firstSentence = clean.split(/(?<=[.!?])\s+/)[0] ?? clean;
    parts.push(...namedPhrases(firstSentence));
  }
  return parts.join(" ").slice(0, 1000);
}
