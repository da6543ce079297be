/**
 * Training data for the short-answer span model: for every question, the candidate spans of the
 * sentence the selector ranks first (core/short-answer.ts), each labelled by whether it answers
 * (SQuAD F1 of at least one half against a gold answer), and the figures of a model choosing
 * among them. The selector probabilities given must be out of fold, as they are on any text the
 * selector never saw. Pure.
 */
import { annotate, answerType } from "../core/nlp.ts";
import { type ShortAnswerModel, spanCandidates, spanProbability } from "../core/short-answer.ts";
import type { TreeModel } from "../core/trees.ts";
import { exactMatch, tokenF1 } from "./answer-quality.ts";
import type { TrainRow } from "./train.ts";

/** A span answers when its SQuAD F1 against some gold answer is at least this. */
export const SPAN_LABEL_F1 = 0.5;

/** One question's candidate spans (none when it asks for no typed answer or its sentence has none). */
export interface SpanRow {
  article: string;
  x: number[][];
  /** Best F1 and exact match of each span over the gold answers. */
  f1: number[];
  em: number[];
}

/** The label a span is fitted to. */
export const spanLabel = (f1: number): number => (f1 >= SPAN_LABEL_F1 ? 1 : 0);

/** Span rows of the selector's first sentence for each question, given its candidates' probabilities. */
export function spanRows(rows: readonly TrainRow[], probs: readonly (readonly number[])[]): SpanRow[] {
  return rows.map((r, i) => {
    const p = probs[i]!;
    const order = p.map((_, j) => j).sort((a, b) => p[b]! - p[a]! || a - b);
    const top = order[0];
    if (top === undefined) return { article: r.article, x: [], f1: [], em: [] };
    const text = r.texts[top]!;
    const evidence = { probability: p[top]!, gap: p[top]! - (p[order[1] ?? -1] ?? 0) };
    const spans = spanCandidates(r.question, answerType(r.question), text, annotate(text), evidence);
    const said = spans.map((s) => text.slice(s.start, s.end));
    return {
      article: r.article,
      x: spans.map((s) => s.features),
      f1: said.map((t) => Math.max(...r.answers.map((a) => tokenF1(t, a)))),
      em: said.map((t) => Math.max(...r.answers.map((a) => exactMatch(t, a)))),
    };
  });
}

export interface SpanFigures {
  threshold: number;
  /** Questions given a short answer, and their share of all questions. */
  given: number;
  share: number;
  em: number;
  f1: number;
}

/** Short answers at each threshold, from each span's probability (`probs[i][j]` for span j of row i). */
export function spanFigures(
  rows: readonly SpanRow[],
  probs: readonly (readonly number[])[],
  thresholds: readonly number[],
): SpanFigures[] {
  return thresholds.map((threshold) => {
    let given = 0;
    let em = 0;
    let f1 = 0;
    rows.forEach((r, i) => {
      const p = probs[i]!;
      let best = -1;
      p.forEach((v, j) => {
        if (best === -1 || v > p[best]!) best = j;
      });
      if (best === -1 || p[best]! < threshold) return;
      given++;
      em += r.em[best]!;
      f1 += r.f1[best]!;
    });
    return {
      threshold,
      given,
      share: round(given / Math.max(1, rows.length)),
      em: round(em / Math.max(1, given)),
      f1: round(f1 / Math.max(1, given)),
    };
  });
}

/** Every span's probability under a model. */
export function spanProbabilities(model: TreeModel | ShortAnswerModel, rows: readonly SpanRow[]): number[][] {
  return rows.map((r) => r.x.map((x) => spanProbability(model, x)));
}

const round = (x: number) => Number(x.toFixed(4));
