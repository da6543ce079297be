/**
 * The OpenAPI document is published from the schemas the server checks requests with: each
 * route's schema in it equals the one validating that route, and a request breaking a constraint
 * is refused with the code the document names for that constraint.
 */
import { FormatRegistry, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isIsoDate } from "../../core/dates.ts";
import { AnswerResponse, DocumentBody, Health, SearchResult, ServerMessage } from "../../core/protocol.ts";
import { ChatCompletion, ChatCompletionChunk, ModelList } from "../../server/openai-chat.ts";
import { requestSchemas } from "../../server/schemas.ts";
import {
  ChatClient,
  createWorkspace,
  SEED_ID,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

type Json = Record<string, unknown>;

FormatRegistry.Set("date", isIsoDate);

let workspace: Workspace;
let running: TestServer;
let doc: Json;

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
  running = await startTestServer(workspace, { maxQuestionChars: 300, maxK: 12 });
  doc = (await (await fetch(`${running.url}/api/openapi.json`)).json()) as Json;
});
afterAll(async () => {
  await running?.close();
  await workspace.remove();
});

const components = () => (doc.components as { schemas: Record<string, unknown> }).schemas;

/** A published schema with every `$ref` replaced by the component it names. */
function resolved(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolved);
  if (typeof node !== "object" || node === null) return node;
  const ref = (node as Json).$ref;
  if (typeof ref === "string") {
    const name = ref.replace("#/components/schemas/", "");
    expect(components()).toHaveProperty(name);
    return resolved(components()[name]);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolved(v)]));
}

/** A schema as the server's validator holds it, as JSON and without the names ($id) the document hoists. */
function asValidated(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema), (key, value) => (key === "$id" ? undefined : value));
}

function operation(path: string, method: string): Json {
  return (doc.paths as Record<string, Record<string, Json>>)[path]![method]!;
}

const bodySchema = (path: string) =>
  resolved(
    (operation(path, "post").requestBody as { content: Record<string, { schema: unknown }> }).content[
      "application/json"
    ]!.schema,
  );

describe("the OpenAPI document", () => {
  it("publishes the query of the file routes of /api/documents as the schema that validates it", () => {
    const schemas = requestSchemas(running.config);
    for (const method of ["post", "delete"]) {
      const parameters = operation("/api/documents", method).parameters as Json[];
      expect(parameters.map((p) => [p.name, p.required === true])).toEqual([
        ["name", true],
        ["wait", false],
      ]);
      for (const p of parameters) {
        const name = p.name as keyof typeof schemas.documentsFile.properties;
        expect(resolved(p.schema)).toEqual(asValidated(schemas.documentsFile.properties[name]));
      }
    }
  });

  it("publishes each route's request schema as the schema that validates it", () => {
    const schemas = requestSchemas(running.config);
    expect(bodySchema("/api/answer")).toEqual(asValidated(schemas.answer));
    expect(bodySchema("/v1/chat/completions")).toEqual(asValidated(schemas.chat));
    const parameters = operation("/api/search", "get").parameters as Json[];
    expect(parameters.map((p) => p.name)).toEqual(Object.keys(schemas.search.properties));
    for (const p of parameters) {
      const name = p.name as keyof typeof schemas.search.properties;
      expect(resolved(p.schema)).toEqual(asValidated(schemas.search.properties[name]));
      expect(p.required === true).toBe(
        (schemas.search.required as string[] | undefined)?.includes(name) ?? false,
      );
    }
    expect(resolved(components().ClientMessage)).toEqual(asValidated(schemas.clientMessage));
    expect(resolved(components().ServerMessage)).toEqual(asValidated(ServerMessage));
  });

  it.each([
    ["GET /api/health", "/api/health", "/api/health", "get", Health, undefined],
    [
      "GET /api/search",
      "/api/search",
      "/api/search?q=Who%20is%20China%27s%20foreign%20minister%3F",
      "get",
      SearchResult,
      undefined,
    ],
    [
      "POST /api/answer",
      "/api/answer",
      "/api/answer",
      "post",
      AnswerResponse,
      { question: "Who is China's foreign minister?" },
    ],
    ["GET /v1/models", "/v1/models", "/v1/models", "get", ModelList, undefined],
    [
      "POST /v1/chat/completions",
      "/v1/chat/completions",
      "/v1/chat/completions",
      "post",
      ChatCompletion,
      { model: "citeline", messages: [{ role: "user", content: "Who is China's foreign minister?" }] },
    ],
    [
      "GET /api/documents/{id}",
      "/api/documents/{id}",
      `/api/documents/${SEED_ID}`,
      "get",
      DocumentBody,
      undefined,
    ],
  ] as [string, string, string, string, TSchema, Json | undefined][])(
    "publishes the body %s answers with, and the body fits it",
    async (_name, path, url, method, schema, body) => {
      const published = (operation(path, method).responses as Record<string, Json>)["200"]!;
      const content = (published.content as Record<string, { schema: Json }>)["application/json"]!.schema;
      const options = (content.oneOf as unknown[] | undefined) ?? [content];
      expect(options.map(resolved)).toContainEqual(asValidated(schema));
      const res = await fetch(`${running.url}${url}`, {
        method: method.toUpperCase(),
        ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
      });
      expect(res.status).toBe(200);
      const sent = await res.json();
      expect([...Value.Errors(schema, sent)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    },
  );

  it("publishes the chunks a streamed chat completion sends, and every chunk fits them", async () => {
    const responses = operation("/v1/chat/completions", "post").responses as Record<string, Json>;
    const media = (responses["200"]!.content as Record<string, Json>)["text/event-stream"]!;
    expect(resolved(media["x-event-schema"])).toEqual(asValidated(ChatCompletionChunk));
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "citeline",
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "Who is China's foreign minister?" }],
      }),
    });
    const data = (await res.text())
      .split("\n\n")
      .filter((block) => block.startsWith("data: "))
      .map((block) => block.slice("data: ".length));
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as unknown);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect([...Value.Errors(ChatCompletionChunk, c)].map((e) => `${e.path}: ${e.message}`)).toEqual([]);
    }
  });

  it("carries the server's limits into the schemas", () => {
    const ask = resolved(components().AskRequest) as { properties: Record<string, Json> };
    expect(ask.properties.question).toMatchObject({ maxLength: 300 });
    expect(ask.properties.k).toMatchObject({ maximum: 12 });
  });
});

