/**
 * The order of a generated answer's events on every transport: the extractive answer first and
 * whole, with its citations, then the model's sentences one by one as each is verified, then
 * `done`. The model is scripted (test/helpers/scripted-model.ts) and waits until the test lets
 * it write, so the order is certain; verification, the engine and the server are the real ones.
 * test/llm/generate-models.test.ts and test/browser/generated.test.ts run the real model.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAnswerer } from "../../core/generate/answerer.ts";
import type { LlmProvider } from "../../core/generate/provider.ts";
import { type Citation, ServerMessage } from "../../core/protocol.ts";
import { check } from "../../server/schema-check.ts";
import { scriptedModel } from "../helpers/scripted-model.ts";
import {
  ChatClient,
  createWorkspace,
  parseSse,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const QUESTION = "Who is China's foreign minister?";
/** Two sentences the seed article supports and two it does not (a number, a name it lacks). */
const SUPPORTED = ["Wang Yi is the Foreign Minister of China. [1]", "Wang Yi said it on Monday. [1]"];
const SCRIPT =
  "Wang Yi is the Foreign Minister of China [1]. Wang Yi was born in 1953 [1]. " +
  "Li Qiang is the foreign minister [1]. Wang Yi said it on Monday [1].";

const settings = { llmMaxTokens: 64, llmTimeoutMs: 30_000, llmPassages: 3 };

let workspace: Workspace;
let running: TestServer | undefined;
const clients: ChatClient[] = [];

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  await workspace?.remove();
});

async function start(provider: LlmProvider): Promise<TestServer> {
  running = await startTestServer(workspace, {}, { generator: createAnswerer(settings, provider) });
  return running;
}

