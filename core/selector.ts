/**
 * The answer-sentence selector: features of the candidate sentences of the top passages and a
 * model over them (boosted trees, or a logistic regression; trained by `npm run train`, stored in
 * core/selector-model.json) that gives each the probability that it answers the question.
 *
 * Two stages keep it cheap: every sentence of the considered passages gets the term features (a
 * set lookup each); only the best `prefilter` of them by a fixed blend of those are annotated by
 * the NLP model, which the cache spares for repeated passages.
 */

import type { IndexSnapshot, SentenceSpan } from "./backend.ts";
import type { SentenceSet } from "./exclusions.ts";
import {
  type Annotation,
  AnnotationCache,
  type AnswerType,
  answerType,
  isNew,
  kindsFor,
  typedSpanScore,
} from "./nlp.ts";
import type { Passage } from "./retrieval.ts";
import { contentTerms, isStopword, sentenceKey, stem, stemSet, words } from "./text.ts";
import { type TreeModel, treeScore } from "./trees.ts";
import type { ReadScore } from "./types.ts";

/** Feature names, in the order of the model's weights. */
export const FEATURES = [
  "lexical",
  "lexicalGap",
  "bigram",
  "windowDensity",
  "typeKnown",
  "typeMatch",
  "typeMissing",
  "passageRank",
  "passageScore",
  "positionInPassage",
  "logLength",
  "novelty",
  "prefilterRank",
  "localLexical",
  "localLexicalGap",
  "rarestTerm",
  "typeNear",
  "lexicalRank",
  "passageDense",
] as const;

export type FeatureName = (typeof FEATURES)[number];

/** A logistic model over standardised features. */
export interface LogisticModel {
  features: readonly string[];
  mean: readonly number[];
  scale: readonly number[];
  weights: readonly number[];
  bias: number;
}

/** A model of either form `npm run train` can write: logistic, or boosted trees. */
export type ProbabilityModel = LogisticModel | TreeModel;

/** The selector as `npm run train` writes it. */
export type SelectorModel = ProbabilityModel & SelectorSettings;

export interface SelectorSettings {
  /** Sentences annotated and scored by the model per question. */
  prefilter: number;
  /** Passages whose sentences are candidates. */
  passages: number;
}

export interface Candidate {
  docId: string;
  start: number;
  end: number;
  text: string;
  /** Index into the passages of the first passage holding the sentence. */
  passage: number;
  /** Its passage's cosine with the question (sentences have no vector of their own). */
  dense: number;
  lexical: number;
  features: number[];
  /** Probability that the sentence answers the question; set by {@link rank}. */
  probability: number;
  annotation: Annotation;
  /** What the reader made of the sentence, when it read it. */
  read?: ReadScore;
}

export interface CandidateOptions {
  /** IDF weight of each stemmed question term. */
  weights: ReadonlyMap<string, number>;
  passages: number;
  prefilter: number;
  /** Sentences never to offer, by `sentenceKey` of their text (said before, boilerplate, headings). */
  excluded?: SentenceSet | undefined;
  /** NLP annotations kept across questions on the same index (see {@link annotationsFor}). */
  annotations: AnnotationCache;
}

/**
 * Blend that orders sentences before the model sees them (the earlier hand-weighted score): with
 * the passage's cosine for the dense part, the lexical match orders a passage's sentences and
 * mostly those of passages alike.
 */
const PREFILTER_DENSE_WEIGHT = 0.6;

const caches = new WeakMap<object, AnnotationCache>();
/** The annotation cache of an index version (any object that lives as long as it). */
export function annotationsFor(index: object): AnnotationCache {
  let c = caches.get(index);
  if (!c) {
    c = new AnnotationCache();
    caches.set(index, c);
  }
  return c;
}

/** What the features read of a sentence's words; it depends on the sentence alone. */
interface SentenceTerms {
  /** {@link stemSet} of the text. */
  stems: Set<string>;
  /** The stem of each of the text's {@link words}, in order. */
  wordStems: string[];
  bigrams: Set<string>;
  /** {@link sentenceKey} of the text, as exclusions are looked up by. */
  key: string;
}

