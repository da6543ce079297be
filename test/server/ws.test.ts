import type { Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../core/config.ts";
import {
  ChatClient,
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const WANG_YI = "Who is China's foreign minister?";
const QUESTIONS = {
  a: WANG_YI,
  b: "Where was the Hernán Santa Cruz Dialogue held?",
  c: "Who jointly held the dialogue?",
};

let workspace: Workspace;
let running: TestServer | undefined;
const clients: ChatClient[] = [];

beforeAll(async () => {
  workspace = await createWorkspace();
  await workspace.build();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  await workspace.remove();
});

async function start(overrides: Partial<Config> = {}): Promise<TestServer> {
  running = await startTestServer(workspace, overrides);
  return running;
}

async function connect(server: TestServer): Promise<ChatClient> {
  const client = await ChatClient.connect(server.wsUrl);
  clients.push(client);
  return client;
}

/** Checks one question's frames: sources, at least one delta, done, and nothing else. */
function expectAnswerFrames(client: ChatClient, id: string): { answer: string } {
  const frames = client.framesFor(id);
  const types = frames.map((f) => f.type);
  expect(types[0]).toBe("sources");
  expect(types.at(-1)).toBe("done");
  expect(types.length).toBeGreaterThan(2);
  expect(types.slice(1, -1).every((t) => t === "delta")).toBe(true);
  const done = frames.at(-1) as { answer: string };
  const text = frames
    .slice(1, -1)
    .map((f) => f.text)
    .join("");
  expect(text).toBe(done.answer);
  return done;
}

describe("WebSocket /ws", () => {
  it("greets a new connection with a ready frame first", async () => {
    const server = await start();
    const client = await connect(server);
    expect(client.frames[0]).toEqual({ type: "ready", auth: "ok" });
  });

  it("answers an ask with sources, deltas and done for its id, the same answer as HTTP", async () => {
    const server = await start();
    const client = await connect(server);
    const settled = await client.ask("q1", WANG_YI);
    expect(settled.type).toBe("done");
    const done = expectAnswerFrames(client, "q1");
    expect(done.answer).toContain("Wang Yi");
    const http = await postAnswer(server.url, { question: WANG_YI });
    expect(done.answer).toBe(http.body.answer);
    expect(client.framesFor("q1").at(-1)).toMatchObject({
      citations: http.body.citations,
      notFound: false,
    });
    expect(client.framesFor("q1")[0]).toMatchObject({ sources: http.body.sources });
  });

  it("sends an unpaced answer in one delta frame and a paced one a few words at a time", async () => {
    const unpaced = await start();
    const one = await connect(unpaced);
    await one.ask("q1", WANG_YI);
    const answer = expectAnswerFrames(one, "q1").answer;
    expect(answer.split(/\s+/).length).toBeGreaterThan(8);
    expect(one.framesFor("q1").map((f) => f.type)).toEqual(["sources", "delta", "done"]);
    one.close();
    await unpaced.close();

    const paced = await start({ streamDelayMs: 1 });
    const many = await connect(paced);
    await many.ask("q1", WANG_YI);
    expect(expectAnswerFrames(many, "q1").answer).toBe(answer);
    const deltas = many.framesFor("q1").filter((f) => f.type === "delta") as unknown as { text: string }[];
    expect(deltas.length).toBeGreaterThan(2);
    for (const d of deltas) expect(d.text.trim().split(/\s+/).length).toBeLessThanOrEqual(4);
  });

  it("writes an unpaced answer's frames to the socket at once, and a paced answer's one by one", async () => {
    for (const [streamDelayMs, expected] of [
      [0, (n: number) => expect(n).toBe(1)],
      [5, (n: number) => expect(n).toBeGreaterThan(3)],
    ] as const) {
      const server = await start({ streamDelayMs });
      // The server's side of the connection: count the writes that reach the socket.
      let writes = 0;
      server.server.http.on("upgrade", (_req, socket: Socket) => {
        const methods = socket as unknown as Record<"_write" | "_writev", (...args: unknown[]) => unknown>;
        for (const name of ["_write", "_writev"] as const) {
          const inner = methods[name].bind(socket);
          methods[name] = (...args) => {
            writes++;
            return inner(...args);
          };
        }
      });
      const client = await connect(server);
      await client.next((f) => f.type === "ready");
      writes = 0;
      await client.ask("q1", WANG_YI);
      expectAnswerFrames(client, "q1");
      expected(writes);
      client.close();
      await server.close();
      running = undefined;
    }
  });

  it("answers three questions in flight on one connection and routes every frame by id", async () => {
    const server = await start({ streamDelayMs: 10 });
    const expected: Record<string, unknown> = {};
    for (const [id, q] of Object.entries(QUESTIONS)) {
      expected[id] = (await postAnswer(server.url, { question: q })).body.answer;
    }
    // Three different answers, so a frame filed under the wrong id would show.
    expect(new Set(Object.values(expected)).size).toBe(3);
    const client = await connect(server);
    for (const [id, q] of Object.entries(QUESTIONS)) client.sendJson({ type: "ask", id, question: q });
    const settled = await Promise.all(Object.keys(QUESTIONS).map((id) => client.settled(id)));
    expect(settled.map((f) => f.type)).toEqual(["done", "done", "done"]);
    // The streams overlapped: some delta of one came between frames of another.
    const order = client.frames.filter((f) => f.type === "delta").map((f) => f.id);
    expect(order.join("")).not.toMatch(/^a+b+c+$/);
    for (const id of Object.keys(QUESTIONS)) {
      expect(expectAnswerFrames(client, id).answer).toBe(expected[id]);
    }
    expect(client.frames.filter((f) => f.type !== "ready" && f.id === undefined)).toEqual([]);
  });

  it("cancels one question mid-answer and lets the others on the connection finish", async () => {
    const server = await start({ streamDelayMs: 30 });
    const client = await connect(server);
    for (const id of ["a", "b", "c"]) client.sendJson({ type: "ask", id, question: WANG_YI });
    await client.next((f) => f.id === "b" && f.type === "delta");
    client.sendJson({ type: "cancel", id: "b" });
    const [a, c] = await Promise.all([client.settled("a"), client.settled("c")]);
    expect([a.type, c.type]).toEqual(["done", "done"]);
    expectAnswerFrames(client, "a");
    expectAnswerFrames(client, "c");
    await waitFor("all answers to stop", () =>
      server.server.engine.admission.load.active === 0 ? true : undefined,
    );
    // b asked the same question at the same time, so uncancelled it would be done by now.
    const b = client.framesFor("b").map((f) => f.type);
    expect(b).not.toContain("done");
    expect(b).not.toContain("error");
    expect(b[0]).toBe("sources");
    const logged = server.logs.find((l) => l.event === "answer" && l.fields.id === "b");
    expect(logged?.fields.outcome).toBe("cancelled");
  });

  it("stops a connection's answers when the client disconnects mid-answer", async () => {
    const server = await start({ streamDelayMs: 200 });
    const client = await connect(server);
    client.sendJson({ type: "ask", id: "gone", question: WANG_YI });
    await client.next((f) => f.id === "gone" && f.type === "delta");
    expect(server.server.engine.admission.load.active).toBe(1);
    client.socket.terminate();
    // The answer would stream for seconds more; it stops as soon as the close is seen.
    await waitFor(
      "the answer to stop",
      () => (server.server.engine.admission.load.active === 0 ? true : undefined),
      1000,
    );
    const logged = await waitFor("the answer log line", () =>
      server.logs.find((l) => l.event === "answer" && l.fields.id === "gone"),
    );
    expect(logged.fields.outcome).toBe("cancelled");
  });

  it("refuses a second question with the id of one still in flight with DUPLICATE_ID", async () => {
    const server = await start({ streamDelayMs: 30 });
    const client = await connect(server);
    client.sendJson({ type: "ask", id: "same", question: WANG_YI });
    await client.next((f) => f.id === "same" && f.type === "sources");
    client.sendJson({ type: "ask", id: "same", question: "Where was the dialogue held?" });
    const error = await client.next((f) => f.type === "error");
    expect(error).toEqual({
      type: "error",
      id: "same",
      code: "DUPLICATE_ID",
      message: 'a question with id "same" is already in flight',
    });
    const done = await client.next((f) => f.id === "same" && f.type === "done");
    expect(done.type).toBe("done");
    expect(done.answer).toContain("Wang Yi");
    // Once it is done, the id may be used again.
    const framesBefore = client.frames.length;
    client.sendJson({ type: "ask", id: "same", question: WANG_YI });
    const again = await client.next((f) => f.id === "same" && f.type === "done", framesBefore);
    expect(again.answer).toBe(done.answer);
  });
});
