/**
 * An Embedder that keeps every passage vector it computed, by exact input text, so a second
 * backend in the same benchmark run indexes the same corpus without running the model again:
 * both sides then hold the very same vectors, and the second side's builds measure its writes.
 */
import { type Embedder, type EmbedKind, forwarding } from "../core/types.ts";

export interface PassageMemoEmbedder extends Embedder {
  /** Inputs that went through the model so far (not answered from the memo). */
  modelTexts(): number;
}

export function memoPassages(inner: Embedder): PassageMemoEmbedder {
  const memo = new Map<string, Float32Array>();
  let modelTexts = 0;
  return {
    ...forwarding(inner),
    modelTexts: () => modelTexts,
    async embed(texts: readonly string[], kind: EmbedKind): Promise<Float32Array[]> {
      // Queries are embedded per question and timed as such: never from the memo.
      if (kind !== "passage") return inner.embed(texts, kind);
      const missing = [...new Set(texts.filter((t) => !memo.has(t)))];
      if (missing.length > 0) {
        const vectors = await inner.embed(missing, kind);
        modelTexts += missing.length;
        for (const [i, t] of missing.entries()) memo.set(t, vectors[i]!);
      }
      return texts.map((t) => memo.get(t)!);
    },
  };
}
