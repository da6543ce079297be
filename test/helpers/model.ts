import { loadConfig } from "../../core/config.ts";
import type { Embedder } from "../../core/types.ts";
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
