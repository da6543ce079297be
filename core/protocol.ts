/**
 * The wire shapes of answers and questions, shared by the engine, the HTTP/SSE and WebSocket
 * transports, and the page. Each shape is written once, as a TypeBox schema: that schema is the
 * JSON Schema the OpenAPI document shows (server/openapi.ts), the validator the transports run on
 * client input (server/schema-check.ts), and, through `Static`, the TypeScript type. Plain JSON only.
 *
 * Keywords starting with `x-` say how a failed check is reported (see {@link Reporting}); they are
 * part of the published schema, so a client can read which error code each constraint yields.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import type { ErrorCode } from "./errors.ts";

/**
 * How a failed check of a schema is reported, per JSON Schema keyword (`type`, `maxLength`,
 * `required`, ...; `*` for any failure of the node or of what it holds, other than an unknown
 * field). Codes default to BAD_REQUEST; messages to a sentence naming the field. In a message,
 * `{name}` is the field as the client wrote it (`filters.from`, `history[2]`), `{count}` the size
 * found and `{limit}` the limit. `x-trim` trims a string before it is checked and passed on;
 * `x-member` names an object's keys in messages ("field", "key", "parameter"); `x-ordered: [a, b]`
 * requires a ≤ b; `x-max-total-length: {property, limit}` bounds the summed length of that
 * property over an array's items. `null` is the same as an absent optional field.
 */
export interface Reporting {
  "x-codes"?: Partial<Record<string, ErrorCode>>;
  "x-message"?: Partial<Record<string, string>>;
  "x-trim"?: boolean;
  "x-member"?: "field" | "key" | "parameter";
  "x-ordered"?: readonly [string, string];
  "x-max-total-length"?: { property: string; limit: number };
}

/** The limits a request is checked against (server settings, see core/config.ts). */
export interface RequestLimits {
  maxQuestionChars: number;
  maxHistoryTurns: number;
  maxHistoryChars: number;
  maxK: number;
}

const DATE_MESSAGE = "{name} must be a date written YYYY-MM-DD";

/** A calendar date written YYYY-MM-DD (checked as a real day, not just its digits). */
function isoDate(code: ErrorCode, options: { $id?: string; description?: string; message?: string } = {}) {
  const message = options.message ?? DATE_MESSAGE;
  return Type.String({
    ...(options.$id ? { $id: options.$id } : {}),
    format: "date",
    ...(options.description ? { description: options.description } : {}),
    "x-codes": { type: code, format: code },
    "x-message": { type: message, format: message },
  });
}

// ---- answers ----------------------------------------------------------------------------------

/** One numbered source of an answer: a retrieved passage. */
export const SourceRef = Type.Object(
  {
    /** The number used by inline markers: [n]. Starts at 1. */
    n: Type.Integer({ minimum: 1 }),
    docId: Type.String(),
    chunkId: Type.String(),
    title: Type.String(),
    date: Type.Optional(Type.String({ format: "date" })),
    url: Type.Optional(Type.String()),
    /** Corpus file the document came from. */
    source: Type.String(),
    /** Offsets of the passage in the document text. */
    start: Type.Integer(),
    end: Type.Integer(),
    /** The page the passage starts on (1-based), for paginated documents (PDF). */
    page: Type.Optional(
      Type.Integer({ minimum: 1, description: "paginated documents (PDF): the page the passage starts on" }),
    ),
    /** The passage text (exactly doc.text.slice(start, end)). */
    snippet: Type.String(),
    /** Fused retrieval score, higher is better. */
    score: Type.Number(),
  },
  { $id: "SourceRef" },
);
export type SourceRef = Static<typeof SourceRef>;

/** A document among the sources, with the numbers of its passages (consecutive). */
export const SourceGroup = Type.Object(
  {
    docId: Type.String(),
    title: Type.String(),
    date: Type.Optional(Type.String({ format: "date" })),
    url: Type.Optional(Type.String()),
    source: Type.String(),
    /** Numbers of the sources that are passages of this document, in text order. */
    ns: Type.Array(Type.Integer({ minimum: 1 })),
  },
  {
    $id: "SourceGroup",
    description: "a document among the sources; its passages are the sources numbered ns",
  },
);
export type SourceGroup = Static<typeof SourceGroup>;

