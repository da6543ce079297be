/**
 * The OpenAI chat-completions wire format, mapped to and from citeline's own: a request becomes
 * an ask (the last user message is the question, earlier turns the history), and an answer
 * becomes a completion whose content carries the `[n]` markers and a numbered source list, with
 * the structured citations and sources in the extra field `citeline`. Pure: no I/O.
 */
import { AppError } from "../core/errors.ts";
import type { AnswerResponse, AskRequest, HistoryTurn, SourceRef } from "../core/protocol.ts";
import { check } from "./schema-check.ts";
import { MODEL_ID, type RequestSchemas } from "./schemas.ts";

export interface ChatRequest {
  ask: AskRequest;
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with token counts (always 0 here). */
  includeUsage: boolean;
}

/** Validates a chat-completions body and maps it to an ask. */
export function parseChatRequest(
  v: unknown,
  schemas: Pick<RequestSchemas, "chat" | "question" | "history">,
): ChatRequest {
  const body = check(schemas.chat, v, "the request body", "");
  const turns: HistoryTurn[] = [];
  for (const m of body.messages) {
    // Instructions cannot steer an answer that is quoted from the documents; they are skipped.
    if (m.role === "system" || m.role === "developer") continue;
    const text = typeof m.content === "string" ? m.content : m.content.map((part) => part.text).join("\n");
    turns.push({ role: m.role, text });
  }
  const last = turns.at(-1);
  if (last?.role !== "user") {
    throw new AppError(
      "BAD_REQUEST",
      "the last message that is not a system message must be the user's question",
    );
  }
  const ask: AskRequest = {
    question: check(schemas.question, last.text, `messages[${body.messages.length - 1}].content`),
  };
  const history = turns.slice(0, -1);
  if (history.length > 0) ask.history = check(schemas.history, history, "history");
  const { k, filters, asOf } = body.citeline ?? {};
  if (k !== undefined) ask.k = k;
  if (filters !== undefined) ask.filters = filters;
  if (asOf !== undefined) ask.asOf = asOf;
  const options = body.stream_options;
  return {
    ask,
    stream: body.stream === true,
    includeUsage:
      typeof options === "object" &&
      options !== null &&
      (options as Record<string, unknown>).include_usage === true,
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
