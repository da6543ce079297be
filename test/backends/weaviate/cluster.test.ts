/**
 * The distributed backend doing its job: three Weaviate nodes on loopback, the corpus indexed
 * with three copies of every shard (the default), two citeline server processes answering from
 * it, each preferring a different node. A node is killed with SIGKILL while questions flow: every
 * answer still completes, with the same citations; it is restarted, and serves once another node
 * is killed. Then a node goes down and the corpus changes (a document added, one changed, one
 * removed): indexing goes on without it; it comes back, catches up, and answers alone, with the
 * new documents and the new citations.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBackendWriter } from "../../../backends/select.ts";
import { PROJECT_ROOT } from "../../../core/config.ts";
import type { AnswerResponse } from "../../../core/protocol.ts";
import { buildIndex } from "../../../ingest/indexer.ts";
import { createWorkspace, postAnswer, type Workspace, waitFor } from "../../helpers/server.ts";
import {
  listObjects,
  staleOn,
  startWeaviate,
  type TestCluster,
  uniquePrefix,
} from "../../helpers/weaviate.ts";

const DOCS: Record<string, string> = {
  "ferry.txt":
    "Zorblax Ferry Timetable Changes\n\nThe Zorblax ferry will carry 212 passengers per crossing from March. The harbour master, Ilse Brandt, said the new vessel was built in Gdansk.",
  "orchard.txt":
    "Quenton Apples Hit by Frost\n\nA late frost destroyed a third of the Quenton apple blossom. Growers in the Marrow valley expect insurance claims to double this year.",
  "bridge.txt":
    "Tollbridge Reopens\n\nThe Varnholt tollbridge reopened on Monday after repairs that cost 18 million euros. Engineers replaced all 96 steel cables.",
};
const QUESTIONS = [
  "Who is China's foreign minister?",
  "How many passengers will the Zorblax ferry carry?",
  "How much did the Varnholt tollbridge repairs cost?",
  "What destroyed the Quenton apple blossom?",
];

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
}

let cluster: TestCluster;
let workspace: Workspace;
let prefix: string;
const servers: Server[] = [];

/** Starts `npm run serve`'s entry as its own process, reading the nodes in the given order. */
async function startServerProcess(order: number[]): Promise<Server> {
  const env = {
    ...process.env,
    CITELINE_BACKEND: "weaviate",
    CITELINE_WEAVIATE_URL: order.map((i) => cluster.urls[i]).join(","),
    CITELINE_WEAVIATE_GRPC: order.map((i) => cluster.grpc[i]).join(","),
    CITELINE_WEAVIATE_PREFIX: prefix,
    CITELINE_CORPUS_DIR: workspace.corpusDir,
    CITELINE_INDEX_DIR: workspace.indexDir,
    CITELINE_PORT: "0",
    CITELINE_HOST: "127.0.0.1",
    CITELINE_LOG_LEVEL: "warn",
  };
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/serve.ts"], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  for (const s of [child.stdout!, child.stderr!]) s.setEncoding("utf8").on("data", (d: string) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = out.match(/citeline is answering at (http:\/\/\S+)/);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 100);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`the server exited with ${code}:\n${out}`));
    });
  });
  const server = { child, url, output: () => out };
  servers.push(server);
  return server;
}

/** The citations of an answer, as comparable strings. */
function citationsOf(body: Record<string, unknown>): string[] {
  return (body as unknown as AnswerResponse).citations.map((c) => `${c.docId}:${c.start}-${c.end}`);
}

/** Asks every question on every server at once; returns failures and citations per question. */
async function round(): Promise<{ failures: string[]; cites: Map<string, string[][]> }> {
  const failures: string[] = [];
  const cites = new Map<string, string[][]>();
  await Promise.all(
    servers.flatMap((s, si) =>
      QUESTIONS.map(async (q) => {
        const { status, body } = await postAnswer(s.url, { question: q });
        if (status !== 200) {
          failures.push(`server ${si} "${q}": ${status} ${JSON.stringify(body).slice(0, 300)}`);
          return;
        }
        cites.set(q, [...(cites.get(q) ?? []), citationsOf(body)]);
      }),
    ),
  );
  return { failures, cites };
}

/** Runs the indexer against the cluster, trying the nodes in the given order. */
function build(order = [0, 1, 2]) {
  return buildIndex({
    openWriter: openBackendWriter,
    config: workspace.config({
      backend: "weaviate",
      weaviateUrls: order.map((i) => cluster.urls[i]!),
      weaviateGrpc: order.map((i) => cluster.grpc[i]!),
      weaviatePrefix: prefix,
    }),
    embedder: workspace.embedder,
  });
}

beforeAll(async () => {
  [cluster, workspace] = await Promise.all([startWeaviate(3), createWorkspace(DOCS)]);
  prefix = uniquePrefix();
  const summary = await build();
  expect(summary.documents).toBe(4);
  await Promise.all([startServerProcess([0, 1, 2]), startServerProcess([1, 2, 0])]);
}, 300_000);

afterAll(async () => {
  for (const s of servers) s.child.kill("SIGTERM");
  await cluster?.stop();
  await workspace?.remove();
});

