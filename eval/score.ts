/**
 * Scores one question's retrieval and answer, and sums question results into a summary.
 * No I/O: document texts come in through a lookup.
 */

import type { AnswerEvent, Citation, SourceRef } from "../core/protocol.ts";
import type { RetrievalMode } from "../core/retrieval.ts";
import { answerOccurs, formsContain, matchForms } from "./answer-match.ts";
import { type AnswerQuality, scoreAnswerQuality } from "./answer-quality.ts";
import { answerBody, checkCitation } from "./citations.ts";
import type { EvalQuestion } from "./dataset.ts";
import {
  mean,
  ndcgAt,
  overlaps,
  percentile,
  rankDocs,
  rate,
  recallAt,
  reciprocalRankAt,
  type Span,
} from "./metrics.ts";

/** What scoring needs of a retrieved passage. */
export interface RankedChunk {
  docId: string;
  chunkId: string;
  start: number;
  end: number;
  text: string;
}

export interface GoldSpan extends Span {
  docId: string;
}

export interface ModeResult {
  /** Documents in rank order (first ten). */
  docs: string[];
  /** The top-k chunks. */
  chunks: string[];
  /** Rank of the first gold document among all ranked documents, or null. */
  goldRank: number | null;
  recall1: number | null;
  recall5: number | null;
  recall10: number | null;
  rr10: number | null;
  ndcg10: number | null;
  /** A gold answer is in one of the top-k chunks; null for a question with no answers. */
  answerInContext: boolean | null;
  /** Share of located gold passages overlapped by a top-k chunk; null when there are none. */
  passageRecall: number | null;
  retrievalMs: number;
}

/** Scores a ranking against the question's gold documents, answers and passages. */
export function scoreRanking(
  q: EvalQuestion,
  ranked: readonly RankedChunk[],
  k: number,
  goldSpans: readonly GoldSpan[],
  retrievalMs: number,
): ModeResult {
  const docs = rankDocs(ranked.map((c) => c.docId));
  const gold = q.goldDocIds;
  const hasGold = gold.length > 0;
  const top = ranked.slice(0, k);
  const goldIndex = docs.findIndex((d) => gold.includes(d));
  const answerForms = q.answers.map(matchForms);
  return {
    docs: docs.slice(0, 10),
    chunks: top.map((c) => c.chunkId),
    goldRank: goldIndex === -1 ? null : goldIndex + 1,
    recall1: hasGold ? recallAt(docs, gold, 1) : null,
    recall5: hasGold ? recallAt(docs, gold, 5) : null,
    recall10: hasGold ? recallAt(docs, gold, 10) : null,
    rr10: hasGold ? reciprocalRankAt(docs, gold, 10) : null,
    ndcg10: hasGold ? ndcgAt(docs, gold, 10) : null,
    answerInContext:
      q.answers.length === 0
        ? null
        : top.some((c) => {
            const forms = matchForms(c.text);
            return answerForms.some((a) => formsContain(forms, a));
          }),
    passageRecall:
      goldSpans.length === 0
        ? null
        : goldSpans.filter((g) => top.some((c) => c.docId === g.docId && overlaps(c, g))).length /
          goldSpans.length,
    retrievalMs,
  };
}

export interface CitationResult {
  n: number;
  docId: string;
  start: number;
  end: number;
  verbatim: boolean;
  answerBearing: boolean | null;
}

export interface AnswerResult {
  answer: string;
  notFound: boolean;
  /** A gold answer is in the answer; null for a question with no answers or on not found. */
  correct: boolean | null;
  citations: CitationResult[];
  /** Evidence score recomputed beside the engine (see evidence.ts). */
  evidence: number;
  /** The recomputed not-found verdict matches the engine's. */
  evidenceAgrees: boolean;
  /** As the engine measured them (query embedding included). */
  retrievalMs: number;
  totalMs: number;
  /** First sentence and short answer (see answer-quality.ts). */
  quality: AnswerQuality;
}

