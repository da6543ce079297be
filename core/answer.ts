/**
 * Extractive answers: the sentences of the retrieved passages that best answer the question,
 * each followed by markers naming every passage that contains it verbatim. No text is written
 * that is not in the corpus.
 */
import type { IndexSnapshot, SentenceSpan } from "./backend.ts";
import type { RetrievalConfig } from "./config.ts";
import type { SentenceSet } from "./exclusions.ts";
import type { AnnotationCache } from "./nlp.ts";
import { answerType } from "./nlp.ts";
import { pageOf } from "./pages.ts";
import type { Citation, ShortAnswer, SourceRef } from "./protocol.ts";
import type { Passage, Retrieval } from "./retrieval.ts";
import retrievalModel from "./retrieval-model.json" with { type: "json" };
import {
  annotationsFor,
  type Candidate,
  candidates,
  type ProbabilityModel,
  passageSentences,
  probability,
  rank,
  type SelectorModel,
  termWeights,
} from "./selector.ts";
import selectorModel from "./selector-model.json" with { type: "json" };
import { type ShortAnswerModel, shortAnswer, wholeListStart } from "./short-answer.ts";
import { contentTerms, sentenceKey } from "./text.ts";
import type { Reader, ReadScore } from "./types.ts";

export interface ComposeOptions {
  maxSentences: number;
  /**
   * The reader's probability of the first sentence under which the answer is "not found" as well,
   * when the first sentence was read; the match-strength bar applies either way.
   */
  readerBar?: number | undefined;
  /** Match strength (see matchStrength) of the best sentence under which the answer is "not found". */
  threshold: number;
  /**
   * The sentence whose match strength meets `threshold`, when it is not the first of the
   * candidates: the trees' best, when the reader has reordered them. The bar was fitted on the
   * trees' best sentence; the reader's first shares fewer of the question's words more often
   * (it refused 1.3 % of squad-dev's answerable questions against 0.6 % without the reader).
   */
  evidenceFrom?: Candidate | undefined;
  /** A further sentence joins the answer only when its probability reaches this. */
  follower: number;
  /** Sentences (tested by `sentenceKey`) the answer must not give: said before, boilerplate, headings. */
  excluded?: SentenceSet;
}

export interface Composed {
  notFound: boolean;
  /** Match strength of the best sentence: how well the corpus answers the question. */
  evidence: number;
  /** The selector's probability that the best sentence answers the question. */
  probability: number;
  sentences: Candidate[];
  /** The best-ranked candidate, said or not (for calibration). */
  best?: Candidate;
  /** The answer as pieces, in order: sentence text, then its markers. Joined, they are `answer`. */
  pieces: string[];
  answer: string;
  citations: Citation[];
  /** The span of the first sentence that answers a question asking for a name, date, number... */
  shortAnswer?: ShortAnswer;
  /** Passages (indices) whose every sentence the reader read it found irrelevant. */
  irrelevant?: number[];
}

export const NOT_FOUND_TEXT =
  "I could not find the answer in the indexed documents. The closest passages are listed as sources.";

/**
 * How strongly a sentence matches the question in absolute terms: 0.6 × its passage's cosine
 * with the question + 0.4 × the IDF-weighted share of question terms in the sentence. Not-found
 * is decided on this for the selector's best sentence: measured on held-out articles and
 * squad2-unanswerable it separates unanswerable questions better than the selector's
 * probability, whose features are mostly relative to the other candidates (docs/evaluation.md).
 */
export function matchStrength(c: { dense: number; lexical: number }): number {
  return 0.6 * c.dense + 0.4 * c.lexical;
}

/** Content words from which each further word lowers the not-found bar, and by how much. */
const LONG_QUESTION_FROM = 5;
const LONG_QUESTION_RELIEF = 0.02;

/**
 * The match strength below which a question of `terms` content words is answered "not found":
 * `threshold` up to five words, then 0.02 lower for each further word, down to half of it. A
 * long question (a news quiz question, a conversational one) shares a smaller part of its words
 * with the one sentence that answers it, so a fixed bar refused 12.8% of answerable news-2023
 * questions against 0.3% of squad-dev's (docs/evaluation.md, "Not found").
 */
export function notFoundBar(threshold: number, terms: number): number {
  return Math.max(threshold / 2, threshold - LONG_QUESTION_RELIEF * Math.max(0, terms - LONG_QUESTION_FROM));
}

/**
 * A selector model with the probability a second sentence needs to join the answer, and the model
 * that picks the short answer from the first.
 */
export type Selector = SelectorModel & {
  follower: number;
  shortAnswer: ShortAnswerModel;
  reader?: ReaderSettings;
};

/** The committed selector (see `npm run train`). */
export const SELECTOR: Selector = selectorModel;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const logit = (p: number) => Math.log(Math.max(1e-9, p) / Math.max(1e-9, 1 - p));

