import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runLoadTest } from "../../bench/ws-load.ts";
import {
  answerProblem,
  Client,
  createFixture,
  errorFrameProblem,
  errorProblem,
  type Fixture,
  type Frame,
  parseSse,
  request,
  rssMB,
  wsUrl,
} from "./harness.ts";

const QUESTIONS = [
  "Who is China's foreign minister?",
  "What did the regional council approve for the solar programme?",
  "How many tonnes did the wheat harvest reach?",
  "When will the high-speed rail report be published?",
  "What did divers find on the coral reefs?",
  "What is the capital of Peru?",
];

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture(6);
});
afterEach(async () => {
  await fx.closeServers();
});
afterAll(async () => {
  await fx?.remove();
});

const postAnswer = (url: string, question: string, sse = false) =>
  request(url, {
    method: "POST",
    path: "/api/answer",
    headers: { "content-type": "application/json", ...(sse ? { accept: "text/event-stream" } : {}) },
    body: JSON.stringify({ question }),
  });

describe("under load", () => {
  it("micro-batches the query embeddings of 50 simultaneous questions", async () => {
    const server = await fx.start({ maxInFlight: 50, rateLimitPerMinute: 0 });
    const clients = await Promise.all(Array.from({ length: 10 }, () => Client.connect(wsUrl(server))));
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => clients[i % 10]!.ask(`q${i}`, QUESTIONS[i % QUESTIONS.length]!)),
    );
    for (const frames of answers) expect(answerProblem(frames)).toBeUndefined();
    const { batches, texts } = server.engine.queue.stats;
    console.log(`50 simultaneous questions: ${texts} query texts embedded in ${batches} model calls`);
    expect(texts).toBe(50);
    expect(batches).toBeLessThan(texts);
    for (const c of clients) c.terminate();
  }, 120_000);

  it("refuses questions beyond maxInFlight and maxQueue with BUSY and a retry hint, and completes the rest", async () => {
    const server = await fx.start({ maxInFlight: 1, maxQueue: 2, streamDelayMs: 5, rateLimitPerMinute: 0 });
    const client = await Client.connect(wsUrl(server));
    const q = (i: number) => QUESTIONS[i % QUESTIONS.length]!;
    const [httpReplies, sseReplies, wsReplies] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, (_, i) => postAnswer(server.url, q(i)))),
      Promise.all(Array.from({ length: 4 }, (_, i) => postAnswer(server.url, q(i), true))),
      Promise.all(Array.from({ length: 12 }, (_, i) => client.ask(`w${i}`, q(i)))),
    ]);

    let busy = 0;
    let answered = 0;
    for (const r of [...httpReplies, ...sseReplies]) {
      if (r.status === 503) {
        busy++;
        expect(errorProblem(r.status, r.json())).toBeUndefined();
        expect((r.json() as { error: { code: string } }).error.code).toBe("BUSY");
        expect(r.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
        continue;
      }
      expect(r.status).toBe(200);
      answered++;
      if (String(r.headers["content-type"]).startsWith("text/event-stream")) {
        expect(answerProblem(parseSse(r.body.toString("utf8")))).toBeUndefined();
      } else {
        const body = r.json() as Record<string, unknown>;
        expect(typeof body.answer).toBe("string");
        expect(Array.isArray(body.sources) && Array.isArray(body.citations)).toBe(true);
      }
    }
    for (const frames of wsReplies) {
      const last = frames.at(-1) as Frame;
      if (last.type === "error") {
        busy++;
        expect(errorFrameProblem(last)).toBeUndefined();
        expect(last.code).toBe("BUSY");
        expect(last.retryAfterS).toBeGreaterThan(0);
        expect(frames).toHaveLength(1);
        continue;
      }
      answered++;
      expect(answerProblem(frames)).toBeUndefined();
    }
    console.log(`flood of 24 questions at maxInFlight 1, maxQueue 2: ${answered} answered, ${busy} BUSY`);
    expect(busy).toBeGreaterThan(0);
    expect(answered).toBeGreaterThanOrEqual(3);
    expect(busy + answered).toBe(24);
    expect(server.engine.admission.load).toEqual({ active: 0, waiting: 0 });
    client.terminate();
  });

  it("serves 40 WebSocket clients asking 5 questions each with complete answers and no error but BUSY", async () => {
    const server = await fx.start();
    const before = rssMB();
    const result = await runLoadTest({
      url: server.url,
      clients: 40,
      questionsEach: 5,
      questions: QUESTIONS,
      answerTimeoutMs: 20_000,
    });
    console.log(`reduced load test: ${JSON.stringify(result)}; RSS ${before} -> ${rssMB()} MB`);
    expect(Object.keys(result.errors).filter((code) => code !== "BUSY")).toEqual([]);
    expect(result.incomplete).toBe(0);
    expect(result.asked).toBe(200);
    expect(result.complete + (result.errors.BUSY ?? 0)).toBe(200);
    expect(result.complete).toBeGreaterThan(0);
    expect(server.engine.admission.load).toEqual({ active: 0, waiting: 0 });
  }, 120_000);
});
