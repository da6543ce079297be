/**
 * Reading client input at the boundary, shared by HTTP and WebSocket: the bytes to JSON here, the
 * JSON against its schema in schema-check.ts.
 */
import { AppError, fmtCount } from "../core/errors.ts";
import type { DateFilter } from "../core/protocol.ts";
import { check } from "./schema-check.ts";
import type { RequestSchemas } from "./schemas.ts";

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
  limits: { maxBodyBytes: number },
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

/** A query-string value as the JSON value it spells: `8` → 8, `-1` → -1; other text stays text. */
export function queryNumber(v: unknown): unknown {
  return typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

/** The parameters of `GET /api/search`, with the codes and messages JSON gets for the same fields. */
export function parseSearch(
  query: Record<string, unknown>,
  schemas: Pick<RequestSchemas, "search">,
  defaultK: number,
): {
  q: string;
  k: number;
  mode: "hybrid" | "dense" | "lexical";
  filters: DateFilter;
  asOf: string | undefined;
} {
  // Text that spells no number is, in a query string, simply not a whole number.
  const kv = queryNumber(query.k);
  const typed = { ...query, ...(kv === undefined ? {} : { k: typeof kv === "string" ? Number.NaN : kv }) };
  const { q, k, mode, from, to, asOf } = check(schemas.search, typed, "the query string", "");
  return {
    q,
    k: k ?? defaultK,
    mode: mode ?? "hybrid",
    filters: { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) },
    asOf,
  };
}
