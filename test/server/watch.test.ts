import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const QUESTION = "When does the Zorblax ferry leave?";

let workspace: Workspace;
let running: TestServer | undefined;

beforeEach(async () => {
  workspace = await createWorkspace();
  await workspace.build();
});
afterEach(async () => {
  await running?.close();
  running = undefined;
  await workspace.remove();
});

/** The ids of the documents the answer to QUESTION cites. */
async function cited(url: string): Promise<string[]> {
  const { body } = await postAnswer(url, { question: QUESTION });
  return (body.citations as { docId: string }[]).map((c) => c.docId);
}

describe("a server watching its corpus folder", () => {
  it("answers from a file added to the folder, then from its new text, and forgets it once removed", async () => {
    running = await startTestServer(workspace, {}, { watch: { debounceMs: 200 } });
    const { url } = running;
    expect(await cited(url)).not.toContain("zorblax");
    const file = path.join(workspace.corpusDir, "zorblax.txt");
    await writeFile(file, "Zorblax ferry\n\nThe Zorblax ferry leaves the quay at seven every morning.");
    const first = await waitFor(
      "the new file to be answerable",
      async () => {
        const { body } = await postAnswer(url, { question: QUESTION });
        const ids = (body.citations as { docId: string }[]).map((c) => c.docId);
        return ids.includes("zorblax") ? (body.answer as string) : undefined;
      },
      60_000,
      200,
    );
    expect(first).toContain("at seven every morning");

    await writeFile(file, "Zorblax ferry\n\nSince June the Zorblax ferry leaves the quay at nine.");
    const changed = await waitFor(
      "the changed text to be answered",
      async () => {
        const { body } = await postAnswer(url, { question: QUESTION });
        return (body.answer as string).includes("at nine") ? (body.answer as string) : undefined;
      },
      60_000,
      200,
    );
    expect(changed).not.toContain("seven");

    await rm(file);
    await waitFor(
      "the removed file to be forgotten",
      async () => ((await cited(url)).includes("zorblax") ? undefined : true),
      60_000,
      200,
    );
    expect(running.logs.filter((l) => l.event === "index_updated").length).toBeGreaterThanOrEqual(3);
  });
});
