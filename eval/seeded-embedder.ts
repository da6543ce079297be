/**
 * An Embedder that answers passage inputs from an embedded index built earlier with the same
 * model (by the hash of the exact input, as the indexer stores it) and runs the model only for
 * inputs that index does not hold. Used to load an evaluation corpus into another backend with
 * the very same vectors.
 */

import { openVectorSource } from "../backends/embedded/reuse.ts";
import { currentVersion, readManifest, versionDir } from "../backends/embedded/versions.ts";
import { type Embedder, type EmbedKind, forwarding } from "../core/types.ts";
import { ehash } from "../ingest/indexer.ts";

export interface SeededEmbedder extends Embedder {
  /** Inputs answered from the index so far. */
  reused(): number;
  /** Inputs run through the model so far. */
  embedded(): number;
  close(): void;
}

export function seededEmbedder(inner: Embedder, indexDir: string): SeededEmbedder {
  const version = currentVersion(indexDir);
  const dir = version ? versionDir(indexDir, version) : undefined;
  const store = dir ? openVectorSource(dir, readManifest(dir)) : undefined;
  let reused = 0;
  let embedded = 0;
  return {
    ...forwarding(inner),
    reused: () => reused,
    embedded: () => embedded,
    close: () => store?.close(),
    async embed(texts: readonly string[], kind: EmbedKind): Promise<Float32Array[]> {
      if (kind !== "passage" || !store) return inner.embed(texts, kind);
      const out = texts.map((t) => {
        const h = ehash(t);
        return store.chunk(h);
      });
      const missing = texts.filter((_, i) => !out[i]);
      const vectors = missing.length ? await inner.embed(missing, kind) : [];
      embedded += missing.length;
      reused += texts.length - missing.length;
      let j = 0;
      return out.map((v) => v ?? vectors[j++]!);
    },
  };
}