/** One cited sentence of the answer. */
export const Citation = Type.Object(
  {
    /** The source number this citation points at. */
    n: Type.Integer(),
    docId: Type.String(),
    chunkId: Type.String(),
    /** Offsets of the cited sentence in the document text. */
    start: Type.Integer({ description: "offset of the cited sentence in the document text" }),
    end: Type.Integer(),
    /** The page the cited sentence starts on (1-based), for paginated documents (PDF). */
    page: Type.Optional(
      Type.Integer({ minimum: 1, description: "paginated documents (PDF): the page the sentence starts on" }),
    ),
    /** The cited sentence, verbatim (doc.text.slice(start, end)). */
    text: Type.String(),
    /** Offsets of the sentence inside the answer string. */
    answerStart: Type.Integer({ description: "offset of the sentence in the answer" }),
    answerEnd: Type.Integer(),
  },
  { $id: "Citation" },
);
export type Citation = Static<typeof Citation>;

/**
 * The exact words that answer a question asking for a name, place, date, number or quantity: a
 * span of the first cited sentence, verbatim (`doc.text.slice(start, end) === text`).
 */
export const ShortAnswer = Type.Object(
  {
    text: Type.String({ description: "verbatim: the document text from start to end" }),
    docId: Type.String(),
    start: Type.Integer({ description: "offset in the document text" }),
    end: Type.Integer(),
  },
  {
    $id: "ShortAnswer",
    description:
      "the exact words answering a question that asks for a name, place, date, number or quantity: a verbatim span of the first cited sentence",
  },
);
export type ShortAnswer = Static<typeof ShortAnswer>;

/** The language model that writes the generated answer which follows the extractive one. */
export const Generator = Type.Object(
  {
    provider: Type.Union([Type.Literal("openai"), Type.Literal("llama")]),
    model: Type.String(),
  },
  { $id: "Generator", description: "the language model writing the generated answer" },
);
export type Generator = Static<typeof Generator>;

/**
 * The generated answer that follows the extractive one: the model's verified sentences joined by
 * one space. Its citations name, for each sentence, the source sentence that supports it: `text`
 * and `start`/`end` are that source sentence, `answerStart`/`answerEnd` the generated sentence
 * in `answer`.
 */
export const GeneratedAnswer = Type.Object(
  { answer: Type.String(), citations: Type.Array(Citation) },
  {
    $id: "GeneratedAnswer",
    description:
      "The generated answer that follows the extractive one, when at least one of the model's sentences was verified: the sentences joined by one space. Each citation's text/start/end is the source sentence that supports a generated sentence, answerStart/answerEnd that sentence in this answer.",
  },
);
export type GeneratedAnswer = Static<typeof GeneratedAnswer>;

/** Why a generated sentence failed verification (core/generate/verify.ts). */
export const RejectReason = Type.Union(
  [
    Type.Literal("NO_CITATION"),
    Type.Literal("UNKNOWN_SOURCE"),
    Type.Literal("NO_CONTENT"),
    Type.Literal("INCOMPLETE"),
    Type.Literal("UNSUPPORTED_NUMBER"),
    Type.Literal("UNSUPPORTED_NAME"),
    Type.Literal("UNSUPPORTED_NEGATION"),
    Type.Literal("UNSUPPORTED_WORD"),
  ],
  { $id: "RejectReason", description: "why a generated sentence failed verification" },
);
export type RejectReason = Static<typeof RejectReason>;

/**
 * How the generated answer went, present when a language model is configured and the answer was
 * found (a "not found" verdict is never sent to the model).
 */
