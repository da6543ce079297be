import net from "node:net";
import os from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SECURITY_HEADERS } from "../../server/security.ts";
import {
  answerProblem,
  Client,
  captureLog,
  createFixture,
  errorFrameProblem,
  errorProblem,
  type Fixture,
  parseSse,
  type RawResponse,
  request,
  spawnServer,
  wsUrl,
} from "./harness.ts";

const TOKEN = "test-token-0123456789abcdef";
const QUESTION = "What did the regional council approve for the solar programme?";
const DOC_ID = "doc_00_solar";

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture(3);
});
afterEach(async () => {
  await fx.closeServers();
});
afterAll(async () => {
  await fx?.remove();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const askBody = JSON.stringify({ question: QUESTION });

function expectError(r: RawResponse, status: number, code: string): void {
  expect(r.status).toBe(status);
  expect(errorProblem(r.status, r.json())).toBeUndefined();
  expect((r.json() as { error: { code: string } }).error.code).toBe(code);
}

/** The headers the README promises, written out here so that dropping one from the product fails. */
const PROMISED = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
};

/** Every security header is present; the policy allows no inline script. */
function expectSecurityHeaders(r: { headers: Record<string, unknown> }, what: string): void {
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...PROMISED })) {
    if (name === "Content-Security-Policy") continue;
    expect(r.headers[name.toLowerCase()], `${name} on ${what}`).toBe(value);
  }
  const csp = String(r.headers["content-security-policy"]);
  expect(csp, `CSP on ${what}`).not.toContain("unsafe-inline");
  // Our policy, or express's own for its HTML 404 page, which allows nothing at all.
  expect(
    csp === "default-src 'none'" || /(^|; )script-src 'self'(;|$)/.test(csp),
    `CSP on ${what}: ${csp}`,
  ).toBe(true);
}

/** The status of a refused WebSocket handshake, with the response. */
function refusedHandshake(url: string, opts: WebSocket.ClientOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.on("open", () => {
      ws.terminate();
      reject(new Error("the handshake was accepted"));
    });
    ws.on("error", () => {});
    ws.on("unexpected-response", (_req, res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(String(body)),
        });
      });
    });
  });
}

describe("with an access token", () => {
  it("answers HTTP requests only with the right bearer token", async () => {
    const server = await fx.start({ accessToken: TOKEN });
    const calls = [
      { method: "GET", path: "/api/search?q=solar" },
      { method: "GET", path: `/api/documents/${DOC_ID}` },
      { method: "POST", path: "/api/answer", body: askBody },
      { method: "POST", path: "/api/answer", body: askBody, sse: true },
    ];
    const wrong = [
      {},
      bearer("wrong-token-0123456789abcdef"),
      bearer(`${TOKEN}x`),
      bearer(TOKEN.slice(0, -1)),
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const call of calls) {
      const base = {
        "content-type": "application/json",
        ...(call.sse ? { accept: "text/event-stream" } : {}),
      };
      for (const auth of wrong) {
        const r = await request(server.url, { ...call, headers: { ...base, ...auth } });
        expectError(r, 401, "UNAUTHORIZED");
        expectSecurityHeaders(r, `401 on ${call.path}`);
      }
      const ok = await request(server.url, { ...call, headers: { ...base, ...bearer(TOKEN) } });
      expect(ok.status, `${call.method} ${call.path}`).toBe(200);
      if (call.sse) expect(answerProblem(parseSse(String(ok.body)))).toBeUndefined();
    }
  });

  it("tells a health check without the token only that the server is up and needs one", async () => {
    const server = await fx.start({ accessToken: TOKEN });
    for (const headers of [{}, bearer("wrong-token-0123456789abcdef")]) {
      const r = await request(server.url, { path: "/api/health", headers });
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ status: "ok", authRequired: true });
    }
    const full = await request(server.url, { path: "/api/health", headers: bearer(TOKEN) });
    expect(full.json()).toMatchObject({ status: "ok", authRequired: true, documents: 4 });
  });

  it("refuses a WebSocket ask before authentication with UNAUTHORIZED and closes with 4401", async () => {
    const server = await fx.start({ accessToken: TOKEN });
    const c = await Client.connect(wsUrl(server));
    expect(c.frames[0]).toEqual({ type: "ready", auth: "required" });
    c.send({ type: "ask", id: "early", question: QUESTION });
    const err = await c.next("an error", (f) => f.type === "error");
    expect(err).toMatchObject({ id: "early", code: "UNAUTHORIZED" });
    expect(errorFrameProblem(err)).toBeUndefined();
    expect((await c.whenClosed()).code).toBe(4401);
  });

  it("answers a WebSocket after a correct auth message, and closes one with a wrong token", async () => {
    const server = await fx.start({ accessToken: TOKEN });
    const good = await Client.connect(wsUrl(server));
    good.send({ type: "auth", token: TOKEN });
    await good.next("ready ok", (f) => f.type === "ready" && f.auth === "ok");
    expect(answerProblem(await good.ask("a", QUESTION))).toBeUndefined();
    good.terminate();

    const bad = await Client.connect(wsUrl(server));
    bad.send({ type: "auth", token: "wrong-token-0123456789abcdef" });
    expect(await bad.next("an error", (f) => f.type === "error")).toMatchObject({ code: "UNAUTHORIZED" });
    expect((await bad.whenClosed()).code).toBe(4401);
  });

  it("accepts the token as an Authorization header at the upgrade", async () => {
    const server = await fx.start({ accessToken: TOKEN });
    const c = await Client.connect(wsUrl(server), { headers: bearer(TOKEN) });
    expect(c.frames[0]).toEqual({ type: "ready", auth: "ok" });
    expect(answerProblem(await c.ask("a", QUESTION))).toBeUndefined();
    c.terminate();
  });

  it("closes a WebSocket that does not authenticate within the timeout with 4401", async () => {
    const server = await fx.start({ accessToken: TOKEN }, { authTimeoutMs: 300 });
    const c = await Client.connect(wsUrl(server));
    expect(await c.whenClosed(5000)).toMatchObject({ code: 4401, reason: "authentication required" });
  });
});

