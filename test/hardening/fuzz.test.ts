import http from "node:http";
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../server/start.ts";
import {
  answerProblem,
  type CapturedLog,
  Client,
  captureLog,
  createFixture,
  errorFrameProblem,
  errorProblem,
  type Fixture,
  type Frame,
  parseSse,
  type RawResponse,
  request,
  waitUntil,
  wsUrl,
} from "./harness.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const QUESTION = "What did the regional council approve for the solar programme?";
const DOC_IDS = ["000_1819b03cfa5cc3af", "doc_00_solar", "doc_01_wheat"];

let fx: Fixture;
let server: RunningServer;
let logs: CapturedLog;
let agent: http.Agent;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
let prototypeKeys: string[];
/** Object.prototype's own properties before fuzzing, to notice pollution the moment it happens. */
let prototypeBefore: [string, unknown][];
const prototypeNow = () =>
  Object.getOwnPropertyNames(Object.prototype).map((k): [string, unknown] => [
    k,
    Object.getOwnPropertyDescriptor(Object.prototype, k)?.value,
  ]);
const polluted = () => {
  const now = prototypeNow();
  return (
    now.length !== prototypeBefore.length ||
    now.some(([k, v], i) => prototypeBefore[i]?.[0] !== k || prototypeBefore[i]?.[1] !== v)
  );
};
/** Inputs sent, by endpoint; outcomes, by status or code. */
const sent: Record<string, number> = {};
const outcomes: Record<string, number> = {};
const tally = (key: string) => {
  outcomes[key] = (outcomes[key] ?? 0) + 1;
};

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
  prototypeKeys = Object.getOwnPropertyNames(Object.prototype);
  prototypeBefore = prototypeNow();
  fx = await createFixture(3);
  logs = captureLog("debug");
  server = await fx.start({ rateLimitPerMinute: 0 }, { log: logs.log });
  agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
  agent?.destroy();
  await fx?.closeServers();
  await fx?.remove();
});

// ---------------------------------------------------------------------------------------------
// Generators

const NASTY = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "<script>alert(1)</script>",
  `"'><img src=x onerror=alert(1)>`,
  "../../../etc/passwd",
  "..\\..\\boot.ini",
  "%00",
  "\u0000",
  "\u2028\u2029",
  "\uD800",
  "\uDFFFx",
  "\uFEFF",
  "' OR 1=1 --",
  "; DROP TABLE chunks; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, meant literally
  "${jndi:ldap://x/a}",
  "{{7*7}}",
  "\r\nX-Injected: 1",
  '"',
  "*",
  "^",
  "NEAR(solar wheat)",
  "solar OR wheat",
  "NOT solar",
  "solar AND",
  "(",
  ")",
  "title:solar",
  "-solar",
  "+solar",
  "{solar wheat}",
  "solar*",
  '"solar',
  "🔥🔥🔥",
  "ｓｏｌａｒ",
  "\u0301\u0301\u0301",
];
const VALID_QUESTIONS = [
  QUESTION,
  "Who is China's foreign minister?",
  "How many tonnes did the wheat harvest reach?",
  'solar OR wheat NEAR("budget") *',
  "<script>alert(1)</script> what about the harvest?",
  "__proto__ constructor prototype",
  "wheat\u2028harvest \uD800 report\u2029 🔥",
  "latest news since 2024-03?",
];

const nasty = fc.constantFrom(...NASTY);
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 3, arbitrary: nasty },
  { weight: 2, arbitrary: fc.array(nasty, { maxLength: 5 }).map((a) => a.join(" ")) },
);
const huge = fc.integer({ min: 2001, max: 60_000 }).map((n) => "y".repeat(n));
const deep = fc
  .integer({ min: 50, max: 20_000 })
  .chain((n) =>
    fc.constantFrom(
      `${"[".repeat(n)}${"]".repeat(n)}`,
      `${'{"a":'.repeat(n)}1${"}".repeat(n)}`,
      "[".repeat(n),
    ),
  );
const leaf = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
/** Any JSON value, as text: leaves, structures, deep nesting. */
const jsonText = fc.oneof(
  { weight: 4, arbitrary: leaf.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: deep },
);