describe("a generated answer after the extractive one", () => {
  it("sends the whole cited extractive answer before the model writes, then each verified sentence", async () => {
    const model = scriptedModel(SCRIPT);
    const server = await start(model.provider);
    const client = await ChatClient.connect(server.wsUrl);
    clients.push(client);
    client.sendJson({ type: "ask", id: "g1", question: QUESTION });
    const extractive = await client.next((f) => f.id === "g1" && f.type === "extractive");
    // The model has not written a word yet: the extractive answer did not wait for it.
    const early = client.framesFor("g1");
    expect(early.map((f) => f.type)).toEqual(["sources", "delta", "extractive"]);
    expect(extractive.answer).toBe(early[1]?.text);
    expect(extractive.generator).toEqual({ provider: "llama", model: "scripted" });
    expect((extractive.citations as Citation[]).length).toBeGreaterThan(0);
    // Waiting for the model holds no answer slot: other questions are not queued behind it.
    expect(server.server.engine.admission.load.active).toBe(0);

    model.open();
    const done = await client.settled("g1");
    const frames = client.framesFor("g1");
    expect(frames.map((f) => f.type)).toEqual([
      "sources",
      "delta",
      "extractive",
      "generated",
      "withheld",
      "withheld",
      "generated",
      "done",
    ]);
    expect(frames.filter((f) => f.type === "withheld").map((f) => f.reason)).toEqual([
      "UNSUPPORTED_NUMBER",
      "UNSUPPORTED_NAME",
    ]);
    // Nothing of a withheld sentence reaches the client.
    expect(JSON.stringify(frames)).not.toMatch(/1953|Li Qiang/);
    // Every frame is one the published ServerMessage schema describes.
    for (const f of frames) expect(check(ServerMessage, f, "frame")).toEqual(f);
    const sentences = frames.filter((f) => f.type === "generated");
    expect(sentences.map((f) => f.text)).toEqual(SUPPORTED);
    // The extractive answer is unchanged in done; the generated one is beside it.
    expect(done).toMatchObject({
      answer: extractive.answer,
      citations: extractive.citations,
      ...(extractive.shortAnswer ? { shortAnswer: extractive.shortAnswer } : {}),
      generated: { answer: SUPPORTED.join(" ") },
      generation: { mode: "generated", provider: "llama", model: "scripted", verified: 2, rejected: 2 },
    });
    const generated = done.generated as { answer: string; citations: Citation[] };
    expect(generated.citations).toEqual(sentences.flatMap((f) => f.citations as Citation[]));
    // Each sentence's citations locate it in the generated answer and quote the source sentence.
    for (const c of generated.citations) {
      expect(generated.answer.slice(c.answerStart, c.answerEnd)).toMatch(/^Wang Yi .*\.$/);
      expect(c.text).toContain("Wang");
    }
    const generation = done.generation as { firstSentenceMs: number };
    const timings = done.timings as { firstDeltaMs: number; totalMs: number };
    expect(generation.firstSentenceMs).toBeGreaterThan(timings.firstDeltaMs);
    expect(generation.firstSentenceMs).toBeLessThanOrEqual(timings.totalMs);
  });

  it("keeps the extractive answer when the model times out before any sentence", async () => {
    const model = scriptedModel(SCRIPT); // never opened
    running = await startTestServer(
      workspace,
      {},
      { generator: createAnswerer({ ...settings, llmTimeoutMs: 300 }, model.provider) },
    );
    const client = await ChatClient.connect(running.wsUrl);
    clients.push(client);
    client.sendJson({ type: "ask", id: "t1", question: QUESTION });
    const done = await client.settled("t1");
    const frames = client.framesFor("t1");
    expect(frames.map((f) => f.type)).toEqual(["sources", "delta", "extractive", "done"]);
    expect(done.answer).toBe(frames[2]?.answer);
    expect(done.generated).toBeUndefined();
    expect(done.generation).toMatchObject({ mode: "extractive", fallback: "timeout", verified: 0 });
  });

  it("stops the model when the question is cancelled while it writes", async () => {
    const model = scriptedModel(SCRIPT);
    const server = await start(model.provider);
    const client = await ChatClient.connect(server.wsUrl);
    clients.push(client);
    client.sendJson({ type: "ask", id: "c1", question: QUESTION });
    await client.next((f) => f.id === "c1" && f.type === "extractive");
    client.sendJson({ type: "cancel", id: "c1" });
    await client.next((f) => f.id === "c1" && f.type === "cancelled");
    const logged = await waitFor("the answer log line", () =>
      server.logs.find((l) => l.event === "answer" && l.fields.id === "c1"),
    );
    expect(logged.fields.outcome).toBe("cancelled");
    expect(client.framesFor("c1").map((f) => f.type)).toEqual([
      "sources",
      "delta",
      "extractive",
      "cancelled",
    ]);
  });

  it("streams the same events over Server-Sent Events and answers JSON with both answers", async () => {
    const model = scriptedModel(SCRIPT);
    model.open();
    const server = await start(model.provider);
    const res = await fetch(`${server.url}/api/answer`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ question: QUESTION }),
    });
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      "sources",
      "delta",
      "extractive",
      "generated",
      "withheld",
      "withheld",
      "generated",
      "done",
    ]);
    const { status, body } = await postAnswer(server.url, { question: QUESTION });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      answer: events[2]?.data.answer,
      generated: { answer: SUPPORTED.join(" ") },
      generation: { mode: "generated", verified: 2, rejected: 2 },
    });
  });

  it("gives chat-completion clients the extractive answer, then the generated one under its heading", async () => {
    const model = scriptedModel(SCRIPT);
    model.open();
    const server = await start(model.provider);
    const ask = (stream: boolean) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "citeline", stream, messages: [{ role: "user", content: QUESTION }] }),
      });
    const whole = (await (await ask(false)).json()) as {
      choices: { message: { content: string } }[];
      citeline: { answer: string; generated: { answer: string } };
    };
    const content = whole.choices[0]?.message.content ?? "";
    const heading = "\n\nGenerated by scripted, each sentence checked against the source it cites:\n";
    expect(
      content.startsWith(`${whole.citeline.answer}${heading}${SUPPORTED.join(" ")}\n\nSources:\n[1] `),
    ).toBe(true);
    expect(whole.citeline.generated.answer).toBe(SUPPORTED.join(" "));
    const streamed = (await (await ask(true)).text())
      .split("\n\n")
      .filter((b) => b.startsWith("data: {"))
      .map((b) => JSON.parse(b.slice(6)) as { choices: { delta: { content?: string } }[] })
      .map((c) => c.choices[0]?.delta.content ?? "")
      .join("");
    expect(streamed).toBe(content);
  });
});
