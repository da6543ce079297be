import { readdir, readFile, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DocumentList, UploadResult } from "../../core/protocol.ts";
import {
  createWorkspace,
  SEED_ID,
  startTestServer,
  type TestServer,
  type Workspace,
  waitFor,
} from "../helpers/server.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "documents");
const ZORBLAX = "Zorblax harbour notes\n\nThe Zorblax ferry leaves the quay at seven every morning.";

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

async function start(overrides: Parameters<typeof startTestServer>[1] = {}): Promise<TestServer> {
  running = await startTestServer(workspace, overrides);
  return running;
}

async function upload(
  url: string,
  name: string,
  body: string | Buffer,
  opts: { wait?: boolean; type?: string; token?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const query = `name=${encodeURIComponent(name)}${opts.wait ? "&wait=true" : ""}`;
  const res = await fetch(`${url}/api/documents?${query}`, {
    method: "POST",
    headers: {
      "content-type": opts.type ?? "application/octet-stream",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: typeof body === "string" ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function list(url: string): Promise<DocumentList> {
  const res = await fetch(`${url}/api/documents`);
  expect(res.status).toBe(200);
  return (await res.json()) as DocumentList;
}

async function searchHits(url: string, q: string): Promise<{ docId: string }[]> {
  const res = await fetch(`${url}/api/search?q=${encodeURIComponent(q)}&mode=lexical`);
  return ((await res.json()) as { hits: { docId: string }[] }).hits;
}

const errorOf = (body: Record<string, unknown>) =>
  body.error as { code: string; message: string; limit?: number };

describe("GET /api/documents", () => {
  it("lists the corpus files with their documents' title, date and passages, and the upload limits", async () => {
    const { url } = await start({ uploadMaxBytes: 4096, uploadMaxFiles: 7 });
    const body = await list(url);
    expect(body.files).toHaveLength(1);
    const seed = body.files[0]!;
    expect(seed.name).toBe(`${SEED_ID}.txt`);
    // No build has run in this server yet: the seed was indexed before it started.
    expect(seed.status).toBe("indexed");
    expect(seed.documents).toEqual([
      expect.objectContaining({ id: SEED_ID, date: "2024-12-09", passages: expect.any(Number) }),
    ]);
    expect(seed.documents[0]!.passages).toBeGreaterThan(0);
    expect(seed.bytes).toBe((await stat(path.join(workspace.corpusDir, seed.name))).size);
    expect(body.indexing).toEqual({ busy: false });
    expect(body.limits).toEqual({
      maxUploadBytes: 4096,
      maxFiles: 7,
      extensions: [".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".pdf", ".docx"],
    });
  });
});

describe("POST /api/documents", () => {
  it("saves the file in the corpus folder and, with wait=true, answers once it is answerable", async () => {
    const { url } = await start();
    expect(await searchHits(url, "Zorblax ferry")).toEqual([]);
    const res = await upload(url, "zorblax.txt", ZORBLAX, { wait: true });
    expect(res.status).toBe(201);
    const result = res.body as unknown as UploadResult;
    expect(result).toMatchObject({ name: "zorblax.txt", bytes: Buffer.byteLength(ZORBLAX), replaced: false });
    expect(result.file).toMatchObject({ name: "zorblax.txt", status: "indexed", problems: [] });
    expect(result.file?.documents).toEqual([{ id: "zorblax", title: "Zorblax harbour notes", passages: 1 }]);
    await expect(readFile(path.join(workspace.corpusDir, "zorblax.txt"), "utf8")).resolves.toBe(ZORBLAX);
    expect((await searchHits(url, "Zorblax ferry")).map((h) => h.docId)).toContain("zorblax");
  });

  it("answers 202 at once and lists the file as indexing, then indexed", async () => {
    const { url } = await start();
    const res = await upload(url, "zorblax.txt", ZORBLAX);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ name: "zorblax.txt", bytes: Buffer.byteLength(ZORBLAX), replaced: false });
    // Each change of the file's status and of the list's busy flag, in order.
    const seen: string[] = [];
    await waitFor(
      "the upload to be indexed",
      async () => {
        const body = await list(url);
        const file = body.files.find((f) => f.name === "zorblax.txt");
        const now = `${file?.status ?? "missing"}/${body.indexing.busy ? "busy" : "idle"}`;
        if (seen.at(-1) !== now) seen.push(now);
        return file?.status === "indexed" && !body.indexing.busy ? file : undefined;
      },
      60_000,
    );
    // Never anything else: the page takes an idle list as the end of the build and stops asking.
    expect(seen.join(" > ")).toMatch(/^(indexing\/busy > )?(indexed\/busy > )?indexed\/idle$/);
    expect((await searchHits(url, "Zorblax ferry")).map((h) => h.docId)).toContain("zorblax");
  });

  it("indexes a PDF with its pages, and lists a broken file as failed by name while the rest is indexed", async () => {
    const { url } = await start();
    const pdf = await readFile(path.join(FIXTURES, "harbour-report.pdf"));
    await upload(url, "broken.pdf", Buffer.from("%PDF-1.7 this is not a PDF at all"));
    const res = await upload(url, "harbour-report.pdf", pdf, { wait: true });
    expect(res.status).toBe(201);
    const files = (await list(url)).files;
    const report = files.find((f) => f.name === "harbour-report.pdf");
    expect(report?.status).toBe("indexed");
    expect(report?.documents).toEqual([
      expect.objectContaining({ title: "Harbour Report 2024", pages: 3, passages: expect.any(Number) }),
    ]);
    const broken = files.find((f) => f.name === "broken.pdf");
    expect(broken?.status).toBe("failed");
    expect(broken?.documents).toEqual([]);
    expect(broken?.problems).toEqual([
      { code: "FILE_MALFORMED", message: expect.stringMatching(/^broken\.pdf: /) },
    ]);
  });

  it("keeps only the last segment of the name, cleaned, so nothing lands outside the corpus folder", async () => {
    const { url } = await start();
    const res = await upload(url, "../../..\\evil/\u0000..notes:<1>.md", "# Notes\n\nHarmless text.", {
      wait: true,
    });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe("_..notes__1_.md");
    expect((await readdir(workspace.corpusDir)).sort()).toEqual([`${SEED_ID}.txt`, "_..notes__1_.md"]);
    expect((await readdir(workspace.root)).sort()).toEqual(["corpus", "index"]);
  });

  it("replaces a file of the same name and indexes the new text", async () => {
    const { url } = await start();
    await upload(url, "zorblax.txt", ZORBLAX, { wait: true });
    const res = await upload(url, "zorblax.txt", "Quenton orchard\n\nThe Quenton orchard flowers in May.", {
      wait: true,
    });
    expect(res.body).toMatchObject({ name: "zorblax.txt", replaced: true });
    expect(await searchHits(url, "Zorblax ferry")).toEqual([]);
    expect((await searchHits(url, "Quenton orchard")).map((h) => h.docId)).toContain("zorblax");
  });

  it.each([
    {
      what: "an unsupported type",
      name: "notes.exe",
      status: 415,
      code: "FILE_UNSUPPORTED",
      message: /^notes\.exe: \.exe files are not read \(supported: \.txt, /,
    },
    {
      what: "a name that is empty once cleaned",
      name: "../..",
      status: 400,
      code: "FILE_NAME_INVALID",
      message: /^the file name "\.\.\/\.\." is empty once cleaned$/,
    },
    {
      what: "a body sent as a form",
      name: "a.txt",
      type: "application/x-www-form-urlencoded",
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: /application\/octet-stream/,
    },
    {
      what: "an empty body",
      name: "a.txt",
      body: "",
      status: 400,
      code: "BODY_EMPTY",
      message: /^the request body is empty/,
    },
  ])(
    "refuses $what with $status $code and saves nothing",
    async ({ name, type, body, status, code, message }) => {
      const { url } = await start();
      const res = await upload(url, name, body ?? "Some text.", type ? { type } : {});
      expect(res.status).toBe(status);
      expect(errorOf(res.body).code).toBe(code);
      expect(errorOf(res.body).message).toMatch(message);
      expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
    },
  );

  it("refuses a missing name and unknown parameters, naming them", async () => {
    const { url } = await start();
    const missing = await fetch(`${url}/api/documents`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: "x",
    });
    expect(missing.status).toBe(400);
    expect(errorOf((await missing.json()) as Record<string, unknown>)).toMatchObject({
      code: "BAD_REQUEST",
      message: "name is required: the file's name, as in ?name=report.pdf",
    });
    const unknown = await fetch(`${url}/api/documents?name=a.txt&overwrite=1`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: "x",
    });
    expect(unknown.status).toBe(400);
    expect(errorOf((await unknown.json()) as Record<string, unknown>)).toMatchObject({
      code: "UNKNOWN_FIELD",
    });
  });

  it("refuses a file over the size limit with 413 UPLOAD_TOO_LARGE and the limit", async () => {
    const { url } = await start({ uploadMaxBytes: 2048 });
    const res = await upload(url, "big.txt", "x".repeat(4000));
    expect(res.status).toBe(413);
    expect(errorOf(res.body)).toMatchObject({
      code: "UPLOAD_TOO_LARGE",
      message: "the file is 4,000 bytes; the upload limit is 2,048 bytes (CITELINE_UPLOAD_MAX_BYTES)",
      limit: 2048,
    });
    expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
  });

  it("refuses a new file when the folder holds the most files, but still replaces one", async () => {
    const { url } = await start({ uploadMaxFiles: 1 });
    const res = await upload(url, "more.txt", ZORBLAX);
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toMatchObject({ code: "CORPUS_FULL", limit: 1 });
    const replaced = await upload(
      url,
      `${SEED_ID}.txt`,
      await readFile(path.join(workspace.corpusDir, `${SEED_ID}.txt`)),
    );
    expect(replaced.status).toBe(202);
  });

  it("refuses every upload when CITELINE_UPLOAD_MAX_FILES is 0", async () => {
    const { url } = await start({ uploadMaxFiles: 0 });
    const res = await upload(url, `${SEED_ID}.txt`, ZORBLAX);
    expect(res.status).toBe(409);
    expect(errorOf(res.body)).toMatchObject({
      code: "CORPUS_FULL",
      message: "uploads are off on this server (CITELINE_UPLOAD_MAX_FILES is 0)",
      limit: 0,
    });
  });

  it("stays up when a client stops sending half-way through an upload", async () => {
    const { url, server } = await start();
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(server.port, "127.0.0.1", () => {
        socket.write(
          "POST /api/documents?name=cut.txt HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\nonly the start",
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 100);
      });
      socket.on("error", reject);
    });
    expect((await list(url)).files.map((f) => f.name)).toEqual([`${SEED_ID}.txt`]);
    expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
  });
});

describe("DELETE /api/documents", () => {
  it("deletes the file and, with wait=true, answers once its documents are no longer answerable", async () => {
    const { url } = await start();
    await upload(url, "zorblax.txt", ZORBLAX, { wait: true });
    const res = await fetch(`${url}/api/documents?name=zorblax.txt&wait=true`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "zorblax.txt", removed: true });
    expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
    expect(await searchHits(url, "Zorblax ferry")).toEqual([]);
    expect((await list(url)).files.map((f) => f.name)).toEqual([`${SEED_ID}.txt`]);
  });

  it("empties the index when the last file is deleted on purpose", async () => {
    const { url } = await start();
    const res = await fetch(`${url}/api/documents?name=${SEED_ID}.txt&wait=true`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await list(url)).toMatchObject({ files: [] });
    const health = (await (await fetch(`${url}/api/health`)).json()) as { documents: number };
    expect(health.documents).toBe(0);
  });

  it.each([["nothing.txt"], ["../index/manifest.json"], [`./${SEED_ID}.txt`], ["/etc/passwd"]])(
    "refuses %s, a name the list does not show, with 404",
    async (name) => {
      const { url } = await start();
      const res = await fetch(`${url}/api/documents?name=${encodeURIComponent(name)}`, { method: "DELETE" });
      expect(res.status).toBe(404);
      expect(errorOf((await res.json()) as Record<string, unknown>)).toMatchObject({
        code: "NOT_FOUND",
        message: `the corpus folder holds no file named ${name}`,
      });
      expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
    },
  );
});

describe("/api/documents with a token", () => {
  const TOKEN = "a-token-of-sixteen-chars";
  it.each([
    ["GET", ""],
    ["POST", "?name=a.txt"],
    ["DELETE", `?name=${SEED_ID}.txt`],
  ])("refuses %s without it with 401 and changes nothing", async (method, query) => {
    const { url } = await start({ accessToken: TOKEN });
    const res = await fetch(`${url}/api/documents${query}`, {
      method,
      ...(method === "POST" ? { headers: { "content-type": "application/octet-stream" }, body: "x" } : {}),
    });
    expect(res.status).toBe(401);
    expect(errorOf((await res.json()) as Record<string, unknown>).code).toBe("UNAUTHORIZED");
    expect(await readdir(workspace.corpusDir)).toEqual([`${SEED_ID}.txt`]);
  });

  it("accepts an upload with it", async () => {
    const { url } = await start({ accessToken: TOKEN });
    const res = await upload(url, "zorblax.txt", ZORBLAX, { token: TOKEN });
    expect(res.status).toBe(202);
  });
});