/** An object as JSON text, keys kept as given (so `__proto__` is a literal key). */
function objectText(entries: [string, string | undefined][]): string {
  return `{${entries
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(",")}}`;
}
const absent = fc.constant(undefined);
const pollution = fc.constantFrom(
  '{"polluted":"yes"}',
  '{"prototype":{"polluted":"yes"}}',
  '{"__proto__":{"polluted":"yes"}}',
  '{"toString":"x","valueOf":1}',
);
const pollutionKey = fc.constantFrom("__proto__", "constructor", "prototype");

const questionField = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...VALID_QUESTIONS).map((q) => JSON.stringify(q)) },
  { weight: 1, arbitrary: text.map((q) => JSON.stringify(q)) },
  { weight: 1, arbitrary: fc.constantFrom('""', '"   "', '"\\n\\t"') },
  { weight: 1, arbitrary: huge.map((q) => JSON.stringify(q)) },
  { weight: 5, arbitrary: jsonText },
  { weight: 1, arbitrary: absent },
);
const kField = fc.oneof(
  { weight: 4, arbitrary: absent },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 50 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom("0", "-1", "51", "1e9", "2.5", '"5"', '"abc"', "[5]", "{}", "true", "1e400"),
  },
  { weight: 1, arbitrary: jsonText },
);
const historyTurn = fc.oneof(
  fc.tuple(fc.constantFrom("user", "assistant"), text).map(([role, t]) =>
    objectText([
      ["role", JSON.stringify(role)],
      ["text", JSON.stringify(t)],
    ]),
  ),
  fc.tuple(pollutionKey, pollution).map(([k, p]) =>
    objectText([
      [k, p],
      ["text", '"x"'],
    ]),
  ),
  jsonText,
);
const historyField = fc.oneof(
  { weight: 4, arbitrary: absent },
  { weight: 2, arbitrary: fc.array(historyTurn, { maxLength: 4 }).map((a) => `[${a.join(",")}]`) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 21, max: 200 })
      .map((n) => `[${'{"role":"user","text":"hi"},'.repeat(n)}{}]`),
  },
  { weight: 2, arbitrary: jsonText },
);
const dateText = fc.oneof(
  fc.constantFrom(
    '"2024-03-01"',
    '"2024-12-31"',
    '"2024-02-30"',
    '"2024-13-01"',
    '"24-1-1"',
    '"2024-03-01T00:00"',
  ),
  jsonText,
);
const filtersField = fc.oneof(
  { weight: 4, arbitrary: absent },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.option(dateText, { nil: undefined }), fc.option(dateText, { nil: undefined }))
      .map(([from, to]) =>
        objectText([
          ["from", from],
          ["to", to],
        ]),
      ),
  },
  { weight: 1, arbitrary: fc.tuple(pollutionKey, pollution).map(([k, p]) => objectText([[k, p]])) },
  { weight: 2, arbitrary: jsonText },
);
const extraFields = fc.array(
  fc.tuple(fc.oneof(pollutionKey, nasty, fc.string({ maxLength: 8 })), fc.oneof(pollution, jsonText)),
  { maxLength: 3 },
);
/** A question body: mostly an object with the known fields, each often wrong. */
const askText = fc
  .record({
    question: questionField,
    k: kField,
    history: historyField,
    filters: filtersField,
    extra: extraFields,
  })
  .map(({ question, k, history, filters, extra }) =>
    objectText([...extra, ["question", question], ["k", k], ["history", history], ["filters", filters]]),
  );

const BAD_UTF8 = [
  [0xff],
  [0xc3, 0x28],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xc0, 0xaf],
  [0xe2, 0x82],
];
const badUtf8Body = fc
  .tuple(fc.constantFrom(...BAD_UTF8), fc.constantFrom(...VALID_QUESTIONS))
  .map(([bytes, q]) =>
    Buffer.concat([Buffer.from(`{"question":"${q.slice(0, 10)}`), Buffer.from(bytes), Buffer.from('"}')]),
  );
/** The raw bytes of a request body. */
const bodyBytes: fc.Arbitrary<Buffer | string> = fc.oneof(
  { weight: 10, arbitrary: askText },
  { weight: 1, arbitrary: jsonText },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: badUtf8Body },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.tuple(askText, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))) },
  { weight: 1, arbitrary: fc.constantFrom("", "\uFEFF{}", "null", "[]", '{"question":"x"}garbage') },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 64 * 1024, max: 200_000 }).map((n) => `{"question":"${"z".repeat(n)}"}`),
  },
);

