import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedSearch } from "../../backends/embedded/search.ts";
import { chunkerInfo, modelInfo } from "../../core/backend.ts";
import { boilerplateFactor, boilerplateOf, minDocs } from "../../core/boilerplate.ts";
import type { SearchResult } from "../../core/engine.ts";
import type { AnswerResponse } from "../../core/protocol.ts";
import {
  createWorkspace,
  postAnswer,
  startTestServer,
  type TestServer,
  type Workspace,
} from "../helpers/server.ts";

// Made-up news pages as a scraper returns them: a different story on each, the same sign-up
// line and footer on all of them, and one story syndicated under the same headline three times.
const SIGN_UP = "Sign up for the Morning Quill newsletter to get the best stories of the day in your inbox.";
const FOOTER = "Thank you for reading the Quill, where every story is checked twice.";
const STORIES: [string, string][] = [
  ["Quillby opens its river bridge", "Mayor Lena Ortiz opened the Quillby river bridge on Tuesday."],
  ["Tarnwick school wins chess title", "The Tarnwick school chess team won the national title in Leeds."],
  ["Orchard harvest breaks a record", "Farmers in Pellan picked a record apple harvest this autumn."],
  ["New ferry links two islands", "A new electric ferry now links Brisa and Calloway every hour."],
  ["Museum finds a lost painting", "The Harbour Museum found a lost painting by Ada Finch in its attic."],
];
const SYNDICATED = "Storm closes the coast road. Heavy rain closed the Vell coast road for two days.";

function page(title: string, body: string): string {
  return ` date 2023-02-01 ${title}\n\n${SIGN_UP}\n\n${body}\n\n${FOOTER}\n`;
}

let workspace: Workspace;
let running: TestServer | undefined;

beforeAll(async () => {
  const docs: Record<string, string> = {};
  for (const [i, [title, body]] of STORIES.entries()) docs[`story-${i}.txt`] = page(title, body);
  // A scraped page with nothing but the site's furniture.
  docs["home.txt"] = ` date 2023-02-03 Quill home page\n\n${SIGN_UP}\n\n${FOOTER}\n`;
  for (const i of [1, 2, 3])
    docs[`storm-${i}.txt`] = ` date 2023-02-02 Storm closes the coast road\n\n${SYNDICATED}\n`;
  workspace = await createWorkspace(docs);
  await workspace.build();
});
afterEach(async () => {
  await running?.close();
  running = undefined;
});
afterAll(async () => {
  await workspace.remove();
});

describe("boilerplate repeated across the corpus", () => {
  it("is found from the index: lines on many unrelated pages, not stories or syndicated copies", async () => {
    const config = workspace.config();
    const backend = await openEmbeddedSearch(config.indexDir, {
      expect: { model: modelInfo(workspace.embedder), chunker: chunkerInfo(config) },
    });
    try {
      const b = await boilerplateOf(backend.current());
      expect([...b.sentences].sort()).toEqual([SIGN_UP, FOOTER].sort());
    } finally {
      await backend.close();
    }
  });

  it("never becomes an answer sentence, even when the question asks for it", async () => {
    running = await startTestServer(workspace);
    const res = await postAnswer(running.url, {
      question: "Which newsletter brings the best stories of the day?",
    });
    const body = res.body as unknown as AnswerResponse;
    expect(body.answer).not.toContain("Sign up");
    expect(body.citations.map((c) => c.text)).not.toContain(SIGN_UP);
  });

  it("does not win retrieval: a page of nothing else ranks below every page with its own story", async () => {
    running = await startTestServer(workspace);
    const q = encodeURIComponent("Morning Quill newsletter with the best stories of the day");
    const res = await fetch(`${running.url}/api/search?q=${q}&k=20`);
    const body = (await res.json()) as SearchResult;
    const ids = body.hits.map((h) => h.docId);
    const stories = ids.filter((id) => id.startsWith("story-"));
    expect(stories).toHaveLength(STORIES.length);
    expect(ids.indexOf("home")).toBeGreaterThan(ids.indexOf(stories[stories.length - 1]!));
  });

  it.each([
    [10, 3],
    [1748, 4],
    [100_000, 200],
  ])("in a corpus of %i documents, takes %i documents to be boilerplate", (docs, n) => {
    expect(minDocs(docs)).toBe(n);
  });

  it.each([
    [0, 1],
    [0.2, 0.96],
    [1, 0],
  ])("a passage %f boilerplate keeps %f of its score", (share, factor) => {
    expect(boilerplateFactor(share)).toBeCloseTo(factor, 10);
  });
});
