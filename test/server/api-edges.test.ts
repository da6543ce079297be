/**
 * The edges a new user meets first: empty bodies, one validation per field on every transport,
 * unknown fields, empty date ranges, unknown paths and WebSocket cancel acknowledgements.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ChatClient,
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

const WANG_YI = "Who is China's foreign minister?";

let workspace: Workspace;
let running: TestServer;
const clients: ChatClient[] = [];

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
  running = await startTestServer(workspace, { streamDelayMs: 40 });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await running?.close();
  await workspace.remove();
});

async function connect(): Promise<ChatClient> {
  const client = await ChatClient.connect(running.wsUrl);
  clients.push(client);
  return client;
}

async function search(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${running.url}/api/search?${query}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The same field through the JSON body, the query string and a WebSocket ask. */
async function everyTransport(
  json: Record<string, unknown>,
  query: string,
): Promise<{ http: unknown; search: unknown; ws: unknown }> {
  const http = await postAnswer(running.url, { question: WANG_YI, ...json });
  const s = await search(`q=${encodeURIComponent(WANG_YI)}&${query}`);
  const client = await connect();
  const frame = await client.ask("v", WANG_YI, json);
  const pick = (e: Record<string, unknown>) => ({ code: e.code, message: e.message });
  return {
    http: [http.status, pick(http.body.error as Record<string, unknown>)],
    search: [s.status, pick(s.body.error as Record<string, unknown>)],
    ws: [frame.type, pick(frame)],
  };
}

describe("POST /api/answer bodies", () => {
  it("answers an empty JSON body with 400 BODY_EMPTY, not 415", async () => {
    const res = await fetch(`${running.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "",
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BODY_EMPTY");
    expect(body.error.message).toBe('the request body is empty; send JSON such as {"question": "…"}');
  });

  it("still answers a non-empty form post with 415", async () => {
    const res = await fetch(`${running.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "question=hi",
    });
    expect(res.status).toBe(415);
  });
});

describe("one validation per field, the same codes on every transport", () => {
  it("refuses k = -1 with K_OUT_OF_RANGE in JSON, the query string and the WebSocket", async () => {
    const r = await everyTransport({ k: -1 }, "k=-1");
    const expected = { code: "K_OUT_OF_RANGE", message: "k is -1; it must be from 1 to 50" };
    expect(r).toEqual({ http: [400, expected], search: [400, expected], ws: ["error", expected] });
  });

  it("refuses a non-number k with BAD_REQUEST everywhere", async () => {
    const r = await everyTransport({ k: 2.5 }, "k=2.5");
    const expected = { code: "BAD_REQUEST", message: "k must be a whole number" };
    expect(r).toEqual({ http: [400, expected], search: [400, expected], ws: ["error", expected] });
    const text = await search(`q=x&k=eight`);
    expect(text.body.error).toMatchObject(expected);
  });

  it('refuses "k": "8" in JSON: a string is not a number', async () => {
    const { status, body } = await postAnswer(running.url, { question: WANG_YI, k: "8" });
    expect(status).toBe(400);
    expect(body.error).toMatchObject({
      code: "BAD_REQUEST",
      message: 'k must be a number, not the string "8"',
    });
  });

  it("names the parameter the client sent: q for /api/search", async () => {
    expect((await search("k=3")).body.error).toMatchObject({ code: "BAD_REQUEST", message: "q is required" });
    expect((await search("q=%20")).body.error).toMatchObject({
      code: "QUESTION_EMPTY",
      message: "q is empty",
    });
    expect((await search("q=x&from=2024-13-01")).body.error).toMatchObject({
      code: "BAD_FILTER",
      message: "from must be a date written YYYY-MM-DD",
    });
  });
});

