import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AnswerResponse, DocumentBody } from "../../core/protocol.ts";
import {
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

// A user's own Markdown note, made up for this test.
const NOTE = `# The Quill Festival

## Who founded the festival?

The festival was **founded in 1990** by [Mara Vell](https://quill.example/mara), a *local* astronomer.

## The telescope

- The telescope's nickname is _the Quill_, after its long, thin tube.
- The observatory is directed by __Dr Ann Lee__, who joined in 2015.

> Visitors can book a night at the dome.
`;

let workspace: Workspace;
let running: TestServer | undefined;

beforeAll(async () => {
  workspace = await createWorkspace({ "quill-festival.md": NOTE });
  await workspace.build();
});
afterEach(async () => {
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  await workspace.remove();
});

describe("answers from a Markdown note", () => {
  it.each([
    ["Who founded the festival?", "Mara Vell"],
    ["What is the telescope's nickname?", "the Quill"],
    ["Who directs the observatory?", "Dr Ann Lee"],
  ])("%s: no Markdown syntax, no heading alone, offsets into the served text", async (question, expected) => {
    running ??= await startTestServer(workspace);
    const res = await postAnswer(running.url, { question });
    expect(res.status).toBe(200);
    const body = res.body as unknown as AnswerResponse;
    expect(body.notFound).toBe(false);
    expect(body.answer).toContain(expected);
    expect(body.answer).not.toMatch(/[#*_]|\]\(|https?:|^\s*[-+>] /m);
    const doc = (await (await fetch(`${running.url}/api/documents/quill-festival`)).json()) as DocumentBody;
    expect(doc.text).not.toMatch(/[#*_]|\]\(/);
    for (const c of body.citations) {
      expect(doc.text.slice(c.start, c.end)).toBe(c.text);
      // A heading line ("Who founded the festival?" is one here) is never quoted as the answer.
      expect(["The Quill Festival", "Who founded the festival?", "The telescope"]).not.toContain(c.text);
    }
  });
});
