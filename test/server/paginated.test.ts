import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnswerResponse, DocumentBody } from "../../core/protocol.ts";
import {
  ChatClient,
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "documents");

let workspace: Workspace;
let running: TestServer;

beforeAll(async () => {
  workspace = await createWorkspace();
  // One copy only: the Word version holds the same text and would be set aside as a duplicate.
  for (const name of ["harbour-report.pdf"]) {
    await workspace.addDoc(name, (await readFile(path.join(FIXTURES, name))) as unknown as string);
  }
  const summary = await workspace.build();
  expect(summary.issues).toEqual([]);
  running = await startTestServer(workspace);
});
afterAll(async () => {
  await running?.close();
  await workspace?.remove();
});

describe("answers from a PDF", () => {
  it("cites the PDF's page in the citation and the source, over HTTP and the WebSocket", async () => {
    const question = "How much silt did the dredging of the east basin remove?";
    const res = await postAnswer(running.url, { question, k: 3 });
    expect(res.status).toBe(200);
    const body = res.body as unknown as AnswerResponse;
    expect(body.answer).toContain("48,000 cubic metres");
    const fromPdf = body.citations.filter((c) => c.docId === "harbour-report");
    expect(fromPdf.length).toBeGreaterThan(0);

    for (const c of fromPdf) expect(c.page).toBe(2);
    // A source names the page its passage starts on (this short report is one passage).
    const source = body.sources.find((s) => s.docId === "harbour-report");
    expect(source?.start).toBe(0);
    expect(source?.page).toBe(1);
    // A text file has no pages, so its sources name none.
    for (const s of body.sources.filter((x) => x.docId !== "harbour-report"))
      expect(s).not.toHaveProperty("page");

    const client = await ChatClient.connect(running.wsUrl);
    try {
      const done = await client.ask("q1", question, { k: 3 });
      expect(done.type).toBe("done");
      const cites = (done.citations as AnswerResponse["citations"]).filter(
        (c) => c.docId === "harbour-report",
      );
      expect(cites.map((c) => c.page)).toEqual(cites.map(() => 2));
    } finally {
      client.socket.close();
    }
  });

  it("serves the PDF's text with its page starts, and every citation's page holds its offsets", async () => {
    const res = await postAnswer(running.url, { question: "What is the new electric ferry called?", k: 3 });
    const body = res.body as unknown as AnswerResponse;
    expect(body.answer).toContain("Petrel");
    const doc = (await (
      await fetch(`${running.url}/api/documents/${encodeURIComponent("harbour-report")}`)
    ).json()) as DocumentBody;
    expect(doc.pages).toHaveLength(3);
    for (const c of body.citations.filter((x) => x.docId === "harbour-report")) {
      expect(doc.text.slice(c.start, c.end)).toBe(c.text);
      expect(c.page).toBe(3);
      expect(c.start).toBeGreaterThanOrEqual(doc.pages![2]!);
    }
  });
});
