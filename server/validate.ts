/**
 * Validation at the boundary, shared by HTTP and WebSocket. Only known fields are copied out of
 * client input, so keys such as `__proto__` or `constructor` never reach the engine.
 */
import type { Config } from "../core/config.ts";
import { isIsoDate } from "../core/dates.ts";
import { AppError, fmtCount } from "../core/errors.ts";
import type { AskRequest } from "../core/protocol.ts";
import type { DateFilter, HistoryTurn } from "../core/types.ts";

export type Limits = Pick<
  Config,
  "maxQuestionChars" | "maxHistoryTurns" | "maxHistoryChars" | "maxK" | "maxBodyBytes"
>;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function has(o: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(o, key) && o[key] !== undefined && o[key] !== null;
}

/**
 * Refuses a Content-Type whose charset is not UTF-8: such a body would be decoded wrongly, or
 * refused later as "not valid UTF-8" with no hint why. No charset means UTF-8 (RFC 8259).
 */
export function checkCharset(contentType: string | undefined): void {
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? "");
  if (!m) return;
  const charset = (m[1] ?? "").toLowerCase();
  if (charset === "utf-8" || charset === "utf8") return;
  throw new AppError(
    "UNSUPPORTED_CHARSET",
    `the body is declared as charset=${charset.slice(0, 40)}; send it as UTF-8 (Content-Type: application/json or application/json; charset=utf-8)`,
    { charset: charset.slice(0, 40) },
  );
}

/** Decodes and parses a JSON body or text frame, with the errors a client should see. */
export function parseJson(
  raw: Buffer | string,
  limits: Pick<Limits, "maxBodyBytes">,
  what = "request body",
): unknown {
  const size = typeof raw === "string" ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxBodyBytes) {
    throw new AppError(
      "PAYLOAD_TOO_LARGE",
      `${what} is ${fmtCount(size)} bytes; the limit is ${fmtCount(limits.maxBodyBytes)}`,
      {
        limit: limits.maxBodyBytes,
      },
    );
  }
  let text: string;
  if (typeof raw === "string") {
    text = raw;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw new AppError("BAD_ENCODING", `${what} is not valid UTF-8`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof RangeError ? "it is nested too deeply" : (err as Error).message;
    throw new AppError("BAD_JSON", `${what} is not valid JSON: ${reason}`);
  }
}

/** The question; `name` is the field or parameter the client used for it (`question`, `q`). */
export function parseQuestion(v: unknown, limits: Limits, name = "question"): string {
  if (v === undefined || v === null) throw new AppError("BAD_REQUEST", `${name} is required`);
  if (typeof v !== "string") throw new AppError("BAD_REQUEST", `${name} must be a string`);
  const q = v.trim();
  if (q.length === 0) throw new AppError("QUESTION_EMPTY", `${name} is empty`);
  if (q.length > limits.maxQuestionChars) {
    throw new AppError(
      "QUESTION_TOO_LONG",
      `${name} is ${fmtCount(q.length)} characters; the limit is ${fmtCount(limits.maxQuestionChars)}`,
      { limit: limits.maxQuestionChars },
    );
  }
  return q;
}

/**
 * k, as a JSON number. A query string has no types, so `/api/search` turns its text into a
 * number first (`queryNumber`) and then gets exactly this check: the same codes on every transport.
 */
export function parseK(v: unknown, limits: Limits): number {
  const n = v;
  if (typeof n === "string") {
    throw new AppError("BAD_REQUEST", `k must be a number, not the string ${JSON.stringify(n.slice(0, 20))}`);
  }
  if (typeof n !== "number" || !Number.isInteger(n))
    throw new AppError("BAD_REQUEST", "k must be a whole number");
  if (n < 1 || n > limits.maxK) {
    throw new AppError("K_OUT_OF_RANGE", `k is ${n}; it must be from 1 to ${limits.maxK}`, {
      min: 1,
      max: limits.maxK,
    });
  }
  return n;
}

export function parseHistory(v: unknown, limits: Limits): HistoryTurn[] {
  if (!Array.isArray(v)) throw new AppError("BAD_REQUEST", "history must be an array of {role, text}");
  if (v.length > limits.maxHistoryTurns) {
    throw new AppError(
      "HISTORY_TOO_LONG",
      `history has ${v.length} turns; the limit is ${limits.maxHistoryTurns}`,
      {
        limit: limits.maxHistoryTurns,
      },
    );
  }
  let chars = 0;
  const turns = v.map((t, i): HistoryTurn => {
    if (!isObject(t) || (t.role !== "user" && t.role !== "assistant") || typeof t.text !== "string") {
      throw new AppError("BAD_REQUEST", `history[${i}] must be {role: "user" | "assistant", text: string}`);
    }
    // As strict as the top level: a misspelt key must not be dropped in silence.
    rejectUnknown(t, HISTORY_FIELDS, `history[${i}]`);
    chars += t.text.length;
    return { role: t.role, text: t.text };
  });
  if (chars > limits.maxHistoryChars) {
    throw new AppError(
      "HISTORY_TOO_LONG",
      `history is ${fmtCount(chars)} characters; the limit is ${fmtCount(limits.maxHistoryChars)}`,
      { limit: limits.maxHistoryChars },
    );
  }
  return turns;
}

