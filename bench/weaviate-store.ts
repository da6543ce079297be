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

export async function startBenchWeaviate(): Promise<ScaleStore & { stop(): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-bench-weaviate-"));
  const spec = clusterSpec({ root, nodes: 1, basePort: await freeBasePort(1), binary: binaryPath() });
  const state = await upCluster(spec);
  const node = spec.nodes[0]!;
  const pid = state.pids[node.name]!;
  // One index grown from size to size, as the embedded side grows its folder: each build adds the
  // new copies and reuses the stored vectors of their (repeated) text, so the model runs once, at
  // the first size, on both sides, and the larger builds measure inserts.
  const overrides = {
    backend: "weaviate" as const,
    weaviateUrls: [`http://127.0.0.1:${node.ports.http}`],
    weaviateGrpc: [`127.0.0.1:${node.ports.grpc}`],
    weaviatePrefix: "Bench",
  };
  return {
    overrides,
    async reset() {},
    async rssBytes() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return Number(m?.[1] ?? 0) * 1024;
    },
    diskBytes: () => dirSize(node.dataDir),
    stop: async () => {
      await downCluster(root, { wipe: true });
    },
  };
}
