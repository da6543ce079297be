/** The OpenAPI description served at /api/openapi.json; a test checks it against the routes. */
import type { Config } from "../core/config.ts";
import { ERROR_CODES } from "../core/errors.ts";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref("Error")) });

export function openApiDocument(config: Config): Record<string, unknown> {
  const dateFilter = {
    type: "object",
    additionalProperties: false,
    properties: {
      from: { type: "string", format: "date", description: "inclusive, YYYY-MM-DD" },
      to: { type: "string", format: "date", description: "inclusive, YYYY-MM-DD" },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "citeline",
      version: "0.1.0",
      description:
        "Question answering over a local corpus. Every answer sentence is taken verbatim from a retrieved passage and cites it. The WebSocket at /ws carries the same answers (`sources`, `delta`, `done`); a `cancel` is acknowledged by a `cancelled` frame with the question's id, or an `error` frame with code UNKNOWN_ID when no question with that id is in flight. Unknown /api paths answer 404 with the Error shape.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "only when CITELINE_TOKEN is set" },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message"],
              properties: {
                code: { type: "string", enum: Object.keys(ERROR_CODES) },
                message: { type: "string" },
                requestId: { type: "string" },
                retryAfterS: { type: "number" },
                limit: { type: "number" },
                field: { type: "string", description: "with UNKNOWN_FIELD: the field that is not known" },
              },
            },
          },
        },
        HistoryTurn: {
          type: "object",
          required: ["role", "text"],
          properties: { role: { enum: ["user", "assistant"] }, text: { type: "string" } },
        },
        DateFilter: dateFilter,
        AskRequest: {
          type: "object",
          description:
            "Unknown fields are refused with 400 UNKNOWN_FIELD naming the field, so a typo (`filter`, `form`) is never silently ignored. An empty body is 400 BODY_EMPTY.",
          additionalProperties: false,
          required: ["question"],
          properties: {
            question: { type: "string", minLength: 1, maxLength: config.maxQuestionChars },
            history: { type: "array", maxItems: config.maxHistoryTurns, items: ref("HistoryTurn") },
            k: { type: "integer", minimum: 1, maximum: config.maxK },
            filters: ref("DateFilter"),
            asOf: ref("AsOf"),
          },
        },
        AsOf: {
          type: "string",
          format: "date",
          description: `the day the question is asked as of (YYYY-MM-DD): "this week", "yesterday", "latest" are relative to it; documents dated after it are left out and documents near it lifted. Default: today, or the newest document's day when that is more than ${config.staleCorpusDays} days ago. Error BAD_AS_OF when not a date.`,
        },
        SourceRef: {
          type: "object",
          required: ["n", "docId", "chunkId", "title", "source", "start", "end", "snippet", "score"],
          properties: {
            n: { type: "integer", minimum: 1 },
            docId: { type: "string" },
            chunkId: { type: "string" },
            title: { type: "string" },
            date: { type: "string", format: "date" },
            url: { type: "string" },
            source: { type: "string" },
            start: { type: "integer" },
            end: { type: "integer" },
            page: {
              type: "integer",
              minimum: 1,
              description: "paginated documents (PDF): the page the passage starts on",
            },
            snippet: { type: "string" },
            score: { type: "number" },
          },
        },
        SourceGroup: {
          type: "object",
          description: "a document among the sources; its passages are the sources numbered ns",
          required: ["docId", "title", "source", "ns"],
          properties: {
            docId: { type: "string" },
            title: { type: "string" },
            date: { type: "string", format: "date" },
            url: { type: "string" },
            source: { type: "string" },
            ns: { type: "array", items: { type: "integer", minimum: 1 } },
          },
        },
        Citation: {
          type: "object",
          required: ["n", "docId", "chunkId", "start", "end", "text", "answerStart", "answerEnd"],
          properties: {
            n: { type: "integer" },
            docId: { type: "string" },
            chunkId: { type: "string" },
            start: { type: "integer", description: "offset of the cited sentence in the document text" },
            end: { type: "integer" },
            page: {
              type: "integer",
              minimum: 1,
              description: "paginated documents (PDF): the page the sentence starts on",
            },
            text: { type: "string" },
            answerStart: { type: "integer", description: "offset of the sentence in the answer" },
            answerEnd: { type: "integer" },
          },
        },
        ShortAnswer: {
          type: "object",
          description:
            "the exact words answering a question that asks for a name, place, date, number or quantity: a verbatim span of the first cited sentence",
          required: ["text", "docId", "start", "end"],
          properties: {
            text: { type: "string", description: "verbatim: the document text from start to end" },
            docId: { type: "string" },
            start: { type: "integer", description: "offset in the document text" },
            end: { type: "integer" },
          },
        },
        Timings: {
          type: "object",
          properties: {
            retrievalMs: { type: "number" },
            firstDeltaMs: { type: "number" },
            totalMs: { type: "number" },
          },
        },
        AnswerResponse: {
          type: "object",
          required: ["answer", "citations", "sources", "notFound", "query", "timings"],
          properties: {
            answer: { type: "string" },
            citations: { type: "array", items: ref("Citation") },
            sources: { type: "array", items: ref("SourceRef") },
            documents: { type: "array", items: ref("SourceGroup") },
            notFound: { type: "boolean" },
            notFoundReason: {
              enum: ["NO_DOCUMENTS_IN_RANGE", "NO_DOCUMENTS_BEFORE_AS_OF"],
              description:
                "set when the answer is not found because no document falls in the date filters (then `sources` is empty)",
            },
            shortAnswer: ref("ShortAnswer"),
            query: { type: "string" },
            timings: ref("Timings"),
            generation: ref("Generation"),
          },
        },
        Generation: {
          type: "object",
          description:
            "Present when a language model is configured: who wrote the answer. For a generated sentence, each citation's text/start/end is the source sentence that supports it and answerStart/answerEnd the generated sentence.",
          required: ["mode", "provider", "model", "verified", "rejected"],
          properties: {
            mode: { enum: ["generated", "extractive"] },
            provider: { enum: ["openai", "llama"] },
            model: { type: "string" },
            verified: { type: "integer", description: "model sentences that passed verification" },
            rejected: { type: "integer", description: "model sentences withheld because they failed it" },
            fallback: { enum: ["no_verified_sentence", "timeout", "provider_error"] },
            stopped: { enum: ["timeout", "provider_error"] },
            firstTokenMs: { type: "number" },
          },
        },
      },
    },
    paths: {
      "/api/health": {
        get: {
          summary: "Index and model status",
          responses: { "200": { description: "status", content: json({ type: "object" }) } },
        },
      },
      "/api/answer": {
        post: {
          summary: "Answer a question with citations",
          description:
            "JSON by default. With `Accept: text/event-stream` the same answer streams as Server-Sent Events: `sources`, `delta`…, `done`, or `error`.",
          security: [{ bearer: [] }, {}],
          requestBody: { required: true, content: json(ref("AskRequest")) },
          responses: {
            "200": {
              description: "the answer",
              content: {
                ...json(ref("AnswerResponse")),
                "text/event-stream": { schema: { type: "string" } },
              },
            },
            "400": errorResponse("invalid request"),
            "401": errorResponse("access token required"),
            "413": errorResponse("body too large"),
            "429": errorResponse("rate limited; see Retry-After"),
            "503": errorResponse("busy or shutting down; see Retry-After"),
          },
        },
      },
      "/api/search": {
        get: {
          summary: "Ranked passages with each retriever's rank and score",
          description:
            "Parameters other than these are refused with 400 UNKNOWN_FIELD. When `from`/`to` hold no document, `hits` is empty and `notFoundReason` is NO_DOCUMENTS_IN_RANGE.",
          security: [{ bearer: [] }, {}],
          parameters: [
            { name: "q", in: "query", required: true, schema: { type: "string" } },
            { name: "k", in: "query", schema: { type: "integer", minimum: 1, maximum: config.maxK } },
            { name: "mode", in: "query", schema: { enum: ["hybrid", "dense", "lexical"] } },
            { name: "from", in: "query", schema: { type: "string", format: "date" } },
            { name: "to", in: "query", schema: { type: "string", format: "date" } },
            { name: "asOf", in: "query", schema: ref("AsOf") },
          ],
          responses: {
            "200": { description: "passages", content: json({ type: "object" }) },
            "400": errorResponse("invalid request"),
            "401": errorResponse("access token required"),
            "429": errorResponse("rate limited"),
          },
        },
      },
      "/api/documents/{id}": {
        get: {
          summary: "A document's text and metadata",
          security: [{ bearer: [] }, {}],
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: {
            "200": { description: "the document", content: json({ type: "object" }) },
            "401": errorResponse("access token required"),
            "404": errorResponse("no such document"),
          },
        },
      },
      "/api/openapi.json": {
        get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } },
      },
      "/v1/models": {
        get: {
          summary: "OpenAI-compatible: the one model, `citeline`",
          security: [{ bearer: [] }, {}],
          responses: {
            "200": {
              description: '{object: "list", data: [{id: "citeline", object: "model", created, owned_by}]}',
            },
            "401": errorResponse("access token required (as the API key)"),
          },
        },
      },
      "/v1/chat/completions": {
        post: {
          summary: "OpenAI-compatible chat completions, answered from the corpus by the same engine",
          description:
            "The last user message is the question, earlier user and assistant messages the conversation (system and developer messages are skipped); `model` must be `citeline`. Sampling fields (temperature, top_p, max_tokens, stop, seed, ...) are accepted and ignored: the answer is quoted. Other fields (tools, functions) are refused with 400 UNKNOWN_FIELD. The content is the answer with its `[n]` markers, then a blank line and `Sources:` (or `Closest passages:` when not found) with one `[n] title (date)` line per source. The extra field `citeline` holds {answer, citations, sources, documents, notFound, notFoundReason?, shortAnswer?, timings}, as /api/answer gives them; when streamed, on the chunk with `finish_reason`. The request may carry `citeline: {k?, filters?, asOf?}`. The access token is the Bearer API key.",
          security: [{ bearer: [] }, {}],
          requestBody: {
            required: true,
            content: json({
              type: "object",
              required: ["model", "messages"],
              properties: {
                model: { const: "citeline" },
                messages: {
                  type: "array",
                  minItems: 1,
                  items: {
                    type: "object",
                    additionalProperties: false,
                    required: ["role", "content"],
                    properties: {
                      role: { enum: ["system", "developer", "user", "assistant"] },
                      content: { oneOf: [{ type: "string" }, { type: "array", items: { type: "object" } }] },
                      name: { type: "string" },
                    },
                  },
                },
                stream: { type: "boolean" },
                stream_options: { type: "object", properties: { include_usage: { type: "boolean" } } },
                n: { const: 1 },
                citeline: {
                  type: "object",
                  additionalProperties: false,
                  properties: {
                    k: { type: "integer", minimum: 1, maximum: config.maxK },
                    filters: ref("DateFilter"),
                    asOf: ref("AsOf"),
                  },
                },
              },
            }),
          },
          responses: {
            "200": {
              description:
                "a chat.completion, or with `stream: true` chat.completion.chunk events ending in `data: [DONE]`",
              content: { ...json({ type: "object" }), "text/event-stream": { schema: { type: "string" } } },
            },
            "400": errorResponse("invalid request"),
            "401": errorResponse("access token required (as the API key)"),
            "404": errorResponse("MODEL_NOT_FOUND: a model other than citeline"),
            "415": errorResponse("not JSON, or a charset other than UTF-8"),
            "429": errorResponse("rate limited; see Retry-After"),
            "503": errorResponse("busy or shutting down; see Retry-After"),
          },
        },
      },
    },
  };
}