/** The code the document names for `keyword` at the schema reached by `path` from `root`. */
function documentedCode(root: unknown, path: readonly string[], keyword: string): string {
  let node = resolved(root) as Json;
  for (const step of path) node = resolved(node[step]) as Json;
  const codes = (node["x-codes"] ?? {}) as Record<string, string>;
  return codes[keyword] ?? codes["*"] ?? "BAD_REQUEST";
}

describe("requests that break a published constraint", () => {
  const askCases: [string, Json, string[], string][] = [
    ["an over-long question", { question: "x".repeat(301) }, ["properties", "question"], "maxLength"],
    ["a blank question", { question: "   " }, ["properties", "question"], "minLength"],
    ["k above the maximum", { question: "Who?", k: 13 }, ["properties", "k"], "maximum"],
    ["k of 0", { question: "Who?", k: 0 }, ["properties", "k"], "minimum"],
    ["a fractional k", { question: "Who?", k: 1.5 }, ["properties", "k"], "type"],
    [
      "a filter date that is no day",
      { question: "Who?", filters: { from: "2024-02-30" } },
      ["properties", "filters", "properties", "from"],
      "format",
    ],
    [
      "a reversed date range",
      { question: "Who?", filters: { from: "2024-03-02", to: "2024-03-01" } },
      ["properties", "filters"],
      "x-ordered",
    ],
    ["asOf that is no date", { question: "Who?", asOf: "soon" }, ["properties", "asOf"], "format"],
    [
      "too many history turns",
      { question: "Who?", history: Array.from({ length: 21 }, () => ({ role: "user", text: "hi" })) },
      ["properties", "history"],
      "maxItems",
    ],
    [
      "a history turn with another role",
      { question: "Who?", history: [{ role: "system", text: "hi" }] },
      ["properties", "history", "items"],
      "*",
    ],
  ];

  it.each(askCases)(
    "refuses %s on POST /api/answer with the documented code",
    async (_n, body, path, keyword) => {
      const code = documentedCode(bodySchema("/api/answer"), path, keyword);
      const res = await fetch(`${running.url}/api/answer`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: Json }).error.code).toBe(code);
    },
  );

  it.each(askCases)(
    "refuses %s in a WebSocket ask with the documented code",
    async (_n, body, path, keyword) => {
      const code = documentedCode(components().AskMessage, path, keyword);
      const client = await ChatClient.connect(running.wsUrl);
      try {
        const { question, ...rest } = body;
        const frame = await client.ask("q1", question as string, rest);
        expect(frame).toMatchObject({ type: "error", id: "q1", code });
      } finally {
        client.close();
      }
    },
  );

  it("documents the codes themselves: the asserted ones are not all the default", () => {
    const codes = askCases.map(([, , path, keyword]) =>
      documentedCode(bodySchema("/api/answer"), path, keyword),
    );
    expect(new Set(codes)).toEqual(
      new Set([
        "QUESTION_TOO_LONG",
        "QUESTION_EMPTY",
        "K_OUT_OF_RANGE",
        "BAD_REQUEST",
        "BAD_FILTER",
        "BAD_AS_OF",
        "HISTORY_TOO_LONG",
      ]),
    );
  });

  it.each([
    ["another model", { model: "gpt-4o" }, ["properties", "model"], "const", 404],
    [
      "k of 0 among citeline's options",
      { citeline: { k: 0 } },
      ["properties", "citeline", "properties", "k"],
      "minimum",
      400,
    ],
    ["n of 2", { n: 2 }, ["properties", "n"], "const", 400],
  ] as const)(
    "refuses %s on POST /v1/chat/completions with the documented code",
    async (_n, extra, path, keyword, status) => {
      const code = documentedCode(bodySchema("/v1/chat/completions"), path, keyword);
      const res = await fetch(`${running.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "citeline", messages: [{ role: "user", content: "Who?" }], ...extra }),
      });
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: Json }).error.code).toBe(code);
    },
  );

  it.each([
    ["k=13", "k", "maximum"],
    ["mode=fast", "mode", "enum"],
    ["from=2024-1-1", "from", "format"],
  ])("refuses /api/search?q=Who&%s with the documented code", async (query, name, keyword) => {
    const parameter = (operation("/api/search", "get").parameters as Json[]).find((p) => p.name === name)!;
    const code = documentedCode(parameter.schema, [], keyword);
    const res = await fetch(`${running.url}/api/search?q=Who&${query}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: Json }).error.code).toBe(code);
  });
});
