/**
 * The OpenAI-compatible endpoints, driven by the official `openai` client against a real server
 * on port 0: the same answer as /api/answer, with its markers, its source list and the `citeline`
 * field, streamed and not; the token as the API key; refusals in the client's error shape.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createWorkspace,
  postAnswer,
  SEED_ID,
  SEED_TITLE,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

const WANG_YI = "Who is China's foreign minister?";
const TOKEN = "openai-test-token-0123456789";

let workspace: Workspace;
let running: TestServer;
let client: OpenAI;

interface Extra {
  citeline: {
    answer: string;
    citations: { n: number; docId: string }[];
    sources: { n: number; docId: string; title: string }[];
    notFound: boolean;
    notFoundReason?: string;
  };
}

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
  running = await startTestServer(workspace, { accessToken: TOKEN });
  client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
}, 120_000);
afterAll(async () => {
  await running?.close();
  await workspace?.remove();
});

/** The native answer to the same question, for comparison. */
async function nativeAnswer(body: Record<string, unknown>) {
  const res = await fetch(`${running.url}/api/answer`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return (await res.json()) as { answer: string; sources: { n: number; title: string; date?: string }[] };
}

describe("GET /v1/models", () => {
  it("lists the one model, citeline", async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    expect(models).toEqual([
      { id: "citeline", object: "model", created: expect.any(Number), owned_by: "citeline" },
    ]);
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers from the corpus with [n] markers, a numbered source list and the citeline field", async () => {
    const native = await nativeAnswer({ question: WANG_YI });
    const res = await client.chat.completions.create({
      model: "citeline",
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: WANG_YI },
      ],
    });
    expect(res.object).toBe("chat.completion");
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const content = res.choices[0]?.message.content ?? "";
    expect(content).toContain("Wang Yi");
    expect(content).toMatch(/\[1\]/);
    const list = native.sources.map((s) => `[${s.n}] ${s.title}${s.date ? ` (${s.date})` : ""}`).join("\n");
    expect(content).toBe(`${native.answer}\n\nSources:\n${list}`);
    const extra = (res as unknown as Extra).citeline;
    expect(extra.answer).toBe(native.answer);
    expect(extra.notFound).toBe(false);
    expect(extra.citations[0]).toMatchObject({ n: 1, docId: SEED_ID });
    expect(extra.sources[0]).toMatchObject({ n: 1, docId: SEED_ID, title: SEED_TITLE });
  });

  it("streams the same content chunk by chunk, ending with the citeline field", async () => {
    const whole = await client.chat.completions.create({
      model: "citeline",
      messages: [{ role: "user", content: WANG_YI }],
    });
    const stream = await client.chat.completions.create({
      model: "citeline",
      messages: [{ role: "user", content: WANG_YI }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    const chunks = [];
    for await (const c of stream) {
      chunks.push(c);
      content += c.choices[0]?.delta.content ?? "";
    }
    expect(content).toBe(whole.choices[0]?.message.content);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const finish = chunks.find((c) => c.choices[0]?.finish_reason === "stop");
    expect((finish as unknown as Extra).citeline.citations[0]).toMatchObject({ n: 1, docId: SEED_ID });
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 0 } });
  });

  it("reads earlier turns as the conversation: a follow-up gets sentences not given yet", async () => {
    const first = await nativeAnswer({ question: WANG_YI });
    const res = await client.chat.completions.create({
      model: "citeline",
      messages: [
        { role: "user", content: WANG_YI },
        { role: "assistant", content: first.answer },
        { role: "user", content: "What else?" },
      ],
    });
    const extra = (res as unknown as Extra).citeline;
    expect(extra.answer).not.toBe(first.answer);
  });

  it("takes citeline's own options in the citeline field", async () => {
    const res = await client.chat.completions.create({
      model: "citeline",
      messages: [{ role: "user", content: WANG_YI }],
      // @ts-expect-error: an extra field of this server, not of OpenAI's API
      citeline: { filters: { from: "2020-01-01", to: "2020-01-31" } },
    });
    expect((res as unknown as Extra).citeline).toMatchObject({
      notFound: true,
      notFoundReason: "NO_DOCUMENTS_IN_RANGE",
      sources: [],
    });
  });

  it("refuses a wrong API key, an unknown model and an unknown field with the client's error types", async () => {
    const wrong = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: "not-the-token", maxRetries: 0 });
    await expect(
      wrong.chat.completions.create({ model: "citeline", messages: [{ role: "user", content: WANG_YI }] }),
    ).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    await expect(
      client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: WANG_YI }] }),
    ).rejects.toMatchObject({
      status: 404,
      code: "MODEL_NOT_FOUND",
      message: expect.stringContaining('this server offers one model, "citeline"'),
    });
    await expect(
      client.chat.completions.create({
        model: "citeline",
        messages: [{ role: "user", content: WANG_YI }],
        tools: [{ type: "function", function: { name: "f" } }],
      }),
    ).rejects.toMatchObject({ status: 400, code: "UNKNOWN_FIELD" });
  });

  it.each([
    [
      { model: "citeline", messages: [] },
      "BAD_REQUEST",
      "messages must be a non-empty array of {role, content}",
    ],
    [
      { model: "citeline", messages: [{ role: "assistant", content: "Hi" }] },
      "BAD_REQUEST",
      "the last message that is not a system message must be the user's question",
    ],
    [
      { model: "citeline", messages: [{ role: "tool", content: "x" }] },
      "BAD_REQUEST",
      "messages[0].role must be system, developer, user or assistant (tools are not supported)",
    ],
    [
      { model: "citeline", messages: [{ role: "user", content: "x", extra: 1 }] },
      "UNKNOWN_FIELD",
      'messages[0] has an unknown field "extra"; the known fields are role, content, name',
    ],
    [
      { model: "citeline", messages: [{ role: "user", content: "  " }] },
      "QUESTION_EMPTY",
      "messages[0].content is empty",
    ],
    [
      { model: "citeline", messages: [{ role: "user", content: "x" }], n: 2 },
      "BAD_REQUEST",
      "n must be 1: there is one answer per question",
    ],
  ])("refuses %j with %s", async (body, code, message) => {
    const res = await fetch(`${running.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code, message });
  });

  it("answers a text-parts message as a plain one", async () => {
    const res = await client.chat.completions.create({
      model: "citeline",
      messages: [{ role: "user", content: [{ type: "text", text: WANG_YI }] }],
    });
    expect(res.choices[0]?.message.content).toContain("Wang Yi");
  });

  it("is the same engine as /api/answer: the native endpoint still answers", async () => {
    const { status } = await postAnswer(running.url, { question: WANG_YI }).catch(() => ({ status: 0 }));
    // Without the token the native endpoint refuses too: one token for both APIs.
    expect(status).toBe(401);
  });
});
