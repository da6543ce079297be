/**
 * The short answer: when a question asks for a name, place, date, number or quantity, the span of
 * the chosen sentence that says it, verbatim, with document offsets. Every typed span of the
 * sentence is a candidate; a small boosted-tree model (trained by `npm run train`, see
 * eval/short-train.ts) gives each the probability that it is the answer, and the best is said only
 * when that probability reaches the model's threshold. Pure over an annotation.
 */
import type { Annotation, AnswerType } from "./nlp.ts";
import { isNew, kindsFor, typedSpanScore } from "./nlp.ts";
import type { ShortAnswer } from "./protocol.ts";
import { isStopword, stem, words } from "./text.ts";
import { type TreeModel, treeScore } from "./trees.ts";

export type { ShortAnswer };

export interface SentenceForShortAnswer {
  docId: string;
  /** Document offset of the sentence. */
  start: number;
  text: string;
  annotation: Annotation;
}

/** How sure the selector is of the sentence the span would come from. */
export interface SentenceEvidence {
  /** The selector's probability that the sentence answers the question. */
  probability: number;
  /** That probability less the next candidate's. */
  gap: number;
}

/** The span model as `npm run train` writes it: a span is said when its probability reaches `threshold`. */
export type ShortAnswerModel = TreeModel & { threshold: number };

/** What the span model sees of a candidate span, in this order. */
export const SPAN_FEATURES = [
  /** The hand-set score spans were once chosen by: minus the distance to the question's words, … */
  "ruleScore",
  /** Tokens from the nearest question word before the span (99 without one). */
  "distanceLeft",
  /** Tokens from the nearest question word after the span (99 without one). */
  "distanceRight",
  "distance",
  /** Question words found in the sentence, and their share of the question's words. */
  "anchors",
  "questionCover",
  "tokens",
  "characters",
  /** Index in SPAN_KINDS, and in ANSWER_TYPES. */
  "kind",
  "answerType",
  /** The span as the annotator found it repeats a question word. */
  "repeatsQuestion",
  /** Index in PARTS_OF_SPEECH of the tokens before and after the span (-1 at an edge). */
  "posBefore",
  "posAfter",
  "afterPlacePreposition",
  "afterBy",
  "afterOf",
  /** Where in the sentence the span begins (0 to 1). */
  "position",
  /** Rank of the span's rule score among the sentence's candidates, their number, the gap to the best. */
  "ruleRank",
  "candidates",
  "ruleGap",
  "sentenceProbability",
  "asksYear",
  "asksName",
  "hasDigit",
  /** Share of the span's tokens that begin with a capital letter. */
  "capitalised",
  "afterParenthesis",
  "afterComma",
  "beforeComma",
  "questionWords",
  "sentenceGap",
  /** Words of the span that are the question's. */
  "questionWordsInSpan",
] as const;

const ANSWER_TYPES: readonly AnswerType[] = ["person", "place", "name", "date", "number", "none"];
const SPAN_KINDS = ["date", "number", "name"];
const PARTS_OF_SPEECH = [
  "ADJ",
  "ADP",
  "ADV",
  "AUX",
  "CCONJ",
  "DET",
  "INTJ",
  "NOUN",
  "NUM",
  "PART",
  "PRON",
  "PROPN",
  "PUNCT",
  "SCONJ",
  "SYM",
  "VERB",
  "X",
  "SPACE",
];
/** Stands for "no question word on that side". */
const FAR = 99;

/** Prepositions that introduce a place ("in Hangzhou", "at Levi's Stadium"). */
const PLACE_PREPOSITIONS = new Set(["in", "at", "near", "from", "into", "outside", "inside"]);
/** A question for a year, and a token that is one ("1998", "1960s"). */
const ASKS_YEAR = /\b(what|which)\s+year\b/i;
const YEAR = /^\d{3,4}s?$/;
const ASKS_NAME = /\b(name|named|called)\b/i;
/** Verbs of saying: stopwords for retrieval, but "Who said...?" is answered beside "said". */
const SAYING = new Set(["said", "say", "says", "told", "tell", "stated", "announced"]);

export interface SpanCandidate {
  /** Offsets relative to the sentence. */
  start: number;
  end: number;
  features: number[];
}

/**
 * The short answer to `question` from `sentence`: the candidate span the model rates highest,
 * when its probability reaches the model's threshold.
 */
export function shortAnswer(
  question: string,
  type: AnswerType,
  sentence: SentenceForShortAnswer,
  evidence: SentenceEvidence,
  model: ShortAnswerModel,
): ShortAnswer | undefined {
  let best: { span: SpanCandidate; p: number } | undefined;
  for (const span of spanCandidates(question, type, sentence.text, sentence.annotation, evidence)) {
    const p = spanProbability(model, span.features);
    if (!best || p > best.p) best = { span, p };
  }
  if (!best || best.p < model.threshold) return undefined;
  return {
    text: sentence.text.slice(best.span.start, best.span.end),
    docId: sentence.docId,
    start: sentence.start + best.span.start,
    end: sentence.start + best.span.end,
  };
}

export function spanProbability(model: TreeModel, x: readonly number[]): number {
  return 1 / (1 + Math.exp(-treeScore(model, x)));
}

/**
 * The spans of `text` that could answer a question of `type`: the typed spans of the kinds the
 * type allows that say something the question does not. A name is trimmed of the question's own
 * words at its edges ("NFL Commissioner Roger Goodell" → "Roger Goodell" for "Who is the NFL
 * commissioner?"); for "what year" a date gives its year ("early 2012" → "2012") or nothing.
 */