/**
 * How the engine uses the reader (reader/fit.ts, fitted by `npm run train:reader` on questions of
 * articles neither the reader nor the trees saw): the selector's best `read` sentences are read,
 * and a model over the reader's and the trees' logits ({@link combinationFeatures}) orders them:
 * boosted trees, or the logistic model earlier fits wrote.
 */
export type ReaderSettings = ProbabilityModel & {
  /** Sentences read: the selector's best. */
  read: number;
  /**
   * The trees' probability of their best sentence from which only that one is read (its span and
   * whether it answers at all): the reader rarely reorders what the trees are this sure of.
   */
  sure?: number;
  /** The combined probability a second sentence needs to join the answer. */
  follower: number;
  /** Reader probability of the first sentence under which the answer is "not found". */
  notFound: number;
  /** Span probability from which the reader's span is the short answer. */
  shortAnswer: number;
};

/** What the combination reads of each read sentence; a logistic model uses the first four. */
export const COMBINATION_FEATURES = [
  "reader",
  "readerGap",
  "trees",
  "treesGap",
  "readerRank",
  "treesRank",
  "span",
  "spanGap",
] as const;

/** The logit of the reader's best span's probability; a sentence without a span gets the floor. */
const spanLogit = (p: number | undefined) => logit(Math.min(Math.max(p ?? 0, 1e-4), 1 - 1e-4));

/**
 * The combination's features of the read sentences, from the reader's scores and the trees'
 * logits in the same order: each logit, its gap to the question's best, its rank as 1/rank (ties
 * share the better rank), and how sure the reader is of its best span in the sentence.
 */
export function combinationFeatures(reads: readonly ReadScore[], treeLogits: readonly number[]): number[][] {
  const readerLogits = reads.map((r) => r.logit);
  const maxR = Math.max(...readerLogits);
  const maxT = Math.max(...treeLogits);
  const rankIn = (v: readonly number[], x: number) => 1 / (1 + v.filter((y) => y > x).length);
  const spans = reads.map((r) => spanLogit(r.span?.probability));
  const maxS = Math.max(...spans);
  return readerLogits.map((r, k) => {
    const t = treeLogits[k]!;
    return [
      r,
      r - maxR,
      t,
      t - maxT,
      rankIn(readerLogits, r),
      rankIn(treeLogits, t),
      spans[k]!,
      spans[k]! - maxS,
    ];
  });
}

/** Sentences a follow-up reads at least: those already said drop out of its answer. */
const FOLLOW_UP_READ = 6;

/** A passage whose every read sentence the reader finds at most this likely is not a source. */
const IRRELEVANT = 0.02;

/** Key of a candidate sentence in the reader's scores. */
export const readKey = (c: { docId: string; start: number; end: number }) => `${c.docId}:${c.start}:${c.end}`;

/**
 * Orders the candidates by the reader: those it read first, by the combined probability (which
 * becomes their `probability`); the rest after them in the trees' order, never as followers.
 */
export function rerank(
  ranked: Candidate[],
  reads: ReadonlyMap<string, ReadScore>,
  s: ReaderSettings,
): Candidate[] {
  const read = ranked.filter((c) => reads.has(readKey(c)));
  if (read.length === 0) return ranked;
  const xs = combinationFeatures(
    read.map((c) => reads.get(readKey(c))!),
    read.map((c) => logit(c.probability)),
  );
  read.forEach((c, k) => {
    c.read = reads.get(readKey(c))!;
    c.probability = probability(s, xs[k]!);
  });
  read.sort((a, b) => b.probability - a.probability || a.passage - b.passage || a.start - b.start);
  const rest = ranked.filter((c) => !reads.has(readKey(c)));
  for (const c of rest) c.probability = Math.min(c.probability, s.follower / 2);
  return [...read, ...rest];
}

/** Numbered sources for the passages, in rank order. */
export function toSources(passages: readonly Passage[]): SourceRef[] {
  return passages.map((p, i) => {
    const s: SourceRef = {
      n: i + 1,
      docId: p.doc.id,
      chunkId: p.chunk.id,
      title: p.doc.title,
      source: p.doc.source,
      start: p.chunk.start,
      end: p.chunk.end,
      snippet: p.chunk.text,
      score: Number(p.score.toFixed(6)),
    };
    if (p.doc.date) s.date = p.doc.date;
    if (p.doc.url) s.url = p.doc.url;
    const page = pageOf(p.doc.pages, p.chunk.start);
    if (page !== undefined) s.page = page;
    return s;
  });
}

/** Source numbers of every passage that holds the sentence verbatim. */
function supporting(sentence: Candidate, passages: readonly Passage[]): number[] {
  const ns: number[] = [];
  passages.forEach((p, i) => {
    const sameSpan =
      p.doc.id === sentence.docId && p.chunk.start <= sentence.start && sentence.end <= p.chunk.end;
    if (sameSpan) ns.push(i + 1);
  });
  return ns;
}

