/**
 * The distributed backend doing its job: three Weaviate nodes on loopback, the corpus indexed
 * with two copies of every shard, two citeline server processes answering from it, each
 * preferring a different node. A node is killed with SIGKILL while questions flow: every answer
 * still completes, with the same citations. The node is restarted, and once it is back it serves
 * on its own: the other node that shares its shards is then killed, and the answers stay the same.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../core/config.ts";
import type { AnswerResponse } from "../../core/protocol.ts";
import { buildIndex } from "../../embeddings/indexer.ts";
import { createWorkspace, postAnswer, type Workspace } from "../helpers/server.ts";
import { startWeaviate, type TestCluster, uniquePrefix } from "../helpers/weaviate.ts";

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

beforeAll(async () => {
  [cluster, workspace] = await Promise.all([startWeaviate(3), createWorkspace(DOCS)]);
  prefix = uniquePrefix();
  const summary = await buildIndex({
    config: workspace.config({
      backend: "weaviate",
      weaviateUrls: cluster.urls,
      weaviateGrpc: cluster.grpc,
      weaviatePrefix: prefix,
    }),
    embedder: workspace.embedder,
  });
  expect(summary.documents).toBe(4);
  await Promise.all([startServerProcess([0, 1, 2]), startServerProcess([1, 2, 0])]);
}, 300_000);

afterAll(async () => {
  for (const s of servers) s.child.kill("SIGTERM");
  await cluster?.stop();
  await workspace?.remove();
});

describe("a three-node Weaviate cluster with two copies of every shard", () => {
  it("keeps answering with the same citations while a node is killed, and serves from it once it is back", async () => {
    const nodes = (await (await fetch(`${cluster.urls[0]}/v1/nodes`)).json()) as {
      nodes: { status: string }[];
    };
    expect(nodes.nodes.map((n) => n.status)).toEqual(["HEALTHY", "HEALTHY", "HEALTHY"]);
    const schema = (await (await fetch(`${cluster.urls[0]}/v1/schema/${prefix}Chunk`)).json()) as {
      replicationConfig: { factor: number };
      shardingConfig: { desiredCount: number };
    };
    expect(schema.replicationConfig.factor).toBe(2);
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

    // Back on its old data folder, it rejoins; then the node that shares shards with it goes.
    await cluster.restart(0);
    await cluster.kill(1);
    for (let i = 0; i < 2; i++) same(await round());
    await cluster.restart(1);
    same(await round());
  }, 300_000);
});
