/**
 * The engine's hook for generated answers: turns a retrieval into the model's evidence, runs the
 * verified generation, and turns each verified sentence into the product's citations as it
 * arrives. Built once at start when a provider is configured; the engine sends the extractive
 * answer first, and this answer follows it.
 */
import type { IndexSnapshot } from "../backend.ts";
import type { LlmConfig } from "../config.ts";
import type { Citation, Generation } from "../protocol.ts";
import type { Passage } from "../retrieval.ts";
import { words } from "../text.ts";
import type { HistoryTurn } from "../types.ts";
import { type CommonWords, type GeneratedSentence, generateVerified } from "./generate.ts";
import type { LlmProvider } from "./provider.ts";
import type { EvidencePassage, RejectReason } from "./verify.ts";

export type Log = (
  level: "debug" | "info" | "warn" | "error",
  event: string,
  fields: Record<string, unknown>,
) => void;

export interface AnswerInput {
  /** The index version the passages were retrieved from. */
  index: Pick<IndexSnapshot, "sentences" | "docFreq" | "facts">;
  passages: readonly Passage[];
  question: string;
  history: readonly HistoryTurn[];
}

export type AnswererEvent =
  /**
   * One verified sentence: `text` as shown, and its citations, whose answerStart/answerEnd are
   * offsets in the generated answer (the verified sentences joined by one space).
   */
  | { type: "generated"; text: string; citations: Citation[] }
  /** One sentence that failed verification, by reason; its text is never shown. */
  | { type: "withheld"; reason: RejectReason }
  /** `answer` is absent when no sentence survived: the extractive answer stands alone. */
  | { type: "result"; answer?: { text: string; citations: Citation[] }; generation: Generation };

export interface Answerer {
  readonly provider: LlmProvider;
  answer(input: AnswerInput, signal?: AbortSignal): AsyncGenerator<AnswererEvent>;
  close(): Promise<void>;
}

export type AnswererConfig = Pick<LlmConfig, "llmMaxTokens" | "llmTimeoutMs" | "llmPassages">;

/** The model's evidence: the top passages, numbered as the answer's sources are. */
export async function evidenceFrom(
  index: AnswerInput["index"],
  passages: readonly Passage[],
  count: number,
): Promise<EvidencePassage[]> {
  const top = passages.slice(0, count);
  const sentences = await index.sentences(
    top.map((p) => ({ docId: p.doc.id, start: p.chunk.start, end: p.chunk.end })),
  );
  return top.map(
    (p, i): EvidencePassage => ({
      n: i + 1,
      docId: p.doc.id,
      chunkId: p.chunk.id,
      start: p.chunk.start,
      text: p.chunk.text,
      sentences: (sentences[i] ?? []).map(({ start, end }) => ({ start, end })),
    }),
  );
}

/** The citations of one verified sentence: for each number it cites, the sentence that supports it. */
function citationsOf(s: GeneratedSentence): Citation[] {
  return s.support.map(
    (sup): Citation => ({
      n: sup.n,
      docId: sup.docId,
      chunkId: sup.chunkId,
      start: sup.start,
      end: sup.end,
      text: sup.text,
      answerStart: s.answerStart,
      answerEnd: s.answerEnd,
    }),
  );
}

/** Words found in at least 1% of the chunks (and 5 of them) may be paraphrased without a source. */
function commonWords(index: AnswerInput["index"]): CommonWords {
  const floor = Math.max(5, index.facts.counts.chunks * 0.01);
  const memo = new Map<string, boolean>();
  return {
    async learn(sentence) {
      const unknown = [...new Set(words(sentence))].filter((w) => !memo.has(w));
      const dfs = await index.docFreq(unknown);
      unknown.forEach((w, i) => void memo.set(w, (dfs[i] ?? 0) >= floor));
    },
    isCommon: (word) => memo.get(word) ?? false,
  };
}

export function createAnswerer(config: AnswererConfig, provider: LlmProvider, log?: Log): Answerer {
  return {
    provider,
    close: () => provider.close(),
    async *answer(input, signal) {
      const passages = await evidenceFrom(input.index, input.passages, config.llmPassages);
      const base = { provider: provider.kind, model: provider.model };
      for await (const ev of generateVerified(
        { question: input.question, history: input.history, passages },
        {
          provider,
          maxTokens: config.llmMaxTokens,
          timeoutMs: config.llmTimeoutMs,
          common: commonWords(input.index),
          ...(log ? { log } : {}),
        },
        signal,
      )) {
        if (ev.type === "sentence") {
          yield { type: "generated", text: ev.sentence.text, citations: citationsOf(ev.sentence) };
          continue;
        }
        if (ev.type === "rejected") {
          yield { type: "withheld", reason: ev.reason };
          continue;
        }
        const counts = { verified: ev.sentences.length, rejected: ev.rejected };
        const timing = ev.firstTokenMs === undefined ? {} : { firstTokenMs: Math.round(ev.firstTokenMs) };
        if (ev.sentences.length === 0) {
          const fallback = ev.outcome === "complete" ? "no_verified_sentence" : ev.outcome;
          log?.("info", "generation_fallback", { ...base, ...counts, fallback });
          yield {
            type: "result",
            generation: { mode: "extractive", ...base, ...counts, ...timing, fallback },
          };
          return;
        }
        const citations = ev.sentences.flatMap(citationsOf);
        const generation: Generation = { mode: "generated", ...base, ...counts, ...timing };
        if (ev.outcome !== "complete") generation.stopped = ev.outcome;
        yield { type: "result", answer: { text: ev.answer, citations }, generation };
      }
    },
  };
}
