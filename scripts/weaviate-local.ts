/**
 * A local Weaviate: the pinned binary, installed once with `go install` into a cache outside the
 * repository, and one node or an N-node cluster on loopback, each node with its own port block
 * and data folder. Used by `npm run weaviate`, the conformance and cluster tests and the bench.
 *
 * Weaviate 1.35 binds its gRPC, cluster-data and profiling ports on every interface, so each node
 * gets distinct values for all of them (and profiling is switched off); only HTTP honours --host.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { AppError } from "../core/errors.ts";
import { CommandError } from "./cli.ts";

/** The expected failures of a local Weaviate (npm run weaviate): this tool's, not the product's. */
export const LOCAL_WEAVIATE_ERRORS = {
  BACKEND_NOT_INSTALLED: "the pinned Weaviate binary is not installed",
  BACKEND_INSTALL_FAILED: "building the pinned Weaviate binary failed",
  BACKEND_PORT_IN_USE: "a port a local Weaviate node needs is taken",
  BACKEND_RUNNING: "a local Weaviate cluster is already running from this folder",
} as const;

export type LocalWeaviateCode = keyof typeof LOCAL_WEAVIATE_ERRORS;

function localWeaviateError(code: LocalWeaviateCode, message: string): CommandError<LocalWeaviateCode> {
  return new CommandError(code, message);
}

/** The Weaviate release the backend is built and tested against. */
export const WEAVIATE_VERSION = "v1.35.2";
const MODULE = "github.com/weaviate/weaviate/cmd/weaviate-server";
/** Ports one node uses, as offsets from its block's first port. */
const PORTS_PER_NODE = 8;
const STATE_FILE = "cluster.json";

export interface NodePorts {
  http: number;
  grpc: number;
  gossip: number;
  data: number;
  raft: number;
  raftRpc: number;
  profiling: number;
  metrics: number;
}

export interface NodeSpec {
  name: string;
  ports: NodePorts;
  dataDir: string;
  logFile: string;
}

export interface ClusterSpec {
  /** Folder holding one data folder per node and the state file with their pids. */
  root: string;
  binary: string;
  nodes: NodeSpec[];
}

export interface ClusterState extends ClusterSpec {
  pids: Record<string, number>;
}

/** Where the pinned binary lives: `~/.cache/citeline/weaviate/<version>/weaviate-server`. */
export function binaryPath(cacheDir = path.join(os.homedir(), ".cache", "citeline")): string {
  return path.join(cacheDir, "weaviate", WEAVIATE_VERSION, "weaviate-server");
}

/**
 * Builds the pinned binary with the machine's Go when it is missing; returns its path. Takes
 * minutes on a small machine, which is why it is cached and never rebuilt when present.
 */
export async function installWeaviate(
  binary = binaryPath(),
  log: (line: string) => void = () => {},
): Promise<string> {
  if (existsSync(binary)) return binary;
  const gobin = path.dirname(binary);
  mkdirSync(gobin, { recursive: true });
  log(`building weaviate-server ${WEAVIATE_VERSION} into ${gobin} with go install (several minutes)`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn("go", ["install", `${MODULE}@${WEAVIATE_VERSION}`], {
      env: { ...process.env, GOBIN: gobin, CGO_ENABLED: process.env.CGO_ENABLED ?? "1" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", (err) =>
      reject(
        localWeaviateError("BACKEND_INSTALL_FAILED", `cannot run go (Go ≥ 1.25 is needed): ${err.message}`),
      ),
    );
    child.on("exit", (code) =>
      code === 0
        ? resolve()
        : reject(localWeaviateError("BACKEND_INSTALL_FAILED", `go install ${MODULE} exited with ${code}`)),
    );
  });
  if (!existsSync(binary))
    throw localWeaviateError("BACKEND_INSTALL_FAILED", `go install finished but ${binary} is missing`);
  return binary;
}

/** The port block of node `i` (0-based) when node 0's HTTP port is `base`. */
export function nodePorts(base: number, i: number): NodePorts {
  const p = base + i * PORTS_PER_NODE;
  return {
    http: p,
    grpc: p + 1,
    gossip: p + 2,
    data: p + 3,
    raft: p + 4,
    raftRpc: p + 5,
    profiling: p + 6,
    metrics: p + 7,
  };
}

/** The layout of an N-node cluster; nothing is started. */
export function clusterSpec(opts: {
  root: string;
  nodes: number;
  basePort: number;
  binary?: string;
}): ClusterSpec {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 9)
    throw new AppError("BAD_REQUEST", `nodes is ${opts.nodes}; use 1 to 9`);
  const nodes = Array.from({ length: opts.nodes }, (_, i) => {
    const name = `node${i + 1}`;
    const dataDir = path.join(opts.root, name);
    return { name, ports: nodePorts(opts.basePort, i), dataDir, logFile: path.join(dataDir, "weaviate.log") };
  });
  return { root: opts.root, binary: opts.binary ?? binaryPath(), nodes };
}

