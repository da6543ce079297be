import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SearchResult } from "../../core/engine.ts";
import type { AnswerResponse } from "../../core/protocol.ts";
import {
  ChatClient,
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

// Two made-up reports on one story, two months apart, beside the seed article (2024-12-09).
const DOCS = {
  "quillby-january.txt":
    " date 2023-01-03 Quillby council approves the river bridge\n\nThe Quillby council approved the new river bridge on Tuesday. Mayor Lena Ortiz said building work on the Quillby bridge would start in the spring.\n",
  "quillby-march.txt":
    " date 2023-03-01 Building starts on the Quillby river bridge\n\nBuilding work on the Quillby river bridge began this week. Mayor Lena Ortiz watched the first pillar of the Quillby bridge go in.\n",
};
const QUESTION = "What happened with the Quillby bridge this week?";

let workspace: Workspace;
let running: TestServer | undefined;
const clients: ChatClient[] = [];

beforeAll(async () => {
  workspace = await createWorkspace(DOCS);
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

async function start(): Promise<TestServer> {
  running = await startTestServer(workspace);
  return running;
}

describe("questions asked as of a day", () => {
  it.each([
    ["2023-01-05", "quillby-january", ["quillby-january"]],
    ["2023-03-02", "quillby-march", ["quillby-january", "quillby-march"]],
  ])(
    "as of %s, POST /api/answer puts %s first and leaves out later documents",
    async (asOf, first, allowed) => {
      const { url } = await start();
      const res = await postAnswer(url, { question: QUESTION, asOf });
      expect(res.status).toBe(200);
      const body = res.body as unknown as AnswerResponse;
      expect(body.sources[0]?.docId).toBe(first);
      for (const s of body.sources) expect(allowed).toContain(s.docId);
      // Sources come grouped by document, numbered in a row.
      expect(body.documents?.flatMap((d) => d.ns)).toEqual(body.sources.map((s) => s.n));
      expect(body.documents?.map((d) => d.docId)).toEqual([...new Set(body.sources.map((s) => s.docId))]);
    },
  );

  it("GET /api/search takes asOf and returns nothing dated after it", async () => {
    const { url } = await start();
    const res = await fetch(`${url}/api/search?q=${encodeURIComponent("Quillby bridge")}&asOf=2023-01-05`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as SearchResult;
    expect(body.hits.map((h) => h.docId)).toEqual(["quillby-january"]);
  });

  it("the WebSocket ask frame takes asOf", async () => {
    const server = await start();
    const client = await ChatClient.connect(server.wsUrl);
    clients.push(client);
    await client.ask("q1", QUESTION, { asOf: "2023-01-05" });
    const sources = client.framesFor("q1").find((f) => f.type === "sources") as unknown as AnswerResponse;
    expect(sources.sources.map((s) => s.docId)).toEqual(["quillby-january"]);
  });

  it("without asOf, a corpus older than the window is asked about as of its newest document", async () => {
    const { url } = await start();
    const res = await postAnswer(url, { question: "What did Wang Yi say this week?" });
    const body = res.body as unknown as AnswerResponse;
    expect(body.notFound).toBe(false);
    expect(body.sources[0]?.docId).toBe("000_1819b03cfa5cc3af");
  });
});

describe("a conversation on the seed article", () => {
  it("moves on across turns: no follow-up repeats a sentence, no query shows a stray date word", async () => {
    const { url } = await start();
    const history: { role: "user" | "assistant"; text: string }[] = [];
    const given = new Set<string>();
    const questions = [
      "Who is China's foreign minister?",
      "What else did he say?",
      "Tell me more",
      "And then?",
    ];
    let nothingMore = false;
    for (const [i, question] of questions.entries()) {
      const res = await postAnswer(url, { question, history });
      expect(res.status).toBe(200);
      const body = res.body as unknown as AnswerResponse;
      expect(body.query).not.toMatch(/\b(Dec|Monday)\b/);
      if (i > 0 && body.notFound) {
        nothingMore = body.answer.startsWith("I found nothing more");
        expect(nothingMore).toBe(true);
        break;
      }
      expect(body.notFound).toBe(false);
      for (const c of body.citations) {
        if (i > 0) expect(given.has(c.text), `turn ${i + 1} repeats "${c.text}"`).toBe(false);
      }
      for (const c of body.citations) given.add(c.text);
      history.push({ role: "user", text: question }, { role: "assistant", text: body.answer });
    }
    expect(given.size).toBeGreaterThanOrEqual(3);
  });
});