export function spanCandidates(
  question: string,
  type: AnswerType,
  text: string,
  annotation: Annotation,
  evidence: SentenceEvidence,
): SpanCandidate[] {
  const kinds = kindsFor(type);
  if (kinds.size === 0) return [];
  const questionWords = words(question).filter((w) => !isStopword(w) || SAYING.has(w));
  const questionStems = new Set(questionWords.map(stem));
  const asksYear = type === "date" && ASKS_YEAR.test(question);
  const tokens = annotation.tokens;
  const wordAt = (i: number) => text.slice(tokens[i]!.start, tokens[i]!.end).toLowerCase();
  const anchors: number[] = [];
  const found = new Set<string>();
  tokens.forEach((_, i) => {
    const w = wordAt(i);
    if ((!isStopword(w) || SAYING.has(w)) && questionStems.has(stem(w))) {
      anchors.push(i);
      found.add(stem(w));
    }
  });
  const inQuestion = (i: number) => {
    const w = wordAt(i);
    return questionStems.has(stem(w)) || isStopword(w) || !/[\p{L}\p{N}]/u.test(w);
  };

  const spans: { first: number; last: number; kind: string; repeats: boolean; rule: number }[] = [];
  for (const s of annotation.spans) {
    if (!kinds.has(s.kind)) continue;
    let first = tokens.findIndex((t) => t.start >= s.start);
    if (first === -1) continue;
    let last = first;
    while (last + 1 < tokens.length && tokens[last + 1]!.end <= s.end) last++;
    if (s.kind === "name") {
      while (first <= last && inQuestion(first)) first++;
      while (last >= first && inQuestion(last)) last--;
      if (first > last) continue;
    }
    if (asksYear) {
      const year = tokens.findIndex(
        (t, i) => i >= first && i <= last && YEAR.test(text.slice(t.start, t.end)),
      );
      if (year === -1) continue;
      first = year;
      last = year;
    }
    if (!isNew(text.slice(tokens[first]!.start, tokens[last]!.end), questionStems)) continue;
    const repeats = words(text.slice(s.start, s.end)).some((w) => questionStems.has(stem(w)));
    const rule = typedSpanScore(text, tokens, first, last, anchors, {
      type,
      repeatsQuestion: repeats,
      placePrepositions: PLACE_PREPOSITIONS,
    });
    spans.push({ first, last, kind: s.kind, repeats, rule });
  }

  const rules = spans.map((s) => s.rule).sort((a, b) => b - a);
  return spans.map(({ first, last, kind, repeats, rule }) => {
    const start = tokens[first]!.start;
    const end = tokens[last]!.end;
    const spanWords = words(text.slice(start, end));
    let left = FAR;
    let right = FAR;
    for (const a of anchors) {
      if (a < first) left = Math.min(left, first - a);
      else if (a > last) right = Math.min(right, a - last);
      else left = right = 0;
    }
    const before = first > 0 ? wordAt(first - 1) : "";
    const after = last + 1 < tokens.length ? wordAt(last + 1) : "";
    const features = [
      rule,
      left,
      right,
      Math.min(left, right),
      anchors.length,
      questionStems.size > 0 ? found.size / questionStems.size : 0,
      last - first + 1,
      end - start,
      SPAN_KINDS.indexOf(kind),
      ANSWER_TYPES.indexOf(type),
      repeats ? 1 : 0,
      first > 0 ? PARTS_OF_SPEECH.indexOf(tokens[first - 1]!.pos) : -1,
      last + 1 < tokens.length ? PARTS_OF_SPEECH.indexOf(tokens[last + 1]!.pos) : -1,
      PLACE_PREPOSITIONS.has(before) ? 1 : 0,
      before === "by" ? 1 : 0,
      before === "of" ? 1 : 0,
      tokens.length > 0 ? first / tokens.length : 0,
      rules.indexOf(rule),
      spans.length,
      rules[0]! - rule,
      evidence.probability,
      asksYear ? 1 : 0,
      ASKS_NAME.test(question) ? 1 : 0,
      /\d/.test(text.slice(start, end)) ? 1 : 0,
      capitalised(text, tokens, first, last),
      before === "(" ? 1 : 0,
      before === "," ? 1 : 0,
      after === "," ? 1 : 0,
      questionWords.length,
      evidence.gap,
      spanWords.filter((w) => questionStems.has(stem(w))).length,
    ];
    return { start, end, features };
  });
}

function capitalised(text: string, tokens: Annotation["tokens"], first: number, last: number): number {
  let n = 0;
  for (let i = first; i <= last; i++) if (/^\p{Lu}/u.test(text.slice(tokens[i]!.start, tokens[i]!.end))) n++;
  return n / (last - first + 1);
}

/**
 * Where a span that ends a list of capitalised words should start: at the list's first item
 * ("Economic, Social and Cultural Rights", not "Social and Cultural Rights"). A reader's span
 * may start at the list's second item; a list cut short is a wrong answer. Only a span that
 * starts with a capital and holds the list's "and", "or" or "&" is moved.
 */
export function wholeListStart(text: string, start: number, end: number): number {
  const span = text.slice(start, end);
  if (!/^\p{Lu}/u.test(span) || !/\s(?:and|or|&)\s/.test(span)) return start;
  let s = start;
  for (;;) {
    const item = /\p{Lu}[\p{L}\p{N}'’-]*,\s+$/u.exec(text.slice(Math.max(0, s - 60), s));
    if (!item) return s;
    s -= item[0].length;
  }
}