/** Scores the engine's answer events for a question. */
export function scoreAnswer(
  q: EvalQuestion,
  events: readonly AnswerEvent[],
  docText: (id: string) => string | undefined,
  evidence: { evidence: number; notFound: boolean },
): AnswerResult {
  let sources: SourceRef[] = [];
  let done: Extract<AnswerEvent, { type: "done" }> | undefined;
  for (const e of events) {
    if (e.type === "sources") sources = e.sources;
    if (e.type === "done") done = e;
  }
  if (!done) throw new Error(`the engine sent no done event for question ${q.id}`);
  const citations = done.citations.map((c: Citation): CitationResult => {
    const check = checkCitation(c, sources, done.answer, docText(c.docId), q.answers);
    return {
      n: c.n,
      docId: c.docId,
      start: c.start,
      end: c.end,
      verbatim: check.verbatim,
      answerBearing: check.answerBearing ?? null,
    };
  });
  return {
    answer: done.answer,
    notFound: done.notFound,
    correct:
      q.answers.length === 0
        ? null
        : !done.notFound && answerOccurs(answerBody(done.answer, done.citations), q.answers),
    citations,
    evidence: evidence.evidence,
    evidenceAgrees: evidence.notFound === done.notFound,
    retrievalMs: done.timings.retrievalMs,
    totalMs: done.timings.totalMs,
    quality: scoreAnswerQuality(q, done),
  };
}

export interface QuestionResult {
  id: string;
  line: number;
  question: string;
  answers: string[];
  goldDocIds: string[];
  expectNotFound: boolean;
  /**
   * A gold answer occurs in one of the gold documents; null without answers. When false, the
   * verdicts that look for the answer are null (see applicability.ts).
   */
  answerInGold: boolean | null;
  /** Model time for the question's embedding (once, reused by every mode). */
  embedMs: number;
  modes: Partial<Record<RetrievalMode, ModeResult>>;
  /** Null when the engine failed on the question; `error` says how. */
  answer: AnswerResult | null;
  /** The same question answered without the reader, when the evaluation compares the two. */
  answerReaderOff?: AnswerResult | null;
  error: string | null;
}

export interface Quantiles {
  p50: number | null;
  p95: number | null;
}

export interface ModeSummary {
  /** Questions with gold documents. */
  questions: number;
  recall1: number | null;
  recall5: number | null;
  recall10: number | null;
  mrr10: number | null;
  ndcg10: number | null;
  answerInContext: { k: number; questions: number; rate: number | null };
  passageRecall: { k: number; questions: number; rate: number | null } | null;
  retrievalMs: Quantiles;
}

export interface AnswerSummary {
  answerable: number;
  /** Answerable questions whose gold answer occurs in a gold document (accuracy's denominator). */
  checkable: number;
  /** Answers holding a gold answer, over checkable questions. */
  accuracy: number | null;
  falseNotFoundRate: number | null;
  /** The same over checkable questions, whose gold answer is text of the corpus. */
  falseNotFoundCheckableRate: number | null;
  expectNotFound: number;
  notFoundRate: number | null;
  citations: {
    total: number;
    verbatim: number;
    verbatimRate: number | null;
    /** Citations on checkable questions (answerable, gold answer in a gold document). */
    onAnswerable: number;
    answerBearing: number;
    answerBearingRate: number | null;
    /**
     * Distinct cited sentences on checkable questions: one per question and document span, however
     * many sources (overlapping chunks) it was cited through.
     */
    sentences: number;
    /** Distinct cited sentences that are verbatim (every citation of them) and answer-bearing. */
    precision: number | null;
    /** The same, counted per citation: a sentence cited through two sources counts twice. */
    precisionPerCitation: number | null;
  };
  /** Questions where the recomputed evidence disagrees with the engine's not-found verdict. */
  evidenceDisagreements: number;
  embedMs: Quantiles;
  retrievalMs: Quantiles;
  totalMs: Quantiles;
}

const round = (x: number | undefined, digits = 4): number | null =>
  x === undefined ? null : Number(x.toFixed(digits));

export function quantiles(values: readonly number[]): Quantiles {
  return { p50: round(percentile(values, 50), 2), p95: round(percentile(values, 95), 2) };
}