export const Generation = Type.Object(
  {
    /** "generated": at least one of the model's sentences was verified and sent (`generated` in
     * `done`). "extractive": none was, because none passed or the model failed (see `fallback`);
     * the extractive answer stands alone. */
    mode: Type.Union([Type.Literal("generated"), Type.Literal("extractive")]),
    provider: Type.Union([Type.Literal("openai"), Type.Literal("llama")]),
    model: Type.String(),
    /** The model's sentences that passed verification (and were shown, unless repeated). */
    verified: Type.Integer({ description: "model sentences that passed verification" }),
    /** The model's sentences that failed verification and were withheld. */
    rejected: Type.Integer({ description: "model sentences withheld because they failed it" }),
    fallback: Type.Optional(
      Type.Union([
        Type.Literal("no_verified_sentence"),
        Type.Literal("timeout"),
        Type.Literal("provider_error"),
      ]),
    ),
    /** Why a generated answer stopped early; the sentences before it were verified. */
    stopped: Type.Optional(Type.Union([Type.Literal("timeout"), Type.Literal("provider_error")])),
    /** Milliseconds from the start of generation to the model's first token. */
    firstTokenMs: Type.Optional(
      Type.Number({ description: "from the start of generation to the model's first token" }),
    ),
    /** Milliseconds from the request to the first verified sentence sent. */
    firstSentenceMs: Type.Optional(
      Type.Number({ description: "from the request to the first verified sentence sent" }),
    ),
  },
  {
    $id: "Generation",
    description:
      "Present when a language model is configured and the answer was found: how the generated answer that follows the extractive one went. mode is generated when at least one sentence was verified and sent (then `generated` holds them).",
  },
);
export type Generation = Static<typeof Generation>;

export const Timings = Type.Object(
  { retrievalMs: Type.Number(), firstDeltaMs: Type.Number(), totalMs: Type.Number() },
  { $id: "Timings" },
);
export type Timings = Static<typeof Timings>;

/**
 * Why an answer is "not found" when the evidence is not to blame: `NO_DOCUMENTS_IN_RANGE`, the
 * date filters leave no document to search; `NO_DOCUMENTS_BEFORE_AS_OF`, every document is dated
 * after the day the question is asked as of. Absent for an ordinary not-found answer.
 */
export const NotFoundReason = Type.Union(
  [Type.Literal("NO_DOCUMENTS_IN_RANGE"), Type.Literal("NO_DOCUMENTS_BEFORE_AS_OF")],
  {
    $id: "NotFoundReason",
    description:
      "set when the answer is not found because no document falls in the date filters (then `sources` is empty) or every document is dated after asOf",
  },
);
export type NotFoundReason = Static<typeof NotFoundReason>;

/** The first event of an answer: the passages it is drawn from. */
export const SourcesEvent = Type.Object(
  {
    type: Type.Literal("sources"),
    sources: Type.Array(SourceRef),
    notFound: Type.Boolean(),
    notFoundReason: Type.Optional(NotFoundReason),
    /** The sources grouped by document, in the order of each document's best passage. */
    documents: Type.Optional(Type.Array(SourceGroup)),
  },
  { $id: "SourcesEvent" },
);
export type SourcesEvent = Static<typeof SourcesEvent>;

/** A piece of the answer's text. */
export const DeltaEvent = Type.Object(
  { type: Type.Literal("delta"), text: Type.String() },
  { $id: "DeltaEvent" },
);

/**
 * With a language model: the extractive answer is complete (its deltas joined) and cited, and a
 * generated answer by `generator` follows. Sent only when one will be asked for.
 */
export const ExtractiveEvent = Type.Object(
  {
    type: Type.Literal("extractive"),
    answer: Type.String(),
    citations: Type.Array(Citation),
    shortAnswer: Type.Optional(ShortAnswer),
    generator: Generator,
  },
  {
    $id: "ExtractiveEvent",
    description:
      "the extractive answer, whole and cited, before the generated one: sent only when a language model will write one",
  },
);

/**
 * One sentence of the generated answer, sent once it is verified against the passages it cites.
 * `text` is the sentence as shown; the generated answer is the sentences joined by one space, and
 * `citations` (answerStart/answerEnd) are offsets in that joined text.
 */
export const GeneratedEvent = Type.Object(
  { type: Type.Literal("generated"), text: Type.String(), citations: Type.Array(Citation) },
  {
    $id: "GeneratedEvent",
    description:
      "one verified sentence of the generated answer; the answer is the sentences joined by one space, and the citations' answerStart/answerEnd are offsets in it",
  },
);

/** A sentence the model wrote that failed verification: never shown, only why. */
export const WithheldEvent = Type.Object(
  { type: Type.Literal("withheld"), reason: RejectReason },
  {
    $id: "WithheldEvent",
    description: "a sentence of the model's that failed verification; its text is not sent",
  },
);

