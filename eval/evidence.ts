/**
 * The answer's evidence score, which decides "not found" but is not part of the wire format.
 * Computed with the engine's own composition (`answerFrom`) on the same retrieval call; the
 * runner checks that the verdict agrees with the engine's on every question.
 */
import { answerFrom, readForAnswer, type Selector } from "../core/answer.ts";
import { boilerplateOf } from "../core/boilerplate.ts";
import { unanswerable } from "../core/exclusions.ts";
import { type RetrievalDeps, retrieve } from "../core/retrieval.ts";
import type { Reader } from "../core/types.ts";

export interface Evidence {
  /** Score of the best sentence; 0 when no sentence was found. */
  evidence: number;
  /** Not found at the configured threshold. */
  notFound: boolean;
  /** The selector's probability for the best candidate, its cosine and IDF-weighted term share. */
  probability?: number;
  dense?: number;
  lexical?: number;
}

/** Retrieves and composes an answer to a question exactly as the engine does, keeping its evidence. */
export async function answerEvidence(
  deps: RetrievalDeps,
  question: string,
  asOf?: string,
  selector?: Selector,
  reader: Reader | undefined = deps.embedder.reader,
): Promise<Evidence> {
  const r = await retrieve(deps, question, { k: deps.config.k, asOf });
  const excluded = unanswerable(new Set<string>(), await boilerplateOf(deps.index));
  const reading = await readForAnswer(deps.index, r, question, {
    reader,
    ...(selector ? { model: selector } : {}),
  });
  const composed = answerFrom(reading, r, question, deps.config, {
    excluded,
    ...(selector ? { model: selector } : {}),
  });
  const out: Evidence = { evidence: composed.evidence, notFound: composed.notFound };
  out.probability = Number(composed.probability.toFixed(4));
  if (composed.best) {
    out.dense = Number(composed.best.dense.toFixed(4));
    out.lexical = Number(composed.best.lexical.toFixed(4));
  }
  return out;
}