describe("unknown fields", () => {
  it("refuses an unknown top-level field, naming it, on HTTP and WebSocket", async () => {
    const http = await postAnswer(running.url, { question: WANG_YI, filter: { from: "2024-01-01" } });
    expect(http.status).toBe(400);
    expect(http.body.error).toMatchObject({
      code: "UNKNOWN_FIELD",
      field: "filter",
      message:
        'the request body has an unknown field "filter"; the known fields are question, history, k, filters, asOf',
    });
    const client = await connect();
    const frame = await client.ask("u", WANG_YI, { filter: {} });
    expect(frame).toMatchObject({
      type: "error",
      id: "u",
      code: "UNKNOWN_FIELD",
      message:
        'the ask message has an unknown field "filter"; the known fields are type, id, question, history, k, filters, asOf',
    });
  });

  it("refuses an unknown filter key such as form", async () => {
    const http = await postAnswer(running.url, { question: WANG_YI, filters: { form: "2024-01-01" } });
    expect(http.status).toBe(400);
    expect(http.body.error).toMatchObject({
      code: "UNKNOWN_FIELD",
      field: "form",
      message: 'filters has an unknown key "form"; the known keys are from, to',
    });
  });

  it("says so in the OpenAPI schema", async () => {
    const doc = (await (await fetch(`${running.url}/api/openapi.json`)).json()) as {
      components: { schemas: Record<string, { additionalProperties?: boolean }> };
    };
    expect(doc.components.schemas.AskRequest?.additionalProperties).toBe(false);
    expect(doc.components.schemas.DateFilter?.additionalProperties).toBe(false);
  });

  it("refuses an unknown query parameter on /api/search", async () => {
    const { status, body } = await search("q=x&form=2024-01-01");
    expect(status).toBe(400);
    expect(body.error).toMatchObject({
      code: "UNKNOWN_FIELD",
      message:
        'the query string has an unknown parameter "form"; the known parameters are q, k, mode, from, to, asOf',
    });
  });
});

describe("a date range with no documents", () => {
  it("says so with its own reason on HTTP, and has no sources", async () => {
    const { status, body } = await postAnswer(running.url, {
      question: WANG_YI,
      filters: { from: "2020-01-01", to: "2020-01-31" },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      notFound: true,
      notFoundReason: "NO_DOCUMENTS_IN_RANGE",
      sources: [],
      citations: [],
      answer:
        "No documents fall between 2020-01-01 and 2020-01-31, so there is nothing to answer from. The indexed documents are dated from 2024-12-09 to 2024-12-09.",
    });
  });

  it("says so on the WebSocket and in /api/search", async () => {
    const client = await connect();
    const done = await client.ask("r", WANG_YI, { filters: { from: "2025-01-01" } });
    expect(done).toMatchObject({ type: "done", notFound: true, notFoundReason: "NO_DOCUMENTS_IN_RANGE" });
    expect(client.framesFor("r")[0]).toMatchObject({
      type: "sources",
      notFoundReason: "NO_DOCUMENTS_IN_RANGE",
    });
    const s = await search("q=minister&from=2025-01-01");
    expect(s.body).toMatchObject({ hits: [], notFoundReason: "NO_DOCUMENTS_IN_RANGE" });
  });

  it("leaves a range that holds the document alone", async () => {
    const { body } = await postAnswer(running.url, { question: WANG_YI, filters: { from: "2024-12-01" } });
    expect(body.notFound).toBe(false);
    expect(body.notFoundReason).toBeUndefined();
  });
});