/** The last event of an answer: the whole text with its citations. */
export const DoneEvent = Type.Object(
  {
    type: Type.Literal("done"),
    answer: Type.String(),
    citations: Type.Array(Citation),
    notFound: Type.Boolean(),
    notFoundReason: Type.Optional(NotFoundReason),
    /** Present when the question asks for a name, place, date, number or quantity and one was found. */
    shortAnswer: Type.Optional(ShortAnswer),
    /** The query actually used for retrieval (after follow-up rewriting). */
    query: Type.String(),
    timings: Timings,
    generation: Type.Optional(Generation),
    /** The generated answer, when at least one of the model's sentences was verified. */
    generated: Type.Optional(GeneratedAnswer),
  },
  { $id: "DoneEvent" },
);
export type DoneEvent = Static<typeof DoneEvent>;

/**
 * Events of one answer, in order: sources, delta*, done. With a language model configured and
 * the answer found, the extractive answer is still sent first and whole, then the generated one
 * follows sentence by sentence: sources, delta*, extractive, (generated | withheld)*, done.
 */
export const AnswerEvent = Type.Union([
  SourcesEvent,
  DeltaEvent,
  ExtractiveEvent,
  GeneratedEvent,
  WithheldEvent,
  DoneEvent,
]);
export type AnswerEvent = Static<typeof AnswerEvent>;

const { type: _sources, notFound: _nf, notFoundReason: _nfr, ...sourcesFields } = SourcesEvent.properties;
const { type: _done, ...doneFields } = DoneEvent.properties;

/**
 * Body of `POST /api/answer` when JSON is asked for: the `done` event without its type, with the
 * `sources` event's passages and documents.
 */
export const AnswerResponse = Type.Object({ ...doneFields, ...sourcesFields }, { $id: "AnswerResponse" });
export type AnswerResponse = Static<typeof AnswerResponse>;

/** The body of an answer: its `done` event with the passages of its `sources` event. */
export function answerResponse(sources: SourcesEvent | undefined, done: DoneEvent): AnswerResponse {
  const { type: _type, ...rest } = done;
  return {
    ...rest,
    sources: sources?.sources ?? [],
    ...(sources?.documents ? { documents: sources.documents } : {}),
  };
}

/** The body of an answer gathered from its events. */
export async function collectAnswer(events: AsyncIterable<AnswerEvent>): Promise<AnswerResponse> {
  let sources: SourcesEvent | undefined;
  for await (const ev of events) {
    if (ev.type === "sources") sources = ev;
    if (ev.type === "done") return answerResponse(sources, ev);
  }
  throw new Error("the answer ended without a done event");
}

export interface ErrorBody {
  error: { code: string; message: string; requestId?: string; [detail: string]: unknown };
}

// ---- questions --------------------------------------------------------------------------------

/** One earlier turn of the conversation. */
export const HistoryTurn = Type.Object(
  { role: Type.Union([Type.Literal("user"), Type.Literal("assistant")]), text: Type.String() },
  {
    $id: "HistoryTurn",
    additionalProperties: false,
    // The shape is one message: a wrong role or a text that is not a string is the same mistake.
    "x-message": { "*": '{name} must be {role: "user" | "assistant", text: string}' },
  },
);
export type HistoryTurn = Static<typeof HistoryTurn>;

/** A date range, inclusive at both ends. */
export const DateFilter = Type.Object(
  {
    /** Inclusive, YYYY-MM-DD. */
    from: Type.Optional(isoDate("BAD_FILTER", { description: "inclusive, YYYY-MM-DD" })),
    /** Inclusive, YYYY-MM-DD. */
    to: Type.Optional(isoDate("BAD_FILTER", { description: "inclusive, YYYY-MM-DD" })),
  },
  {
    $id: "DateFilter",
    additionalProperties: false,
    "x-member": "key",
    "x-ordered": ["from", "to"],
    "x-codes": { "x-ordered": "BAD_FILTER" },
  },
);
export type DateFilter = Static<typeof DateFilter>;

/** The day a question is asked as of. */
export function asOfSchema(staleCorpusDays: number) {
  return isoDate("BAD_AS_OF", {
    $id: "AsOf",
    // The same words wherever asOf sits (`citeline.asOf` too): the field has one name.
    message: "asOf must be a date written YYYY-MM-DD",
    description: `the day the question is asked as of (YYYY-MM-DD): "this week", "yesterday", "latest" are relative to it; documents dated after it are left out and documents near it lifted. Default: today, or the newest document's day when that is more than ${staleCorpusDays} days ago. Error BAD_AS_OF when not a date.`,
  });
}