/**
 * Sentence terms kept beside each annotation cache (so for as long as its index version): the
 * same passages come back across questions, and tokenising and stemming their sentences anew was
 * a tenth of an answer's time. About 4 KB each; the candidates of the last hundred questions or so.
 */
const termCaches = new WeakMap<AnnotationCache, Map<string, SentenceTerms>>();
const TERM_CACHE_SENTENCES = 5_000;

function sentenceTerms(cache: AnnotationCache, key: string, text: string): SentenceTerms {
  let map = termCaches.get(cache);
  if (!map) {
    map = new Map();
    termCaches.set(cache, map);
  }
  let t = map.get(key);
  if (t) {
    map.delete(key);
    map.set(key, t);
    return t;
  }
  t = {
    stems: stemSet(text),
    wordStems: words(text).map(stem),
    bigrams: bigrams(text),
    key: sentenceKey(text),
  };
  map.set(key, t);
  if (map.size > TERM_CACHE_SENTENCES) map.delete(map.keys().next().value as string);
  return t;
}

/** Inverse document frequency of each question term over the chunks. */
export async function termWeights(
  index: Pick<IndexSnapshot, "facts" | "docFreq">,
  question: string,
): Promise<Map<string, number>> {
  const total = Math.max(1, index.facts.counts.chunks);
  const terms = contentTerms(question).slice(0, 32);
  const dfs = await index.docFreq(terms);
  const weights = new Map<string, number>();
  terms.forEach((term, i) => {
    const df = dfs[i] ?? 0;
    weights.set(stem(term), Math.log(1 + (total - df + 0.5) / (df + 0.5)));
  });
  return weights;
}

/** The sentences of each passage's chunk, as {@link candidates} reads them, in one call. */
export function passageSentences(
  index: Pick<IndexSnapshot, "sentences">,
  passages: readonly Passage[],
): Promise<SentenceSpan[][]> {
  return index.sentences(passages.map((p) => ({ docId: p.doc.id, start: p.chunk.start, end: p.chunk.end })));
}

/** Stemmed bigrams of consecutive content words. */
function bigrams(text: string): Set<string> {
  const ts = contentTerms(text).map(stem);
  const out = new Set<string>();
  for (let i = 1; i < ts.length; i++) out.add(`${ts[i - 1]} ${ts[i]}`);
  return out;
}

/**
 * Distinct question terms matched, over the length in words of the smallest window holding them
 * all; `wordStems` are the stems of the sentence's words in order.
 */
function windowDensity(wordStems: readonly string[], terms: ReadonlySet<string>): number {
  const positions: { i: number; t: string }[] = [];
  wordStems.forEach((t, i) => {
    if (terms.has(t)) positions.push({ i, t });
  });
  const distinct = new Set(positions.map((p) => p.t)).size;
  if (distinct === 0) return 0;
  const counts = new Map<string, number>();
  let covered = 0;
  let best = Number.POSITIVE_INFINITY;
  let lo = 0;
  for (const p of positions) {
    counts.set(p.t, (counts.get(p.t) ?? 0) + 1);
    if (counts.get(p.t) === 1) covered++;
    while (covered === distinct) {
      const first = positions[lo]!;
      best = Math.min(best, p.i - first.i + 1);
      const n = counts.get(first.t)! - 1;
      counts.set(first.t, n);
      if (n === 0) covered--;
      lo++;
    }
  }
  return distinct / best;
}

/** True when the sentence holds a span of a kind the question asks for that the question does not itself hold. */
export function holdsAnswerType(
  sentence: string,
  annotation: Annotation,
  type: AnswerType,
  questionStems: ReadonlySet<string>,
): boolean {
  const kinds = kindsFor(type);
  return annotation.spans.some(
    (s) => kinds.has(s.kind) && isNew(sentence.slice(s.start, s.end), questionStems),
  );
}

/** Prepositions that introduce a place, for the typeNear feature. */
const PLACE_PREPOSITIONS = new Set(["in", "at", "near", "from", "to", "into", "on", "outside", "inside"]);

/**
 * The typed span of a sentence nearest the question's words, for the typeNear feature: `score`
 * is minus its distance in tokens from the nearest question word, 3 less when the span repeats
 * a question word, 2 more for a place after a preposition of place. (The short answer refines
 * this choice; this feature keeps the form the committed model was trained with.)
 */
