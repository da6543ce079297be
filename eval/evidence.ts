/**
 * The answer's evidence score, which decides "not found" but is not part of the wire format.
 * Computed with the engine's own composition (`answerFrom`) on the same retrieval call; the
 * runner checks that the verdict agrees with the engine's on every question.
 */
import { answerFrom, type Selector } from "../core/answer.ts";
import { type RetrievalDeps, retrieve } from "../core/retrieval.ts";

export interface Evidence {
  /** Score of the best sentence; 0 when no sentence was found. */
  evidence: number;
  /** Not found at the configured threshold. */
  notFound: boolean;
}

/** Retrieves and composes an answer to a question exactly as the engine does, keeping its evidence. */
export async function answerEvidence(
  deps: RetrievalDeps,
  question: string,
  selector?: Selector,
): Promise<Evidence> {
  const r = await retrieve(deps, question, { k: deps.config.k });
  const composed = answerFrom(
    deps.index.store,
    r,
    question,
    deps.config,
    selector ? { model: selector } : {},
  );
  return { evidence: composed.evidence, notFound: composed.notFound };
}