/** A query-string value as the JSON value it spells: `8` → 8, `-1` → -1; other text stays text. */
export function queryNumber(v: unknown): unknown {
  return typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

/** Refuses a field the request may not carry, naming it: a typo must not be silently ignored. */
export function rejectUnknown(
  v: Record<string, unknown>,
  known: readonly string[],
  where: string,
  kind = "field",
): void {
  for (const key of Object.keys(v)) {
    if (!known.includes(key)) {
      throw new AppError(
        "UNKNOWN_FIELD",
        `${where} has an unknown ${kind} "${key.slice(0, 64)}"; the known ${kind}s are ${known.join(", ")}`,
        { field: key.slice(0, 64) },
      );
    }
  }
}

/** The fields of a question, as every transport accepts them. */
export const ASK_FIELDS = ["question", "history", "k", "filters", "asOf"] as const;
export const FILTER_FIELDS = ["from", "to"] as const;
export const HISTORY_FIELDS = ["role", "text"] as const;

/** A date range; `prefix` names its fields as the client wrote them (`filters.from`, `from`). */
export function parseFilters(v: unknown, prefix = "filters."): DateFilter {
  if (!isObject(v)) throw new AppError("BAD_REQUEST", "filters must be an object {from?, to?}");
  rejectUnknown(v, FILTER_FIELDS, "filters", "key");
  const out: DateFilter = {};
  for (const key of ["from", "to"] as const) {
    if (!has(v, key)) continue;
    const d = v[key];
    if (typeof d !== "string" || !isIsoDate(d)) {
      throw new AppError("BAD_FILTER", `${prefix}${key} must be a date written YYYY-MM-DD`);
    }
    out[key] = d;
  }
  if (out.from && out.to && out.from > out.to) {
    throw new AppError("BAD_FILTER", `${prefix}from (${out.from}) is after ${prefix}to (${out.to})`);
  }
  return out;
}

/** The day a question is asked as of: a real calendar date written YYYY-MM-DD. */
export function parseAsOf(v: unknown): string {
  if (typeof v !== "string" || !isIsoDate(v)) {
    throw new AppError("BAD_AS_OF", "asOf must be a date written YYYY-MM-DD");
  }
  return v;
}

/**
 * The fields of a question, from an HTTP body or a WebSocket `ask` message (whose envelope
 * fields, `type` and `id`, come in `envelope`). Unknown fields are refused.
 */
export function parseAsk(
  v: unknown,
  limits: Limits,
  envelope: readonly string[] = [],
  where = "the request body",
): AskRequest {
  if (!isObject(v)) throw new AppError("BAD_REQUEST", "the body must be a JSON object with a question");
  rejectUnknown(v, [...envelope, ...ASK_FIELDS], where);
  if (!has(v, "question")) throw new AppError("BAD_REQUEST", "question is required");
  const req: AskRequest = { question: parseQuestion(v.question, limits) };
  if (has(v, "history")) req.history = parseHistory(v.history, limits);
  if (has(v, "k")) req.k = parseK(v.k, limits);
  if (has(v, "filters")) req.filters = parseFilters(v.filters);
  if (has(v, "asOf")) req.asOf = parseAsOf(v.asOf);
  return req;
}

/** A client-chosen message id: echoed back in frames, so it is bounded and plain. */
export function parseId(v: unknown): string {
  if (typeof v !== "string" || !/^[\w.:-]{1,128}$/.test(v)) {
    throw new AppError("BAD_REQUEST", "id must be 1 to 128 letters, digits, '_', '-', '.' or ':'");
  }
  return v;
}

export { isObject };

/** The parameters of `GET /api/search`, with the codes and messages JSON gets for the same fields. */
export function parseSearch(
  query: Record<string, unknown>,
  limits: Limits & { k: number },
): {
  q: string;
  k: number;
  mode: "hybrid" | "dense" | "lexical";
  filters: DateFilter;
  asOf: string | undefined;
} {
  rejectUnknown(query, ["q", "k", "mode", "from", "to", "asOf"], "the query string", "parameter");
  const q = parseQuestion(query.q, limits, "q");
  // Text that spells no number is, in a query string, simply not a whole number.
  const kv = queryNumber(query.k);
  const k = kv === undefined ? limits.k : parseK(typeof kv === "string" ? Number.NaN : kv, limits);
  const mode = query.mode ?? "hybrid";
  if (mode !== "hybrid" && mode !== "dense" && mode !== "lexical") {
    throw new AppError("BAD_REQUEST", "mode must be hybrid, dense or lexical");
  }
  const dates: Record<string, unknown> = {};
  if (query.from !== undefined) dates.from = query.from;
  if (query.to !== undefined) dates.to = query.to;
  const asOf = query.asOf === undefined ? undefined : parseAsOf(query.asOf);
  return { q, k, mode, filters: parseFilters(dates, ""), asOf };
}
