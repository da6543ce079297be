/**
 * Generated answers with real models: SmolLM2-135M-Instruct in-process (node-llama-cpp) and the
 * same model behind llama.cpp's OpenAI-compatible server (xllamacpp) on a loopback port, through
 * the real engine, HTTP and WebSocket. Provision with `npm run llm:fetch`. Token budgets are
 * small: the machine is shared and the point is the plumbing and the guarantee, not the prose.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GenerationEvent, generateVerified } from "../../core/generate/generate.ts";
import type { LlmProvider } from "../../core/generate/provider.ts";
import { type EvidencePassage, verifySentence } from "../../core/generate/verify.ts";
import type { Citation, Generation } from "../../core/protocol.ts";
import { createLlamaProvider } from "../../llm/llama.ts";
import { createOpenAiProvider } from "../../llm/openai.ts";
import { type LlamaServer, startLlamaServer, TEST_GGUF } from "../../scripts/llm-assets.ts";
import {
  ChatClient,
  createWorkspace,
  postAnswer,
  startTestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const EIFFEL =
  "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. " +
  "It was completed in 1889 as the entrance arch to the World's Fair. " +
  "The tower is 330 metres tall and was the tallest man-made structure in the world for 41 years.";
const PASSAGES: EvidencePassage[] = [
  {
    n: 1,
    docId: "eiffel",
    chunkId: "eiffel#0",
    start: 0,
    text: EIFFEL,
    sentences: [...EIFFEL.matchAll(/[^.]+\./g)].map((m) => {
      const lead = m[0].length - m[0].trimStart().length;
      return { start: m.index + lead, end: m.index + m[0].length };
    }),
  },
];
const ASK = { question: "When was the Eiffel Tower completed?", history: [], passages: PASSAGES };

async function collect(events: AsyncGenerator<GenerationEvent>) {
  const shown: string[] = [];
  const withheld: string[] = [];
  for await (const ev of events) {
    if (ev.type === "sentence") shown.push(ev.sentence.text);
    else if (ev.type === "rejected") withheld.push(ev.reason);
    else return { shown, withheld, end: ev };
  }
  throw new Error("no end event");
}

/** The guarantee, checked on what was actually streamed. */
function expectAllVerified(shown: string[], end: Extract<GenerationEvent, { type: "end" }>) {
  expect(shown.join(" ")).toBe(end.answer);
  for (const s of end.sentences) expect(verifySentence(s.text, PASSAGES)).toMatchObject({ ok: true });
}

describe("in-process model (node-llama-cpp)", () => {
  let provider: LlmProvider;
  beforeAll(async () => {
    provider = await createLlamaProvider({ modelPath: TEST_GGUF, threads: 1, contextSize: 2048 });
  });
  afterAll(() => provider?.close());

  it("writes an answer whose every shown sentence cites and matches its passage", async () => {
    const { shown, end } = await collect(
      generateVerified(ASK, { provider, maxTokens: 40, timeoutMs: 120_000 }),
    );
    expectAllVerified(shown, end);
    expect(end.outcome).toBe("complete");
    expect(end.firstTokenMs).toBeGreaterThan(0);
    // At temperature 0 this model answers this one from the passage, with its marker.
    expect(end.answer).toMatch(/1889.*\[1\]$/);
  }, 120_000);

  it("stops generating when cancelled, and serves the next answer", async () => {
    const controller = new AbortController();
    const tokens: string[] = [];
    const stream = provider.stream([{ role: "user", content: "Count from one to one hundred in words." }], {
      maxTokens: 200,
      signal: controller.signal,
    });
    const reading = (async () => {
      for await (const t of stream) {
        tokens.push(t);
        if (tokens.length === 3) controller.abort(new Error("cancelled by the reader"));
      }
    })();
    await expect(reading).rejects.toThrow();
    expect(tokens.length).toBeLessThan(10);
    const next: string[] = [];
    for await (const t of provider.stream([{ role: "user", content: "Say hello." }], {
      maxTokens: 4,
      signal: new AbortController().signal,
    }))
      next.push(t);
    expect(next.join("").length).toBeGreaterThan(0);
  }, 120_000);

  it("gives up a queued answer as soon as it is cancelled, without disturbing the one running", async () => {
    const running = provider
      .stream([{ role: "user", content: "Count from one to twenty in words." }], {
        maxTokens: 24,
        signal: new AbortController().signal,
      })
      [Symbol.asyncIterator]();
    await running.next(); // holds the model, unread
    const controller = new AbortController();
    const queued = (async () => {
      for await (const _ of provider.stream([{ role: "user", content: "Hi" }], {
        maxTokens: 4,
        signal: controller.signal,
      }));
    })();
    controller.abort(new Error("gave up waiting"));
    await expect(queued).rejects.toThrow("gave up waiting");
    let rest = "";
    for (let r = await running.next(); !r.done; r = await running.next()) rest += r.value;
    expect(rest.length).toBeGreaterThan(0);
  }, 120_000);
});