const headerSafe = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
  fc.constantFrom('"quoted"', "<script>alert(1)</script>", "x".repeat(10_240), "caf\u00e9", "a;b=c"),
);
const headers = fc.record(
  {
    "content-type": fc.oneof(
      fc.constantFrom(
        "application/json",
        "text/plain",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
      ),
      headerSafe,
    ),
    "x-request-id": headerSafe,
    authorization: headerSafe,
    "content-encoding": fc.constantFrom("gzip", "deflate", "br", "identity", "x-nope"),
    cookie: headerSafe,
  },
  { requiredKeys: [] },
);

/** Percent-encodes every byte of the UTF-8 form except unreserved characters. */
function enc(s: string): string {
  return [...Buffer.from(s, "utf8")]
    .map((b) =>
      /[\w.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}
const PERCENT_JUNK = ["%", "%Z", "%ZZ", "%E0%A4%A", "%00", "%uD800", "%C0%AE", "%FF%FE", "%%", "+"];
/** A query-string value; now and then longer than a question may be, rarely longer than Node's header limit. */
const queryValue = fc.oneof(
  { weight: 8, arbitrary: text.map(enc) },
  { weight: 2, arbitrary: fc.constantFrom(...PERCENT_JUNK) },
  { weight: 1, arbitrary: fc.integer({ min: 2001, max: 20_000 }).map((n) => "y".repeat(n)) },
);

/** A query string: one in twenty well-formed, the rest with at least one field wrong. */
const searchParams = fc.record({
  q: fc.oneof(fc.constantFrom(...VALID_QUESTIONS).map(enc), text.map(enc)),
  k: fc.option(fc.constantFrom("1", "8", "50"), { nil: undefined }),
  mode: fc.option(fc.constantFrom("hybrid", "dense", "lexical"), { nil: undefined }),
  from: fc.option(fc.constantFrom("2024-01-01", "2024-06-30"), { nil: undefined }),
  // Unknown keys are ignored, pollution keys included.
  [enc("__proto__")]: fc.option(queryValue, { nil: undefined }),
  constructor: fc.option(queryValue, { nil: undefined }),
});
const breaker = fc.oneof(
  fc.tuple(fc.constantFrom("k"), fc.oneof(queryValue, fc.constantFrom("0", "51", "-1", "1.5", "1e3", ""))),
  fc.tuple(fc.constantFrom("mode"), queryValue),
  fc.tuple(fc.constantFrom("from", "to"), fc.oneof(queryValue, fc.constantFrom("2024-13-01", "2024-02-30"))),
  fc.tuple(fc.constantFrom("q"), fc.oneof(queryValue, fc.constantFrom("", "%20%20", "y".repeat(2001)))),
);
const searchQuery = fc
  .tuple(searchParams, fc.oneof({ weight: 1, arbitrary: absent }, { weight: 19, arbitrary: breaker }))
  .map(([named, extra]) =>
    [...Object.entries(named).filter(([, v]) => v !== undefined), ...(extra ? [extra] : [])]
      .map(([k, v]) => `${k}=${v}`)
      .join("&"),
  );

const TRAVERSALS = [
  "..",
  "%2e%2e",
  "..%2f..%2fetc%2fpasswd",
  "%2e%2e%2f%2e%2e%2fpackage.json",
  "....%2f%2f",
  "..%5c..%5cwindows",
  "%252e%252e%252f",
  "..;",
  "%00",
  "..%00",
  "..%2fdata%2findex%2fCURRENT",
  ".",
  "%2F",
  "%2fetc%2fpasswd",
];
const documentPath = fc
  .oneof(
    { weight: 1, arbitrary: fc.constantFrom(...DOC_IDS) },
    { weight: 3, arbitrary: text.map(enc) },
    { weight: 2, arbitrary: fc.constantFrom(...TRAVERSALS, "../../etc/passwd", "a/b", "../x/../y") },
    { weight: 1, arbitrary: fc.constantFrom(...PERCENT_JUNK) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 3000 }).map((n) => "d".repeat(n)) },
  )
  .map((id) => `/api/documents/${id}`);

// ---------------------------------------------------------------------------------------------
// Checks

function fail(what: string, input: unknown, r?: RawResponse): never {
  const body = r ? r.body.toString("utf8").slice(0, 300) : "";
  throw new Error(
    `${what}; input ${JSON.stringify(input)?.slice(0, 300)}; status ${r?.status}; body ${body}`,
  );
}

type Kind = "answer" | "search" | "document" | "health" | "any";

