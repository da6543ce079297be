/**
 * The OpenAPI description served at /api/openapi.json. Every request and answer schema in it is
 * published from the schema the server checks or writes (server/schemas.ts, core/protocol.ts),
 * not written a second time here; a test checks the two are equal.
 */
import { isDeepStrictEqual } from "node:util";
import { ERROR_CODES } from "../core/errors.ts";
import {
  AnswerResponse,
  DocumentBody,
  DocumentList,
  Health,
  HealthLocked,
  RemoveResult,
  SearchResult,
  ServerMessage,
  UploadResult,
} from "../core/protocol.ts";
import { ChatCompletion, ChatCompletionChunk, ModelList } from "./openai-chat.ts";
import type { RequestSchemas } from "./schemas.ts";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ "application/json": { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref("Error")) });

/**
 * Publishes schemas as the document shows them: as plain JSON, each named shape (`$id`) moved to
 * `components` once and referenced where it is used.
 */
export function publisher(): { publish(schema: unknown): unknown; components: Record<string, unknown> } {
  const components: Record<string, unknown> = {};
  const hoist = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(hoist);
    if (typeof node !== "object" || node === null) return node;
    const { $id, ...rest } = node as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, hoist(v)]));
    if (typeof $id !== "string") return body;
    if (components[$id] !== undefined && !isDeepStrictEqual(components[$id], body)) {
      throw new Error(`two different schemas are named ${$id}`);
    }
    components[$id] = body;
    return ref($id);
  };
  return { publish: (schema) => hoist(JSON.parse(JSON.stringify(schema))), components };
}

