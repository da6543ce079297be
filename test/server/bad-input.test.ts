import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ChatClient,
  createWorkspace,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

/** Small limits so oversized inputs stay small; the rest are the defaults. */
const LIMITS = { maxBodyBytes: 4096, maxQuestionChars: 2000, maxHistoryTurns: 20, maxK: 50 };
const WANG_YI = "Who is China's foreign minister?";

let workspace: Workspace;
let running: TestServer;
const clients: ChatClient[] = [];

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
  running = await startTestServer(workspace, LIMITS);
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

const turns = (n: number) => Array.from({ length: n }, (_, i) => ({ role: "user", text: `turn ${i}` }));
const utf8 = (s: string) => Buffer.from(s, "utf8");
/** `{"question":"Who` then two bytes that are never valid UTF-8, then `"}`. */
const invalidUtf8 = (prefix: string) =>
  Buffer.concat([utf8(`${prefix}"question":"Who `), Buffer.from([0xff, 0xfe]), utf8('"}')]);

const text = (m: string | RegExp) => (typeof m === "string" ? m : expect.stringMatching(m));

interface Case {
  name: string;
  /** The fields of the question (HTTP body; the WebSocket ask adds type and id), or raw bytes. */
  fields?: Record<string, unknown>;
  http?: string | Buffer;
  ws?: string | Buffer;
  status: number;
  code: string;
  message: string | RegExp;
  /** The WebSocket message text differs (it says "the message", not "request body"). */
  wsMessage?: string | RegExp;
  /** The error frame carries the ask's id (the message was read far enough to know it). */
  wsHasId?: boolean;
}

const CASES: Case[] = [
  {
    name: "malformed JSON",
    http: '{"question": "Who',
    ws: '{"type": "ask", "id": "bad", "question": "Who',
    status: 400,
    code: "BAD_JSON",
    // The parser's own words after the colon differ between Node versions.
    message: /^request body is not valid JSON: Unterminated string in JSON at position 17\b/,
    wsMessage: /^the message is not valid JSON: Unterminated string in JSON at position 45\b/,
  },
  {
    name: "a JSON value that is not an object",
    http: "[1, 2]",
    ws: "[1, 2]",
    status: 400,
    code: "BAD_REQUEST",
    message: "the body must be a JSON object with a question",
    wsMessage: "a message must be a JSON object with a type",
  },
  {
    name: "a missing question",
    fields: {},
    status: 400,
    code: "BAD_REQUEST",
    message: "question is required",
    wsHasId: true,
  },
  {
    name: "a question that is not a string",
    fields: { question: 42 },
    status: 400,
    code: "BAD_REQUEST",
    message: "question must be a string",
    wsHasId: true,
  },
  {
    name: "an empty question",
    fields: { question: "" },
    status: 400,
    code: "QUESTION_EMPTY",
    message: "question is empty",
    wsHasId: true,
  },
  {
    name: "a question of only spaces",
    fields: { question: "   \n\t  " },
    status: 400,
    code: "QUESTION_EMPTY",
    message: "question is empty",
    wsHasId: true,
  },
  {
    name: "a question one character over the limit",
    fields: { question: "w".repeat(LIMITS.maxQuestionChars + 1) },
    status: 400,
    code: "QUESTION_TOO_LONG",
    message: "question is 2,001 characters; the limit is 2,000",
    wsHasId: true,
  },
  {
    name: "history that is not an array",
    fields: { question: WANG_YI, history: "earlier we talked" },
    status: 400,
    code: "BAD_REQUEST",
    message: "history must be an array of {role, text}",
    wsHasId: true,
  },
  {
    name: "history with a malformed turn",
    fields: { question: WANG_YI, history: [{ role: "system", text: "obey" }] },
    status: 400,
    code: "BAD_REQUEST",
    message: 'history[0] must be {role: "user" | "assistant", text: string}',
    wsHasId: true,
  },
  {
    name: "history one turn over the limit",
    fields: { question: WANG_YI, history: turns(LIMITS.maxHistoryTurns + 1) },
    status: 400,
    code: "HISTORY_TOO_LONG",
    message: "history has 21 turns; the limit is 20",
    wsHasId: true,
  },
  {
    name: "k of 0",
    fields: { question: WANG_YI, k: 0 },
    status: 400,
    code: "K_OUT_OF_RANGE",
    message: "k is 0; it must be from 1 to 50",
    wsHasId: true,
  },
  {
    name: "k one over maxK",
    fields: { question: WANG_YI, k: LIMITS.maxK + 1 },
    status: 400,
    code: "K_OUT_OF_RANGE",
    message: "k is 51; it must be from 1 to 50",
    wsHasId: true,
  },
  {
    name: 'k of "abc"',
    fields: { question: WANG_YI, k: "abc" },
    status: 400,
    code: "BAD_REQUEST",
    message: 'k must be a number, not the string "abc"',
    wsHasId: true,
  },
  {
    name: "k of 2.5",
    fields: { question: WANG_YI, k: 2.5 },
    status: 400,
    code: "BAD_REQUEST",
    message: "k must be a whole number",
    wsHasId: true,
  },
  {
    name: "a from date in month 13",
    fields: { question: WANG_YI, filters: { from: "2024-13-01" } },
    status: 400,
    code: "BAD_FILTER",
    message: "filters.from must be a date written YYYY-MM-DD",
    wsHasId: true,
  },
  {
    name: "an asOf that is not a calendar date",
    fields: { question: WANG_YI, asOf: "2023-02-30" },
    status: 400,
    code: "BAD_AS_OF",
    message: "asOf must be a date written YYYY-MM-DD",
    wsHasId: true,
  },
  {
    name: "a from date after the to date",
    fields: { question: WANG_YI, filters: { from: "2024-12-10", to: "2024-12-01" } },
    status: 400,
    code: "BAD_FILTER",
    message: "filters.from (2024-12-10) is after filters.to (2024-12-01)",
    wsHasId: true,
  },
  {
    name: "a body over maxBodyBytes",
    http: JSON.stringify({ question: "w".repeat(LIMITS.maxBodyBytes) }),
    ws: JSON.stringify({ type: "ask", id: "big", question: "w".repeat(LIMITS.maxBodyBytes) }),
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: "the request body is larger than the limit of 4096 bytes",
    wsMessage: "the message is 4,135 bytes; the limit is 4,096",
  },
  {
    name: "bytes that are not UTF-8",
    http: invalidUtf8("{"),
    ws: invalidUtf8('{"type":"ask","id":"enc",'),
    status: 400,
    code: "BAD_ENCODING",
    message: "request body is not valid UTF-8",
    wsMessage: "the message is not valid UTF-8",
  },
];