/** Every reply is a documented error or a valid result of its kind, with fresh or plain ids. */
function check(r: RawResponse, kind: Kind, input: unknown, sse = false): void {
  if (polluted()) fail("Object.prototype was changed", input);
  const id = r.headers["x-request-id"];
  if (typeof id !== "string" || !/^[\w.:-]{1,64}$/.test(id)) fail(`request id ${id}`, input, r);
  if (r.headers["x-content-type-options"] !== "nosniff") fail("no security headers", input, r);
  if (r.status >= 400) {
    let body: { error?: { code?: string; requestId?: string } };
    try {
      body = r.json() as typeof body;
    } catch {
      fail("an error that is not JSON", input, r);
    }
    const problem = errorProblem(r.status, body);
    if (problem) fail(problem, input, r);
    if (body.error?.code === "INTERNAL") fail("an internal error", input, r);
    if (body.error?.requestId !== id) fail("the error's request id is not the header's", input, r);
    tally(String(body.error?.code));
    return;
  }
  if (r.status !== 200) fail(`status ${r.status}`, input, r);
  tally("200");
  try {
    checkResult(r, kind, input, sse);
  } catch (err) {
    if (err instanceof SyntaxError) fail(`a 200 that does not parse (${err.message})`, input, r);
    throw err;
  }
}

function checkResult(r: RawResponse, kind: Kind, input: unknown, sse: boolean): void {
  if (kind === "answer" && sse) {
    if (!String(r.headers["content-type"]).startsWith("text/event-stream"))
      fail("not an event stream", input, r);
    const problem = answerProblem(parseSse(r.body.toString("utf8")));
    if (problem) fail(problem, input, r);
    return;
  }
  const body = r.json() as Record<string, unknown>;
  if (kind === "answer") {
    const sources = body.sources as Frame[];
    const problem = answerProblem([
      { type: "sources", sources },
      { type: "delta", text: body.answer },
      { type: "done", ...body },
    ]);
    if (problem) fail(problem, input, r);
  } else if (kind === "search") {
    if (typeof body.query !== "string" || !Array.isArray(body.hits))
      fail("a malformed search result", input, r);
  } else if (kind === "document") {
    // Nothing after the slash addresses the list, as Express routes a trailing slash (issue 25).
    if (input === "/api/documents/" && Array.isArray(body.files)) return;
    if (typeof body.id !== "string" || typeof body.text !== "string") fail("a malformed document", input, r);
  } else if (kind === "health") {
    if (body.status !== "ok" || typeof body.chunks !== "number") fail("a malformed health reply", input, r);
  }
}

const timing: Record<string, { n: number; ms: number }> = {};
const send = async (opts: Parameters<typeof request>[1], endpoint: string) => {
  sent[endpoint] = (sent[endpoint] ?? 0) + 1;
  const t0 = performance.now();
  const r = await request(server.url, { agent, ...opts });
  const key = `${endpoint} ${r.status}`;
  timing[key] ??= { n: 0, ms: 0 };
  timing[key].n++;
  timing[key].ms += performance.now() - t0;
  return r;
};

const BATCH = 8;

function parsesTo(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * fc.assert with a short report: the first failure's message, the seed and path to replay it,
 * and the counterexample cut to a readable length (some inputs are 100 kB).
 */
async function assertProperty<T>(property: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  // FC_SEED (and FC_PATH) replay a reported failure.
  const replay = process.env.FC_SEED
    ? { seed: Number(process.env.FC_SEED), ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) }
    : {};
  const details = await fc.check(property, { numRuns, maxSkipsPerRun: 0, ...replay });
  if (!details.failed) return;
  const example = JSON.stringify(details.counterexample)?.slice(0, 1500);
  const cause =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `property failed after ${details.numRuns} runs (seed ${details.seed}, path "${details.counterexamplePath}"): ${cause.slice(0, 1500)}\ncounterexample: ${example}`,
  );
}
const total = () => Object.values(sent).reduce((a, b) => a + b, 0);