/**
 * The environment one node runs with. At first start node1 founds the cluster and the others
 * join through it; a node started again (`rejoin`) joins through all the others, since node1 may
 * be the one that is down.
 */
export function nodeEnv(spec: ClusterSpec, node: NodeSpec, rejoin = false): Record<string, string> {
  const first = spec.nodes[0]!;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? os.homedir(),
    PERSISTENCE_DATA_PATH: node.dataDir,
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: "true",
    DEFAULT_VECTORIZER_MODULE: "none",
    ENABLE_MODULES: "",
    DISABLE_TELEMETRY: "true",
    LOG_LEVEL: "warning",
    CLUSTER_HOSTNAME: node.name,
    CLUSTER_IN_LOCALHOST: "true",
    CLUSTER_BIND_ADDR: "127.0.0.1",
    CLUSTER_ADVERTISE_ADDR: "127.0.0.1",
    CLUSTER_GOSSIP_BIND_PORT: String(node.ports.gossip),
    CLUSTER_DATA_BIND_PORT: String(node.ports.data),
    GRPC_PORT: String(node.ports.grpc),
    RAFT_PORT: String(node.ports.raft),
    RAFT_INTERNAL_RPC_PORT: String(node.ports.raftRpc),
    RAFT_JOIN: spec.nodes.map((n) => `${n.name}:${n.ports.raft}`).join(","),
    RAFT_BOOTSTRAP_EXPECT: String(spec.nodes.length),
    // Shards load before the node says it is ready: a lazily loading replica that a read at
    // consistency ONE reaches right after a restart can answer with nothing (seen in the cluster test).
    DISABLE_LAZY_LOAD_SHARDS: "true",
    // A replica that missed writes (it was down) is brought up to date by async replication: the
    // others compare hash trees with it within 5 s of seeing it alive and push what it lacks. By
    // default they then compare only every 30 s and leave out objects written in the last 30 s
    // (writes that may still be in flight); on loopback 5 s and 10 s are ample, and a restarted
    // node catches up within about 15 s instead of a minute.
    ASYNC_REPLICATION_FREQUENCY: "5s",
    ASYNC_REPLICATION_PROPAGATION_DELAY: "10s",
    GO_PROFILING_DISABLE: "true",
    GO_PROFILING_PORT: String(node.ports.profiling),
    PROMETHEUS_MONITORING_ENABLED: "false",
    PROMETHEUS_MONITORING_PORT: String(node.ports.metrics),
    // The machine is shared; Weaviate's default is every core.
    GOMAXPROCS: process.env.GOMAXPROCS ?? "2",
  };
  if (rejoin && spec.nodes.length > 1)
    env.CLUSTER_JOIN = spec.nodes
      .filter((n) => n !== node)
      .map((n) => `127.0.0.1:${n.ports.gossip}`)
      .join(",");
  else if (node !== first) env.CLUSTER_JOIN = `127.0.0.1:${first.ports.gossip}`;
  return env;
}

/** Starts one node in the background (detached, output to its log file); returns its process. */
export function startNode(spec: ClusterSpec, node: NodeSpec, rejoin = false): ChildProcess {
  if (!existsSync(spec.binary))
    throw localWeaviateError(
      "BACKEND_NOT_INSTALLED",
      `${spec.binary} is missing; run \`npm run weaviate -- install\``,
    );
  mkdirSync(node.dataDir, { recursive: true });
  const log = openSync(node.logFile, "a");
  const child = spawn(
    spec.binary,
    ["--host", "127.0.0.1", "--port", String(node.ports.http), "--scheme", "http"],
    { env: nodeEnv(spec, node, rejoin), stdio: ["ignore", log, log], detached: true },
  );
  child.unref();
  return child;
}

/** Resolves when a node answers ready, or fails after `timeoutMs` naming its log file. */
export async function waitReady(node: NodeSpec, timeoutMs = 120_000, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const url = `http://127.0.0.1:${node.ports.http}/v1/.well-known/ready`;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null)
      throw new AppError(
        "BACKEND_UNAVAILABLE",
        `${node.name} exited with ${child.exitCode} while starting; see ${node.logFile}`,
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new AppError(
    "BACKEND_UNAVAILABLE",
    `${node.name} was not ready on port ${node.ports.http} after ${timeoutMs / 1000} s; see ${node.logFile}`,
  );
}