/** Builds the answer from ranked candidates; marks it not found when the best is unlikely to answer. */
export function compose(
  candidates: readonly Candidate[],
  passages: readonly Passage[],
  opts: ComposeOptions,
): Composed {
  const excluded = opts.excluded;
  const ranked = excluded ? candidates.filter((s) => !excluded.has(sentenceKey(s.text))) : candidates;
  const best = ranked[0];
  const judged = opts.evidenceFrom ?? best;
  const evidence = judged ? matchStrength(judged) : 0;
  const probability = best?.probability ?? 0;
  // The reader refuses on top of the match-strength rule, never instead of it: a question about
  // something the documents never mention can still get a sentence the reader half believes.
  const doubted =
    best?.read !== undefined && opts.readerBar !== undefined && sigmoid(best.read.logit) < opts.readerBar;
  const weak = evidence < opts.threshold || doubted;
  if (!best || weak) {
    return {
      notFound: true,
      evidence,
      probability,
      sentences: [],
      pieces: [NOT_FOUND_TEXT],
      answer: NOT_FOUND_TEXT,
      citations: [],
    };
  }
  const chosen: Candidate[] = [];
  const texts = new Set<string>();
  for (const s of ranked) {
    if (chosen.length >= opts.maxSentences) break;
    if (chosen.length > 0 && s.probability < opts.follower) break;
    const norm = s.text.replace(/\s+/g, " ");
    if (texts.has(norm)) continue;
    texts.add(norm);
    chosen.push(s);
  }
  const pieces: string[] = [];
  const citations: Citation[] = [];
  let offset = 0;
  chosen.forEach((s, i) => {
    const lead = i === 0 ? "" : " ";
    const answerStart = offset + lead.length;
    pieces.push(lead + s.text);
    offset = answerStart + s.text.length;
    const ns = supporting(s, passages);
    const markers = ns.map((n) => `[${n}]`).join("");
    pieces.push(` ${markers}`);
    offset += markers.length + 1;
    for (const n of ns) {
      const p = passages[n - 1]!;
      citations.push({
        n,
        docId: s.docId,
        chunkId: p.chunk.id,
        start: s.start,
        end: s.end,
        text: s.text,
        answerStart,
        answerEnd: answerStart + s.text.length,
      });
    }
  });
  return {
    notFound: false,
    evidence,
    probability,
    sentences: chosen,
    pieces,
    answer: pieces.join(""),
    citations,
  };
}

/**
 * The server-side check every citation passes before it is sent: the cited source's passage
 * contains the sentence verbatim at the cited offsets, and the answer holds it at its offsets.
 * Returns the citations that fail (none, unless there is a bug).
 */
export function invalidCitations(
  answer: string,
  citations: readonly Citation[],
  sources: readonly SourceRef[],
): Citation[] {
  return citations.filter((c) => {
    const src = sources[c.n - 1];
    if (!src || src.n !== c.n || src.docId !== c.docId || src.chunkId !== c.chunkId) return true;
    if (c.start < src.start || c.end > src.end) return true;
    if (src.snippet.slice(c.start - src.start, c.end - src.start) !== c.text) return true;
    return answer.slice(c.answerStart, c.answerEnd) !== c.text;
  });
}

/** The short answer lies inside the first cited sentence and is verbatim there. */
export function shortAnswerChecks(short: ShortAnswer, citations: readonly Citation[]): boolean {
  const first = citations[0];
  if (!first || first.docId !== short.docId) return false;
  if (short.start < first.start || short.end > first.end || short.end <= short.start) return false;
  return first.text.slice(short.start - first.start, short.end - first.start) === short.text;
}

export interface AnswerOptions {
  /** Sentences (tested by `sentenceKey` of their text) never said: given before, boilerplate, headings. */
  excluded?: SentenceSet;
  model?: Selector;
}

/** What composing an answer reads from the index for one retrieval, read in one go. */
export interface AnswerReading {
  /** The sentences of each retrieved passage, in passage order. */
  sentences: SentenceSpan[][];
  /** IDF weight of each stemmed question term. */
  weights: Map<string, number>;
  annotations: AnnotationCache;
  /** The reader's scores of the sentences it read, by {@link readKey}. */
  reads?: Map<string, ReadScore>;
}

