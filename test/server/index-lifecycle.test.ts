import { readFileSync, statSync } from "node:fs";
import { truncate } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AnswerResponse } from "../../core/protocol.ts";
import type { Embedder } from "../../core/types.ts";
import {
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const WANG_YI = "Who is China's foreign minister?";
const ZORBLAX = "Where was the Zorblax festival held?";
const ZORBLAX_DOC = [
  "Zorblax festival report",
  "",
  "The Zorblax festival was held in Quito in 2031.",
  "Thousands of visitors came to the Ecuadorian capital for three days of music and lantern parades.",
  "",
].join("\n");

const workspaces: Workspace[] = [];
let running: TestServer | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
  for (const w of workspaces.splice(0)) await w.remove();
});

async function workspace(): Promise<Workspace> {
  const w = await createWorkspace();
  workspaces.push(w);
  return w;
}

describe("hot reload", () => {
  it("answers from a document indexed while it runs, without failing the questions in flight", async () => {
    const w = await workspace();
    await w.build();
    // A short pause between pieces keeps answers in flight, holding the old index, across the swap.
    running = await startTestServer(
      w,
      { streamDelayMs: 5, rateLimitPerMinute: 0 },
      { reloadIntervalMs: 100 },
    );
    const { url, logs } = running;
    const before = (await postAnswer(url, { question: ZORBLAX })).body as unknown as AnswerResponse;
    expect(before.notFound).toBe(true);

    const failures: unknown[] = [];
    let answered = 0;
    let stop = false;
    const fire = async (jitterMs: number) => {
      while (!stop) {
        // Out of step with each other, so the swap meets questions at different stages.
        await new Promise((r) => setTimeout(r, Math.random() * jitterMs));
        try {
          const res = await postAnswer(url, { question: WANG_YI });
          const body = res.body as unknown as AnswerResponse;
          if (res.status !== 200 || !body.answer.includes("Wang Yi")) failures.push(res);
          else answered++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = [0, 5, 10, 15, 20, 25].map(fire);
    try {
      await w.addDoc("zorblax.txt", ZORBLAX_DOC);
      const summary = await w.build();
      expect(summary).toMatchObject({ published: true, added: 1, documents: 2 });
      const after = await waitFor(
        "an answer from the new document",
        async () => {
          const body = (await postAnswer(url, { question: ZORBLAX })).body as unknown as AnswerResponse;
          return body.answer.includes("Quito") ? body : undefined;
        },
        10_000,
        100,
      );
      expect(after.notFound).toBe(false);
      expect(after.citations.map((c) => c.docId)).toContain("zorblax");
      expect(after.citations.some((c) => c.text === "The Zorblax festival was held in Quito in 2031.")).toBe(
        true,
      );
      // Keep asking a little longer on the new index, then stop.
      const target = answered + 6;
      await waitFor("more answers on the new index", () => (answered >= target ? true : undefined));
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    expect(logs.filter((l) => l.event === "index_reloaded")).toHaveLength(1);
    expect(logs.filter((l) => l.level === "error" || l.level === "warn")).toEqual([]);
    const health = (await (await fetch(`${url}/api/health`)).json()) as { documents: number };
    expect(health.documents).toBe(2);
  });
});

/**
 * The real model with a gate on query embeddings: while closed, a question waits after taking
 * its lease on the index and before reading it.
 */
function gatedEmbedder(inner: Embedder): { embedder: Embedder; open(): void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const embedder: Embedder = {
    modelId: inner.modelId,
    dim: inner.dim,
    pooling: inner.pooling,
    maxTokens: inner.maxTokens,
    async embed(texts, kind) {
      if (kind === "query") await gate;
      return inner.embed(texts, kind);
    },
    countTokens: (text) => inner.countTokens(text),
    dispose: async () => {},
  };
  return { embedder, open };
}

describe("index swap", () => {
  it("lets a question that leased the old index finish on it after the new one is swapped in", async () => {
    const w = await workspace();
    await w.build();
    const gated = gatedEmbedder(w.embedder);
    running = await startTestServer(w, {}, { reloadIntervalMs: 50, embedder: gated.embedder });
    const { url, server, logs } = running;
    const pending = postAnswer(url, { question: WANG_YI });
    await waitFor("the question to take its lease", () =>
      server.engine.admission.load.active === 1 ? true : undefined,
    );
    await w.addDoc("zorblax.txt", ZORBLAX_DOC);
    await w.build();
    await waitFor("the new index to be swapped in", () => logs.find((l) => l.event === "index_reloaded"));
    gated.open();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.answer).toContain("Wang Yi");
    const after = (await postAnswer(url, { question: ZORBLAX })).body as unknown as AnswerResponse;
    expect(after.answer).toContain("Quito");
    expect(logs.filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("startup", () => {
  it("refuses an empty index folder with INDEX_MISSING, naming npm run index", async () => {
    const w = await workspace();
    await expect(startTestServer(w)).rejects.toMatchObject({
      code: "INDEX_MISSING",
      message: `no index has been built in ${w.indexDir}; run \`npm run index\``,
    });
  });

  it("refuses an index whose vectors file was truncated with INDEX_CORRUPT", async () => {
    const w = await workspace();
    await w.build();
    const version = readFileSync(path.join(w.indexDir, "CURRENT"), "utf8").trim();
    const vectors = path.join(w.indexDir, version, "vectors.hnsw");
    const size = statSync(vectors).size;
    await truncate(vectors, Math.floor(size / 2));
    await expect(startTestServer(w)).rejects.toMatchObject({
      code: "INDEX_CORRUPT",
      message: `${vectors} does not match its manifest (${Math.floor(size / 2)} bytes, expected ${size}); run \`npm run index -- --full\``,
    });
  });
});
