import { type Embedder, type EmbedKind, forwarding } from "../core/types.ts";

/** An Embedder that remembers query vectors, so each question is embedded once across modes. */
export interface QueryMemoEmbedder extends Embedder {
  /** Model time spent on queries since the last `forget`, in ms. */
  readonly queryMs: number;
  /** Drops remembered vectors (call between questions to keep memory flat). */
  forget(): void;
}

/**
 * Wraps an embedder: query embeddings are remembered by text until `forget`; passage
 * embeddings pass through. The engine and `retrieve` take it like any other Embedder.
 */
export function memoQueries(inner: Embedder): QueryMemoEmbedder {
  const memo = new Map<string, Float32Array>();
  let queryMs = 0;
  return {
    ...forwarding(inner),
    get queryMs() {
      return queryMs;
    },
    forget() {
      memo.clear();
      queryMs = 0;
    },
    async embed(texts: readonly string[], kind: EmbedKind): Promise<Float32Array[]> {
      if (kind !== "query") return inner.embed(texts, kind);
      const missing = [...new Set(texts.filter((t) => !memo.has(t)))];
      if (missing.length > 0) {
        const t0 = performance.now();
        const vectors = await inner.embed(missing, "query");
        queryMs += performance.now() - t0;
        for (const [i, t] of missing.entries()) memo.set(t, vectors[i]!);
      }
      return texts.map((t) => memo.get(t)!);
    },
  };
}