describe("a question asked as of a day before every document", () => {
  it("says so with its own reason and no sources, on HTTP, the WebSocket and /api/search", async () => {
    const { status, body } = await postAnswer(running.url, { question: WANG_YI, asOf: "2020-06-01" });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      notFound: true,
      notFoundReason: "NO_DOCUMENTS_BEFORE_AS_OF",
      sources: [],
      citations: [],
      answer:
        "Every indexed document is dated after 2020-06-01, the day this question is asked as of, so there is nothing to answer from. The indexed documents are dated from 2024-12-09 to 2024-12-09.",
    });
    const client = await connect();
    const done = await client.ask("early", WANG_YI, { asOf: "2020-06-01" });
    expect(done).toMatchObject({ type: "done", notFound: true, notFoundReason: "NO_DOCUMENTS_BEFORE_AS_OF" });
    const s = await search("q=minister&asOf=2020-06-01");
    expect(s.body).toMatchObject({ hits: [], notFoundReason: "NO_DOCUMENTS_BEFORE_AS_OF" });
  });

  it("answers as usual as of the document's own day", async () => {
    const { body } = await postAnswer(running.url, { question: WANG_YI, asOf: "2024-12-09" });
    expect(body.notFound).toBe(false);
    expect(body.notFoundReason).toBeUndefined();
  });
});

describe("strict bodies", () => {
  const post = (contentType: string, body: string) =>
    fetch(`${running.url}/api/answer`, { method: "POST", headers: { "content-type": contentType }, body });

  it.each(["latin1", "ISO-8859-1", "utf-16"])(
    "refuses a body declared as charset=%s with 415",
    async (cs) => {
      const res = await post(`application/json; charset=${cs}`, JSON.stringify({ question: WANG_YI }));
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({
        code: "UNSUPPORTED_CHARSET",
        charset: cs.toLowerCase(),
        message: `the body is declared as charset=${cs.toLowerCase()}; send it as UTF-8 (Content-Type: application/json or application/json; charset=utf-8)`,
      });
    },
  );

  it.each(["utf-8", "UTF-8", '"utf-8"', "utf8"])("takes charset=%s", async (cs) => {
    const res = await post(`application/json; charset=${cs}`, JSON.stringify({ question: WANG_YI }));
    expect(res.status).toBe(200);
  });

  it("refuses a history item with an unknown key, naming it, on HTTP and WebSocket", async () => {
    const history = [{ role: "user", text: "Hello", when: "now" }];
    const http = await postAnswer(running.url, { question: WANG_YI, history });
    expect(http.status).toBe(400);
    expect(http.body.error).toMatchObject({
      code: "UNKNOWN_FIELD",
      field: "when",
      message: 'history[0] has an unknown field "when"; the known fields are role, text',
    });
    const client = await connect();
    const frame = await client.ask("h", WANG_YI, { history });
    expect(frame).toMatchObject({
      type: "error",
      id: "h",
      code: "UNKNOWN_FIELD",
      message: 'history[0] has an unknown field "when"; the known fields are role, text',
    });
  });
});

describe("unknown paths", () => {
  it("answers an unknown /api path with the JSON error shape and 404", async () => {
    const res = await fetch(`${running.url}/api/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("answers an unknown page with a small HTML 404 page", async () => {
    const res = await fetch(`${running.url}/no/such/page`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("Page not found");
    expect(html).toContain('<a href="/">');
    expect(html).not.toContain("Cannot GET");
  });
});

describe("WebSocket cancel", () => {
  it("acknowledges a cancel: the question ends with a cancelled frame carrying its id", async () => {
    const client = await connect();
    client.sendJson({ type: "ask", id: "c1", question: WANG_YI });
    await client.next((f) => f.id === "c1" && f.type === "delta");
    client.sendJson({ type: "cancel", id: "c1" });
    const ack = await client.next((f) => f.id === "c1" && f.type === "cancelled");
    expect(ack).toEqual({ type: "cancelled", id: "c1" });
    const types = client.framesFor("c1").map((f) => f.type);
    expect(types).not.toContain("done");
    expect(types.at(-1)).toBe("cancelled");
  });

  it("answers a cancel for an unknown id with an UNKNOWN_ID error frame", async () => {
    const client = await connect();
    client.sendJson({ type: "cancel", id: "never-asked" });
    const frame = await client.next((f) => f.type === "error");
    expect(frame).toEqual({
      type: "error",
      id: "never-asked",
      code: "UNKNOWN_ID",
      message:
        'no question with id "never-asked" is in flight on this connection (it may have finished already)',
    });
  });
});
