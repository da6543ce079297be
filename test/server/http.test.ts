import { readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SearchResult } from "../../core/engine.ts";
import type { AnswerResponse, Citation, DocumentBody, SourceRef } from "../../core/protocol.ts";
import {
  createWorkspace,
  parseSse,
  postAnswer,
  SEED_FILE,
  SEED_ID,
  SEED_TITLE,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const WANG_YI = "Who is China's foreign minister?";
const MERCURY = "What is the boiling point of mercury?";

let workspace: Workspace;
let chunks: number;
let running: TestServer | undefined;

beforeAll(async () => {
  workspace = await createWorkspace();
  chunks = (await workspace.build()).chunks;
});
afterEach(async () => {
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  await workspace.remove();
});

async function start(overrides: Parameters<typeof startTestServer>[1] = {}): Promise<TestServer> {
  running = await startTestServer(workspace, overrides);
  return running;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("POST /api/answer as JSON", () => {
  it("answers who China's foreign minister is with Wang Yi and citations that slice their documents", async () => {
    const { url } = await start();
    const res = await postAnswer(url, { question: WANG_YI });
    expect(res.status).toBe(200);
    const body = res.body as unknown as AnswerResponse;
    expect(body.notFound).toBe(false);
    expect(body.answer).toContain("Wang Yi");
    expect(body.citations.length).toBeGreaterThan(0);
    const docs = new Map<string, DocumentBody>();
    for (const c of body.citations) {
      const source = body.sources[c.n - 1] as SourceRef;
      expect(source).toBeDefined();
      expect(source.n).toBe(c.n);
      expect(source.docId).toBe(c.docId);
      if (!docs.has(c.docId)) {
        const doc = await getJson(`${url}/api/documents/${encodeURIComponent(c.docId)}`);
        expect(doc.status).toBe(200);
        docs.set(c.docId, doc.body as unknown as DocumentBody);
      }
      const doc = docs.get(c.docId) as DocumentBody;
      expect(doc.text.slice(c.start, c.end)).toBe(c.text);
      expect(body.answer.slice(c.answerStart, c.answerEnd)).toBe(c.text);
      expect(body.answer).toContain(`[${c.n}]`);
    }
    expect(body.citations.some((c: Citation) => c.text.includes("Wang Yi"))).toBe(true);
  });

  it("says it did not find the boiling point of mercury, with no citations but the closest passages", async () => {
    const { url } = await start();
    const res = await postAnswer(url, { question: MERCURY });
    expect(res.status).toBe(200);
    const body = res.body as unknown as AnswerResponse;
    expect(body.notFound).toBe(true);
    expect(body.citations).toEqual([]);
    expect(body.sources.length).toBeGreaterThan(0);
    expect(body.sources.map((s) => s.docId)).toContain(SEED_ID);
    expect(body.answer).not.toMatch(/\[\d+\]/);
  });
});

describe("the query-vector cache", () => {
  it.each([
    [{}, 1, 1],
    [{ queryCacheSize: 0 }, 2, 0],
  ])(
    "with %j, embeds a question asked twice %i time(s) and answers %i from the cache",
    async (overrides, texts, cached) => {
      const { url, server } = await start(overrides);
      const answers = [
        await postAnswer(url, { question: WANG_YI }),
        await postAnswer(url, { question: WANG_YI }),
      ];
      expect(answers.map((a) => a.body.answer)).toEqual([answers[0]!.body.answer, answers[0]!.body.answer]);
      expect(server.engine.queue.stats).toMatchObject({ texts, cached });
    },
  );
});

describe("POST /api/answer as Server-Sent Events", () => {
  it("streams sources, then deltas, then done, and the deltas add up to the answer", async () => {
    const { url } = await start();
    const res = await fetch(`${url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ question: WANG_YI }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = parseSse(await res.text());
    const types = events.map((e) => e.event);
    expect(types[0]).toBe("sources");
    expect(types.at(-1)).toBe("done");
    expect(types.length).toBeGreaterThan(2);
    expect(types.slice(1, -1).every((t) => t === "delta")).toBe(true);
    const done = events.at(-1)?.data as { answer: string; citations: Citation[]; notFound: boolean };
    expect(events.slice(1, -1).map((e) => e.data.text as string)).toSatisfy(
      (texts: string[]) => texts.join("") === done.answer,
    );
    expect(done.answer).toContain("Wang Yi");
    expect(done.notFound).toBe(false);
    // The stream and the JSON answer are the same answer.
    const json = await postAnswer(url, { question: WANG_YI });
    expect(done.answer).toBe(json.body.answer);
    expect(done.citations).toEqual(json.body.citations);
    const sources = events[0]?.data.sources as SourceRef[];
    expect(sources).toEqual(json.body.sources);
  });

  it("stops answering when the client goes away mid-stream", async () => {
    // 200 ms between pieces: the whole answer would take seconds, so an early stop is visible.
    const running = await start({ streamDelayMs: 200 });
    const controller = new AbortController();
    const res = await fetch(`${running.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ question: WANG_YI }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("event: delta")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the stream ended before the first delta");
      text += decoder.decode(value, { stream: true });
    }
    expect(running.server.engine.admission.load.active).toBe(1);
    controller.abort();
    const stopped = () => (running.server.engine.admission.load.active === 0 ? true : undefined);
    await waitFor("the answer to stop", stopped, 1000);
    const logged = await waitFor("the answer log line", () =>
      running.logs.find((l) => l.event === "answer" && l.fields.transport === "sse"),
    );
    expect(logged.fields.aborted).toBe(true);
    expect(running.logs.filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("GET /api/search", () => {
  it("returns k hits with each retriever's rank and score", async () => {
    const { url } = await start();
    const { status, body } = await getJson(`${url}/api/search?q=${encodeURIComponent("Wang Yi")}&k=2`);
    expect(status).toBe(200);
    const result = body as unknown as SearchResult;
    expect(result.query).toBe("Wang Yi");
    expect(result.hits).toHaveLength(2);
    expect(result.hits.map((h) => h.n)).toEqual([1, 2]);
    const top = result.hits[0]!;
    expect(top.docId).toBe(SEED_ID);
    expect(top.dense).toEqual({ rank: 1, score: expect.any(Number) });
    expect(top.lexical).toEqual({ rank: 1, score: expect.any(Number) });
    for (const hit of result.hits) {
      for (const r of [hit.dense, hit.lexical]) {
        if (r !== null) expect(r).toEqual({ rank: expect.any(Number), score: expect.any(Number) });
      }
    }
    const one = await getJson(`${url}/api/search?q=${encodeURIComponent("Wang Yi")}&k=1`);
    expect((one.body as unknown as SearchResult).hits).toHaveLength(1);
  });

  it("ranks by words alone in lexical mode and by vectors alone in dense mode", async () => {
    const { url } = await start();
    const lexical = await getJson(
      `${url}/api/search?q=${encodeURIComponent("Hangzhou dialogue")}&mode=lexical`,
    );
    expect(lexical.status).toBe(200);
    const lexHits = (lexical.body as unknown as SearchResult).hits;
    expect(lexHits.length).toBeGreaterThan(0);
    for (const h of lexHits) {
      expect(h.dense).toBeNull();
      expect(h.lexical).toEqual({ rank: expect.any(Number), score: expect.any(Number) });
    }
    const dense = await getJson(`${url}/api/search?q=${encodeURIComponent("Hangzhou dialogue")}&mode=dense`);
    const denseHits = (dense.body as unknown as SearchResult).hits;
    expect(denseHits.length).toBeGreaterThan(0);
    for (const h of denseHits) {
      expect(h.lexical).toBeNull();
      expect(h.dense).toEqual({ rank: expect.any(Number), score: expect.any(Number) });
    }
  });

  it.each([
    ["k=0", "K_OUT_OF_RANGE"],
    ["k=51", "K_OUT_OF_RANGE"],
    ["k=abc", "BAD_REQUEST"],
    ["mode=fuzzy", "BAD_REQUEST"],
    ["from=2024-13-01", "BAD_FILTER"],
    ["asOf=yesterday", "BAD_AS_OF"],
  ])("refuses %s with 400 %s", async (param, code) => {
    const { url } = await start();
    const res = await getJson(`${url}/api/search?q=Wang&${param}`);
    expect(res.status).toBe(400);
    expect((res.body.error as { code: string }).code).toBe(code);
  });
});

describe("GET /api/documents/:id", () => {
  it("returns the seed article's text and metadata", async () => {
    const { url } = await start();
    const { status, body } = await getJson(`${url}/api/documents/${SEED_ID}`);
    expect(status).toBe(200);
    const doc = body as unknown as DocumentBody;
    expect(doc).toEqual({
      id: SEED_ID,
      title: SEED_TITLE,
      date: "2024-12-09",
      source: "000_1819b03cfa5cc3af.txt",
      text: expect.any(String),
    });
    expect(doc.text.startsWith("HANGZHOU, Dec. 9 (Xinhua) -- China will continue")).toBe(true);
    expect(readFileSync(SEED_FILE, "utf8")).toContain(doc.text.trim());
  });

  it.each([
    "no-such-document",
    "..%2F..%2Fetc%2Fpasswd",
    "..%2F..%2F..%2Fpackage.json",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%00",
    `${SEED_ID}%00`,
    "..%5C..%5Cwindows%5Cwin.ini",
  ])("answers 404 NOT_FOUND as JSON for the id %s, never a file", async (id) => {
    const { url } = await start();
    const res = await fetch(`${url}/api/documents/${id}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).toBe("no document has this id");
  });
  it.each(["%E0%A4%A", "%"])(
    "answers 400 BAD_REQUEST as JSON for the id %s, which is not valid percent-encoding",
    async (id) => {
      const { url } = await start();
      const res = await fetch(`${url}/api/documents/${id}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: "BAD_REQUEST", message: "the request could not be read" });
    },
  );
});

describe("GET /api/health", () => {
  it("reports the model, the counts, the build time, the date range and example questions", async () => {
    const { url } = await start();
    const { status, body } = await getJson(`${url}/api/health`);
    expect(status).toBe(200);
    expect(body).toEqual({
      status: "ok",
      backend: { name: "embedded", ok: true },
      model: "bge-small-en-v1.5",
      documents: 1,
      chunks,
      builtAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      dateRange: { from: "2024-12-09", to: "2024-12-09" },
      examples: ["What did Foreign Minister Wang Yi say?"],
      authRequired: false,
      limits: { maxQuestionChars: 2000, maxHistoryTurns: 20, maxHistoryChars: 20_000, maxK: 50 },
    });
  });
});

describe("methods and media types", () => {
  it("refuses a question that is not sent as JSON with 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const { url } = await start();
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const res = await fetch(`${url}/api/answer`, {
        method: "POST",
        headers: { "content-type": type },
        body: JSON.stringify({ question: "Who is China's foreign minister?" }),
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
  });

  it.each([
    ["GET", "/api/answer", "POST"],
    ["POST", "/api/health", "GET"],
    ["DELETE", "/api/documents/000_1819b03cfa5cc3af", "GET"],
    ["PUT", "/api/search", "GET"],
  ])("answers %s %s with 405 METHOD_NOT_ALLOWED and Allow: %s", async (method, route, allow) => {
    const { url } = await start();
    const res = await fetch(`${url}${route}`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
  });
});

describe("GET /api/openapi.json", () => {
  /** Every /api route server/app.ts serves, by method; kept by hand so a new route must be added here. */
  const ROUTES: [string, string][] = [
    ["get", "/api/health"],
    ["get", "/api/openapi.json"],
    ["get", "/api/search"],
    ["get", "/api/documents/{id}"],
    ["get", "/api/documents"],
    ["post", "/api/documents"],
    ["delete", "/api/documents"],
    ["post", "/api/answer"],
    ["get", "/v1/models"],
    ["post", "/v1/chat/completions"],
  ];

  it("describes exactly the /api and /v1 routes the app serves", async () => {
    const { url } = await start();
    const { body } = await getJson(`${url}/api/openapi.json`);
    const paths = body.paths as Record<string, Record<string, unknown>>;
    const described = Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => [m, p]));
    expect(described.sort()).toEqual([...ROUTES].sort());
    // The hand-kept list is honest: each route is served, not the catch-all 404.
    // The file routes take a file name, and the upload its bytes; the upload is deleted after, and
    // both wait for their build, so the index is as it was when the next test starts.
    const query = (route: string) =>
      route === "/api/documents"
        ? (method: string) => (method === "get" ? "" : "?name=routes.txt&wait=true")
        : () => "?q=Wang";
    for (const [method, route] of ROUTES) {
      const res = await fetch(`${url}${route.replace("{id}", SEED_ID)}${query(route)(method)}`, {
        method: method.toUpperCase(),
        ...(route === "/api/documents" && method === "post"
          ? { headers: { "content-type": "application/octet-stream" }, body: "Routes\nA file." }
          : method === "post"
            ? {
                headers: { "content-type": "application/json" },
                body: JSON.stringify(
                  route.startsWith("/v1/")
                    ? { model: "citeline", messages: [{ role: "user", content: "Wang Yi" }] }
                    : { question: "Wang Yi" },
                ),
              }
            : {}),
      });
      expect(res.status, `${method} ${route}`).toBe(
        route === "/api/documents" && method === "post" ? 201 : 200,
      );
      await res.arrayBuffer();
    }
    const missing = await getJson(`${url}/api/nothing-here`);
    expect(missing.status).toBe(404);
    expect((missing.body.error as { message: string }).message).toBe("no such endpoint");
  });

  it("states the AskRequest limits of this server's config", async () => {
    const { url, config } = await start({ maxQuestionChars: 321, maxHistoryTurns: 7, maxK: 13 });
    const { body } = await getJson(`${url}/api/openapi.json`);
    const schemas = (body.components as { schemas: Record<string, { properties: Record<string, unknown> }> })
      .schemas;
    const ask = schemas.AskRequest?.properties as Record<string, Record<string, unknown>>;
    expect(ask.question).toMatchObject({ type: "string", minLength: 1, maxLength: config.maxQuestionChars });
    expect(ask.history).toMatchObject({ type: "array", maxItems: config.maxHistoryTurns });
    expect(ask.k).toMatchObject({ type: "integer", minimum: 1, maximum: config.maxK });
    expect([config.maxQuestionChars, config.maxHistoryTurns, config.maxK]).toEqual([321, 7, 13]);
  });
});
