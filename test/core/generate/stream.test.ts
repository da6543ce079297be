/**
 * Generated answers with a scripted model: what reaches the reader is exactly the verified
 * sentences, each as soon as it completes and is checked, and of a rejected one only its reason. The model is a small plain object here so that
 * the adversarial sentences are certain to be written; test/llm/generate-models.test.ts runs real ones.
 */
import { describe, expect, it } from "vitest";
import { type AnswerInput, createAnswerer } from "../../../core/generate/answerer.ts";
import { type GenerationEvent, generateVerified } from "../../../core/generate/generate.ts";
import type { LlmProvider, StreamOptions } from "../../../core/generate/provider.ts";
import { type EvidencePassage, verifySentence } from "../../../core/generate/verify.ts";
import type { Passage } from "../../../core/retrieval.ts";

const DOC = "The Eiffel Tower was completed in 1889 for the World's Fair. It is 330 metres tall.";
const PASSAGES: EvidencePassage[] = [
  {
    n: 1,
    docId: "eiffel",
    chunkId: "eiffel#0",
    start: 0,
    text: DOC,
    sentences: [
      { start: 0, end: 60 },
      { start: 61, end: DOC.length },
    ],
  },
];

/** A model that writes `pieces` one per pull, recording what it wrote and the signal it got. */
function scripted(pieces: readonly string[]) {
  const trace = { written: [] as string[], signal: undefined as AbortSignal | undefined, finished: false };
  const provider: LlmProvider = {
    kind: "openai",
    model: "scripted",
    async *stream(_messages, { signal }: StreamOptions) {
      trace.signal = signal;
      for (const p of pieces) {
        signal.throwIfAborted();
        await new Promise((r) => setImmediate(r));
        trace.written.push(p);
        yield p;
      }
      trace.finished = true;
    },
    async close() {},
  };
  return { provider, trace };
}

/** Splits text into pieces of a few characters, the way tokens arrive. */
const tokens = (text: string) => text.match(/.{1,3}/gs) ?? [];

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

const opts = (provider: LlmProvider) => ({ provider, maxTokens: 64, timeoutMs: 30_000 });
const ask = { question: "When was the Eiffel Tower completed?", history: [], passages: PASSAGES };

describe("generateVerified", () => {
  it("never shows a sentence with a number, name or source its passages do not have", async () => {
    const text =
      "The Eiffel Tower was completed in 1899 [1]. The Eiffel Tower is in Paris [1]. " +
      "The Eiffel Tower was completed in 1889 [2]. The Eiffel Tower is 330 metres tall [1].";
    const { provider } = scripted(tokens(text));
    const { shown, withheld, end } = await collect(generateVerified(ask, opts(provider)));
    expect(shown).toEqual(["The Eiffel Tower is 330 metres tall. [1]"]);
    expect(withheld).toEqual(["UNSUPPORTED_NUMBER", "UNSUPPORTED_NAME", "UNKNOWN_SOURCE"]);
    expect(end).toMatchObject({ answer: shown[0], rejected: 3, outcome: "complete" });
    expect(end.type === "end" && end.sentences[0]?.support[0]?.text).toBe("It is 330 metres tall.");
  });

  it("hands on each sentence whole as soon as it is complete and verified, before the next is written", async () => {
    const first = "The Eiffel Tower was completed in 1889 [1].";
    const { provider, trace } = scripted(tokens(`${first} It is 330 metres tall [1].`));
    const events = generateVerified(ask, opts(provider));
    const firstEvent = await events.next();
    expect(firstEvent.value).toMatchObject({
      type: "sentence",
      sentence: { text: "The Eiffel Tower was completed in 1889. [1]", answerStart: 0 },
    });
    // Everything up to the sentence's end (and the character that proves it ended) was written.
    expect(trace.written.join("").length).toBeGreaterThan(first.length);
    expect(trace.written.join("").length).toBeLessThanOrEqual(first.length + 3);
    const second = await events.next();
    expect(second.value).toMatchObject({
      type: "sentence",
      sentence: {
        text: "It is 330 metres tall. [1]",
        answerStart: "The Eiffel Tower was completed in 1889. [1] ".length,
      },
    });
    await events.return(undefined);
  });

  it("ends with no sentence when none passes, so the caller falls back", async () => {
    const { provider } = scripted(tokens("It was finished in 1900 [1]. Gustave built it [3]. Paris!"));
    const { shown, end } = await collect(generateVerified(ask, opts(provider)));
    expect(shown).toEqual([]);
    expect(end).toMatchObject({ answer: "", sentences: [], rejected: 3 });
  });

  it("stops the model when the answer is cancelled", async () => {
    const { provider, trace } = scripted(tokens("The Eiffel Tower was completed in 1889 [1]. ".repeat(20)));
    const controller = new AbortController();
    const events = generateVerified(ask, opts(provider), controller.signal);
    await events.next();
    controller.abort(new Error("cancelled"));
    await expect(events.next()).rejects.toThrow("cancelled");
    expect(trace.signal?.aborted).toBe(true);
    expect(trace.finished).toBe(false);
    expect(trace.written.length).toBeLessThan(40);
  });

  it("keeps the verified sentences and says why when the model times out", async () => {
    const provider: LlmProvider = {
      kind: "llama",
      model: "slow",
      async *stream(_m, { signal }) {
        yield "The Eiffel Tower was completed in 1889 [1]. It";
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      },
      async close() {},
    };
    const { shown, end } = await collect(generateVerified(ask, { ...opts(provider), timeoutMs: 200 }));
    expect(shown).toEqual(["The Eiffel Tower was completed in 1889. [1]"]);
    expect(end).toMatchObject({ outcome: "timeout", rejected: 0 });
  });

  it("reports a failing provider as an outcome, not an exception", async () => {
    const provider: LlmProvider = {
      kind: "openai",
      model: "down",
      // biome-ignore lint/correctness/useYield: a provider that fails before its first token
      async *stream() {
        throw new Error("connect ECONNREFUSED 127.0.0.1:9");
      },
      async close() {},
    };
    const { end } = await collect(generateVerified(ask, opts(provider)));
    expect(end).toMatchObject({ outcome: "provider_error", sentences: [], firstTokenMs: undefined });
  });

  it("shows only sentences that verify again on their own (property over many scripts)", async () => {
    const claims = [
      "The Eiffel Tower was completed in 1889 [1].",
      "It is 330 metres tall [1].",
      "It is 331 metres tall [1].",
      "It was completed for the World's Fair [1].",
      "The tower is in Berlin [1].",
      "It was completed in 1889 [4].",
    ];
    for (let seed = 0; seed < 30; seed++) {
      const script = claims.filter((_, i) => (seed >> i) % 2 === 1 || i === seed % claims.length).join(" ");
      const { provider } = scripted(tokens(script));
      const { end } = await collect(generateVerified(ask, opts(provider)));
      if (end.type !== "end") throw new Error("no end");
      for (const s of end.sentences) expect(verifySentence(s.text, PASSAGES).ok).toBe(true);
      expect(end.answer).not.toMatch(/331|Berlin|\[4\]/);
    }
  });
});

