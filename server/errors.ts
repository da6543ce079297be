import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { AppError, type ErrorCode, isAppError } from "../core/errors.ts";
import type { ErrorBody } from "../core/protocol.ts";
import type { Logger } from "./log.ts";
import { SECURITY_HEADERS } from "./security.ts";

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_JSON: 400,
  BAD_ENCODING: 400,
  BAD_REQUEST: 400,
  BODY_EMPTY: 400,
  UNKNOWN_FIELD: 400,
  UNKNOWN_ID: 400,
  QUESTION_EMPTY: 400,
  QUESTION_TOO_LONG: 400,
  HISTORY_TOO_LONG: 400,
  K_OUT_OF_RANGE: 400,
  BAD_FILTER: 400,
  BAD_AS_OF: 400,
  UNKNOWN_MESSAGE: 400,
  FILE_NAME_INVALID: 400,
  FILE_UNSUPPORTED: 415,
  UPLOAD_TOO_LARGE: 413,
  CORPUS_FULL: 409,
  CORPUS_READ_ONLY: 503,
  INDEX_LOCKED: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN_ORIGIN: 403,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_CHARSET: 415,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  BUSY: 503,
  SHUTTING_DOWN: 503,
  INDEX_MISSING: 503,
  INDEX_CORRUPT: 503,
  INDEX_FORMAT_OLD: 503,
  BACKEND_UNAVAILABLE: 503,
  MODEL_MISSING: 503,
};

/** An error as the client sees it: expected errors keep their code and message; others are generic. */
export function publicError(err: unknown, log: Logger, context: Record<string, unknown> = {}): AppError {
  if (isAppError(err)) return err;
  log("error", "internal_error", {
    ...context,
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  return new AppError("INTERNAL", "something went wrong on the server; the error was logged");
}

export function httpStatus(err: AppError): number {
  return STATUS[err.code] ?? 500;
}

export function errorBody(err: AppError, requestId?: string): ErrorBody {
  return {
    error: { ...err.details, code: err.code, message: err.message, ...(requestId ? { requestId } : {}) },
  };
}

/**
 * A complete HTTP/1.1 error response for a raw socket (a refused WebSocket handshake, a request
 * Node could not parse), with the same body and headers as the app's errors.
 */
export function rawErrorResponse(err: AppError): string {
  const status = httpStatus(err);
  const requestId = randomUUID();
  const body = JSON.stringify(errorBody(err, requestId));
  const headers = {
    ...SECURITY_HEADERS,
    "X-Request-Id": requestId,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(body)),
    Connection: "close",
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n${head.join("")}\r\n${body}`;
}
