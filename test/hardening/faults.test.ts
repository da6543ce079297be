import { cp, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentVersion, fileDigest, type Manifest } from "../../backends/embedded/versions.ts";
import { startServer } from "../../server/start.ts";
import {
  answerProblem,
  Client,
  captureLog,
  createFixture,
  type Fixture,
  request,
  spawnServer,
  startProcess,
  waitUntil,
  wsUrl,
} from "./harness.ts";

const QUESTION = "What did the regional council approve for the solar programme?";

let fx: Fixture;
const temps: string[] = [];
beforeAll(async () => {
  fx = await createFixture(4);
});
afterEach(async () => {
  await fx.closeServers();
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
afterAll(async () => {
  await fx?.remove();
});

/** A private copy of the fixture's index: its folder and the published version's folder. */
async function copyIndex(): Promise<{ indexDir: string; version: string; dir: string }> {
  const indexDir = await mkdtemp(path.join(os.tmpdir(), "citeline-faults-"));
  temps.push(indexDir);
  await cp(fx.indexDir, indexDir, { recursive: true });
  const version = currentVersion(indexDir)!;
  return { indexDir, version, dir: path.join(indexDir, version) };
}

async function editManifest(dir: string, edit: (m: Manifest) => void): Promise<void> {
  const file = path.join(dir, "manifest.json");
  const m = JSON.parse(await readFile(file, "utf8")) as Manifest;
  edit(m);
  await writeFile(file, JSON.stringify(m));
}

const startOn = (indexDir: string) =>
  startServer(fx.config({ indexDir }), { embedder: fx.embedder, log: () => {} });

const FULL = "run `npm run index -- --full`";

describe("startup", () => {
  it.each([
    {
      fault: "a truncated vector file",
      damage: async (dir: string) => truncate(path.join(dir, "vectors.hnsw"), 1000),
      message: /vectors\.hnsw does not match its manifest \(1000 bytes, expected \d+\)/,
    },
    {
      fault: "a database with damaged bytes",
      damage: async (dir: string) => {
        const file = path.join(dir, "index.db");
        const db = await readFile(file);
        db.fill(0x5a, 4096, 8192);
        await writeFile(file, db);
      },
      message: /index\.db does not match its manifest/,
    },
    {
      fault: "a missing vector file",
      damage: async (dir: string) => rm(path.join(dir, "vectors.hnsw")),
      message: /vectors\.hnsw is missing/,
    },
    {
      fault: "a garbage database whose checksum was rewritten to match",
      damage: async (dir: string) => {
        await writeFile(path.join(dir, "index.db"), Buffer.alloc(8192, 0x42));
        const digest = await fileDigest(path.join(dir, "index.db"));
        await editManifest(dir, (m) => {
          m.files["index.db"] = digest;
        });
      },
      message: /cannot open the index in .*: .*/,
    },
    {
      fault: "a manifest whose counts do not match its files",
      damage: (dir: string) =>
        editManifest(dir, (m) => {
          m.counts.chunks += 5;
        }),
      message: /holds \d+ documents and \d+ chunks but its manifest says \d+ and \d+/,
    },
    {
      fault: "a manifest that does not list a file",
      damage: (dir: string) =>
        editManifest(dir, (m) => {
          delete m.files["vectors.hnsw"];
        }),
      message: /does not list vectors\.hnsw/,
    },
    {
      fault: "a manifest that is not JSON",
      damage: (dir: string) => writeFile(path.join(dir, "manifest.json"), '{"format": 1, "mod'),
      message: /cannot read .*manifest\.json/,
    },
  ])("refuses $fault with INDEX_CORRUPT and names the rebuild", async ({ damage, message }) => {
    const { indexDir, dir } = await copyIndex();
    await damage(dir);
    const err = await startOn(indexDir).then(
      (started) => void started.close(0),
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe("INDEX_CORRUPT");
    expect(err?.message).toMatch(message);
    expect(err?.message).toContain(FULL);
  });

  it("refuses an index built with another model with INDEX_MODEL_MISMATCH and names the fix", async () => {
    const { indexDir, dir } = await copyIndex();
    await editManifest(dir, (m) => {
      m.model = { name: "all-MiniLM-L6-v2", dim: 384, pooling: "mean" };
    });
    await expect(startOn(indexDir)).rejects.toMatchObject({
      code: "INDEX_MODEL_MISMATCH",
      message: expect.stringContaining(`${FULL} or set CITELINE_MODEL=all-MiniLM-L6-v2`),
    });
  });

  it("refuses a folder without an index with INDEX_MISSING and names `npm run index`", async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "citeline-faults-"));
    temps.push(empty);
    await expect(startOn(empty)).rejects.toMatchObject({
      code: "INDEX_MISSING",
      message: `no index has been built in ${empty}; run \`npm run index\``,
    });
  });

  it("refuses to start without the model files, naming `npm run model:fetch`, and exits 1", async () => {
    const models = await mkdtemp(path.join(os.tmpdir(), "citeline-no-model-"));
    temps.push(models);
    await mkdir(path.join(models, "cache"));
    const proc = startProcess({
      CITELINE_MODELS_DIR: models,
      CITELINE_MODEL_CACHE_DIR: path.join(models, "cache"),
      CITELINE_INDEX_DIR: fx.indexDir,
      CITELINE_CORPUS_DIR: fx.corpusDir,
      CITELINE_TOKEN: undefined,
      CITELINE_HOST: undefined,
    });
    const exited = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(r, 30_000, "still running")),
    ]);
    proc.child.kill("SIGKILL");
    expect(exited).toEqual({ code: 1, signal: null });
    expect(proc.stderr()).toMatch(
      new RegExp(
        `^error MODEL_MISSING: the embedding model bge-small-en-v1\\.5 is not in ${models} and could not be downloaded \\(.*\\); run \`npm run model:fetch\`\\n$`,
      ),
    );
    // The server never tries the hub: the reason is the missing local file, not a failed download.
    expect(proc.stderr()).toContain("was not found locally");
  });
});