describe("fuzzing every endpoint", () => {
  it("answers POST /api/answer (JSON and SSE) with a documented error or a valid answer", async () => {
    const input = fc.record({ body: bodyBytes, headers, sse: fc.boolean() });
    await assertProperty(
      fc.asyncProperty(fc.array(input, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(
          batch.map(async ({ body, headers: h, sse }) => {
            const r = await send(
              {
                method: "POST",
                path: "/api/answer",
                headers: { ...h, ...(sse ? { accept: "text/event-stream" } : {}) },
                body,
              },
              sse ? "answer (SSE)" : "answer (JSON)",
            );
            check(r, "answer", { body: String(body).slice(0, 200), headers: h }, sse);
          }),
        );
      }),
      500,
    );
  }, 120_000);

  it("answers GET /api/search with a documented error or valid hits", async () => {
    await assertProperty(
      fc.asyncProperty(fc.array(searchQuery, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(
          batch.map(async (qs) => check(await send({ path: `/api/search?${qs}` }, "search"), "search", qs)),
        );
      }),
      250,
    );
  }, 120_000);

  it("answers GET /api/documents/:id with a documented error or a document", async () => {
    await assertProperty(
      fc.asyncProperty(fc.array(documentPath, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(batch.map(async (p) => check(await send({ path: p }, "documents"), "document", p)));
      }),
      200,
    );
  });

  it("answers GET /api/health whatever the query and headers", async () => {
    const input = fc.record({ qs: fc.array(queryValue, { maxLength: 3 }).map((a) => a.join("&")), headers });
    await assertProperty(
      fc.asyncProperty(fc.array(input, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(
          batch.map(async ({ qs, headers: h }) => {
            const r = await send({ path: `/api/health?${qs}`, headers: h }, "health");
            // Only headers over Node's limit (a huge query string) are refused.
            if (r.status !== 200 && r.status !== 413) fail("health is not 200", { qs, h }, r);
            check(r, "health", { qs, h });
          }),
        );
      }),
      60,
    );
  });

  it("answers any method on any API path with a documented error or a valid reply", async () => {
    const input = fc.record({
      method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
      path: fc.constantFrom(
        "/api/health",
        "/api/answer",
        "/api/search?q=solar",
        "/api/documents/doc_00_solar",
        "/api/openapi.json",
        "/api/x/y",
        "/api/",
        "/api",
      ),
      body: fc.option(bodyBytes, { nil: undefined }),
    });
    await assertProperty(
      fc.asyncProperty(fc.array(input, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await Promise.all(
          batch.map(async ({ method, path, body }) => {
            const r = await send(
              { method, path, headers: { "content-type": "application/json" }, ...(body ? { body } : {}) },
              "methods",
            );
            const kind: Kind = method === "POST" && path === "/api/answer" ? "answer" : "any";
            check(r, kind, { method, path, body: String(body).slice(0, 200) });
          }),
        );
      }),
      100,
    );
  });

  it("answers every WebSocket message with documented error frames or a complete answer", async () => {
    let uid = 0;
    const wsMessage = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(
            askText,
            fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: jsonText }),
          )
          .map(([t, id]) => ({ kind: "ask" as const, t, id })),
      },
      {
        weight: 1,
        arbitrary: fc
          .option(fc.oneof(jsonText, fc.constantFrom('"u1"', '"nope"')), { nil: undefined })
          .map((id) => ({
            kind: "text" as const,
            t: objectText([
              ["type", '"cancel"'],
              ["id", id],
            ]),
          })),
      },
      {
        weight: 1,
        arbitrary: fc.option(jsonText, { nil: undefined }).map((token) => ({
          kind: "text" as const,
          t: objectText([
            ["type", '"auth"'],
            ["token", token],
          ]),
        })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.oneof(jsonText, fc.constantFrom('"ASK"', '"__proto__"', '"constructor"')),
            fc.option(jsonText, { nil: undefined }),
          )
          .map(([type, id]) => ({
            kind: "text" as const,
            t: objectText([
              ["type", type],
              ["id", id],
            ]),
          })),
      },
      { weight: 1, arbitrary: jsonText.map((t) => ({ kind: "text" as const, t })) },
      {
        weight: 1,
        arbitrary: fc.tuple(pollutionKey, pollution).map(([k, p]) => ({
          kind: "text" as const,
          t: objectText([
            [k, p],
            ["type", '"ask"'],
            ["id", '"p1"'],
            ["question", JSON.stringify(QUESTION)],
          ]),
        })),
      },
      { weight: 1, arbitrary: badUtf8Body.map((b) => ({ kind: "bytes" as const, b })) },
      {
        weight: 1,
        arbitrary: fc
          .uint8Array({ maxLength: 100 })
          .map((a) => ({ kind: "binary" as const, b: Buffer.from(a) })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(70_000, 300_000).map((n) => ({
          kind: "text" as const,
          t: `{"type":"ask","id":"big","question":"${"z".repeat(n)}"}`,
        })),
      },
    );
    type WsMessage = typeof wsMessage extends fc.Arbitrary<infer M> ? M : never;
    let sentinel = 0;
    await assertProperty(
      fc.asyncProperty(fc.array(wsMessage, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        // A connection per run, so an answer cut short by a failing run cannot leak into the next.
        const client = await Client.connect(wsUrl(server));
        try {
          await wsRun(client, batch);
        } finally {
          client.terminate();
        }
      }),
      320,
    );

    async function wsRun(client: Client, batch: WsMessage[]): Promise<void> {
      const from = client.frames.length;
      const asked: string[] = [];
      let oversized = false;
      for (const m of batch) {
        sent.ws = (sent.ws ?? 0) + 1;
        let frame: string | Buffer = "t" in m ? m.t : m.b;
        if (m.kind === "ask") {
          // Type and id go last, so they win over any generated key of the same name.
          const id = m.id === true ? `"u${uid++}"` : m.id;
          // Any plain string id is the client's to use, `__proto__` included.
          const plain = parsesTo(id);
          if (typeof plain === "string" && /^[\w.:-]{1,128}$/.test(plain)) asked.push(plain);
          frame = `${m.t.slice(0, -1)}${m.t.length > 2 ? "," : ""}"type":"ask","id":${id}}`;
        }
        // Frames over 4x maxBodyBytes close the connection (1009) instead of being answered.
        if (Buffer.byteLength(frame) > 4 * 64 * 1024) oversized = true;
        client.socket.send(frame, { binary: m.kind === "binary" });
      }
      const s = `s${sentinel++}`;
      client.socket.send(JSON.stringify({ type: "ask", id: s }));
      await client.until(
        "the sentinel's error or a close",
        () => client.closed ?? client.frames.find((f) => f.id === s),
        30_000,
      );
      if (client.closed) {
        if (!(oversized && client.closed.code === 1009)) {
          const sizes = batch.map((m) => `${m.kind}:${"t" in m ? Buffer.byteLength(m.t) : m.b.length}`);
          fail(
            `closed with ${client.closed.code} (${client.closed.reason}) after ${sizes.join(", ")}`,
            batch,
          );
        }
        return;
      }
      // Every valid ask has reached the engine by now; once it is idle, they have all been
      // answered. An ask refused before its id was read (too large, not JSON) has no frames.
      await waitUntil(
        "the engine to be idle",
        () => {
          const load = server.engine.admission.load;
          return load.active === 0 && load.waiting === 0;
        },
        60_000,
        5,
      );
      for (const id of asked) if (client.framesFor(id).length > 0) await client.settled(id, 10_000);
      const frames = client.frames.slice(from);
      if (polluted()) fail("Object.prototype was changed", batch);
      for (const f of frames) {
        if (f.type === "error") {
          const problem = errorFrameProblem(f);
          if (problem || f.code === "INTERNAL") fail(problem ?? "an internal error", batch);
          tally(`ws ${f.code}`);
        } else if (f.type === "ready") {
          if (f.auth !== "ok") fail("an unexpected ready frame", batch);
        } else if (!asked.includes(String(f.id)) && f.id !== "p1") {
          fail(`a ${f.type} frame for ${f.id}`, batch);
        }
      }
      for (const id of asked) {
        const own = client.framesFor(id);
        if (own.at(-1)?.type === "done") {
          tally("ws answer");
          const problem = answerProblem(own);
          if (problem) fail(problem, batch);
        }
      }
    }
  }, 120_000);

  it("ran at least 10,000 inputs without crashes, unhandled rejections, pollution or internal errors", async () => {
    const latency = Object.fromEntries(
      Object.entries(timing).map(([k, t]) => [k, `${t.n} x ${Math.round(t.ms / t.n)} ms`]),
    );
    console.log(
      `fuzzed inputs ${JSON.stringify(sent)} (${total()} in all); outcomes ${JSON.stringify(outcomes)}; HTTP latency ${JSON.stringify(latency)}`,
    );
    expect(total()).toBeGreaterThanOrEqual(10_000);
    expect(unhandled).toEqual([]);
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    for (const line of logs.lines) {
      // One line for every reader: no raw newline, nor U+2028/U+2029, which some split on.
      if (!line.endsWith("\n") || line.indexOf("\n") !== line.length - 1 || /[\u2028\u2029]/.test(line))
        fail("a log line that is not one line", line);
      JSON.parse(line);
    }
    expect(logs.entries().filter((e) => e.event === "internal_error")).toEqual([]);
    // Still serving.
    const r = await request(server.url, {
      method: "POST",
      path: "/api/answer",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: QUESTION }),
    });
    check(r, "answer", "after fuzzing");
    expect(server.engine.admission.load).toEqual({ active: 0, waiting: 0 });
  });
});

