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
  // "What else did he say?" with the person named stands on its own: the earlier question
  // ("Who is China's foreign minister?") would only pull in passages about the ministry.
  const resolved = readingQuestion(question, history);
  if (resolved !== undefined) return resolved;
  const users = history.filter((t) => t.role === "user").reverse();
  const lastUser = users.find((t) => !isFollowUp(t.text)) ?? users[0];
  const firstSentence = lastAnswerLead(history);
  const parts = [question.trim()];
  if (lastUser) parts.push(lastUser.text.trim());
  if (firstSentence !== undefined) {
    const said = parts.join(" ").toLowerCase();
    parts.push(...namedPhrases(firstSentence).filter((p) => !said.includes(p.toLowerCase())));
  }
  return parts.join(" ").slice(0, 1000);
}

/**
 * The first sentence of the last answer as given, cut at its citation markers, not at a full stop,
 * which "Dec. 9" or "U.S." also end with; undefined when nothing was answered yet.
 */
function lastAnswerLead(history: readonly HistoryTurn[]): string | undefined {
  const lastAnswer = [...history].reverse().find((t) => t.role === "assistant");
  return lastAnswer ? (lastAnswer.text.split(/\s*\[\d+\]/)[0] ?? "") : undefined;
}

/** Pronouns that stand for a person. */
const PERSON_PRONOUN = /\b(he|she|him|her|his|hers)\b/i;

/**
 * The person a follow-up's "he" or "she" stands for: the first name of two or more words in the
 * previous answer's first sentence that the question it answered did not already say ("Wang Yi",
 * from "Foreign Minister Wang Yi", after "Who is China's foreign minister?"); undefined when there
 * is none.
 */
function personOf(history: readonly HistoryTurn[]): string | undefined {
  const firstSentence = lastAnswerLead(history);
  if (firstSentence === undefined) return undefined;
  const lastUser = [...history].reverse().find((t) => t.role === "user");
  const asked = (lastUser?.text ?? "").toLowerCase();
  const name = namedPhrases(firstSentence, 8).find(
    (p) => p.includes(" ") && !asked.includes(p.toLowerCase()),
  );
  if (!name) return undefined;
  // A title before a person's name ("Foreign Minister Wang Yi") would be read as a topic of its
  // own: the name is its last two words.
  const words = name.split(/\s+/);
  return words.some((w) => /^(of|the|for)$/.test(w)) ? name : words.slice(-2).join(" ");
}

/**
 * The follow-up as the reader should read it: a question about one sentence, with "he" or "she"
 * replaced by the person the conversation was about ("What else did Wang Yi say?"). The retrieval query (rewriteQuery) strings the earlier turns together, which finds the
 * passages but reads as no question at all. Undefined when there is no pronoun to resolve.
 */
export function readingQuestion(question: string, history: readonly HistoryTurn[] = []): string | undefined {
  if (history.length === 0 || !isFollowUp(question)) return undefined;
  const m = PERSON_PRONOUN.exec(question);
  if (!m) return undefined;
  const person = personOf(history);
  if (!person) return undefined;
  const pronoun = m[1]!.toLowerCase();
  const after = question.slice(m.index + m[0].length);
  // "his", "hers", and "her" before a noun ("her title") own something; "her" before a
  // preposition or at the end ("told her", "about her") is the person.
  const owns =
    pronoun === "his" ||
    pronoun === "hers" ||
    (pronoun === "her" &&
      /^\s+[a-z]/i.test(after) &&
      !/^\s+(to|about|from|with|for|at|in|on|by|and|or)\b/i.test(after));
  const name = owns ? `${person}'s` : person;
  return (question.slice(0, m.index) + name + after).trim();
}
