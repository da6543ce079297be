/**
 * The read side of the embedded backend: the IndexHolder (published version, hot reload, leases)
 * with each loaded index seen through its snapshot.
 */
import type { OpenSearchOptions, SearchBackend } from "../../core/backend.ts";
import { IndexHolder } from "./hot-reload.ts";
import { snapshotOf } from "./snapshot.ts";

/** Opens the index published in `indexDir`; refuses a missing, corrupt or mismatched one. */
export async function openEmbeddedSearch(indexDir: string, opts: OpenSearchOptions): Promise<SearchBackend> {
  const holder = await IndexHolder.open({
    indexDir,
    expect: opts.expect,
    ...(opts.log ? { log: opts.log } : {}),
  });
  if (opts.watchMs !== undefined) holder.watch(opts.watchMs);
  return {
    current: () => snapshotOf(holder.index),
    lease() {
      const lease = holder.lease();
      return { snapshot: snapshotOf(lease.index), release: () => lease.release() };
    },
    refresh: () => holder.reload(),
    close: async () => holder.close(),
  };
}