describe("OpenAI-compatible server (llama.cpp via xllamacpp)", () => {
  let llm: LlamaServer;
  let ws: Workspace;
  beforeAll(async () => {
    llm = await startLlamaServer({ threads: 1, contextSize: 2048 });
    ws = await createWorkspace({ "eiffel.txt": `The Eiffel Tower\n\n${EIFFEL}` });
    await ws.build();
  });
  afterAll(async () => {
    await llm?.close();
    await ws?.remove();
  });

  it("streams a verified answer through the openai client", async () => {
    const provider = createOpenAiProvider({
      baseURL: llm.url,
      model: "smollm2",
      apiKey: undefined,
      timeoutMs: 60_000,
    });
    const { shown, end } = await collect(
      generateVerified(ASK, { provider, maxTokens: 40, timeoutMs: 120_000 }),
    );
    expectAllVerified(shown, end);
    expect(end.outcome).toBe("complete");
    expect(end.sentences.length + end.rejected).toBeGreaterThan(0);
  }, 120_000);

  it("answers over HTTP and WebSocket with generated, cited text or the marked extractive answer", async () => {
    const server = await startTestServer(ws, {
      llmUrl: llm.url,
      llmModel: "smollm2",
      llmPassages: 2,
      llmMaxTokens: 40,
    });
    try {
      const { status, body } = await postAnswer(server.url, {
        question: "When was the Eiffel Tower completed?",
      });
      expect(status).toBe(200);
      const generation = body.generation as Generation;
      expect(generation).toMatchObject({ provider: "openai", model: "smollm2" });
      const doc = (await (await fetch(`${server.url}/api/documents/eiffel`)).json()) as { text: string };
      for (const c of body.citations as Citation[]) {
        expect(c.n).toBeGreaterThanOrEqual(1);
        if (c.docId === "eiffel") expect(doc.text.slice(c.start, c.end)).toBe(c.text);
      }
      const generated = body.generated as { answer: string; citations: Citation[] } | undefined;
      if (generation.mode === "generated") {
        expect(generated?.answer).toMatch(/\[\d\]$/);
        expect(generation.verified).toBeGreaterThan(0);
        for (const c of generated?.citations ?? []) {
          if (c.docId === "eiffel") expect(doc.text.slice(c.start, c.end)).toBe(c.text);
        }
      } else {
        expect(generation.fallback).toBeDefined();
        expect(generated).toBeUndefined();
      }

      const client = await ChatClient.connect(server.wsUrl);
      client.sendJson({ type: "ask", id: "q1", question: "When was the Eiffel Tower completed?" });
      // A model on a loaded machine can take a while: wait longer than the helper's default.
      const done = await client.settled("q1", 120_000);
      const streamed = client
        .framesFor("q1")
        .filter((f) => f.type === "delta")
        .map((f) => f.text)
        .join("");
      expect(done).toMatchObject({ type: "done", answer: streamed, generation: { provider: "openai" } });
      // The generated answer is the verified sentences as they were sent, one frame each.
      const sentences = client
        .framesFor("q1")
        .filter((f) => f.type === "generated")
        .map((f) => f.text);
      expect(sentences.join(" ")).toBe((done.generated as { answer: string } | undefined)?.answer ?? "");
      client.socket.close();
    } finally {
      await server.close();
    }
  }, 180_000);

  it("gives the extractive answer, marked as such, when the server cannot be reached", async () => {
    const plain = await startTestServer(ws);
    const down = await startTestServer(ws, { llmUrl: "http://127.0.0.1:9/v1", llmModel: "none" });
    try {
      const question = { question: "When was the Eiffel Tower completed?" };
      const extractive = (await postAnswer(plain.url, question)).body;
      const fallback = (await postAnswer(down.url, question)).body;
      expect(extractive.generation).toBeUndefined();
      expect(fallback.answer).toBe(extractive.answer);
      expect(fallback.citations).toEqual(extractive.citations);
      expect(fallback.generation).toMatchObject({
        mode: "extractive",
        fallback: "provider_error",
        provider: "openai",
        model: "none",
        verified: 0,
      });
    } finally {
      await plain.close();
      await down.close();
    }
  }, 120_000);

  it("stops the model's answer when the WebSocket client cancels it", async () => {
    const server = await startTestServer(ws, {
      llmGguf: TEST_GGUF,
      llmThreads: 1,
      llmPassages: 1,
      llmMaxTokens: 48,
    });
    try {
      const client = await ChatClient.connect(server.wsUrl);
      client.sendJson({ type: "ask", id: "c1", question: "Describe the Eiffel Tower in detail." });
      await client.next((f) => f.id === "c1" && f.type === "sources", 0, 60_000);
      client.sendJson({ type: "cancel", id: "c1" });
      // The answer slot is free once the quoted answer is out; the model stops when the answer does.
      const logged = await waitFor(
        "the answer log line",
        () => server.logs.find((l) => l.event === "answer" && l.fields.id === "c1"),
        60_000,
      );
      expect(logged.fields.outcome).toBe("cancelled");
      expect(client.framesFor("c1").map((f) => f.type)).not.toContain("done");
      // The model is free again: the next question is answered.
      client.sendJson({ type: "ask", id: "c2", question: "When was the Eiffel Tower completed?" });
      const next = await client.settled("c2", 120_000);
      expect(next).toMatchObject({ type: "done", generation: { provider: "llama" } });
      client.socket.close();
    } finally {
      await server.close();
    }
  }, 180_000);
});
