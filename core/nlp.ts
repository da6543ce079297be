/**
 * What a sentence holds and what a question asks for, from wink-nlp's English model (it ships
 * inside its npm package: part-of-speech tags and number, date and quantity entities). Spans are
 * exact offsets into the text given, so a short answer is as verbatim as a citation.
 */
import model from "wink-eng-lite-web-model";
import winkNLP from "wink-nlp";
import { SizedLru } from "./lru.ts";
import { stem, words } from "./text.ts";

/** What a question asks for; "none" when it asks for a description, a reason or a definition. */
export type AnswerType = "person" | "place" | "name" | "date" | "number" | "none";

/** A typed span of a sentence, offsets relative to the sentence text. */
export interface TypedSpan {
  start: number;
  end: number;
  /** "date" and "number" from the model's entities; "name" from runs of proper nouns. */
  kind: "date" | "number" | "name";
}

export interface Annotation {
  spans: TypedSpan[];
  /** Offsets of every token, relative to the text. */
  tokens: { start: number; end: number; pos: string }[];
}

const nlp = winkNLP(model);
const its = nlp.its;

const DATE_ENTITIES = new Set(["DATE", "TIME"]);
const NUMBER_ENTITIES = new Set(["CARDINAL", "MONEY", "PERCENT", "DURATION", "ORDINAL"]);
/** Small words that may sit inside a name ("Ministry of Foreign Affairs", "Duke of York"). */
const NAME_GLUE = new Set(["of", "de", "du", "von", "van", "da", "&", "and", "the", "for", "la", "le"]);

/** Annotates a text: token offsets, entities and proper-noun runs. */
export function annotate(text: string): Annotation {
  const doc = nlp.readDoc(text);
  const values = doc.tokens().out(its.value) as string[];
  const pos = doc.tokens().out(its.pos) as string[];
  const tokens: Annotation["tokens"] = [];
  let cursor = 0;
  for (const [i, v] of values.entries()) {
    const at = text.indexOf(v, cursor);
    // A token the model rewrote (rare) gets an empty span where it would be.
    if (at === -1) tokens.push({ start: cursor, end: cursor, pos: pos[i] ?? "X" });
    else {
      tokens.push({ start: at, end: at + v.length, pos: pos[i] ?? "X" });
      cursor = at + v.length;
    }
  }
  const spans: TypedSpan[] = [];
  const entities = doc.entities().out(its.detail) as unknown as { type: string }[];
  const entitySpans = doc.entities().out(its.span) as unknown as [number, number][];
  entities.forEach((e, i) => {
    const [a, b] = entitySpans[i] ?? [-1, -1];
    const first = tokens[a];
    const last = tokens[b];
    if (!first || !last || last.end <= first.start) return;
    const kind = DATE_ENTITIES.has(e.type) ? "date" : NUMBER_ENTITIES.has(e.type) ? "number" : undefined;
    if (kind) spans.push({ start: first.start, end: last.end, kind });
  });
  // Runs of proper nouns, joined across glue words that are followed by another proper noun.
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.pos !== "PROPN") continue;
    let j = i;
    while (j + 1 < tokens.length) {
      const next = tokens[j + 1]!;
      if (next.pos === "PROPN") j++;
      else if (
        NAME_GLUE.has(text.slice(next.start, next.end).toLowerCase()) &&
        tokens[j + 2]?.pos === "PROPN"
      )
        j += 2;
      else break;
    }
    spans.push({ start: tokens[i]!.start, end: tokens[j]!.end, kind: "name" });
    i = j;
  }
  return { spans, tokens };
}

/** Annotations of recently seen sentences: the same passages come back for related questions. */
export class AnnotationCache {
  readonly #lru: SizedLru<Annotation>;
  constructor(readonly capacity = 20_000) {
    this.#lru = new SizedLru(capacity, () => 1);
  }

  get(key: string, text: string): Annotation {
    let a = this.#lru.get(key);
    if (a) return a;
    a = annotate(text);
    this.#lru.set(key, a);
    return a;
  }
}

const DATE_NOUNS = /^(years?|dates?|days?|months?|century|centuries|decades?|era|period|time|season)$/;
const NUMBER_NOUNS =
  /^(numbers?|amounts?|percent(age)?|proportion|share|population|cost|price|size|temperature|rate|total|sum|quantity|distance|length|height|weight|speed|age|score)$/;