export function nearestTypedSpan(
  question: string,
  type: AnswerType,
  text: string,
  annotation: Annotation,
  /** The question's content-word stems, when the caller has them already. */
  contentStems?: ReadonlySet<string>,
): { start: number; end: number; score: number } | undefined {
  const kinds = kindsFor(type);
  if (kinds.size === 0) return undefined;
  const questionStems = contentStems ?? questionContentStems(question);
  const tokens = annotation.tokens;
  const anchors: number[] = [];
  tokens.forEach((t, i) => {
    const w = text.slice(t.start, t.end).toLowerCase();
    if (!isStopword(w) && questionStems.has(stem(w))) anchors.push(i);
  });
  let best: { start: number; end: number; score: number } | undefined;
  for (const s of annotation.spans) {
    if (!kinds.has(s.kind)) continue;
    const spanText = text.slice(s.start, s.end);
    if (!isNew(spanText, questionStems)) continue;
    const first = tokens.findIndex((t) => t.start >= s.start);
    let last = first;
    while (last + 1 < tokens.length && tokens[last + 1]!.end <= s.end) last++;
    const score = typedSpanScore(text, tokens, first, last, anchors, {
      type,
      repeatsQuestion: words(spanText).some((w) => questionStems.has(stem(w))),
      placePrepositions: PLACE_PREPOSITIONS,
    });
    if (!best || score > best.score) best = { start: s.start, end: s.end, score };
  }
  return best;
}

/** Stems of the question's words that are not stopwords, as {@link nearestTypedSpan} anchors on. */
function questionContentStems(question: string): Set<string> {
  return new Set(
    words(question)
      .filter((w) => !isStopword(w))
      .map(stem),
  );
}

/**
 * The candidate sentences of the top passages with their features, best first by the prefilter
 * blend; the model's probabilities are not yet set. `sentencesOf[i]` holds the sentences of
 * passage i (see {@link passageSentences}).
 */