describe("hostile paths and request ids", () => {
  it("answers path traversal attempts on document ids with 404 JSON", async () => {
    for (const id of [...TRAVERSALS, "../../etc/passwd", "../package.json", "..\\..\\package.json"]) {
      const r = await request(server.url, { path: `/api/documents/${id}` });
      expect(r.status, id).toBe(404);
      expect((r.json() as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    }
    // Bytes that are not UTF-8 once decoded are a bad request, not a crash.
    const overlong = await request(server.url, { path: "/api/documents/%c0%ae%c0%ae%2f" });
    expect(overlong.status).toBe(400);
    expect((overlong.json() as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    // The page's static files do not reach outside their folder either.
    for (const p of [
      "/..%2f..%2fpackage.json",
      "/%2e%2e/%2e%2e/package.json",
      "/../package.json",
      "/..%5cpackage.json",
    ]) {
      const r = await request(server.url, { path: p });
      expect(r.status, p).toBe(404);
      expect(r.body.toString()).not.toContain('"name": "citeline"');
    }
  });

  it("never reflects a hostile X-Request-Id and keeps log lines single JSON lines", async () => {
    const hostile = [
      'a"b',
      "<script>alert(1)</script>",
      "x".repeat(10_240),
      "a b",
      "id;drop",
      "caf\u00e9",
      "../../x",
    ];
    for (const value of hostile) {
      const r = await request(server.url, {
        path: "/api/documents/nope",
        headers: { "x-request-id": value },
      });
      const id = r.headers["x-request-id"];
      expect(id).toMatch(UUID);
      expect(id).not.toBe(value);
      expect((r.json() as { error: { requestId: string } }).error.requestId).toBe(id);
      const line = await waitUntil("the request's log line", () =>
        logs.lines.find((l) => l.includes(`"requestId":"${id}"`)),
      );
      expect(line.indexOf("\n")).toBe(line.length - 1);
      expect(JSON.parse(line)).toMatchObject({ event: "request", requestId: id });
    }
    expect(logs.lines.filter((l) => /"requestId":"(<script>|a\\"b|x{100})/.test(l))).toEqual([]);
    // A question holding line and paragraph separators is logged (at debug) on one line.
    const separated = "wheat\u2028harvest\u2029report\nnext";
    const asked = await request(server.url, {
      method: "POST",
      path: "/api/answer",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: separated }),
    });
    const askedId = String(asked.headers["x-request-id"]);
    const questionLine = await waitUntil("the question's log line", () =>
      logs.lines.find((l) => l.includes(`"requestId":"${askedId}"`) && l.includes('"answer_question"')),
    );
    expect(/[\n\u2028\u2029]/.test(questionLine.slice(0, -1))).toBe(false);
    expect(JSON.parse(questionLine)).toMatchObject({ question: separated });
    // A plain id is the client's own and is kept.
    const plain = await request(server.url, {
      path: "/api/health",
      headers: { "x-request-id": "client-42.a:b" },
    });
    expect(plain.headers["x-request-id"]).toBe("client-42.a:b");

    // Newlines and control bytes cannot even be parsed as HTTP: a JSON 400 with a fresh id.
    for (const value of ["a\rb", "a\r\n b", "a\u0001b", "a\nX-Evil: 1"]) {
      const raw = await new Promise<string>((resolve) => {
        const s = net.connect(server.port, "127.0.0.1", () =>
          s.write(`GET /api/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${value}\r\n\r\n`),
        );
        let data = "";
        s.on("data", (c: Buffer) => {
          data += c.toString("latin1");
        });
        s.on("close", () => resolve(data));
        s.on("error", () => {});
      });
      const [head = "", body = ""] = raw.split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(head).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
      expect(head).toContain("X-Content-Type-Options: nosniff");
      expect(head).not.toContain("X-Evil");
      expect(errorProblem(400, JSON.parse(body))).toBeUndefined();
    }
  });
});
