/**
 * The read side of the Weaviate backend: the published version named by the Meta object,
 * re-read every `watchMs` (or on `refresh()`), with one snapshot per version. Snapshots hold no
 * connection of their own; a lease only pins the version an answer reads.
 */

import { generateUuid5 } from "weaviate-client";
import type {
  BackendExpectation,
  IndexSnapshot,
  OpenSearchOptions,
  SearchBackend,
  SnapshotLease,
} from "../../core/backend.ts";
import { BackendError } from "../../core/backend.ts";
import type { BackendConfig } from "../../core/config.ts";
import { Nodes } from "./nodes.ts";
import {
  collections,
  type MetaProps,
  type Names,
  names,
  type PublishedMeta,
  WEAVIATE_FORMAT,
} from "./schema.ts";
import { createSnapshot } from "./snapshot.ts";

export const PUBLISHED_ID = (n: Names) => generateUuid5(`${n.meta}:published`);
export const LOCK_ID = (n: Names) => generateUuid5(`${n.meta}:lock`);

/** The Nodes of the configured cluster. */
export function nodesOf(config: BackendConfig): Nodes {
  return new Nodes({ urls: config.weaviateUrls, grpc: config.weaviateGrpc, apiKey: config.weaviateApiKey });
}

/** The published version's record, or undefined when nothing was ever published. */
export async function readPublished(nodes: Nodes, n: Names): Promise<PublishedMeta | undefined> {
  return nodes.run("read the published version", async (client) => {
    if (!(await client.collections.exists(n.meta))) return undefined;
    const obj = await collections(client, n, "read").meta.query.fetchObjectById(PUBLISHED_ID(n));
    if (!obj) return undefined;
    try {
      return JSON.parse((obj.properties as MetaProps).body) as PublishedMeta;
    } catch (err) {
      throw new BackendError(
        "INDEX_CORRUPT",
        `the published-version record in ${n.meta} is not JSON (${(err as Error).message}); run \`npm run index -- --full\``,
      );
    }
  });
}

/**
 * Refuses an index of another format, or built with another model or chunker settings (same codes
 * as the embedded one). An older format is INDEX_FORMAT_OLD: the indexer upgrades it.
 */
export function checkCompatible(meta: PublishedMeta, expect: BackendExpectation, n: Names): void {
  const format = meta.format ?? 1;
  const at = n.meta.replace(/Meta$/, "");
  if (format < WEAVIATE_FORMAT)
    throw new BackendError(
      "INDEX_FORMAT_OLD",
      `the Weaviate index under ${at} is of format ${format}; this version reads format ${WEAVIATE_FORMAT}: run \`npm run index\` to upgrade it (its chunk vectors are reused, nothing is embedded again)`,
      { format },
    );
  if (format !== WEAVIATE_FORMAT)
    throw new BackendError(
      "INDEX_CORRUPT",
      `the Weaviate index under ${at} is of format ${format}, which this version does not know (it reads format ${WEAVIATE_FORMAT}); run \`npm run index -- --full\``,
      { format },
    );
  const m = meta.model;
  const want = expect.model;
  if (m.name !== want.name || m.dim !== want.dim || m.pooling !== want.pooling)
    throw new BackendError(
      "INDEX_MODEL_MISMATCH",
      `the Weaviate index was built with ${m.name} (${m.dim} dimensions, ${m.pooling} pooling) but the configured model is ${want.name} (${want.dim}, ${want.pooling}); run \`npm run index -- --full\` or set CITELINE_MODEL=${m.name}`,
      { indexModel: m.name, configuredModel: want.name },
    );
  const c = meta.chunker;
  const w = expect.chunker;
  if (c.maxTokens !== w.maxTokens || c.overlapTokens !== w.overlapTokens || c.version !== w.version)
    throw new BackendError(
      "INDEX_SETTINGS_MISMATCH",
      `the Weaviate index was built with chunks of ${c.maxTokens} tokens and ${c.overlapTokens} overlap (chunker v${c.version}) but the settings say ${w.maxTokens} and ${w.overlapTokens} (v${w.version}); run \`npm run index -- --full\``,
    );
}

/** Opens the published version; INDEX_MISSING when none, BACKEND_UNAVAILABLE when no node answers. */
export async function openWeaviateSearch(
  config: BackendConfig,
  opts: OpenSearchOptions,
): Promise<SearchBackend> {
  const nodes = nodesOf(config);
  const n = names(config.weaviatePrefix);
  const open = async (): Promise<{ meta: PublishedMeta; snapshot: IndexSnapshot }> => {
    const meta = await readPublished(nodes, n);
    if (!meta)
      throw new BackendError(
        "INDEX_MISSING",
        `no index has been published in Weaviate under ${config.weaviatePrefix} (${nodes.current}); run \`npm run index\` with CITELINE_BACKEND=weaviate`,
      );
    checkCompatible(meta, opts.expect, n);
    return { meta, snapshot: createSnapshot(nodes, n, meta) };
  };
  let current: { meta: PublishedMeta; snapshot: IndexSnapshot };
  try {
    current = await open();
  } catch (err) {
    await nodes.close();
    throw err;
  }
  let refused = -1;
  let checking: Promise<boolean> | undefined;
  const refresh = async (): Promise<boolean> => {
    const meta = await readPublished(nodes, n);
    if (!meta || meta.version === current.meta.version || meta.version === refused) return false;
    try {
      checkCompatible(meta, opts.expect, n);
    } catch (err) {
      refused = meta.version;
      opts.log?.("warn", "index_reload_refused", {
        version: `v${meta.version}`,
        code: (err as BackendError).code,
        reason: (err as Error).message,
      });
      return false;
    }
    const from = current.meta.version;
    current = { meta, snapshot: createSnapshot(nodes, n, meta) };
    opts.log?.("info", "index_reloaded", {
      from: `v${from}`,
      to: `v${meta.version}`,
      chunks: meta.counts.chunks,
    });
    return true;
  };
  const timer =
    opts.watchMs !== undefined
      ? setInterval(() => {
          checking ??= refresh()
            .catch((err) => {
              opts.log?.("warn", "backend_unavailable", { reason: (err as Error).message });
              return false;
            })
            .finally(() => {
              checking = undefined;
            });
        }, opts.watchMs)
      : undefined;
  timer?.unref();
  return {
    current: () => current.snapshot,
    lease(): SnapshotLease {
      return { snapshot: current.snapshot, release() {} };
    },
    refresh,
    async probe() {
      try {
        await readPublished(nodes, n);
        return { ok: true };
      } catch (err) {
        const code = err instanceof BackendError ? err.code : "BACKEND_UNAVAILABLE";
        return { ok: false, code, message: (err as Error).message };
      }
    },
    async close() {
      if (timer) clearInterval(timer);
      await checking;
      await nodes.close();
    },
  };
}
