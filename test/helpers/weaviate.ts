/**
 * A real Weaviate for tests: the pinned binary (never skipped: a missing binary fails the test
 * with the command that installs it), one node or a small cluster on free loopback ports, data
 * in a temp folder, stopped by pid and wiped afterwards.
 */
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import weaviate, { type WeaviateClient } from "weaviate-client";
import {
  binaryPath,
  type ClusterState,
  clusterSpec,
  downCluster,
  freeBasePort,
  startNode,
  stopPid,
  upCluster,
  waitClusterHealthy,
  waitReady,
  writeState,
} from "../../scripts/weaviate-local.ts";

export interface TestCluster {
  state: ClusterState;
  urls: string[];
  grpc: string[];
  /** Kills node `i` (0-based) with SIGKILL: no shutdown, no flush. */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its data folder and waits until the cluster is healthy. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `nodes` Weaviate nodes on free ports; fails when the pinned binary is not installed. */
export async function startWeaviate(nodes = 1): Promise<TestCluster> {
  const binary = binaryPath();
  if (!existsSync(binary))
    throw new Error(
      `the Weaviate tests need ${binary}; run \`npm run weaviate -- install\` (CI's .ci/run does it)`,
    );
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-weaviate-"));
  const spec = clusterSpec({ root, nodes, basePort: await freeBasePort(nodes), binary });
  const state = await upCluster(spec);
  return {
    state,
    urls: spec.nodes.map((n) => `http://127.0.0.1:${n.ports.http}`),
    grpc: spec.nodes.map((n) => `127.0.0.1:${n.ports.grpc}`),
    kill: async (i) => {
      const node = spec.nodes[i]!;
      await stopPid(state.pids[node.name]!, 0, "SIGKILL");
    },
    restart: async (i) => {
      const node = spec.nodes[i]!;
      const child = startNode(spec, node, true);
      state.pids[node.name] = child.pid ?? -1;
      writeState(state);
      await waitReady(node, 120_000, child);
      await waitClusterHealthy(spec);
    },
    stop: async () => {
      await downCluster(root, { wipe: true, graceMs: 10_000 });
    },
  };
}

/** A client of node `i` of the cluster, over HTTP and gRPC. */
export function connectClient(cluster: TestCluster, i = 0): Promise<WeaviateClient> {
  const url = new URL(cluster.urls[i]!);
  const [grpcHost, grpcPort] = cluster.grpc[i]!.split(":");
  return weaviate.connectToCustom({
    httpHost: url.hostname,
    httpPort: Number(url.port),
    grpcHost: grpcHost!,
    grpcPort: Number(grpcPort),
  });
}

let serial = 0;
/** A collection prefix no other test uses. */
export function uniquePrefix(): string {
  serial++;
  return `T${process.pid}x${serial}x${Math.random().toString(36).slice(2, 7)}`;
}

/** The objects of `classes` as the cluster lists them: `class/id` → last update time (ms). */
export async function listObjects(url: string, classes: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of classes) {
    const res = await fetch(`${url}/v1/objects?class=${c}&limit=10000`);
    if (!res.ok) throw new Error(`listing ${c} on ${url}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { objects?: { id: string; lastUpdateTimeUnix: number }[] };
    for (const o of body.objects ?? []) out.set(`${c}/${o.id}`, o.lastUpdateTimeUnix);
  }
  return out;
}

/**
 * The objects of `expected` that node `name` does not hold in that very version, read from its
 * own store (`node_name`), not through a replica that happens to answer.
 */
export async function staleOn(url: string, name: string, expected: Map<string, number>): Promise<string[]> {
  const stale: string[] = [];
  for (const [key, updated] of expected) {
    const res = await fetch(`${url}/v1/objects/${key}?node_name=${name}`);
    const body = res.ok ? ((await res.json()) as { lastUpdateTimeUnix?: number }) : undefined;
    if (body?.lastUpdateTimeUnix !== updated) stale.push(key);
  }
  return stale;
}
