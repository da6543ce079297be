/**
 * The wire shapes of answers, shared by the engine, the HTTP/SSE and WebSocket transports, and
 * the page. Plain JSON only.
 */
import type { DateFilter, HistoryTurn } from "./types.ts";

/** One numbered source of an answer: a retrieved passage. */
export interface SourceRef {
  /** The number used by inline markers: [n]. Starts at 1. */
  n: number;
  docId: string;
  chunkId: string;
  title: string;
  date?: string;
  url?: string;
  /** Corpus file the document came from. */
  source: string;
  /** Offsets of the passage in the document text. */
  start: number;
  end: number;
  /** The page the passage starts on (1-based), for paginated documents (PDF). */
  page?: number;
  /** The passage text (exactly doc.text.slice(start, end)). */
  snippet: string;
  /** Fused retrieval score, higher is better. */
  score: number;
}

/** A document among the sources, with the numbers of its passages (consecutive). */
export interface SourceGroup {
  docId: string;
  title: string;
  date?: string;
  url?: string;
  source: string;
  /** Numbers of the sources that are passages of this document, in text order. */
  ns: number[];
}

/** One cited sentence of the answer. */
export interface Citation {
  /** The source number this citation points at. */
  n: number;
  docId: string;
  chunkId: string;
  /** Offsets of the cited sentence in the document text. */
  start: number;
  end: number;
  /** The page the cited sentence starts on (1-based), for paginated documents (PDF). */
  page?: number;
  /** The cited sentence, verbatim (doc.text.slice(start, end)). */
  text: string;
  /** Offsets of the sentence inside the answer string. */
  answerStart: number;
  answerEnd: number;
}

/**
 * The exact words that answer a question asking for a name, place, date, number or quantity: a
 * span of the first cited sentence, verbatim (`doc.text.slice(start, end) === text`).
 */
export interface ShortAnswer {
  text: string;
  docId: string;
  start: number;
  end: number;
}

/**
 * Who wrote the answer's text, present when a language model is configured. A generated
 * answer's citations name, for each sentence, the source sentence that supports it: `text` and
 * `start`/`end` are that source sentence, `answerStart`/`answerEnd` the generated sentence.
 */
export interface Generation {
  /** "generated": the model's sentences, each verified against the passages it cites before it
   * was sent. "extractive": sentences quoted from the sources, because none of the model's passed
   * or the model failed (see `fallback`). */
  mode: "generated" | "extractive";
  provider: "openai" | "llama";
  model: string;
  /** The model's sentences that passed verification (and were shown, unless repeated). */
  verified: number;
  /** The model's sentences that failed verification and were withheld. */
  rejected: number;
  fallback?: "no_verified_sentence" | "timeout" | "provider_error";
  /** Why a generated answer stopped early; the sentences before it were verified. */
  stopped?: "timeout" | "provider_error";
  /** Milliseconds from the request to the model's first token. */
  firstTokenMs?: number;
}

export interface Timings {
  retrievalMs: number;
  firstDeltaMs: number;
  totalMs: number;
}

export interface AskRequest {
  question: string;
  history?: HistoryTurn[];
  k?: number;
  filters?: DateFilter;
  /** The day the question is asked as of (YYYY-MM-DD): "this week" and "latest" are relative to it,
   * documents after it are left out. Default: today (the newest document's day for a stale corpus). */
  asOf?: string;
}

/**
 * Why an answer is "not found" when the evidence is not to blame: `NO_DOCUMENTS_IN_RANGE`, the
 * date filters leave no document to search; `NO_DOCUMENTS_BEFORE_AS_OF`, every document is dated
 * after the day the question is asked as of. Absent for an ordinary not-found answer.
 */
export type NotFoundReason = "NO_DOCUMENTS_IN_RANGE" | "NO_DOCUMENTS_BEFORE_AS_OF";

/** Events of one answer, in order: sources, delta*, done. */
export type AnswerEvent =
  | {
      type: "sources";
      sources: SourceRef[];
      notFound: boolean;
      notFoundReason?: NotFoundReason;
      documents?: SourceGroup[];
    }
  | { type: "delta"; text: string }
  | {
      type: "done";
      answer: string;
      citations: Citation[];
      notFound: boolean;
      notFoundReason?: NotFoundReason;
      /** Present when the question asks for a name, place, date, number or quantity and one was found. */
      shortAnswer?: ShortAnswer;
      /** The query actually used for retrieval (after follow-up rewriting). */
      query: string;
      timings: Timings;
      generation?: Generation;
    };

/** Body of `POST /api/answer` when JSON is asked for. */
export interface AnswerResponse {
  answer: string;
  citations: Citation[];
  sources: SourceRef[];
  /** The sources grouped by document, in the order of each document's best passage. */
  documents?: SourceGroup[];
  notFound: boolean;
  notFoundReason?: NotFoundReason;
  shortAnswer?: ShortAnswer;
  query: string;
  timings: Timings;
  generation?: Generation;
}

export interface ErrorBody {
  error: { code: string; message: string; requestId?: string; [detail: string]: unknown };
}

/** Client → server WebSocket messages. */
export type ClientMessage =
  | {
      type: "ask";
      id: string;
      question: string;
      history?: HistoryTurn[];
      filters?: DateFilter;
      k?: number;
      asOf?: string;
    }
  | { type: "cancel"; id: string }
  | { type: "auth"; token: string };

/** Server → client WebSocket messages: an answer's events each carry the id of their question. */
export type ServerMessage =
  | { type: "ready"; auth: "ok" | "required" }
  | (AnswerEvent & { id: string })
  /** The acknowledgement of a `cancel`: the question with this id ends here. */
  | { type: "cancelled"; id: string }
  | { type: "error"; id?: string; code: string; message: string; retryAfterS?: number };

/** `GET /api/health` */
export interface Health {
  /** "degraded": the server runs but its search backend does not answer (see `backend`). */
  status: "ok" | "degraded";
  /** The search backend and whether it answers; `code` and `message` say why not. */
  backend: { name: string; ok: boolean; code?: string; message?: string };
  model: string;
  documents: number;
  chunks: number;
  builtAt: string;
  /** Oldest and newest document dates, when the corpus has dates. */
  dateRange: { from: string; to: string } | null;
  /** A few questions made from the corpus titles, for the empty state. */
  examples: string[];
  authRequired: boolean;
  /** Request limits, so a client can check input before sending it. */
  limits: { maxQuestionChars: number; maxHistoryTurns: number; maxHistoryChars: number; maxK: number };
}

/** `GET /api/health` without a valid token, when one is required. */
export interface HealthLocked {
  status: "ok";
  authRequired: true;
}

/** `GET /api/documents/:id` */
export interface DocumentBody {
  id: string;
  title: string;
  date?: string;
  url?: string;
  source: string;
  text: string;
  /** Paginated documents (PDF): the offset in `text` where each page starts. */
  pages?: number[];
}
