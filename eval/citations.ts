/**
 * An independent recheck of an answer's citations against its sources and the document text.
 * Pure, and deliberately not core/answer.ts's `invalidCitations`: the evaluation must not trust
 * the code it measures.
 */
import type { Citation, SourceRef } from "../core/protocol.ts";
import { answerOccurs } from "./answer-match.ts";

export interface CitationCheck {
  /** The cited source exists, holds the sentence verbatim at its offsets, and so does the document. */
  verbatim: boolean;
  /** The sentence holds a gold answer; undefined for a question with no answers. */
  answerBearing: boolean | undefined;
}

/**
 * Checks one citation: the source it names is the passage it claims (same document and chunk),
 * that passage is the document's text at the source offsets, the sentence lies inside it and is
 * the document's text at the cited offsets, and the answer holds the sentence where it says.
 */
export function checkCitation(
  c: Citation,
  sources: readonly SourceRef[],
  answer: string,
  docText: string | undefined,
  answers: readonly string[],
): CitationCheck {
  const src = sources.find((s) => s.n === c.n);
  const verbatim =
    src !== undefined &&
    docText !== undefined &&
    src.docId === c.docId &&
    src.chunkId === c.chunkId &&
    docText.slice(src.start, src.end) === src.snippet &&
    src.start <= c.start &&
    c.end <= src.end &&
    c.start < c.end &&
    src.snippet.slice(c.start - src.start, c.end - src.start) === c.text &&
    docText.slice(c.start, c.end) === c.text &&
    answer.slice(c.answerStart, c.answerEnd) === c.text;
  return {
    verbatim,
    answerBearing: answers.length === 0 ? undefined : answerOccurs(c.text, answers),
  };
}

/**
 * The answer's own words: the cited sentences, once each, without the [n] markers (whose digits
 * would otherwise match numeric answers). Falls back to the whole answer when nothing is cited.
 */
export function answerBody(answer: string, citations: readonly Citation[]): string {
  if (citations.length === 0) return answer;
  const spans = new Map<number, number>();
  for (const c of citations) spans.set(c.answerStart, c.answerEnd);
  return [...spans.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, e]) => answer.slice(s, e))
    .join(" ");
}