describe("WebSocket origins", () => {
  it("refuses a foreign origin with 403 and accepts its own origin and allowlisted ones", async () => {
    const server = await fx.start({ allowedOrigins: ["https://app.example"] });
    for (const origin of ["https://evil.example", "null", "http://127.0.0.1.evil.example", "file://"]) {
      const r = await refusedHandshake(wsUrl(server), { origin });
      expect(r.status, origin).toBe(403);
      expect((r.json() as { error: { code: string } }).error.code).toBe("FORBIDDEN_ORIGIN");
      expectSecurityHeaders(r, `refused handshake from ${origin}`);
    }
    for (const origin of [server.url, "https://app.example"]) {
      const c = await Client.connect(wsUrl(server), { origin });
      expect(c.frames[0]).toMatchObject({ type: "ready" });
      c.terminate();
    }
  });
});

describe("rate limiting", () => {
  it("answers 429 RATE_LIMITED with Retry-After past the limit, per client address, tokens alike", async () => {
    const server = await fx.start({ rateLimitPerMinute: 3, accessToken: TOKEN });
    const search = (localAddress: string) =>
      request(server.url, { path: "/api/search?q=solar", headers: bearer(TOKEN), localAddress });
    for (let i = 0; i < 3; i++) expect((await search("127.0.0.1")).status).toBe(200);
    const limited = await search("127.0.0.1");
    expectError(limited, 429, "RATE_LIMITED");
    expect(limited.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    expect((limited.json() as { error: { retryAfterS: number } }).error.retryAfterS).toBe(
      Number(limited.headers["retry-after"]),
    );
    expectSecurityHeaders(limited, "429");
    const answer = await request(server.url, {
      method: "POST",
      path: "/api/answer",
      headers: { ...bearer(TOKEN), "content-type": "application/json" },
      body: askBody,
      localAddress: "127.0.0.1",
    });
    expectError(answer, 429, "RATE_LIMITED");
    const limitedWs = await Client.connect(wsUrl(server), {
      headers: bearer(TOKEN),
      localAddress: "127.0.0.1",
    });
    const [frame] = await limitedWs.ask("a", QUESTION);
    expect(frame).toMatchObject({ type: "error", id: "a", code: "RATE_LIMITED" });
    expect(frame?.retryAfterS).toBeGreaterThan(0);
    limitedWs.terminate();
    // The health check is not limited.
    expect((await request(server.url, { path: "/api/health", localAddress: "127.0.0.1" })).status).toBe(200);

    // Another client, with the same token from another address, is unaffected.
    expect((await search("127.0.0.2")).status).toBe(200);
    const other = await Client.connect(wsUrl(server), { headers: bearer(TOKEN), localAddress: "127.0.0.2" });
    expect(answerProblem(await other.ask("b", QUESTION))).toBeUndefined();
    other.terminate();
  });
});

describe("responses", () => {
  it("carry the security headers on pages, API replies, 404s and errors", async () => {
    const server = await fx.start({ rateLimitPerMinute: 1 });
    const cases: [string, Parameters<typeof request>[1]][] = [
      ["the page", { path: "/" }],
      ["health", { path: "/api/health" }],
      ["search", { path: "/api/search?q=solar" }],
      ["429", { path: "/api/search?q=solar" }],
      ["a document", { path: `/api/documents/${DOC_ID}` }],
      ["a missing document", { path: "/api/documents/nope" }],
      ["an unknown API path", { path: "/api/nope" }],
      ["an unknown page", { path: "/nope.html" }],
      ["bad JSON", { method: "POST", path: "/api/answer", body: "{" }],
      ["a body over the limit", { method: "POST", path: "/api/answer", body: "x".repeat(70_000) }],
      ["a bad path encoding", { path: "/api/documents/%E0%A4%A" }],
      ["the API description", { path: "/api/openapi.json" }],
    ];
    for (const [what, opts] of cases) expectSecurityHeaders(await request(server.url, opts), what);
  });
});

describe("structured logs", () => {
  it("write one JSON line per request and per answer, with the question only at debug", async () => {
    for (const level of ["info", "debug"] as const) {
      const logs = captureLog(level);
      const server = await fx.start({}, { log: logs.log });
      const replies = [
        await request(server.url, {
          method: "POST",
          path: "/api/answer",
          headers: { "content-type": "application/json" },
          body: askBody,
        }),
        await request(server.url, {
          method: "POST",
          path: "/api/answer",
          headers: { "content-type": "application/json", accept: "text/event-stream" },
          body: askBody,
        }),
        await request(server.url, { path: "/api/search?q=solar" }),
        await request(server.url, { path: "/api/nope" }),
      ];
      const c = await Client.connect(wsUrl(server));
      expect(answerProblem(await c.ask("w", QUESTION))).toBeUndefined();
      c.terminate();

      for (const line of logs.lines) {
        expect(line.endsWith("\n") && line.indexOf("\n") === line.length - 1).toBe(true);
        expect(() => JSON.parse(line)).not.toThrow();
      }
      const entries = logs.entries();
      const requests = entries.filter((e) => e.event === "request");
      expect(requests.map((e) => e.requestId)).toEqual(replies.map((r) => r.headers["x-request-id"]));
      for (const e of requests) {
        expect(e).toMatchObject({ level: "info", method: expect.any(String), path: expect.any(String) });
        expect(typeof e.status === "number" && typeof e.ms === "number").toBe(true);
      }
      const answers = entries.filter((e) => e.event === "answer");
      expect(answers.map((e) => e.transport)).toEqual(["json", "sse", "ws"]);
      expect(answers.slice(0, 2).map((e) => e.requestId)).toEqual(
        replies.slice(0, 2).map((r) => r.headers["x-request-id"]),
      );
      for (const e of answers) {
        expect(e).toMatchObject({ level: "info", outcome: "done", requestId: expect.any(String) });
        expect(typeof e.ms).toBe("number");
      }
      const withQuestion = logs.lines.filter((l) => l.includes(QUESTION));
      if (level === "info") expect(withQuestion).toEqual([]);
      else {
        const asked = entries.filter((e) => e.event === "answer_question");
        expect(asked).toHaveLength(3);
        for (const e of asked) expect(e).toMatchObject({ level: "debug", question: QUESTION });
        expect(withQuestion).toHaveLength(3);
      }
      await fx.closeServers();
    }
  });
});

describe("binding", () => {
  it("listens on 127.0.0.1 only when no token is set, and says so at startup", async () => {
    const proc = await spawnServer({
      CITELINE_INDEX_DIR: fx.indexDir,
      CITELINE_CORPUS_DIR: fx.corpusDir,
      CITELINE_LOG_LEVEL: "info",
      CITELINE_TOKEN: undefined,
      CITELINE_HOST: undefined,
    });
    try {
      expect(proc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const notice = proc
        .stdout()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.event === "no_access_token");
      expect(notice).toMatchObject({
        level: "info",
        message:
          "no CITELINE_TOKEN is set, so the server only listens on 127.0.0.1; set one before binding to other addresses",
      });
      const port = Number(new URL(proc.url).port);
      expect((await request(proc.url, { path: "/api/health" })).status).toBe(200);
      // Not reachable on this machine's other addresses.
      const external = Object.values(os.networkInterfaces())
        .flat()
        .find((a) => a && a.family === "IPv4" && !a.internal);
      if (external) {
        const code = await new Promise<string | undefined>((resolve) => {
          const s = net.connect(port, external.address);
          s.on("connect", () => {
            s.destroy();
            resolve(undefined);
          });
          s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code));
        });
        expect(code).toBe("ECONNREFUSED");
      }
      proc.child.kill("SIGTERM");
      expect(await proc.exited).toEqual({ code: 0, signal: null });
    } finally {
      proc.child.kill("SIGKILL");
    }
  });
});
