/**
 * Picks the search backend `CITELINE_BACKEND` names. The embedded one is imported statically;
 * any other is imported only when chosen, so the default loads (and installs) nothing of it.
 */
import { fileURLToPath } from "node:url";
import {
  type BackendAdapter,
  type BackendExpectation,
  type BackendWriter,
  chunkerInfo,
  modelInfo,
  type OpenSearchOptions,
  type OpenWriterOptions,
  type SearchBackend,
} from "../core/backend.ts";
import type { BackendConfig, BackendName, IndexConfig } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Embedder } from "../core/types.ts";
import { embeddedBackend } from "./embedded/adapter.ts";

/**
 * Modules of the backends loaded on demand. Each exports `backend: BackendAdapter`.
 * The Weaviate adapter lives in backends/weaviate/ (issue 10, part 2).
 */
const MODULES: Readonly<Record<Exclude<BackendName, "embedded">, string>> = {
  weaviate: "./weaviate/adapter.ts",
};

/** The adapter for `name`; CONFIG_INVALID when this build does not include it. */
export async function loadBackend(name: BackendName): Promise<BackendAdapter> {
  if (name === "embedded") return embeddedBackend;
  const url = new URL(MODULES[name], import.meta.url);
  const specifier = url.href;
  let mod: { backend?: BackendAdapter };
  try {
    mod = (await import(specifier)) as { backend?: BackendAdapter };
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND" ||
      !String(err).includes(fileURLToPath(url))
    )
      throw err;
    throw new AppError(
      "CONFIG_INVALID",
      `CITELINE_BACKEND is "${name}" but this build has no ${name} backend`,
    );
  }
  if (!mod.backend) throw new Error(`${specifier} does not export a backend`);
  return mod.backend;
}

/** What an index must have been built with to be read with this embedder and these settings. */
export function expectationFor(
  embedder: Embedder,
  config: Pick<IndexConfig, "chunkMaxTokens" | "chunkOverlapTokens">,
): BackendExpectation {
  return { model: modelInfo(embedder), chunker: chunkerInfo(config) };
}

/** Opens the configured backend for queries. */
export async function openSearchBackend(
  config: BackendConfig,
  opts: OpenSearchOptions,
): Promise<SearchBackend> {
  return (await loadBackend(config.backend)).openSearch(config, opts);
}

/** Opens the configured backend for a build (takes its build lock). */
export async function openBackendWriter(
  config: BackendConfig,
  opts: OpenWriterOptions,
): Promise<BackendWriter> {
  return (await loadBackend(config.backend)).openWriter(config, opts);
}