/** Sums one mode over the questions that ran it. */
export function summarizeMode(results: readonly ModeResult[], k: number): ModeSummary {
  const ranked = results.filter((r) => r.recall1 !== null);
  const avg = (pick: (r: ModeResult) => number | null) => round(mean(ranked.map((r) => pick(r) ?? 0)));
  const withAnswers = results.filter((r) => r.answerInContext !== null);
  const withPassages = results.filter((r) => r.passageRecall !== null);
  return {
    questions: ranked.length,
    recall1: avg((r) => r.recall1),
    recall5: avg((r) => r.recall5),
    recall10: avg((r) => r.recall10),
    mrr10: avg((r) => r.rr10),
    ndcg10: avg((r) => r.ndcg10),
    answerInContext: {
      k,
      questions: withAnswers.length,
      rate: round(rate(withAnswers.filter((r) => r.answerInContext).length, withAnswers.length)),
    },
    passageRecall:
      withPassages.length === 0
        ? null
        : {
            k,
            questions: withPassages.length,
            rate: round(mean(withPassages.map((r) => r.passageRecall ?? 0))),
          },
    retrievalMs: quantiles(results.map((r) => r.retrievalMs)),
  };
}

/** Sums the answer path over all questions. */
export function summarizeAnswers(questions: readonly QuestionResult[]): AnswerSummary {
  const results = questions.flatMap((r) => (r.answer ? [{ ...r, answer: r.answer }] : []));
  const answerable = results.filter((r) => !r.expectNotFound);
  const checkable = answerable.filter((r) => r.answer.correct !== null);
  const unanswerable = results.filter((r) => r.expectNotFound);
  const all = results.flatMap((r) => r.answer.citations);
  const onAnswerable = answerable.flatMap((r) => r.answer.citations).filter((c) => c.answerBearing !== null);
  const sentences = answerable.flatMap((r) => citedSentences(r.answer.citations));
  const verbatim = all.filter((c) => c.verbatim).length;
  const bearing = onAnswerable.filter((c) => c.answerBearing).length;
  return {
    answerable: answerable.length,
    checkable: checkable.length,
    accuracy: round(rate(checkable.filter((r) => r.answer.correct).length, checkable.length)),
    falseNotFoundRate: round(rate(answerable.filter((r) => r.answer.notFound).length, answerable.length)),
    falseNotFoundCheckableRate: round(
      rate(checkable.filter((r) => r.answer.notFound).length, checkable.length),
    ),
    expectNotFound: unanswerable.length,
    notFoundRate: round(rate(unanswerable.filter((r) => r.answer.notFound).length, unanswerable.length)),
    citations: {
      total: all.length,
      verbatim,
      verbatimRate: round(rate(verbatim, all.length)),
      onAnswerable: onAnswerable.length,
      answerBearing: bearing,
      answerBearingRate: round(rate(bearing, onAnswerable.length)),
      sentences: sentences.length,
      precision: round(rate(sentences.filter((c) => c.verbatim && c.answerBearing).length, sentences.length)),
      precisionPerCitation: round(
        rate(onAnswerable.filter((c) => c.verbatim && c.answerBearing).length, onAnswerable.length),
      ),
    },
    evidenceDisagreements: results.filter((r) => !r.answer.evidenceAgrees).length,
    embedMs: quantiles(results.map((r) => r.embedMs)),
    retrievalMs: quantiles(results.map((r) => r.answer.retrievalMs)),
    totalMs: quantiles(results.map((r) => r.answer.totalMs)),
  };
}

/**
 * One answer's cited sentences, once each (by document and offsets), with answer-checkable
 * verdicts only: verbatim when every citation of the sentence is.
 */
export function citedSentences(
  citations: readonly CitationResult[],
): { verbatim: boolean; answerBearing: boolean }[] {
  const byKey = new Map<string, { verbatim: boolean; answerBearing: boolean }>();
  for (const c of citations) {
    if (c.answerBearing === null) continue;
    const key = `${c.docId}\u0000${c.start}\u0000${c.end}`;
    const seen = byKey.get(key);
    byKey.set(key, {
      verbatim: (seen?.verbatim ?? true) && c.verbatim,
      answerBearing: (seen?.answerBearing ?? false) || c.answerBearing,
    });
  }
  return [...byKey.values()];
}