describe("createAnswerer", () => {
  const index: AnswerInput["index"] = {
    sentences: async (spans) =>
      spans.map(({ start, end }) =>
        PASSAGES[0]!.sentences
          .filter((s) => s.start >= start && s.end <= end)
          .map((s) => ({ ...s, vector: new Float32Array(0) })),
      ),
    docFreq: async (terms) => terms.map(() => 0),
    facts: {
      backend: "test",
      version: "v-test",
      model: { name: "none", dim: 0, pooling: "mean" },
      builtAt: "2026-01-01T00:00:00.000Z",
      counts: { docs: 1, chunks: 1, sentences: 2 },
      dateRange: null,
    },
  };
  const passage = {
    label: 0,
    chunk: { id: "eiffel#0", docId: "eiffel", ordinal: 0, start: 0, end: DOC.length, text: DOC, label: 0 },
    doc: { id: "eiffel", title: "Eiffel", source: "eiffel.txt" },
    score: 1,
  } as unknown as Passage;
  const config = { llmMaxTokens: 64, llmTimeoutMs: 30_000, llmPassages: 3 };

  it("cites, for each generated sentence, the source sentence that supports it", async () => {
    const { provider } = scripted(tokens("It is 330 metres tall [1]. Done"));
    const events = [];
    for await (const ev of createAnswerer(config, provider).answer({
      index,
      passages: [passage],
      question: "How tall is it?",
      history: [],
    }))
      events.push(ev);
    const result = events.at(-1);
    if (result?.type !== "result" || !result.answer) throw new Error("no generated answer");
    const { text, citations } = result.answer;
    expect(text).toBe("It is 330 metres tall. [1]");
    expect(citations).toEqual([
      {
        n: 1,
        docId: "eiffel",
        chunkId: "eiffel#0",
        start: 61,
        end: DOC.length,
        text: DOC.slice(61),
        answerStart: 0,
        answerEnd: "It is 330 metres tall.".length,
      },
    ]);
    // The sentence went out on its own, with the same citations, before the result.
    expect(events.slice(0, -1)).toEqual([
      { type: "generated", text, citations },
      { type: "withheld", reason: "NO_CITATION" },
    ]);
    expect(result.generation).toMatchObject({
      mode: "generated",
      verified: 1,
      rejected: 1,
      model: "scripted",
    });
  });

  it("reports a failing sentence by its reason and hands back no answer, marked extractive", async () => {
    const { provider } = scripted(tokens("It is 999 metres tall [1]."));
    const events = [];
    for await (const ev of createAnswerer(config, provider).answer({
      index,
      passages: [passage],
      question: "How tall is it?",
      history: [],
    }))
      events.push(ev);
    expect(events).toEqual([
      { type: "withheld", reason: "UNSUPPORTED_NUMBER" },
      {
        type: "result",
        generation: expect.objectContaining({
          mode: "extractive",
          fallback: "no_verified_sentence",
          verified: 0,
          rejected: 1,
        }),
      },
    ]);
  });
});
