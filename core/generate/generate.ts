/**
 * Generated answers, one verified sentence at a time: the model's output is buffered until a
 * sentence completes, the sentence is checked against the passages it cites, and only then is it
 * handed on, whole. A rejected sentence is reported by its reason alone; its text is never shown.
 */
import type { HistoryTurn } from "../types.ts";
import { buildMessages } from "./prompt.ts";
import type { LlmProvider } from "./provider.ts";
import {
  type EvidencePassage,
  type RejectReason,
  type Support,
  sentenceEnd,
  type Verdict,
  verifySentence,
} from "./verify.ts";

export interface GeneratedSentence {
  /** The sentence as shown, markers included. */
  text: string;
  /** Offsets of the sentence's words (markers excluded) in the answer. */
  answerStart: number;
  answerEnd: number;
  support: Support[];
}

/** How the model's part of an answer ended. */
export type GenerationOutcome = "complete" | "timeout" | "provider_error";

export type GenerationEvent =
  /** A sentence that passed verification, as soon as it did. */
  | { type: "sentence"; sentence: GeneratedSentence }
  /** A sentence that failed verification: why, not what it said. */
  | { type: "rejected"; reason: RejectReason }
  | {
      type: "end";
      answer: string;
      sentences: GeneratedSentence[];
      /** Sentences the model wrote that failed verification. */
      rejected: number;
      outcome: GenerationOutcome;
      /** Milliseconds from the call to the model's first token; undefined when none came. */
      firstTokenMs: number | undefined;
    };

export interface GenerateRequest {
  question: string;
  history: readonly HistoryTurn[];
  passages: readonly EvidencePassage[];
}

/**
 * Corpus-wide common words, looked up per sentence: `learn` reads what `isCommon` will be asked
 * about that sentence (an index lookup may be remote), so the verification itself stays pure.
 */
export interface CommonWords {
  learn(sentence: string): Promise<void>;
  isCommon(word: string): boolean;
}

export interface GeneratorOptions {
  provider: LlmProvider;
  maxTokens: number;
  /** The whole generation, first token to last. */
  timeoutMs: number;
  /** Which words may be paraphrased without a source; without it, none. */
  common?: CommonWords;
  log?: (level: "debug" | "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
}

/**
 * Streams each sentence of the model's answer as it is verified (or its rejection), then an
 * `end` event. The answer is the verified sentences joined by one space. Cancelling
 * `signal` stops the model and throws; a timeout or a provider failure ends the stream with
 * the sentences verified so far and the outcome saying why.
 */
export async function* generateVerified(
  req: GenerateRequest,
  opts: GeneratorOptions,
  signal?: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const t0 = performance.now();
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new Error("timeout")), opts.timeoutMs);
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const common = opts.common;
  const verifyOpts = common ? { isCommon: (w: string) => common.isCommon(w) } : {};
  const sentences: GeneratedSentence[] = [];
  const seen = new Set<string>();
  let answer = "";
  let rejected = 0;
  let firstTokenMs: number | undefined;
  let outcome: GenerationOutcome = "complete";

  // The event for one completed sentence; none for an empty or repeated one.
  const accept = async (raw: string): Promise<GenerationEvent | undefined> => {
    const sentence = raw.trim();
    if (sentence === "") return undefined;
    await common?.learn(sentence);
    const v: Verdict = verifySentence(sentence, req.passages, verifyOpts);
    if (!v.ok) {
      rejected += 1;
      opts.log?.("debug", "generated_sentence_rejected", {
        reason: v.reason,
        detail: v.detail,
        sentence,
      });
      return { type: "rejected", reason: v.reason };
    }
    // Small models repeat themselves; a repeated sentence is dropped, not counted as a failure.
    if (seen.has(v.claim.toLowerCase())) return undefined;
    seen.add(v.claim.toLowerCase());
    const lead = answer === "" ? "" : " ";
    const answerStart = answer.length + lead.length;
    const accepted: GeneratedSentence = {
      text: v.text,
      answerStart,
      answerEnd: answerStart + v.claim.length,
      support: v.support,
    };
    sentences.push(accepted);
    answer += lead + v.text;
    return { type: "sentence", sentence: accepted };
  };

  try {
    let buf = "";
    const messages = buildMessages(req.question, req.history, req.passages);
    try {
      for await (const piece of opts.provider.stream(messages, {
        maxTokens: opts.maxTokens,
        signal: stop.signal,
      })) {
        firstTokenMs ??= performance.now() - t0;
        buf += piece;
        for (let end = sentenceEnd(buf); end >= 0; end = sentenceEnd(buf)) {
          const sentence = buf.slice(0, end);
          buf = buf.slice(end);
          const ev = await accept(sentence);
          signal?.throwIfAborted();
          if (ev) yield ev;
        }
      }
      const last = await accept(buf.slice(0, Math.max(0, sentenceEnd(buf, true))));
      if (last) yield last;
    } catch (err) {
      if (signal?.aborted) throw err;
      outcome = stop.signal.aborted ? "timeout" : "provider_error";
      opts.log?.("warn", "generation_failed", {
        outcome,
        provider: opts.provider.kind,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    signal?.throwIfAborted();
    yield { type: "end", answer, sentences, rejected, outcome, firstTokenMs };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    stop.abort();
  }
}
