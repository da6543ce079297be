/**
 * The product end to end on Weaviate: the real indexer (incremental, no-change run), the server
 * answering with citations that slice their documents, and a node that dies under it: the server
 * stays up, /api/health says the backend is unavailable with a stable code, answers fail with
 * 503 BACKEND_UNAVAILABLE, and all is well again once the node is back.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectationFor, openBackendWriter } from "../../../backends/select.ts";
import { backend } from "../../../backends/weaviate/adapter.ts";
import { ensureCollections, names } from "../../../backends/weaviate/schema.ts";
import { PUBLISHED_ID } from "../../../backends/weaviate/search.ts";
import type { Config } from "../../../core/config.ts";
import type { AnswerResponse, Health } from "../../../core/protocol.ts";
import { buildIndex } from "../../../ingest/indexer.ts";
import {
  createWorkspace,
  postAnswer,
  SEED_ID,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../../helpers/server.ts";
import { connectClient, startWeaviate, type TestCluster, uniquePrefix } from "../../helpers/weaviate.ts";

const WANG_YI = "Who is China's foreign minister?";
const ZORBLAX = "zorblax.txt";

let cluster: TestCluster;
let workspace: Workspace;
let overrides: Partial<Config>;
let server: TestServer | undefined;

beforeAll(async () => {
  [cluster, workspace] = await Promise.all([startWeaviate(1), createWorkspace()]);
  overrides = {
    backend: "weaviate",
    weaviateUrls: cluster.urls,
    weaviateGrpc: cluster.grpc,
    weaviatePrefix: uniquePrefix(),
  };
});
afterAll(async () => {
  await server?.close();
  await cluster?.stop();
  await workspace?.remove();
});

const build = () =>
  buildIndex({
    openWriter: openBackendWriter,
    config: workspace.config(overrides),
    embedder: workspace.embedder,
  });

async function health(url: string): Promise<Health> {
  return (await (await fetch(`${url}/api/health`)).json()) as Health;
}

describe("citeline on a Weaviate backend", () => {
  it("indexes incrementally: a second run with no change embeds and writes nothing", async () => {
    const first = await build();
    expect(first.published).toBe(true);
    expect(first.documents).toBe(1);
    expect(first.embedded).toBeGreaterThan(0);
    const again = await build();
    expect(again).toMatchObject({
      published: false,
      embedded: 0,
      added: 0,
      changed: 0,
      removed: 0,
      unchanged: 1,
    });
    expect(again.version).toBe(first.version);
    await workspace.addDoc(
      ZORBLAX,
      "Zorblax Harbour\n\nThe Zorblax ferry carries 212 passengers to the island.",
    );
    const third = await build();
    expect(third).toMatchObject({ published: true, added: 1, unchanged: 1 });
    // Only the new document was embedded.
    expect(third.embedded).toBeLessThan(first.embedded);
  });

  it("answers with citations that slice their documents, read from Weaviate", async () => {
    server = await startTestServer(workspace, overrides);
    const h = await health(server.url);
    expect(h).toMatchObject({ status: "ok", backend: { name: "weaviate", ok: true }, documents: 2 });
    const { status, body } = await postAnswer(server.url, { question: WANG_YI });
    expect(status).toBe(200);
    const answer = body as unknown as AnswerResponse;
    expect(answer.answer).toMatch(/Wang Yi/);
    expect(answer.citations.length).toBeGreaterThan(0);
    for (const c of answer.citations) {
      const doc = (await (
        await fetch(`${server.url}/api/documents/${encodeURIComponent(c.docId)}`)
      ).json()) as {
        text: string;
      };
      expect(doc.text.slice(c.start, c.end)).toBe(c.text);
    }
    expect(answer.citations.map((c) => c.docId)).toContain(SEED_ID);
  });

  it("refuses a published-version record it cannot read with INDEX_CORRUPT", async () => {
    const corrupt = { ...workspace.config(overrides), weaviatePrefix: uniquePrefix() };
    const n = names(corrupt.weaviatePrefix);
    const client = await connectClient(cluster);
    try {
      await ensureCollections(client, n, async () => ({ replication: 1, shards: 1 }));
      await client.collections
        .use(n.meta)
        .data.insert({ id: PUBLISHED_ID(n), properties: { kind: "published", body: "{not json" } });
    } finally {
      await client.close();
    }
    await expect(
      backend.openSearch(corrupt, { expect: expectationFor(workspace.embedder, corrupt) }),
    ).rejects.toMatchObject({ code: "INDEX_CORRUPT" });
  });

  it("stays up when its Weaviate node dies, says so in /api/health, and recovers when it is back", async () => {
    const url = server!.url;
    await cluster.kill(0);
    const down = await waitFor(
      "a degraded health",
      async () => {
        const h = await health(url);
        return h.status === "degraded" ? h : undefined;
      },
      30_000,
      200,
    );
    expect(down.backend).toMatchObject({ name: "weaviate", ok: false, code: "BACKEND_UNAVAILABLE" });
    expect(down.backend.message).toMatch(/Weaviate could not/);
    const failed = await postAnswer(url, { question: WANG_YI });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: { code: "BACKEND_UNAVAILABLE" } });

    await cluster.restart(0);
    await waitFor(
      "a healthy backend",
      async () => ((await health(url)).status === "ok" ? true : undefined),
      60_000,
      250,
    );
    const again = await postAnswer(url, { question: WANG_YI });
    expect(again.status).toBe(200);
    expect((again.body as unknown as AnswerResponse).answer).toMatch(/Wang Yi/);
  });
});
