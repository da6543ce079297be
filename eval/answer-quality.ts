/**
 * What the answer says, beyond its citations: whether its first sentence holds a gold answer, the
 * short answer scored with SQuAD's exact match and F1, and refusals on both kinds of question.
 * Pure.
 */
import type { AnswerEvent } from "../core/protocol.ts";
import { answerOccurs } from "./answer-match.ts";
import type { EvalQuestion } from "./dataset.ts";
import { normalizeAnswer, rate } from "./metrics.ts";

export interface AnswerQuality {
  /** The first cited sentence holds a gold answer; null without gold answers or on not found. */
  firstSentenceCorrect: boolean | null;
  /** The short answer and its best scores over the gold answers; null when none was given. */
  shortAnswer: { text: string; em: number; f1: number } | null;
}

/** SQuAD v1.1 exact match: the normalised strings are equal. */
export function exactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/** SQuAD v1.1 F1 over the normalised tokens (bag of words). */
export function tokenF1(prediction: string, gold: string): number {
  const p = normalizeAnswer(prediction).split(" ").filter(Boolean);
  const g = normalizeAnswer(gold).split(" ").filter(Boolean);
  if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Scores the done frame of one question. */
export function scoreAnswerQuality(
  q: EvalQuestion,
  done: Extract<AnswerEvent, { type: "done" }>,
): AnswerQuality {
  const first = [...done.citations].sort((a, b) => a.answerStart - b.answerStart)[0];
  const short = done.shortAnswer;
  const answerable = q.answers.length > 0;
  return {
    firstSentenceCorrect: !answerable || done.notFound || !first ? null : answerOccurs(first.text, q.answers),
    shortAnswer:
      short && answerable
        ? {
            text: short.text,
            em: Math.max(...q.answers.map((a) => exactMatch(short.text, a))),
            f1: Number(Math.max(...q.answers.map((a) => tokenF1(short.text, a))).toFixed(4)),
          }
        : null,
  };
}

export interface AnswerQualitySummary {
  /** First cited sentence holds a gold answer, over answerable questions (a refusal counts as a miss). */
  firstSentence: { questions: number; rate: number | null };
  /** Over the answerable questions that got a short answer. */
  shortAnswer: { questions: number; share: number | null; em: number | null; f1: number | null };
  refusals: {
    /** Questions expecting not found, and the share refused. */
    unanswerable: number;
    refusalRate: number | null;
    /** Answerable questions, and the share refused. */
    answerable: number;
    falseRefusalRate: number | null;
  };
}

interface Scored {
  expectNotFound: boolean;
  answers: readonly string[];
  notFound: boolean;
  quality: AnswerQuality;
}

const round = (x: number | undefined) => (x === undefined ? null : Number(x.toFixed(4)));
const mean = (xs: readonly number[]) =>
  xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sums the answer quality over the questions that were answered without error. */
export function summarizeAnswerQuality(results: readonly Scored[]): AnswerQualitySummary {
  const answerable = results.filter((r) => !r.expectNotFound && r.answers.length > 0);
  const unanswerable = results.filter((r) => r.expectNotFound);
  const shorts = answerable.flatMap((r) => (r.quality.shortAnswer ? [r.quality.shortAnswer] : []));
  return {
    firstSentence: {
      questions: answerable.length,
      rate: round(
        rate(answerable.filter((r) => r.quality.firstSentenceCorrect === true).length, answerable.length),
      ),
    },
    shortAnswer: {
      questions: shorts.length,
      share: round(rate(shorts.length, answerable.length)),
      em: round(mean(shorts.map((s) => s.em))),
      f1: round(mean(shorts.map((s) => s.f1))),
    },
    refusals: {
      unanswerable: unanswerable.length,
      refusalRate: round(rate(unanswerable.filter((r) => r.notFound).length, unanswerable.length)),
      answerable: answerable.length,
      falseRefusalRate: round(rate(answerable.filter((r) => r.notFound).length, answerable.length)),
    },
  };
}

/** Report lines for the summary. */
export function formatAnswerQuality(s: AnswerQualitySummary): string[] {
  const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);
  const sa = s.shortAnswer;
  return [
    `first sentence holds an answer  ${pct(s.firstSentence.rate)} of ${s.firstSentence.questions} answerable`,
    `short answer                    ${sa.questions} given (${pct(sa.share)} of answerable): EM ${pct(sa.em)}, F1 ${pct(sa.f1)}`,
    `refusals                        ${pct(s.refusals.refusalRate)} of ${s.refusals.unanswerable} unanswerable refused; ${pct(s.refusals.falseRefusalRate)} of ${s.refusals.answerable} answerable refused`,
  ];
}