/** The question itself, trimmed. */
export function questionSchema(limits: RequestLimits) {
  return Type.String({
    minLength: 1,
    maxLength: limits.maxQuestionChars,
    "x-trim": true,
    "x-codes": { minLength: "QUESTION_EMPTY", maxLength: "QUESTION_TOO_LONG" },
  });
}

/** How many passages to retrieve. */
export function kSchema(limits: RequestLimits) {
  return Type.Integer({
    minimum: 1,
    maximum: limits.maxK,
    "x-codes": { minimum: "K_OUT_OF_RANGE", maximum: "K_OUT_OF_RANGE" },
  });
}

/** The conversation so far, bounded in turns and in characters. */
export function historySchema(limits: RequestLimits) {
  return Type.Array(HistoryTurn, {
    maxItems: limits.maxHistoryTurns,
    "x-max-total-length": { property: "text", limit: limits.maxHistoryChars },
    "x-codes": { maxItems: "HISTORY_TOO_LONG", "x-max-total-length": "HISTORY_TOO_LONG" },
    "x-message": {
      maxItems: "{name} has {count} turns; the limit is {limit}",
      "x-max-total-length": "{name} is {count} characters; the limit is {limit}",
    },
  });
}

/** The fields of a question, as every transport accepts them (in this order in messages). */
export function askFields(limits: RequestLimits & { staleCorpusDays: number }) {
  return {
    question: questionSchema(limits),
    history: Type.Optional(historySchema(limits)),
    k: Type.Optional(kSchema(limits)),
    filters: Type.Optional(DateFilter),
    asOf: Type.Optional(asOfSchema(limits.staleCorpusDays)),
  };
}

/** Body of `POST /api/answer`. */
export function askRequestSchema(limits: RequestLimits & { staleCorpusDays: number }) {
  return Type.Object(askFields(limits), {
    $id: "AskRequest",
    additionalProperties: false,
    description:
      "Unknown fields are refused with 400 UNKNOWN_FIELD naming the field, so a typo (`filter`, `form`) is never silently ignored. An empty body is 400 BODY_EMPTY. A field that is null counts as absent.",
    "x-message": { type: "the body must be a JSON object with a question" },
  });
}
export type AskRequest = Static<ReturnType<typeof askRequestSchema>>;

// ---- the WebSocket ----------------------------------------------------------------------------

const ID_MESSAGE = "id must be 1 to 128 letters, digits, '_', '-', '.' or ':'";

/** A client-chosen message id: echoed back in frames, so it is bounded and plain. */
export const MessageId = Type.String({
  pattern: "^[\\w.:-]{1,128}$",
  "x-message": { required: ID_MESSAGE, type: ID_MESSAGE, pattern: ID_MESSAGE },
});

/** Client → server: ask a question; its answer's frames carry the same id. */
export function askMessageSchema(limits: RequestLimits & { staleCorpusDays: number }) {
  return Type.Object(
    { type: Type.Literal("ask"), id: MessageId, ...askFields(limits) },
    { $id: "AskMessage", additionalProperties: false },
  );
}

/** Client → server: stop the question with this id; acknowledged by `cancelled`. */
export const CancelMessage = Type.Object(
  { type: Type.Literal("cancel"), id: MessageId },
  { $id: "CancelMessage", additionalProperties: false },
);

/** Client → server: the access token, when the connection was opened without one. */
export const AuthMessage = Type.Object(
  { type: Type.Literal("auth"), token: Type.String() },
  {
    $id: "AuthMessage",
    description: "A token that is missing or wrong is UNAUTHORIZED and closes the connection (4401).",
  },
);

/** Client → server WebSocket messages. */
export function clientMessageSchema(limits: RequestLimits & { staleCorpusDays: number }) {
  return Type.Union([askMessageSchema(limits), CancelMessage, AuthMessage], { $id: "ClientMessage" });
}
export type ClientMessage = Static<ReturnType<typeof clientMessageSchema>>;

/** An answer event as a frame: with the id of the question it answers. */
function framed<T extends TSchema & { properties: Record<string, TSchema> }>(event: T, id: string) {
  return Type.Object({ ...(event.properties as T["properties"]), id: Type.String() }, { $id: id });
}

