/**
 * The short answer: when a question asks for a name, place, date, number or quantity, the span of
 * the chosen sentence that says it, verbatim, with document offsets. Pure over an annotation.
 */
import type { Annotation, AnswerType } from "./nlp.ts";
import { isNew, kindsFor, typedSpanScore } from "./nlp.ts";
import type { ShortAnswer } from "./protocol.ts";
import { isStopword, stem, words } from "./text.ts";

export type { ShortAnswer };

export interface SentenceForShortAnswer {
  docId: string;
  /** Document offset of the sentence. */
  start: number;
  text: string;
  annotation: Annotation;
}

/** Spans more than this many tokens from the question's words are not offered. */
const MIN_SPAN_SCORE = -4;

/** Prepositions that introduce a place ("in Hangzhou", "at Levi's Stadium"). */
const PLACE_PREPOSITIONS = new Set(["in", "at", "near", "from", "into", "outside", "inside"]);
/** A question for a year, and a token that is one ("1998", "1960s"). */
const ASKS_YEAR = /\b(what|which)\s+year\b/i;
const YEAR = /^\d{3,4}s?$/;
/** Verbs of saying: stopwords for retrieval, but "Who said...?" is answered beside "said". */
const SAYING = new Set(["said", "say", "says", "told", "tell", "stated", "announced"]);

/**
 * The span of `sentence` that answers a question of `type`: among the spans of the kinds that
 * type allows and that say something the question does not, the one nearest the words the
 * sentence shares with the question. Undefined when the question asks for no such thing or the
 * sentence holds none.
 */
export function shortAnswer(
  question: string,
  type: AnswerType,
  sentence: SentenceForShortAnswer,
): ShortAnswer | undefined {
  // "Which team..." may want a name or a description; only an explicit "name" asks for a name.
  if (type === "name" && !/\b(name|named|called)\b/i.test(question)) return undefined;
  const best = bestSpan(question, type, sentence.text, sentence.annotation);
  // A span far from every word of the question is more often some other fact of the sentence.
  if (!best || best.score < MIN_SPAN_SCORE) return undefined;
  return {
    text: sentence.text.slice(best.start, best.end),
    docId: sentence.docId,
    start: sentence.start + best.start,
    end: sentence.start + best.end,
  };
}

/**
 * The best typed span of a sentence for a question, offsets relative to the sentence; `score`
 * is 0 for a span beside the question's words and falls with the distance from them.
 */
export function bestSpan(
  question: string,
  type: AnswerType,
  text: string,
  annotation: Annotation,
): { start: number; end: number; score: number } | undefined {
  const kinds = kindsFor(type);
  if (kinds.size === 0) return undefined;
  const questionStems = new Set(
    words(question)
      .filter((w) => !isStopword(w) || SAYING.has(w))
      .map(stem),
  );
  const asksYear = type === "date" && ASKS_YEAR.test(question);
  const tokens = annotation.tokens;
  const anchors: number[] = [];
  tokens.forEach((t, i) => {
    const w = text.slice(t.start, t.end).toLowerCase();
    if ((!isStopword(w) || SAYING.has(w)) && questionStems.has(stem(w))) anchors.push(i);
  });
  let best: { start: number; end: number; score: number } | undefined;
  const inQuestion = (i: number) => {
    const w = text.slice(tokens[i]!.start, tokens[i]!.end).toLowerCase();
    return questionStems.has(stem(w)) || isStopword(w) || !/[\p{L}\p{N}]/u.test(w);
  };
  for (const s of annotation.spans) {
    if (!kinds.has(s.kind)) continue;
    let first = tokens.findIndex((t) => t.start >= s.start);
    if (first === -1) continue;
    let last = first;
    while (last + 1 < tokens.length && tokens[last + 1]!.end <= s.end) last++;
    const whole = text.slice(s.start, s.end);
    // A name that begins or ends with the question's own words ("NFL Commissioner Roger
    // Goodell" for "Who is the NFL commissioner?") answers with the rest of it.
    if (s.kind === "name") {
      while (first <= last && inQuestion(first)) first++;
      while (last >= first && inQuestion(last)) last--;
      if (first > last) continue;
    }
    // "In what year...?" is answered by the year, not the date around it ("early 2012",
    // "March 2007", "by 1290"); a date without a year ("Sunday") does not answer it.
    if (asksYear) {
      const year = tokens.findIndex(
        (t, i) => i >= first && i <= last && YEAR.test(text.slice(t.start, t.end)),
      );
      if (year === -1) continue;
      first = year;
      last = year;
    }
    const start = tokens[first]!.start;
    const end = tokens[last]!.end;
    const spanText = text.slice(start, end);
    if (!isNew(spanText, questionStems)) continue;
    // A span that repeats part of the question answers it less than one that is wholly new.
    const score = typedSpanScore(text, tokens, first, last, anchors, {
      type,
      repeatsQuestion: words(whole).some((w) => questionStems.has(stem(w))),
      placePrepositions: PLACE_PREPOSITIONS,
    });
    if (!best || score > best.score) best = { start, end, score };
  }
  return best;
}
