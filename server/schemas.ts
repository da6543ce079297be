/**
 * The schema of every request the server takes, built once from its limits: the validator runs
 * on them (server/schema-check.ts) and the OpenAPI document publishes them (server/openapi.ts).
 * Shapes shared with the engine and the page live in core/protocol.ts; the ones here belong to
 * one route each.
 */
import { Type } from "@sinclair/typebox";
import {
  askMessageSchema,
  askRequestSchema,
  asOfSchema,
  CancelMessage,
  clientMessageSchema,
  DateFilter,
  historySchema,
  kSchema,
  questionSchema,
  type RequestLimits,
} from "../core/protocol.ts";

/** What the request schemas depend on. */
export type SchemaLimits = RequestLimits & { staleCorpusDays: number };

/** The one model the OpenAI-compatible API offers: the corpus, answered by citeline's engine. */
export const MODEL_ID = "citeline";

const dateParameter = () =>
  Type.String({
    format: "date",
    "x-codes": { type: "BAD_FILTER", format: "BAD_FILTER" },
    "x-message": {
      type: "{name} must be a date written YYYY-MM-DD",
      format: "{name} must be a date written YYYY-MM-DD",
    },
  });

/**
 * The query string of `GET /api/search`, with the codes and messages JSON gets for the same
 * fields. A query string has no types: the route reads `k` as the number its text spells first.
 */
export function searchQuerySchema(limits: SchemaLimits) {
  return Type.Object(
    {
      q: questionSchema(limits),
      k: Type.Optional(kSchema(limits)),
      mode: Type.Optional(
        Type.Union([Type.Literal("hybrid"), Type.Literal("dense"), Type.Literal("lexical")]),
      ),
      from: Type.Optional(dateParameter()),
      to: Type.Optional(dateParameter()),
      asOf: Type.Optional(asOfSchema(limits.staleCorpusDays)),
    },
    {
      additionalProperties: false,
      "x-member": "parameter",
      "x-ordered": ["from", "to"],
      "x-codes": { "x-ordered": "BAD_FILTER" },
    },
  );
}

const NAME = "{name} is required: the file's name, as in ?name=report.pdf";

/**
 * The query string of `POST` and `DELETE /api/documents`: the file's name (cleaned before it is
 * used, see ingest/upload-name.ts) and whether to answer only once the index is updated.
 */
export const fileQuerySchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 1024,
      "x-message": {
        required: NAME,
        minLength: NAME,
        type: NAME,
        maxLength: "{name} is {count} characters; the limit is {limit}",
      },
    }),
    wait: Type.Optional(
      Type.Union([Type.Literal("true"), Type.Literal("false")], {
        description: "true: answer once the index with the change is served",
      }),
    ),
  },
  { additionalProperties: false, "x-member": "parameter" },
);

/** The query string of `GET /api/documents`: none. */
export const listQuerySchema = Type.Object({}, { additionalProperties: false, "x-member": "parameter" });

const MESSAGES = "{name} must be a non-empty array of {role, content}";
const ROLE = "{name} must be system, developer, user or assistant (tools are not supported)";
const CONTENT = "{name} must be a string or an array of text parts";
const IGNORED = { description: "accepted and ignored: the answer is quoted from the documents, not sampled" };

/** One message of a chat: system and developer messages are read and skipped. */
const ChatMessage = Type.Object(
  {
    role: Type.Union(
      [Type.Literal("system"), Type.Literal("developer"), Type.Literal("user"), Type.Literal("assistant")],
      { "x-message": { enum: ROLE, required: ROLE } },
    ),
    content: Type.Union(
      [
        Type.String(),
        Type.Array(
          Type.Object(
            { type: Type.Literal("text"), text: Type.String() },
            { "x-message": { "*": '{name} must be a text part {type: "text", text}' } },
          ),
        ),
      ],
      { "x-message": { type: CONTENT, required: CONTENT } },
    ),
    name: Type.Optional(Type.String()),
  },
  { additionalProperties: false, "x-message": { type: "{name} must be an object {role, content}" } },
);

/**
 * Body of `POST /v1/chat/completions`: the fields of the chat-completions API that are accepted.
 * Sampling settings are taken and ignored; anything else (tools, functions, audio, ...) is refused
 * by name, as the native API refuses unknown fields.
 */
export function chatRequestSchema(limits: SchemaLimits) {
  const model = `model is {quoted}; this server offers one model, "${MODEL_ID}" (GET /v1/models)`;
  return Type.Object(
    {
      model: Type.Literal(MODEL_ID, {
        "x-codes": { "*": "MODEL_NOT_FOUND" },
        "x-message": { "*": model },
      }),
      messages: Type.Array(ChatMessage, {
        minItems: 1,
        "x-message": { type: MESSAGES, minItems: MESSAGES, required: MESSAGES },
      }),
      stream: Type.Optional(Type.Boolean()),
      stream_options: Type.Optional(
        Type.Unknown({ description: "{include_usage: true} adds a last chunk with token counts (always 0)" }),
      ),
      temperature: Type.Optional(Type.Unknown(IGNORED)),
      top_p: Type.Optional(Type.Unknown(IGNORED)),
      max_tokens: Type.Optional(Type.Unknown(IGNORED)),
      max_completion_tokens: Type.Optional(Type.Unknown(IGNORED)),
      n: Type.Optional(
        Type.Literal(1, { "x-message": { "*": "{name} must be 1: there is one answer per question" } }),
      ),
      stop: Type.Optional(Type.Unknown(IGNORED)),
      user: Type.Optional(Type.Unknown(IGNORED)),
      presence_penalty: Type.Optional(Type.Unknown(IGNORED)),
      frequency_penalty: Type.Optional(Type.Unknown(IGNORED)),
      seed: Type.Optional(Type.Unknown(IGNORED)),
      citeline: Type.Optional(
        Type.Object(
          {
            k: Type.Optional(kSchema(limits)),
            filters: Type.Optional(DateFilter),
            asOf: Type.Optional(asOfSchema(limits.staleCorpusDays)),
          },
          { additionalProperties: false, description: "citeline's own options" },
        ),
      ),
    },
    {
      $id: "ChatCompletionRequest",
      additionalProperties: false,
      "x-message": { type: "the body must be a JSON object with model and messages" },
    },
  );
}

/** The schemas of every request, built once per server from its limits. */
export function requestSchemas(limits: SchemaLimits) {
  return {
    /** `POST /api/answer` */
    answer: askRequestSchema(limits),
    /** `GET /api/search`, its query string */
    search: searchQuerySchema(limits),
    /** `POST /v1/chat/completions` */
    chat: chatRequestSchema(limits),
    /** `GET /api/documents`, its query string */
    documentsList: listQuerySchema,
    /** `POST` and `DELETE /api/documents`, their query string */
    documentsFile: fileQuerySchema,
    /** The WebSocket at /ws, client to server: the union, and its branches as ws.ts checks them. */
    clientMessage: clientMessageSchema(limits),
    askMessage: askMessageSchema(limits),
    cancelMessage: CancelMessage,
    /** A question alone and a history alone, as the chat route checks the ones it maps. */
    question: questionSchema(limits),
    history: historySchema(limits),
  };
}
export type RequestSchemas = ReturnType<typeof requestSchemas>;