/** Server → client WebSocket messages: an answer's events each carry the id of their question. */
export const ServerMessage = Type.Union(
  [
    Type.Object(
      { type: Type.Literal("ready"), auth: Type.Union([Type.Literal("ok"), Type.Literal("required")]) },
      { $id: "ReadyFrame" },
    ),
    framed(SourcesEvent, "SourcesFrame"),
    framed(DeltaEvent, "DeltaFrame"),
    framed(ExtractiveEvent, "ExtractiveFrame"),
    framed(GeneratedEvent, "GeneratedFrame"),
    framed(WithheldEvent, "WithheldFrame"),
    framed(DoneEvent, "DoneFrame"),
    /** The acknowledgement of a `cancel`: the question with this id ends here. */
    Type.Object({ type: Type.Literal("cancelled"), id: Type.String() }, { $id: "CancelledFrame" }),
    Type.Object(
      {
        type: Type.Literal("error"),
        id: Type.Optional(Type.String()),
        code: Type.String(),
        message: Type.String(),
        retryAfterS: Type.Optional(Type.Number()),
      },
      { $id: "ErrorFrame" },
    ),
  ],
  { $id: "ServerMessage" },
);
export type ServerMessage = Static<typeof ServerMessage>;

// ---- other responses --------------------------------------------------------------------------

const Integer = (description?: string) => Type.Integer(description ? { description } : {});

/** `GET /api/health` */
export const Health = Type.Object(
  {
    /** "degraded": the server runs but its search backend does not answer (see `backend`). */
    status: Type.Union([Type.Literal("ok"), Type.Literal("degraded")], {
      description: "degraded: the server runs but its search backend does not answer (see backend)",
    }),
    /** The search backend and whether it answers; `code` and `message` say why not. */
    backend: Type.Object({
      name: Type.String(),
      ok: Type.Boolean(),
      code: Type.Optional(Type.String()),
      message: Type.Optional(Type.String()),
    }),
    model: Type.String(),
    documents: Integer(),
    chunks: Integer(),
    builtAt: Type.String(),
    /** Oldest and newest document dates, when the corpus has dates. */
    dateRange: Type.Union([
      Type.Object({ from: Type.String({ format: "date" }), to: Type.String({ format: "date" }) }),
      Type.Null(),
    ]),
    /** A few questions made from the corpus titles, for the empty state. */
    examples: Type.Array(Type.String(), { description: "starter questions the index is known to answer" }),
    authRequired: Type.Boolean(),
    /** Request limits, so a client can check input before sending it. */
    limits: Type.Object(
      {
        maxQuestionChars: Integer(),
        maxHistoryTurns: Integer(),
        maxHistoryChars: Integer(),
        maxK: Integer(),
      },
      { description: "request limits, so a client can check input before sending it" },
    ),
  },
  { $id: "Health" },
);
export type Health = Static<typeof Health>;

/** `GET /api/health` without a valid token, when one is required. */
export const HealthLocked = Type.Object(
  { status: Type.Literal("ok"), authRequired: Type.Literal(true) },
  { $id: "HealthLocked", description: "without a valid token, when one is required" },
);
export type HealthLocked = Static<typeof HealthLocked>;

/** How one retriever ranked a passage, or null when it did not return it. */
const RetrieverRank = Type.Union([
  Type.Object({ rank: Integer("1-based"), score: Type.Number() }),
  Type.Null(),
]);

/** A passage of `GET /api/search`: a source with each retriever's rank and score. */
export const SearchHit = Type.Object(
  { ...SourceRef.properties, dense: RetrieverRank, lexical: RetrieverRank },
  { $id: "SearchHit" },
);
export type SearchHit = Static<typeof SearchHit>;

/** `GET /api/search` */
export const SearchResult = Type.Object(
  {
    query: Type.String(),
    hits: Type.Array(SearchHit),
    /** Set when the date filters hold no document, so there was nothing to search. */
    notFoundReason: Type.Optional(NotFoundReason),
    timings: Type.Object({ retrievalMs: Type.Number() }),
  },
  { $id: "SearchResult" },
);
export type SearchResult = Static<typeof SearchResult>;