describe("a three-node Weaviate cluster with three copies of every shard", () => {
  it("keeps answering with the same citations while a node is killed, and serves from it once it is back", async () => {
    const nodes = (await (await fetch(`${cluster.urls[0]}/v1/nodes`)).json()) as {
      nodes: { status: string }[];
    };
    expect(nodes.nodes.map((n) => n.status)).toEqual(["HEALTHY", "HEALTHY", "HEALTHY"]);
    const schema = (await (await fetch(`${cluster.urls[0]}/v1/schema/${prefix}Chunk`)).json()) as {
      replicationConfig: { factor: number };
      shardingConfig: { desiredCount: number };
    };
    expect(schema.replicationConfig).toMatchObject({
      factor: 3,
      asyncEnabled: true,
      deletionStrategy: "TimeBasedResolution",
    });
    expect(schema.shardingConfig.desiredCount).toBe(3);

    // Both servers agree before anything fails.
    const baseline = await round();
    expect(baseline.failures).toEqual([]);
    const expected = new Map<string, string[]>();
    for (const q of QUESTIONS) {
      const [a, b] = baseline.cites.get(q)!;
      expect(a!.length).toBeGreaterThan(0);
      expect(b).toEqual(a);
      expected.set(q, a!);
    }
    const same = (r: Awaited<ReturnType<typeof round>>) => {
      expect(r.failures).toEqual([]);
      for (const q of QUESTIONS) for (const c of r.cites.get(q)!) expect(c).toEqual(expected.get(q));
    };

    // node1 dies (no shutdown) while a round is in flight; server 0 was reading from it.
    const inFlight = round();
    await new Promise((r) => setTimeout(r, 50));
    await cluster.kill(0);
    same(await inFlight);
    for (let i = 0; i < 2; i++) same(await round());

    // Back on its old data folder, it rejoins; then another node goes.
    await cluster.restart(0);
    await cluster.kill(1);
    for (let i = 0; i < 2; i++) same(await round());
    await cluster.restart(1);
    same(await round());
  }, 300_000);
  it("goes on indexing while a node is down, and the node catches up and then answers alone with the new citations", async () => {
    const ask = (server: number, question: string) => postAnswer(servers[server]!.url, { question });
    // Asked so that only the new document answers it: "each Zorblax hovercraft" alone is as near
    // the ferry's "The Zorblax ferry will carry 212 passengers", which the selector ranks first.
    const hovercraft = "How many passengers will each hovercraft carry between Pellow and Strand?";
    const bridge = "How much did the Varnholt tollbridge repairs cost?";
    const orchard = "What destroyed the Quenton apple blossom?";
    await cluster.kill(0);
    await workspace.addDoc(
      "hovercraft.txt",
      "Zorblax Hovercraft Service\n\nA Zorblax hovercraft service will start in May. Each hovercraft will carry 64 passengers between Pellow and the island of Strand, the operator Nadia Okafor said.",
    );
    await workspace.addDoc("bridge.txt", DOCS["bridge.txt"]!.replace("18 million", "23 million"));
    await rm(path.join(workspace.corpusDir, "orchard.txt"));
    // Writes go at QUORUM: two of the three copies are enough.
    const summary = await build([1, 2, 0]);
    expect(summary).toMatchObject({ published: true, added: 1, changed: 1, removed: 1, documents: 4 });

    // What the cluster answers without node1, once both servers have switched to the new version
    // (the removed document is no longer cited).
    const citesOrchard = async (server: number) => {
      const { status, body } = await ask(server, orchard);
      return status !== 200 || citationsOf(body).some((c) => c.startsWith("orchard:"));
    };
    await waitFor(
      "both servers to read the new version",
      async () => (!(await citesOrchard(0)) && !(await citesOrchard(1)) ? true : undefined),
      60_000,
      500,
    );
    const expected = new Map<string, string[]>();
    for (const q of [hovercraft, bridge, orchard]) {
      const [a, b] = await Promise.all([ask(0, q), ask(1, q)]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(citationsOf(b.body)).toEqual(citationsOf(a.body));
      expected.set(q, citationsOf(a.body));
    }
    expect(expected.get(hovercraft)![0]).toMatch(/^hovercraft:/);
    expect(expected.get(bridge)![0]).toMatch(/^bridge:/);
    const { body: bridgeBody } = await ask(1, bridge);
    expect((bridgeBody as unknown as AnswerResponse).citations[0]!.text).toContain("23 million");

    // Every object as the two live nodes hold it, then node1 back: it must come to hold the same.
    const classes = ["Doc", "Chunk", "Sentence", "Meta"].map((c) => `${prefix}${c}`);
    const objects = await listObjects(cluster.urls[1]!, classes);
    await cluster.restart(0);
    const node1 = cluster.state.nodes[0]!.name;
    await waitFor(
      "node1 to catch up with the writes it missed",
      async () => ((await staleOn(cluster.urls[0]!, node1, objects)).length === 0 ? true : undefined),
      90_000,
      1000,
    );

    // Alone, it answers from what it caught up on: the servers can reach no other node.
    await cluster.kill(1);
    await cluster.kill(2);
    for (const s of [0, 1])
      for (const q of [hovercraft, bridge, orchard]) {
        const { status, body } = await ask(s, q);
        expect(status, JSON.stringify(body).slice(0, 300)).toBe(200);
        expect(citationsOf(body)).toEqual(expected.get(q));
      }
  }, 300_000);
});
