import { loadConfig } from "../../core/config.ts";
import { type Embedder, type EmbedKind, forwarding } from "../../core/types.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";

let embedder: Promise<Embedder> | undefined;

/**
 * The real embedding model from the configured models folder, loaded once per test file
 * (vitest gives each file its own module graph). Provision it with `npm run model:fetch`.
 */
export function getEmbedder(): Promise<Embedder> {
  embedder ??= createEmbedder(loadConfig());
  return embedder;
}

/**
 * The model `inner`, counting the passages it is asked to embed; disposing it leaves `inner`
 * loaded (it is the file's shared model).
 */
export function countingEmbedder(inner: Embedder): Embedder & { passages: number } {
  const e = {
    ...forwarding(inner),
    dispose: async () => {},
    passages: 0,
    async embed(texts: readonly string[], kind: EmbedKind) {
      if (kind === "passage") e.passages += texts.length;
      return inner.embed(texts, kind);
    },
  };
  return e;
}
