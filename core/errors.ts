/**
 * The catalogue of expected failures. Every error a user or client can meet has a stable code;
 * transports map codes to HTTP statuses and WebSocket error frames in one place (server/errors.ts).
 */
export const ERROR_CODES = {
  // configuration and startup
  CONFIG_INVALID: "a setting has a value that cannot be used",
  MODEL_MISSING: "the embedding model files are not on this machine",
  MODEL_UNKNOWN: "the configured embedding model is not one this build supports",
  INDEX_MISSING: "no index has been built yet",
  INDEX_CORRUPT: "the index files are damaged or incomplete",
  INDEX_FORMAT_OLD: "the index was written by an older version; `npm run index` upgrades it",
  INDEX_MODEL_MISMATCH: "the index was built with another embedding model",
  INDEX_SETTINGS_MISMATCH: "the index was built with other chunker settings",
  INDEX_LOCKED: "another indexer is running",
  INDEX_READ_ONLY: "the index folder cannot be written and the index must change",
  BACKEND_UNAVAILABLE: "the search backend cannot be reached",
  PORT_IN_USE: "the port the server should listen on is taken",
  LISTEN_FAILED: "the server could not listen on the configured address",
  NO_TOKEN_FOR_NETWORK: "the server would serve the network without an access token",
  LLM_UNAVAILABLE: "the configured language model or its runtime could not be loaded",
  // corpus
  CORPUS_MISSING: "the corpus folder does not exist",
  FILE_UNREADABLE: "a corpus file could not be read",
  FILE_MALFORMED: "a corpus file could not be parsed",
  FILE_EMPTY: "a corpus file holds no text",
  FILE_BINARY: "a corpus file is not text",
  FILE_TOO_LARGE: "a corpus file is larger than the limit",
  FILE_ENCRYPTED: "a corpus file is password-protected",
  FILE_NO_TEXT: "a corpus file has no text layer (a scan); OCR is not supported",
  FILE_UNSUPPORTED: "a corpus file is in a format that is not read",
  INDEX_WOULD_EMPTY: "the build would publish an empty index over a non-empty one",
  CORPUS_READ_ONLY: "the corpus folder cannot be written, so files cannot be added or removed",
  // uploads (POST/DELETE /api/documents)
  UPLOAD_TOO_LARGE: "an uploaded file is larger than the upload limit",
  CORPUS_FULL: "the corpus folder already holds as many files as uploads may bring it to",
  FILE_NAME_INVALID: "an uploaded file's name is empty or unusable once cleaned",
  // requests
  BAD_JSON: "the request body or message is not valid JSON",
  BAD_REQUEST: "a field is missing or has the wrong type",
  BODY_EMPTY: "the request body is empty",
  UNKNOWN_FIELD: "the request has a field or parameter the server does not know",
  UNKNOWN_ID: "no question with this id is in flight on this connection",
  QUESTION_EMPTY: "the question is empty",
  QUESTION_TOO_LONG: "the question is longer than the limit",
  HISTORY_TOO_LONG: "the conversation history is longer than the limit",
  K_OUT_OF_RANGE: "k is outside the allowed range",
  BAD_FILTER: "a date filter is not a valid date",
  BAD_AS_OF: "asOf is not a valid date",
  PAYLOAD_TOO_LARGE: "the request body or message is larger than the limit",
  UNKNOWN_MESSAGE: "the message type is not one the server knows",
  BINARY_FRAME: "the server accepts only text frames",
  BAD_ENCODING: "the request body or message is not valid UTF-8",
  DUPLICATE_ID: "a question with this id is already in flight on this connection",
  NOT_FOUND: "no such resource",
  MODEL_NOT_FOUND: "the OpenAI-compatible API was asked for a model this server does not offer",
  METHOD_NOT_ALLOWED: "the endpoint does not take this method",
  UNSUPPORTED_MEDIA_TYPE: "the request body must be JSON",
  UNSUPPORTED_CHARSET: "the request body must be encoded as UTF-8",
  UNAUTHORIZED: "a valid access token is required",
  FORBIDDEN_ORIGIN: "the page's origin is not allowed",
  RATE_LIMITED: "too many requests; retry later",
  BUSY: "the server is at capacity; retry later",
  SHUTTING_DOWN: "the server is shutting down",
  CANCELLED: "the request was cancelled",
  INTERNAL: "an internal error occurred",
  // the reader's trainer (npm run train:reader)
  TRAIN_TOOLS_MISSING: "a tool the reader's training needs is not installed",
  TRAIN_FAILED: "a stage of the reader's training failed",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An expected failure with a stable code and a message meant for people. */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra fields that are safe to show to a client (limits, retry hints). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.details = details;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Formats a count the way messages quote limits: 12,400. */
export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}