/** `GET /api/documents/:id` */
export const DocumentBody = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    date: Type.Optional(Type.String({ format: "date" })),
    url: Type.Optional(Type.String()),
    source: Type.String(),
    text: Type.String({ description: "the text every offset of a source or citation refers to" }),
    /** Paginated documents (PDF): the offset in `text` where each page starts. */
    pages: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0 }), {
        description: "paginated documents (PDF): the offset in text where each page starts",
      }),
    ),
  },
  { $id: "DocumentBody" },
);
export type DocumentBody = Static<typeof DocumentBody>;

/** An indexed document of a corpus file, as `GET /api/documents` lists it. */
export const IndexedDocument = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    date: Type.Optional(Type.String({ format: "date" })),
    pages: Type.Optional(
      Type.Integer({ minimum: 1, description: "paginated documents (PDF): how many pages" }),
    ),
    passages: Type.Integer({ minimum: 0, description: "how many passages it was cut into" }),
  },
  { $id: "IndexedDocument" },
);
export type IndexedDocument = Static<typeof IndexedDocument>;

/**
 * Where a corpus file stands: `indexed` (its documents are answerable), `indexing` (a build that
 * will read it runs or is about to), `failed` (it gave no document; `problems` says why),
 * `not_indexed` (no build has read it since it changed, e.g. with the folder watcher off) or
 * `removed` (gone from the folder; its documents are answerable until the next build).
 */
export const CorpusFileStatus = Type.Union([
  Type.Literal("indexed"),
  Type.Literal("indexing"),
  Type.Literal("failed"),
  Type.Literal("not_indexed"),
  Type.Literal("removed"),
]);
export type CorpusFileStatus = Static<typeof CorpusFileStatus>;

const Problem = Type.Object({ code: Type.String(), message: Type.String() });

/** One file of the corpus folder with what the index holds of it. */
export const CorpusFileEntry = Type.Object(
  {
    name: Type.String({
      description:
        "path relative to the corpus folder, `/`-separated: what `DELETE /api/documents?name=` takes",
    }),
    bytes: Type.Optional(Type.Integer({ minimum: 0, description: "absent for a removed file" })),
    modified: Type.Optional(Type.String({ format: "date-time" })),
    status: CorpusFileStatus,
    documents: Type.Array(IndexedDocument),
    problems: Type.Array(Problem, {
      description: "why it, or some of its records, could not be indexed (the last build's report)",
    }),
  },
  { $id: "CorpusFile" },
);
export type CorpusFileEntry = Static<typeof CorpusFileEntry>;

/** `GET /api/documents` */
export const DocumentList = Type.Object(
  {
    files: Type.Array(CorpusFileEntry),
    indexing: Type.Object({
      busy: Type.Boolean({ description: "a build runs or is waiting to run" }),
      progress: Type.Optional(
        Type.Object(
          {
            phase: Type.Union([Type.Literal("read"), Type.Literal("embed")]),
            done: Type.Integer(),
            total: Type.Integer(),
          },
          { description: "the running build: `read` counts files, `embed` passages" },
        ),
      ),
      error: Type.Optional(
        Type.Object(
          { code: Type.String(), message: Type.String() },
          { description: "the last build's failure, e.g. INDEX_LOCKED while `npm run index` ran" },
        ),
      ),
    }),
    limits: Type.Object({
      maxUploadBytes: Type.Integer(),
      maxFiles: Type.Integer(),
      extensions: Type.Array(Type.String()),
    }),
  },
  { $id: "DocumentList" },
);
export type DocumentList = Static<typeof DocumentList>;

/** `POST /api/documents`: 202, or 201 with `wait=true` once the build that read it is served. */
export const UploadResult = Type.Object(
  {
    name: Type.String({
      description: "the name the file was saved under (cleaned: no folders, no control characters)",
    }),
    bytes: Type.Integer(),
    replaced: Type.Boolean({ description: "a file of that name was there and was replaced" }),
    file: Type.Optional(CorpusFileEntry),
  },
  { $id: "UploadResult" },
);
export type UploadResult = Static<typeof UploadResult>;

/** `DELETE /api/documents` */
export const RemoveResult = Type.Object(
  { name: Type.String(), removed: Type.Literal(true) },
  { $id: "RemoveResult" },
);
export type RemoveResult = Static<typeof RemoveResult>;
