/**
 * Whether a question's gold answers can be checked by string matching at all. Answer metrics
 * look for a gold answer string in retrieved text; when that string is in none of the question's
 * gold documents (a label such as SUPPORT or CONTRADICT, a yes/no, an abstractive answer), no
 * retrieval or answer can contain it, and a score of 0 would say nothing about either. Such
 * questions are left out of the answer metrics, and a dataset where every question is like this
 * gets no answer metrics at all. Pure.
 */
import type { RetrievalMode } from "../core/retrieval.ts";
import { answerOccursAsText } from "./answer-match.ts";
import type { EvalQuestion } from "./dataset.ts";
import type { QuestionResult } from "./score.ts";

/**
 * True when a gold answer occurs in one of the question's gold documents as text of it (an answer
 * in capitals only, such as a label, in capitals; see `answerOccursAsText`); null for a question without answers or one the corpus
 * does not answer (nothing to check). Judged per question: a label that happens to occur as an
 * ordinary word ("support") does not make that question's answer text.
 */
export function answerInGold(
  q: Pick<EvalQuestion, "answers" | "goldDocIds" | "expectNotFound">,
  docText: (id: string) => string | undefined,
): boolean | null {
  if (q.expectNotFound || q.answers.length === 0) return null;
  return q.goldDocIds.some((id) => answerOccursAsText(docText(id) ?? "", q.answers));
}

/**
 * The result with every verdict that depends on the answer strings set to null (answer in
 * context, a correct answer, answer-bearing citations), for a question whose answers are in none
 * of its gold documents. Retrieval, not-found and verbatim verdicts stay.
 */
export function withoutAnswerVerdicts(r: QuestionResult): QuestionResult {
  const modes: QuestionResult["modes"] = {};
  for (const mode of Object.keys(r.modes) as RetrievalMode[]) {
    const m = r.modes[mode];
    if (m) modes[mode] = { ...m, answerInContext: null };
  }
  return {
    ...r,
    modes,
    answer: r.answer && {
      ...r.answer,
      correct: null,
      citations: r.answer.citations.map((c) => ({ ...c, answerBearing: null })),
    },
  };
}

export interface AnswerApplicability {
  /** Questions with gold answers. */
  questions: number;
  /** Of them, questions with a gold answer in one of their gold documents. */
  inGold: number;
  /**
   * False when no question's gold answer occurs in its gold documents: the answers are not text
   * of the corpus, and answer metrics do not apply to the dataset.
   */
  applicable: boolean;
}

/** Counts the questions whose answers can be checked. */
export function answerApplicability(
  results: readonly Pick<QuestionResult, "answerInGold">[],
): AnswerApplicability {
  const checked = results.filter((r) => r.answerInGold !== null);
  const inGold = checked.filter((r) => r.answerInGold).length;
  return { questions: checked.length, inGold, applicable: checked.length === 0 || inGold > 0 };
}