/** Reads what {@link answerFrom} needs for a retrieval from the index version it came from. */
export async function readForAnswer(
  index: IndexSnapshot,
  r: Retrieval,
  question: string,
  opts: ReadOptions = {},
): Promise<AnswerReading> {
  // A rewritten follow-up also weighs the terms it borrowed from the conversation.
  const [sentences, weights] = await Promise.all([
    passageSentences(index, r.passages),
    termWeights(index, r.query === question ? question : `${question} ${r.query}`),
  ]);
  const reading: AnswerReading = { sentences, weights, annotations: annotationsFor(index) };
  // The committed selector unless told otherwise, as in answerFrom.
  const model = opts.model ?? SELECTOR;
  const settings = model.reader;
  if (!opts.reader || !settings) return reading;
  // The selector's best sentences, before any exclusion: a follow-up reads a few more, as the
  // sentences already said drop out of its answer.
  const ranked = rank(
    model,
    candidates(sentences, r.passages, question, {
      weights,
      passages: model.passages,
      prefilter: model.prefilter,
      annotations: reading.annotations,
    }),
  );
  const first = ranked[0]?.probability ?? 0;
  const read = opts.followUp
    ? Math.max(FOLLOW_UP_READ, 2 * settings.read)
    : settings.sure !== undefined && first >= settings.sure
      ? 1
      : settings.read;
  const top = ranked.slice(0, read);
  const scores = await opts.reader.read(
    r.query,
    top.map((c) => ({ title: r.passages[c.passage]?.doc.title ?? "", text: c.text })),
  );
  reading.reads = new Map(top.map((c, i) => [readKey(c), scores[i]!]));
  return reading;
}

export interface ReadOptions {
  reader?: Reader | undefined;
  model?: Selector;
  /** The question follows up on a conversation (more sentences are read). */
  followUp?: boolean;
}

/** The answer to `question` from a retrieval, as the engine composes it. */
export function answerFrom(
  reading: AnswerReading,
  r: Retrieval,
  question: string,
  config: Pick<RetrievalConfig, "answerSentences" | "notFoundThreshold">,
  opts: AnswerOptions = {},
): Composed {
  const model = opts.model ?? SELECTOR;
  const settings = reading.reads ? model.reader : undefined;
  const treeRanked = rank(
    model,
    candidates(reading.sentences, r.passages, question, {
      weights: reading.weights,
      passages: model.passages,
      prefilter: model.prefilter,
      excluded: opts.excluded,
      annotations: reading.annotations,
    }),
  );
  const ranked = settings ? rerank(treeRanked, reading.reads!, settings) : treeRanked;
  const composed = compose(ranked, r.passages, {
    maxSentences: config.answerSentences,
    threshold: notFoundBar(config.notFoundThreshold, contentTerms(question).length),
    follower: settings ? settings.follower : model.follower,
    evidenceFrom: treeRanked[0],
    readerBar: settings ? settings.notFound * (config.notFoundThreshold / DEFAULT_NOT_FOUND) : undefined,
  });
  if (settings) composed.irrelevant = irrelevantPassages(ranked, composed, r.passages.length);
  if (ranked[0]) composed.best = ranked[0];
  const first = composed.sentences[0];
  if (first && settings && first.read) {
    // The reader's own span, given only when it is sure enough: a wrong bold answer is worse than none.
    const span = first.read.span;
    if (span && span.probability >= settings.shortAnswer && span.end > span.start) {
      const start = wholeListStart(first.text, span.start, span.end);
      composed.shortAnswer = {
        text: first.text.slice(start, span.end),
        docId: first.docId,
        start: first.start + start,
        end: first.start + span.end,
      };
    }
  } else if (first) {
    const next = ranked.find((c) => c !== first && !opts.excluded?.has(sentenceKey(c.text)));
    const evidence = { probability: first.probability, gap: first.probability - (next?.probability ?? 0) };
    const short = shortAnswer(question, answerType(question), first, evidence, model.shortAnswer);
    if (short) composed.shortAnswer = short;
  }
  return composed;
}

/**
 * The not-found bar the reader's threshold was fitted against (a follow-up lowers both alike): the
 * default `notFoundThreshold`. 0.47 since sentences have no vectors (the match strength reads the
 * passage's cosine): it refuses as many of split B's answerable questions (by the trees' best
 * sentence, 0.68 %) as 0.45 did on sentence cosines (0.69 %).
 */
export const DEFAULT_NOT_FOUND = retrievalModel.notFoundThreshold;

/** Passages the reader read sentences of and found none of them relevant, and that are not cited. */
function irrelevantPassages(ranked: readonly Candidate[], composed: Composed, passages: number): number[] {
  const best = new Map<number, number>();
  for (const c of ranked) {
    if (!c.read) continue;
    best.set(c.passage, Math.max(best.get(c.passage) ?? 0, sigmoid(c.read.logit)));
  }
  const cited = new Set(composed.sentences.map((s) => s.passage));
  const out: number[] = [];
  for (let i = 1; i < passages; i++) {
    const b = best.get(i);
    if (b !== undefined && b < IRRELEVANT && !cited.has(i)) out.push(i);
  }
  return out;
}