describe("hot reload", () => {
  it("keeps serving the previous index when a corrupt version is published, and logs index_reload_refused", async () => {
    const { indexDir, version: good, dir } = await copyIndex();
    const logs = captureLog("info");
    const server = await fx.start({ indexDir }, { log: logs.log, reloadIntervalMs: 50 });
    const ask = () =>
      request(server.url, {
        method: "POST",
        path: "/api/answer",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question: QUESTION }),
      });
    const before = await ask();
    expect(before.status).toBe(200);

    const bad = "v-20991231T000000Z-bad000";
    await cp(dir, path.join(indexDir, bad), { recursive: true });
    await truncate(path.join(indexDir, bad, "index.db"), 1024);
    await writeFile(path.join(indexDir, "CURRENT"), `${bad}\n`);
    const refused = await waitUntil("index_reload_refused", () =>
      logs.entries().find((e) => e.event === "index_reload_refused"),
    );
    expect(refused).toMatchObject({ level: "warn", version: bad, code: "INDEX_CORRUPT" });
    expect(String(refused.reason)).toContain(FULL);
    expect(server.backend.current().facts.version).toBe(good);
    const after = await ask();
    expect(after.status).toBe(200);
    expect((after.json() as { answer: string }).answer).toBe((before.json() as { answer: string }).answer);
    expect((await request(server.url, { path: "/api/health" })).status).toBe(200);
    // Refused once, not on every poll.
    await new Promise((r) => setTimeout(r, 200));
    expect(logs.entries().filter((e) => e.event === "index_reload_refused")).toHaveLength(1);

    // A good version published next is taken, so the refusal was a reload that ran.
    const next = "v-20991231T000001Z-good00";
    await cp(dir, path.join(indexDir, next), { recursive: true });
    await writeFile(path.join(indexDir, "CURRENT"), `${next}\n`);
    await waitUntil("index_reloaded", () => logs.entries().find((e) => e.event === "index_reloaded"));
    expect(server.backend.current().facts.version).toBe(next);
    expect((await ask()).status).toBe(200);
  });
});

describe("SIGTERM", () => {
  it("finishes the answer in flight, then closes WebSockets with 1001, refuses new connections and exits 0", async () => {
    const graceMs = 15_000;
    const proc = await spawnServer({
      CITELINE_INDEX_DIR: fx.indexDir,
      CITELINE_CORPUS_DIR: fx.corpusDir,
      CITELINE_STREAM_DELAY_MS: "200",
      CITELINE_SHUTDOWN_GRACE_MS: String(graceMs),
      CITELINE_LOG_LEVEL: "info",
      CITELINE_TOKEN: undefined,
      CITELINE_HOST: undefined,
    });
    try {
      const port = Number(new URL(proc.url).port);
      const client = await Client.connect(wsUrl(proc));
      client.send({ type: "ask", id: "a", question: QUESTION });
      await client.next("the first piece of text", (f) => f.type === "delta");
      const t0 = performance.now();
      proc.child.kill("SIGTERM");

      // New connections are refused while the answer is still streaming.
      const refused = await waitUntil(
        "new connections to be refused",
        () =>
          new Promise<string | undefined>((resolve) => {
            const s = net.connect(port, "127.0.0.1");
            s.on("connect", () => {
              s.destroy();
              resolve(undefined);
            });
            // A connection still in the backlog when the listener closes is reset, not
            // refused: the listener was closing; ask again until it is closed.
            s.on("error", (e: NodeJS.ErrnoException) =>
              resolve(e.code === "ECONNRESET" ? undefined : e.code),
            );
          }),
        5000,
      );
      expect(refused).toBe("ECONNREFUSED");
      expect(client.frames.some((f) => f.type === "done")).toBe(false);

      const frames = await client.settled("a", graceMs);
      expect(answerProblem(frames)).toBeUndefined();
      const closed = await client.whenClosed(graceMs);
      expect(closed.code).toBe(1001);
      expect(closed.afterFrames).toBe(client.frames.length);
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(performance.now() - t0).toBeLessThan(graceMs);
      const events = proc
        .stdout()
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { event: string }).event);
      expect(events).toEqual(expect.arrayContaining(["shutdown", "stopped"]));
    } finally {
      proc.child.kill("SIGKILL");
    }
  }, 90_000);
});
