/**
 * A Weaviate node of its own for the scale benchmark: started fresh on free loopback ports with
 * its data in a temp folder, so its memory and disk are the index's alone; stopped and wiped at
 * the end. Needs the pinned binary (`npm run weaviate -- install`).
 */
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { binaryPath, clusterSpec, downCluster, freeBasePort, upCluster } from "../scripts/weaviate-local.ts";
import type { ScaleStore } from "./scale.ts";
import { dirSize } from "./scale.ts";

/** How long a restarted node is left alone before its memory is read. */
const REST_SETTLE_MS = 20_000;

export async function startBenchWeaviate(): Promise<ScaleStore & { stop(): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-bench-weaviate-"));
  const spec = clusterSpec({ root, nodes: 1, basePort: await freeBasePort(1), binary: binaryPath() });
  const node = spec.nodes[0]!;
  let pid = (await upCluster(spec)).pids[node.name]!;
  const status = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) *
    1024;
  // One index grown from size to size, as the embedded side grows its folder: each build adds the
  // new copies and reuses the vectors of their (repeated) text, so the larger builds measure inserts.
  const overrides = {
    backend: "weaviate" as const,
    weaviateUrls: [`http://127.0.0.1:${node.ports.http}`],
    weaviateGrpc: [`127.0.0.1:${node.ports.grpc}`],
    weaviatePrefix: "Bench",
  };
  return {
    overrides,
    async reset() {},
    rssBytes: async () => status("VmRSS"),
    // A node just after a build holds memtables not yet flushed and garbage not yet collected;
    // after a clean restart (shards loaded before it is ready) and a short settle, what remains
    // is what the index needs. File-backed pages are the mapped LSM segments (reclaimable cache).
    async restRss() {
      await downCluster(root);
      pid = (await upCluster(spec)).pids[node.name]!;
      await new Promise((r) => setTimeout(r, REST_SETTLE_MS));
      return { rss: status("VmRSS"), anon: status("RssAnon"), file: status("RssFile") };
    },
    diskBytes: () => dirSize(node.dataDir),
    stop: async () => {
      await downCluster(root, { wipe: true });
    },
  };
}
