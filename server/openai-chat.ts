/**
 * The OpenAI chat-completions wire format, mapped to and from citeline's own: a request becomes
 * an ask (the last user message is the question, earlier turns the history), and an answer
 * becomes a completion whose content carries the `[n]` markers and a numbered source list, with
 * the structured citations and sources in the extra field `citeline`. Pure: no I/O.
 */
import { AppError } from "../core/errors.ts";
import type { AnswerResponse, AskRequest, SourceRef } from "../core/protocol.ts";
import type { HistoryTurn } from "../core/types.ts";
import {
  isObject,
  type Limits,
  parseAsOf,
  parseFilters,
  parseHistory,
  parseK,
  parseQuestion,
  rejectUnknown,
} from "./validate.ts";

/** The one model this server offers: the corpus, answered by citeline's engine. */
export const MODEL_ID = "citeline";

/**
 * The request fields of the chat-completions API that are accepted. Sampling settings are taken
 * and ignored: the answer is quoted from the documents, not sampled. Anything else (tools,
 * functions, audio, ...) is refused by name, as the native API refuses unknown fields.
 */
export const CHAT_FIELDS = [
  "model",
  "messages",
  "stream",
  "stream_options",
  "temperature",
  "top_p",
  "max_tokens",
  "max_completion_tokens",
  "n",
  "stop",
  "user",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "citeline",
] as const;
const MESSAGE_FIELDS = ["role", "content", "name"] as const;
/** citeline's own options, in the extra request field `citeline`. */
const EXTRA_FIELDS = ["k", "filters", "asOf"] as const;

export interface ChatRequest {
  ask: AskRequest;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with token counts (always 0 here). */
  includeUsage: boolean;
}

/** The text of a message's content: a string, or the text parts of an array of parts. */
function contentText(v: unknown, where: string): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v
      .map((part, i) => {
        if (!isObject(part) || part.type !== "text" || typeof part.text !== "string") {
          throw new AppError("BAD_REQUEST", `${where}[${i}] must be a text part {type: "text", text}`);
        }
        return part.text;
      })
      .join("\n");
  }
  throw new AppError("BAD_REQUEST", `${where} must be a string or an array of text parts`);
}

/** Validates a chat-completions body and maps it to an ask. */
export function parseChatRequest(v: unknown, limits: Limits): ChatRequest {
  if (!isObject(v))
    throw new AppError("BAD_REQUEST", "the body must be a JSON object with model and messages");
  rejectUnknown(v, CHAT_FIELDS, "the request body");
  if (v.model !== MODEL_ID) {
    throw new AppError(
      "MODEL_NOT_FOUND",
      `model is ${JSON.stringify(String(v.model ?? "")).slice(0, 80)}; this server offers one model, "${MODEL_ID}" (GET /v1/models)`,
    );
  }
  if (v.n !== undefined && v.n !== null && v.n !== 1) {
    throw new AppError("BAD_REQUEST", "n must be 1: there is one answer per question");
  }
  if (v.stream !== undefined && v.stream !== null && typeof v.stream !== "boolean") {
    throw new AppError("BAD_REQUEST", "stream must be true or false");
  }
  if (!Array.isArray(v.messages) || v.messages.length === 0) {
    throw new AppError("BAD_REQUEST", "messages must be a non-empty array of {role, content}");
  }
  const turns: HistoryTurn[] = [];
  v.messages.forEach((m, i) => {
    const where = `messages[${i}]`;
    if (!isObject(m)) throw new AppError("BAD_REQUEST", `${where} must be an object {role, content}`);
    rejectUnknown(m, MESSAGE_FIELDS, where);
    // Instructions cannot steer an answer that is quoted from the documents; they are skipped.
    if (m.role === "system" || m.role === "developer") return;
    if (m.role !== "user" && m.role !== "assistant") {
      throw new AppError(
        "BAD_REQUEST",
        `${where}.role must be system, developer, user or assistant (tools are not supported)`,
      );
    }
    turns.push({ role: m.role, text: contentText(m.content, `${where}.content`) });
  });
  const last = turns.at(-1);
  if (last?.role !== "user") {
    throw new AppError(
      "BAD_REQUEST",
      "the last message that is not a system message must be the user's question",
    );
  }
  const ask: AskRequest = {
    question: parseQuestion(last.text, limits, `messages[${v.messages.length - 1}].content`),
  };
  const history = turns.slice(0, -1);
  if (history.length > 0) ask.history = parseHistory(history, limits);
  if (v.citeline !== undefined && v.citeline !== null) {
    const extra = v.citeline;
    if (!isObject(extra))
      throw new AppError("BAD_REQUEST", "citeline must be an object {k?, filters?, asOf?}");
    rejectUnknown(extra, EXTRA_FIELDS, "citeline");
    if (extra.k !== undefined) ask.k = parseK(extra.k, limits);
    if (extra.filters !== undefined) ask.filters = parseFilters(extra.filters, "citeline.filters.");
    if (extra.asOf !== undefined) ask.asOf = parseAsOf(extra.asOf);
  }
  const options = v.stream_options;
  return {
    ask,
    stream: v.stream === true,
    includeUsage: isObject(options) && options.include_usage === true,
  };
}

/** The numbered source list appended to the content, so a chat front-end shows what `[n]` means. */
export function sourceList(sources: readonly SourceRef[], notFound: boolean): string {
  if (sources.length === 0) return "";
  const lines = sources.map(
    (s) => `[${s.n}] ${s.title || s.source}${s.date ? ` (${s.date})` : ""}${s.url ? ` ${s.url}` : ""}`,
  );
  return `\n\n${notFound ? "Closest passages" : "Sources"}:\n${lines.join("\n")}`;
}

/** The extra field `citeline` of a completion: the answer's structure, as /api/answer gives it. */
export function citelineExtra(a: AnswerResponse): Record<string, unknown> {
  return {
    answer: a.answer,
    citations: a.citations,
    sources: a.sources,
    ...(a.documents ? { documents: a.documents } : {}),
    notFound: a.notFound,
    ...(a.notFoundReason ? { notFoundReason: a.notFoundReason } : {}),
    ...(a.shortAnswer ? { shortAnswer: a.shortAnswer } : {}),
    ...(a.generation ? { generation: a.generation } : {}),
    timings: a.timings,
  };
}

const USAGE = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } as const;

/** A whole (non-streamed) completion. */
export function completion(id: string, created: number, a: AnswerResponse): Record<string, unknown> {
  return {
    id,
    object: "chat.completion",
    created,
    model: MODEL_ID,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: a.answer + sourceList(a.sources, a.notFound) },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: USAGE,
    citeline: citelineExtra(a),
  };
}

/** One streamed chunk. */
export function chunk(
  id: string,
  created: number,
  delta: { role?: "assistant"; content?: string },
  finish: "stop" | null,
  extra?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    id,
    object: "chat.completion.chunk",
    created,
    model: MODEL_ID,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(extra ? { citeline: extra } : {}),
  };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, the usage. */
export function usageChunk(id: string, created: number): Record<string, unknown> {
  return { id, object: "chat.completion.chunk", created, model: MODEL_ID, choices: [], usage: USAGE };
}

/** `GET /v1/models`. */
export function modelList(created: number): Record<string, unknown> {
  return { object: "list", data: [{ id: MODEL_ID, object: "model", created, owned_by: "citeline" }] };
}