export function openApiDocument(schemas: RequestSchemas): Record<string, unknown> {
  const { publish, components } = publisher();
  const search = schemas.search;
  const parameters = Object.entries(search.properties).map(([name, schema]) => ({
    name,
    in: "query",
    ...((search.required as string[] | undefined)?.includes(name) ? { required: true } : {}),
    schema: publish(schema),
  }));
  const queryParameters = (schema: {
    properties: Record<string, unknown>;
    required?: string[] | undefined;
  }) =>
    Object.entries(schema.properties).map(([name, p]) => ({
      name,
      in: "query",
      ...(schema.required?.includes(name) ? { required: true } : {}),
      schema: publish(p),
    }));
  const fileParameters = queryParameters(schemas.documentsFile);
  const paths = {
    "/api/health": {
      get: {
        summary: "Index and model status",
        responses: {
          "200": {
            description: "status; only {status, authRequired} without a valid token when one is required",
            content: json({ oneOf: [publish(Health), publish(HealthLocked)] }),
          },
        },
      },
    },
    "/api/answer": {
      post: {
        summary: "Answer a question with citations",
        description:
          "JSON by default. With `Accept: text/event-stream` the same answer streams as Server-Sent Events: `sources`, `delta`…, `done`, or `error`. With a language model configured, the extractive answer still comes first: `sources`, `delta`…, `extractive` (the extractive answer whole, with its citations and the model's name), then `generated` (one verified sentence with its citations) and `withheld` (a sentence that failed verification, by reason only) as the model writes, then `done` (with `generated`, the generated answer, beside the extractive one).",
        security: [{ bearer: [] }, {}],
        requestBody: { required: true, content: json(publish(schemas.answer)) },
        responses: {
          "200": {
            description: "the answer",
            content: {
              ...json(publish(AnswerResponse)),
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
        parameters,
        responses: {
          "200": { description: "passages", content: json(publish(SearchResult)) },
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
          "200": { description: "the document", content: json(publish(DocumentBody)) },
          "401": errorResponse("access token required"),
          "404": errorResponse("no such document"),
        },
      },
    },
    "/api/documents": {
      get: {
        summary: "The corpus folder's files, each with its status and indexed documents",
        description:
          "Every file a build would read (sub-folders included, hidden files left out), with `status` (indexed, indexing, failed, not_indexed, removed), its documents (title, date, pages, passages) and the problems the last build found in it; `indexing` says whether a build runs and how far it is; `limits` are the upload limits. The running server answers from the published index until a build publishes the next. Takes no parameter (UNKNOWN_FIELD).",
        security: [{ bearer: [] }, {}],
        responses: {
          "200": { description: "the files", content: json(publish(DocumentList)) },
          "400": errorResponse("UNKNOWN_FIELD: a parameter"),
          "401": errorResponse("access token required"),
        },
      },
      post: {
        summary: "Add a file to the corpus folder and index it",
        description:
          "The body is the file's bytes with Content-Type: application/octet-stream (anything else is 415 UNSUPPORTED_MEDIA_TYPE, which also keeps pages of other sites from posting files); `name` is its file name. Only the name's last path segment is kept, cleaned of control characters and of `<>:\"|?*`, without leading dots (nothing left: 400 FILE_NAME_INVALID); a file of that name is replaced. The extension must be one the corpus reads (415 FILE_UNSUPPORTED). The same incremental, atomic build as `npm run index` follows; a file that cannot be read is listed as failed with the reason, and the rest is indexed. 202 at once, or with `wait=true` 201 once the build that read it is served.",
        security: [{ bearer: [] }, {}],
        parameters: fileParameters,
        requestBody: {
          required: true,
          content: {
            "application/octet-stream": {
              schema: { type: "string", format: "binary", description: "at most CITELINE_UPLOAD_MAX_BYTES" },
            },
          },
        },
        responses: {
          "201": { description: "saved and served (wait=true)", content: json(publish(UploadResult)) },
          "202": { description: "saved; the index is being updated", content: json(publish(UploadResult)) },
          "400": errorResponse("FILE_NAME_INVALID, BODY_EMPTY, a missing name or an unknown parameter"),
          "401": errorResponse("access token required"),
          "409": errorResponse(
            "CORPUS_FULL: the folder holds CITELINE_UPLOAD_MAX_FILES files; INDEX_LOCKED: another build runs (wait=true)",
          ),
          "413": errorResponse("UPLOAD_TOO_LARGE: larger than CITELINE_UPLOAD_MAX_BYTES"),
          "415": errorResponse("FILE_UNSUPPORTED, or a body that is not application/octet-stream"),
          "503": errorResponse("CORPUS_READ_ONLY, or shutting down"),
        },
      },
      delete: {
        summary: "Delete a file from the corpus folder, and its documents from the index",
        description:
          "`name` is a file's `name` as `GET /api/documents` lists it; no other file can be named (404 NOT_FOUND). Deleting the last file empties the index. 202 at once, or with `wait=true` 200 once the index without it is served.",
        security: [{ bearer: [] }, {}],
        parameters: fileParameters,
        responses: {
          "200": { description: "deleted and served (wait=true)", content: json(publish(RemoveResult)) },
          "202": { description: "deleted; the index is being updated", content: json(publish(RemoveResult)) },
          "400": errorResponse("a missing name or an unknown parameter"),
          "401": errorResponse("access token required"),
          "404": errorResponse("no such file in the corpus folder"),
          "503": errorResponse("CORPUS_READ_ONLY, or shutting down"),
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
          "200": { description: "the one model", content: json(publish(ModelList)) },
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
          content: json(publish(schemas.chat)),
        },
        responses: {
          "200": {
            description:
              "a chat.completion, or with `stream: true` chat.completion.chunk events ending in `data: [DONE]`",
            content: {
              ...json(publish(ChatCompletion)),
              // OpenAPI 3.1 has no schema for the events of a stream: each `data:` line is one of these.
              "text/event-stream": {
                schema: { type: "string" },
                "x-event-schema": publish(ChatCompletionChunk),
              },
            },
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
  };
  // Published for the WebSocket at /ws, which OpenAPI has no operation for.
  publish(schemas.clientMessage);
  publish(ServerMessage);
  return {
    openapi: "3.1.0",
    info: {
      title: "citeline",
      version: "0.1.0",
      description:
        "Question answering over a local corpus. Every answer sentence is taken verbatim from a retrieved passage and cites it. The WebSocket at /ws carries the same answers: the client sends the messages of the ClientMessage schema, the server the frames of ServerMessage (`ready`, then per question `sources`, `delta`…, `done`, each with the question's id; with a language model `extractive`, then `generated` and `withheld` frames, come between the deltas and `done`); a `cancel` is acknowledged by a `cancelled` frame with the question's id, or an `error` frame with code UNKNOWN_ID when no question with that id is in flight. Unknown /api paths answer 404 with the Error shape. The `x-codes` keyword of a schema names the error code each of its constraints yields (BAD_REQUEST when absent).",
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
        ...components,
      },
    },
    paths,
  };
}
