/**
 * A conversation that moves on: a follow-up is answered with sentences not given before in the
 * conversation. Pure; the sentence scoring stays in answer.ts, which only filters the sentences
 * named here out of its candidates.
 */
import type { Composed } from "./answer.ts";
import type { SentenceSet } from "./exclusions.ts";
import { isFollowUp } from "./followup.ts";
import { sentenceKey } from "./text.ts";
import type { HistoryTurn } from "./types.ts";

/** What a follow-up gets when every relevant sentence was already given. */
export const NOTHING_MORE_TEXT =
  "I found nothing more on this in the indexed documents beyond what I already said. The closest passages are listed as sources.";

/**
 * A question that asks for more has little of its own to score sentences against, and the best
 * sentences are the ones already given; the next ones are relevant at a lower bar than a new
 * question's answer.
 */
export const MORE_THRESHOLD_RATIO = 0.75;

/** Questions that ask to go on past what was said ("What else…?", "Tell me more", "And then?"). */
const MOVES_ON =
  /\b(else|more|other|others|another|further|besides|additionally|continue|go on|keep going|next|and then|then what|what then)\b/i;

/** Citation markers as the answer writes them after each sentence: ` [1][2]`. */
const MARKERS = /\s*(?:\[\d+\])+/g;

/**
 * The sentences each earlier answer gave, as keys. An answer is its sentences, each followed by
 * its markers, so cutting at the markers recovers the sentences verbatim.
 */
export function givenSentences(history: readonly HistoryTurn[]): string[][] {
  return history
    .filter((t) => t.role === "assistant")
    .map((t) =>
      t.text
        .split(MARKERS)
        .map(sentenceKey)
        .filter((s) => s.length > 0),
    );
}

/** Shortest sentence matched inside an earlier answer's text rather than only as a whole sentence. */
const MIN_CONTAINED = 20;

/**
 * The sentences of earlier answers as a set: each sentence cut at its markers, and, for a client
 * that sent an answer without markers, any longer sentence found inside an answer's text.
 */
export function saidIn(answers: readonly string[][]): SentenceSet & { readonly size: number } {
  const keys = new Set(answers.flat());
  const texts = answers.map((a) => a.join(" "));
  return {
    size: keys.size,
    has: (key) => keys.has(key) || (key.length >= MIN_CONTAINED && texts.some((t) => t.includes(key))),
  };
}

/** True when the question asks to go beyond what the conversation already said. */
export function asksForMore(question: string): boolean {
  return MOVES_ON.test(question);
}

/**
 * Answers a question in its conversation. `compose` builds the answer leaving out the sentences
 * it is given, at the not-found bar scaled by `thresholdRatio`. A question that asks for more
 * leaves out everything said before; any other follow-up leaves out the previous answer only when
 * it would come back word for word. When nothing new is relevant, the answer says so instead of
 * repeating itself.
 */
export function answerInConversation(
  question: string,
  history: readonly HistoryTurn[] | undefined,
  compose: (excluded: SentenceSet, thresholdRatio: number) => Composed,
): Composed {
  const none = saidIn([]);
  if (!history || history.length === 0 || !isFollowUp(question)) return compose(none, 1);
  const given = givenSentences(history);
  const previous = given[given.length - 1] ?? [];
  let first: Composed | undefined;
  let excluded: ReturnType<typeof saidIn>;
  if (asksForMore(question)) {
    excluded = saidIn(given);
  } else {
    first = compose(none, 1);
    excluded = saidIn([previous]);
    if (first.notFound || !repeats(first, excluded)) return first;
  }
  if (excluded.size === 0) return first ?? compose(none, 1);
  const next = compose(excluded, MORE_THRESHOLD_RATIO);
  if (!next.notFound) return next;
  const full = first ?? compose(none, 1);
  // Nothing new clears the bar, yet something already said did: say that, rather than "not found".
  if (full.notFound) return full;
  return {
    ...next,
    notFound: true,
    pieces: [NOTHING_MORE_TEXT],
    answer: NOTHING_MORE_TEXT,
    citations: [],
    sentences: [],
  };
}

/** True when every sentence of the answer was in the previous one. */
function repeats(answer: Composed, previous: ReturnType<typeof saidIn>): boolean {
  if (previous.size === 0 || answer.sentences.length === 0) return false;
  return answer.sentences.every((s) => previous.has(sentenceKey(s.text)));
}