async function waitListening(port: number, timeoutMs: number, child: ChildProcess, node: NodeSpec) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (!(await portFree(port))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AppError(
    "BACKEND_UNAVAILABLE",
    `${node.name} did not open its gossip port ${port}; see ${node.logFile}`,
  );
}

/** Resolves when node1 sees every node of the cluster healthy. */
export async function waitClusterHealthy(spec: ClusterSpec, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const first = spec.nodes[0]!;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${first.ports.http}/v1/nodes`, {
        signal: AbortSignal.timeout(2000),
      });
      if (res.ok) {
        const body = (await res.json()) as { nodes?: { name: string; status: string }[] };
        const healthy = (body.nodes ?? []).filter((n) => n.status === "HEALTHY").length;
        last = `${healthy}/${spec.nodes.length} healthy`;
        if (healthy === spec.nodes.length) return;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new AppError("BACKEND_UNAVAILABLE", `the cluster did not become healthy (${last})`);
}

/** Starts every node, waits until they are ready and see each other, and records their pids. */
export async function upCluster(spec: ClusterSpec, timeoutMs = 180_000): Promise<ClusterState> {
  const existing = readState(spec.root);
  if (existing && Object.values(existing.pids).some((pid) => isWeaviate(pid)))
    throw localWeaviateError(
      "BACKEND_RUNNING",
      `a cluster is already running from ${spec.root}; run \`npm run weaviate -- down\` first`,
    );
  for (const node of spec.nodes) await assertPortsFree(node);
  mkdirSync(spec.root, { recursive: true });
  const pids: Record<string, number> = {};
  const state: ClusterState = { ...spec, pids };
  const children: ChildProcess[] = [];
  try {
    for (const [i, node] of spec.nodes.entries()) {
      const child = startNode(spec, node);
      pids[node.name] = child.pid ?? -1;
      children.push(child);
      writeState(state);
      // The others join through node1's gossip port: it must listen before they start.
      if (i === 0 && spec.nodes.length > 1) await waitListening(node.ports.gossip, timeoutMs, child, node);
    }
    await Promise.all(spec.nodes.map((n, i) => waitReady(n, timeoutMs, children[i])));
    await waitClusterHealthy(spec, timeoutMs);
  } catch (err) {
    await downCluster(spec.root);
    throw err;
  }
  return state;
}

/** Stops every node recorded under `root` by pid (SIGTERM, then SIGKILL after `graceMs`). */
export async function downCluster(root: string, opts: { graceMs?: number; wipe?: boolean } = {}) {
  const state = readState(root);
  const stopped: string[] = [];
  if (state) {
    await Promise.all(
      Object.entries(state.pids).map(async ([name, pid]) => {
        if (await stopPid(pid, opts.graceMs ?? 20_000)) stopped.push(name);
      }),
    );
    writeState({ ...state, pids: {} });
  }
  if (opts.wipe) await rm(root, { recursive: true, force: true });
  return stopped;
}

/** Stops a Weaviate process; refuses to signal a pid that is no longer a weaviate-server. */
export async function stopPid(pid: number, graceMs = 20_000, signal: NodeJS.Signals = "SIGTERM") {
  if (!isWeaviate(pid)) return false;
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (alive(pid)) process.kill(pid, "SIGKILL");
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
  return true;
}

export function readState(root: string): ClusterState | undefined {
  const file = path.join(root, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ClusterState;
}

export function writeState(state: ClusterState): void {
  writeFileSync(path.join(state.root, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (killed, not yet reaped by its parent) no longer serves anything.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** True when `pid` runs a weaviate-server binary (pids are recycled; never signal a stranger). */
export function isWeaviate(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.endsWith("weaviate-server");
  } catch {
    return false;
  }
}

async function assertPortsFree(node: NodeSpec): Promise<void> {
  for (const [what, port] of Object.entries(node.ports)) {
    if (!(await portFree(port)))
      throw localWeaviateError(
        "BACKEND_PORT_IN_USE",
        `port ${port} (${node.name} ${what}) is in use; pick another --port`,
      );
  }
}

/** True when nothing listens on `port` on any interface (some Weaviate ports bind them all). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "0.0.0.0", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A base port whose whole block for `nodes` nodes is free, searched from a random start. */
export async function freeBasePort(nodes: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the ephemeral range (32768+), where outgoing connections take their ports.
    const base = 20_000 + Math.floor(Math.random() * 750) * 16;
    const ports = Array.from({ length: nodes * PORTS_PER_NODE }, (_, i) => base + i);
    let free = true;
    for (const p of ports) {
      if (!(await portFree(p))) {
        free = false;
        break;
      }
    }
    if (free) return base;
  }
  throw localWeaviateError("BACKEND_PORT_IN_USE", "found no free block of ports for a local Weaviate");
}