export function candidates(
  sentencesOf: readonly (readonly SentenceSpan[])[],
  passages: readonly Passage[],
  question: string,
  opts: CandidateOptions,
): Candidate[] {
  const weights = opts.weights;
  const totalWeight = [...weights.values()].reduce((a, b) => a + b, 0);
  const questionStems = new Set(words(question).map(stem));
  const questionBigrams = bigrams(question);
  const termSet = new Set(weights.keys());
  const type = answerType(question);
  const topScore = passages[0]?.score || 1;

  interface Raw {
    docId: string;
    start: number;
    end: number;
    text: string;
    passage: number;
    dense: number;
    lexical: number;
    position: number;
    stems: Set<string>;
    terms: SentenceTerms;
  }
  const seen = new Set<string>();
  const raws: Raw[] = [];
  passages.slice(0, opts.passages).forEach((p, pi) => {
    const sentences = sentencesOf[pi] ?? [];
    sentences.forEach((s, si) => {
      const key = `${p.doc.id}:${s.start}:${s.end}`;
      if (seen.has(key)) return;
      seen.add(key);
      const text = p.chunk.text.slice(s.start - p.chunk.start, s.end - p.chunk.start);
      const terms = sentenceTerms(opts.annotations, key, text);
      if (opts.excluded?.has(terms.key)) return;
      const stems = terms.stems;
      let hit = 0;
      for (const [term, w] of weights) if (stems.has(term)) hit += w;
      const lexical = totalWeight > 0 ? hit / totalWeight : 0;
      raws.push({
        docId: p.doc.id,
        start: s.start,
        end: s.end,
        text,
        passage: pi,
        // Sentences have no vector (the index stores their spans only): a sentence's dense match
        // is its passage's cosine with the question, which retrieval computed for every passage
        // it fused; the lexical match stands in without a question vector.
        dense: p.dense?.score ?? lexical,
        lexical,
        position: sentences.length > 1 ? si / (sentences.length - 1) : 0,
        stems,
        terms,
      });
    });
  });
  const blend = (r: Raw) => PREFILTER_DENSE_WEIGHT * r.dense + (1 - PREFILTER_DENSE_WEIGHT) * r.lexical;
  raws.sort((a, b) => blend(b) - blend(a) || a.passage - b.passage || a.start - b.start);
  const top = raws.slice(0, opts.prefilter);
  const maxLexical = Math.max(...top.map((r) => r.lexical));
  // Question terms weighted by how few of the candidate sentences hold them: the words that tell
  // the candidates apart, whatever their frequency in the whole corpus.
  const local = new Map<string, number>();
  for (const t of termSet) {
    const df = raws.filter((r) => r.stems.has(t)).length;
    if (df > 0) local.set(t, Math.log(1 + raws.length / df));
  }
  const localTotal = [...local.values()].reduce((a, b) => a + b, 0);
  const rarest = [...local.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
  const localOf = (r: Raw) => {
    let hit = 0;
    for (const [t, w] of local) if (r.stems.has(t)) hit += w;
    return localTotal > 0 ? hit / localTotal : 0;
  };
  const locals = top.map(localOf);
  const maxLocal = Math.max(...locals);
  const rankOf = (values: number[]) => {
    const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
    const out = new Array<number>(values.length).fill(0);
    order.forEach((j, k) => {
      out[j] = 1 / (k + 1);
    });
    return out;
  };
  const lexicalRanks = rankOf(top.map((r) => r.lexical));
  const cache = opts.annotations;
  const contentStems = questionContentStems(question);
  return top.map((r, rank) => {
    const annotation = cache.get(`${r.docId}:${r.start}:${r.end}`, r.text);
    const wordCount = r.terms.wordStems.length;
    const sentenceBigrams = r.terms.bigrams;
    let bigramHits = 0;
    for (const b of questionBigrams) if (sentenceBigrams.has(b)) bigramHits++;
    const novel = r.terms.wordStems.filter((t) => !questionStems.has(t)).length;
    const typeKnown = type !== "none";
    const typeMatch = typeKnown && holdsAnswerType(r.text, annotation, type, questionStems);
    const near = typeMatch ? nearestTypedSpan(question, type, r.text, annotation, contentStems) : undefined;
    const f: Record<FeatureName, number> = {
      lexical: r.lexical,
      lexicalGap: r.lexical - maxLexical,
      bigram: questionBigrams.size > 0 ? bigramHits / questionBigrams.size : 0,
      windowDensity: windowDensity(r.terms.wordStems, termSet),
      typeKnown: typeKnown ? 1 : 0,
      typeMatch: typeMatch ? 1 : 0,
      typeMissing: typeKnown && !typeMatch ? 1 : 0,
      passageRank: 1 / (r.passage + 1),
      passageScore: (passages[r.passage]?.score ?? 0) / topScore,
      positionInPassage: r.position,
      logLength: Math.log(1 + wordCount),
      novelty: wordCount > 0 ? novel / wordCount : 0,
      prefilterRank: 1 / (rank + 1),
      localLexical: locals[rank]!,
      localLexicalGap: locals[rank]! - maxLocal,
      rarestTerm: rarest !== undefined && r.stems.has(rarest) ? 1 : 0,
      // 1 for a typed span beside the question's words, falling with its distance from them.
      typeNear: near ? Math.exp(near.score / 3) : 0,
      lexicalRank: lexicalRanks[rank]!,
      passageDense: r.dense,
    };
    return {
      docId: r.docId,
      start: r.start,
      end: r.end,
      text: r.text,
      passage: r.passage,
      dense: r.dense,
      lexical: r.lexical,
      features: FEATURES.map((n) => f[n]),
      probability: 0,
      annotation,
    };
  });
}

/** The model's probability for one feature vector. */
export function probability(model: ProbabilityModel, x: readonly number[]): number {
  if ("trees" in model) return 1 / (1 + Math.exp(-treeScore(model, x)));
  let z = model.bias;
  for (let i = 0; i < x.length; i++) {
    z += (model.weights[i] ?? 0) * ((x[i]! - (model.mean[i] ?? 0)) / (model.scale[i] || 1));
  }
  return 1 / (1 + Math.exp(-z));
}

/** Sets each candidate's probability and sorts them best first. */
export function rank(model: SelectorModel, cs: Candidate[]): Candidate[] {
  for (const c of cs) c.probability = probability(model, c.features);
  return cs.sort((a, b) => b.probability - a.probability || a.passage - b.passage || a.start - b.start);
}