describe.each(CASES)("refusing $name", (c) => {
  it(`answers HTTP ${c.status} ${c.code} and keeps serving`, async () => {
    const body = c.http ?? JSON.stringify(c.fields);
    const res = await fetch(`${running.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    expect(res.status).toBe(c.status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const json = (await res.json()) as { error: Record<string, unknown> };
    expect(json.error.code).toBe(c.code);
    expect(json.error.message).toEqual(text(c.message));
    expect(json.error.requestId).toBe(res.headers.get("x-request-id"));
    const health = await fetch(`${running.url}/api/health`);
    expect(health.status).toBe(200);
    await health.arrayBuffer();
  });

  it(`sends a WebSocket error frame ${c.code} and the connection still answers`, async () => {
    const client = await connect();
    const id = "bad-1";
    const frame = c.ws ?? JSON.stringify({ type: "ask", id, ...c.fields });
    // Sent as a text frame even when the bytes are not UTF-8: the server must check them.
    client.socket.send(frame, { binary: false });
    const error = await client.next((f) => f.type === "error");
    expect(error).toEqual({
      type: "error",
      ...(c.wsHasId ? { id } : {}),
      code: c.code,
      message: text(c.wsMessage ?? c.message),
    });
    const done = await client.ask("ok-1", WANG_YI);
    expect(done.type).toBe("done");
    expect(done.answer).toContain("Wang Yi");
    expect(client.closed).toBeUndefined();
  });
});

describe("WebSocket-only refusals", () => {
  it.each([
    [
      "a binary frame",
      { binary: true, data: utf8(JSON.stringify({ type: "ask", id: "b1", question: WANG_YI })) },
      "BINARY_FRAME",
      "send questions as JSON text frames",
    ],
    [
      "an unknown message type",
      { binary: false, data: utf8('{"type":"shout","id":"u1"}') },
      "UNKNOWN_MESSAGE",
      "message type is not ask, cancel or auth",
    ],
    [
      "a message without a type",
      { binary: false, data: utf8('{"id":"u2","question":"hi"}') },
      "UNKNOWN_MESSAGE",
      "a message needs a string type",
    ],
    [
      "an ask with an id of spaces",
      { binary: false, data: utf8('{"type":"ask","id":"a b","question":"hi"}') },
      "BAD_REQUEST",
      "id must be 1 to 128 letters, digits, '_', '-', '.' or ':'",
    ],
  ])(
    "answers %s with an error frame and the connection still answers",
    async (_name, sent, code, message) => {
      const client = await connect();
      client.socket.send(sent.data, { binary: sent.binary });
      const error = await client.next((f) => f.type === "error");
      expect(error.code).toBe(code);
      expect(error.message).toBe(message);
      const done = await client.ask("ok-2", WANG_YI);
      expect(done.type).toBe("done");
    },
  );

  it("closes a connection with 1009 for a frame over four times the limit, and still takes new ones", async () => {
    const client = await connect();
    client.sendJson({ type: "ask", id: "huge", question: "w".repeat(LIMITS.maxBodyBytes * 4) });
    const closed = await client.whenClosed();
    expect(closed.code).toBe(1009);
    expect(client.frames.filter((f) => f.type === "error")).toEqual([]);
    const fresh = await connect();
    const done = await fresh.ask("ok-3", WANG_YI);
    expect(done.type).toBe("done");
    expect(done.answer).toContain("Wang Yi");
  });
});

describe("prototype pollution", () => {
  const polluted = () => (Object.prototype as Record<string, unknown>).polluted;
  const hostile = (prefix: string) =>
    `{${prefix}"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}, "question": "x"}`;

  it("refuses __proto__ in an HTTP body as an unknown field, polluting nothing", async () => {
    const res = await fetch(`${running.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: hostile(""),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; field: string } };
    expect(body.error).toMatchObject({ code: "UNKNOWN_FIELD", field: "__proto__" });
    expect(polluted()).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses __proto__ in a WebSocket ask as an unknown field, polluting nothing", async () => {
    const client = await connect();
    client.socket.send(hostile('"type": "ask", "id": "p1", '));
    const frame = await client.settled("p1");
    expect(frame).toMatchObject({ type: "error", code: "UNKNOWN_FIELD" });
    expect(frame.message).toContain('unknown field "__proto__"');
    expect(polluted()).toBeUndefined();
  });
});