const PLACE_NOUNS =
  /^(city|cities|country|countries|state|states|place|places|location|town|region|continent|island|river|county|province|nation|venue|stadium|capital|area|district|street|building)$/;
const PERSON_NOUNS =
  /^(person|people|man|woman|men|women|president|leader|king|queen|scientist|player|author|writer|founder|director|minister|emperor|general|coach|artist|composer|architect|inventor|engineer)$/;

const SPEECH_QUESTION =
  /^\s*(?:and\s+)?what\s+(?:else\s+)?(?:did|does|do|has|have|had|will|would|could)\s+(?:\S+\s+){1,4}(?:say|tell|mention|add|stress|note|state|announce|write|claim|argue|warn|promise|reply|answer)(?:\s+\S+){0,5}\s*$/;

/**
 * The kind of answer a question asks for, from its wh-word and the noun after it. Questions
 * asking why, how (in what way) or what something is get "none": their answer is a sentence.
 */
export function answerType(question: string): AnswerType {
  const q = question.toLowerCase().replace(/[^\p{L}\p{N}\s'-]/gu, " ");
  // "What (else) did he say?" asks for what was said: a statement, not the names in it.
  if (SPEECH_QUESTION.test(q)) return "none";
  if (/\b(when)\b/.test(q)) return "date";
  if (/\bhow (many|much|long|far|old|large|big|high|tall|often|deep|wide|heavy|fast)\b/.test(q))
    return "number";
  if (/\bwhere\b/.test(q)) return "place";
  if (/\b(who|whom|whose)\b/.test(q)) return "person";
  const noun = q.match(/\b(?:what|which)\s+(?:kind of |type of |sort of )?(\w+)(?:\s+(\w+))?/);
  if (noun) {
    const w1 = noun[1] ?? "";
    const w2 = noun[2] ?? "";
    for (const w of [w1, w2]) {
      if (DATE_NOUNS.test(w)) return "date";
      if (NUMBER_NOUNS.test(w)) return "number";
      if (PLACE_NOUNS.test(w)) return "place";
      if (PERSON_NOUNS.test(w)) return "person";
    }
    if (/^(is|are|was|were|does|do|did|has|have|had|can|could|would|should|will)$/.test(w1)) {
      return /\bname\b/.test(q) ? "name" : "none";
    }
    if (/^(kind|type|sort|way|reason|purpose|role|effect|problem|idea|happened|caused)$/.test(w1))
      return "none";
    return "name";
  }
  if (/\bname\b/.test(q)) return "name";
  return "none";
}

/** The span kinds that can answer a question of this type. */
export function kindsFor(type: AnswerType): ReadonlySet<TypedSpan["kind"]> {
  switch (type) {
    case "date":
      return new Set(["date"]);
    case "number":
      return new Set(["number"]);
    case "person":
    case "place":
    case "name":
      return new Set(["name"]);
    default:
      return new Set();
  }
}

/** A span says something new when one of its words is not in the question. */
export function isNew(span: string, questionStems: ReadonlySet<string>): boolean {
  const ws = words(span);
  return ws.length > 0 && ws.some((w) => !questionStems.has(stem(w)));
}

/**
 * How well a typed span at tokens `first`..`last` sits as the answer: minus its distance in tokens
 * from the nearest question word (`anchors`; a span among them is as near as can be), 3 less when it
 * repeats a question word, 2 more for a place right after one of `placePrepositions`.
 */
export function typedSpanScore(
  text: string,
  tokens: readonly { start: number; end: number }[],
  first: number,
  last: number,
  anchors: readonly number[],
  opts: { type: AnswerType; repeatsQuestion: boolean; placePrepositions: ReadonlySet<string> },
): number {
  let distance = anchors.length === 0 ? 0 : Number.POSITIVE_INFINITY;
  for (const a of anchors) distance = Math.min(distance, a < first ? first - a : a > last ? a - last : 0);
  let score = -distance;
  if (opts.repeatsQuestion) score -= 3;
  const before = tokens[first - 1];
  if (
    opts.type === "place" &&
    before &&
    opts.placePrepositions.has(text.slice(before.start, before.end).toLowerCase())
  )
    score += 2;
  return score;
}
