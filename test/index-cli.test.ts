import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadedIndex, openIndex } from "../backends/embedded/open-version.ts";
import { openBackendWriter } from "../backends/select.ts";
import { chunkerInfo, modelInfo } from "../core/backend.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { type Embedder, forwarding } from "../core/types.ts";
import { buildIndex, ehash } from "../ingest/indexer.ts";
import { RESUME_FILE } from "../ingest/resume-cache.ts";
import { getEmbedder } from "./helpers/model.ts";
import { SEED_DOC, sharedPath } from "./helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);
const SEED_ID = "000_1819b03cfa5cc3af";
const PASSAGES = sharedPath("eval", "squad-dev", "passages.jsonl");
const PROGRESS = /^indexing (\d+)\/(\d+) chunks, [\d.]+\/s, eta \S+$/m;
const SUMMARY =
  /^indexed (\d+) documents, (\d+) chunks \((\d+) added, (\d+) changed, (\d+) removed, (\d+) unchanged\); embedded (\d+) texts, reused (\d+); ([\d.]+) s, ([\d.]+) chunks\/s; published (v-[\w-]+)$/m;

interface Dirs {
  root: string;
  corpusDir: string;
  indexDir: string;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when the process and its pipes have closed. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stderr matches, or rejects after `ms`. */
  waitForStderr: (pattern: RegExp, ms: number) => Promise<void>;
}

const roots: string[] = [];
const running = new Set<ChildProcess>();
const opened: LoadedIndex[] = [];
let embedder: Embedder;
/** The seed article with a published index, built in-process; tests copy it. */
let template: Dirs;

async function newDirs(): Promise<Dirs> {
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-cli-"));
  roots.push(root);
  return { root, corpusDir: path.join(root, "corpus"), indexDir: path.join(root, "index") };
}

/** `npm run index` as a user runs it, in its own process group so a signal reaches all of it. */
function runIndexer(dirs: Dirs, args: string[] = []): Run {
  // What `npm run index` runs (package.json), without npm in between.
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/index-corpus.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CITELINE_CORPUS_DIR: dirs.corpusDir, CITELINE_INDEX_DIR: dirs.indexDir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  running.add(child);
  let out = "";
  let err = "";
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    for (const w of waiters) if (w.pattern.test(err)) w.resolve();
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const waitForStderr = (pattern: RegExp, ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (pattern.test(err)) return resolve();
      const timer = setTimeout(
        () => reject(new Error(`no ${pattern} on stderr after ${ms} ms; stderr:\n${err}`)),
        ms,
      );
      waiters.push({
        pattern,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      void closed.then(() => reject(new Error(`the indexer exited without ${pattern}; stderr:\n${err}`)));
    });
  return { child, stdout: () => out, stderr: () => err, closed, waitForStderr };
}

async function runToEnd(dirs: Dirs, args: string[] = []) {
  const run = runIndexer(dirs, args);
  const exit = await run.closed;
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

async function copyTemplate(): Promise<Dirs> {
  const dirs = await newDirs();
  await cp(template.root, dirs.root, { recursive: true });
  return dirs;
}

/**
 * Many short notes, sorted before the passages, so the indexer's first batch (about 256 texts)
 * is quick and its first progress line comes early, while plenty of work remains after it.
 */
async function addShortNotes(dirs: Dirs): Promise<void> {
  const notes = Array.from({ length: 140 }, (_, i) =>
    JSON.stringify({
      id: `note-${i}`,
      title: `Note ${i}`,
      text: `Ferry number ${i} leaves the harbour at dawn.`,
    }),
  );
  await writeFile(path.join(dirs.corpusDir, "a-notes.jsonl"), `${notes.join("\n")}\n`);
}

/** The first `n` real SQuAD passages as one JSONL file; 300 make a build of many seconds. */
async function addPassages(dirs: Dirs, n: number): Promise<void> {
  const records = readFileSync(PASSAGES, "utf8")
    .split("\n")
    .slice(0, n)
    .map((line) => {
      const p = JSON.parse(line) as { id: string; doc_id: string; text: string };
      return JSON.stringify({ id: p.id, title: `SQuAD ${p.doc_id}`, text: p.text });
    });
  await writeFile(path.join(dirs.corpusDir, "squad.jsonl"), `${records.join("\n")}\n`);
}

const current = (dirs: Dirs) => readFileSync(path.join(dirs.indexDir, "CURRENT"), "utf8").trim();
const partials = async (dirs: Dirs) => (await readdir(dirs.indexDir)).filter((n) => n.endsWith(".partial"));

async function open(dirs: Dirs): Promise<LoadedIndex> {
  const config = loadConfig({ corpusDir: dirs.corpusDir, indexDir: dirs.indexDir });
  const index = await openIndex(dirs.indexDir, { model: modelInfo(embedder), chunker: chunkerInfo(config) });
  opened.push(index);
  return index;
}

/** The seed article answers both a lexical and a dense search in this index. */
async function expectSeedAnswers(index: LoadedIndex): Promise<void> {
  const lexical = index.store.lexicalSearch(["Hangzhou"], 10);
  expect(lexical.length).toBeGreaterThan(0);
  expect(index.store.getChunk(lexical[0]!.label)?.docId).toBe(SEED_ID);
  const [q] = await embedder.embed(["Who is China's foreign minister?"], "query");
  const [top] = index.vectors.search(q!, 5);
  expect(index.store.getChunk(top!.label)?.docId).toBe(SEED_ID);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  embedder = await getEmbedder();
  template = await newDirs();
  await mkdir(template.corpusDir, { recursive: true });
  await cp(SEED, path.join(template.corpusDir, `${SEED_ID}.txt`));
  const config = loadConfig({ corpusDir: template.corpusDir, indexDir: template.indexDir });
  await buildIndex({ openWriter: openBackendWriter, config, embedder });
}, 120_000);

afterAll(async () => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const index of opened) index.close();
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe("npm run index", () => {
  it("builds the corpus and prints a summary, then reports it up to date", async () => {
    const dirs = await newDirs();
    await mkdir(dirs.corpusDir, { recursive: true });
    await cp(SEED, path.join(dirs.corpusDir, `${SEED_ID}.txt`));
    await writeFile(
      path.join(dirs.corpusDir, "notes.md"),
      "# Harbour bridge\n\nThe Kestrelford harbour bridge will close for repairs in March.\n",
    );

    const first = await runToEnd(dirs);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first).toMatchObject({ code: 0, signal: null });
    const m = SUMMARY.exec(first.stdout);
    expect(m, first.stdout).not.toBeNull();
    const [
      ,
      documents,
      chunks,
      added,
      changed,
      removed,
      unchanged,
      embedded,
      reused,
      seconds,
      rate,
      version,
    ] = m!;
    expect({ documents, added, changed, removed, unchanged, reused }).toEqual({
      documents: "2",
      added: "2",
      changed: "0",
      removed: "0",
      unchanged: "0",
      reused: "0",
    });
    expect(Number(chunks)).toBeGreaterThanOrEqual(3);
    // One text per chunk (each distinct), none per sentence.
    expect(Number(embedded)).toBe(Number(chunks));
    expect(Number(seconds)).toBeGreaterThan(0);
    // Both figures are rounded to 0.1 as printed.
    expect(Number(rate)).toBeGreaterThan(0);
    expect(Number(rate)).toBeGreaterThanOrEqual(Number(chunks) / (Number(seconds) + 0.05) - 0.05);
    if (Number(seconds) > 0.05) {
      expect(Number(rate)).toBeLessThanOrEqual(Number(chunks) / (Number(seconds) - 0.05) + 0.05);
    }
    expect(current(dirs)).toBe(version);
    // Not a terminal: plain progress lines, the last one complete.
    const lines = first.stderr.split("\n").filter((l) => PROGRESS.test(l));
    expect(lines.at(-1)).toMatch(new RegExp(`^indexing ${chunks}/${chunks} chunks`));

    const second = await runToEnd(dirs);
    expect(second).toMatchObject({ code: 0, signal: null });
    expect(second.stdout).toMatch(
      new RegExp(
        `^index is up to date: 2 documents, ${chunks} chunks \\(0 added, 0 changed, 0 removed, 2 unchanged\\) in [\\d.]+ s$`,
        "m",
      ),
    );
    expect(current(dirs)).toBe(version);
    const index = await open(dirs);
    expect(index.store.counts()).toMatchObject({ docs: 2, chunks: Number(chunks) });
    await expectSeedAnswers(index);
  }, 120_000);

  it("leaves the previous index published when killed mid-build, and the next run cleans up and publishes", async () => {
    const dirs = await copyTemplate();
    const before = current(dirs);
    await addShortNotes(dirs);
    await addPassages(dirs, 300);

    const run = runIndexer(dirs);
    await run.waitForStderr(PROGRESS, 90_000);
    process.kill(-run.child.pid!, "SIGKILL");
    expect(await run.closed).toMatchObject({ signal: "SIGKILL" });
    expect(run.stdout()).not.toMatch(SUMMARY);

    expect(current(dirs)).toBe(before);
    // Nothing cleaned up after a kill: the staging folder and the dead process's lock remain.
    expect(await partials(dirs)).toHaveLength(1);
    const lockPid = Number(readFileSync(path.join(dirs.indexDir, "LOCK"), "utf8"));
    expect(lockPid).toBeGreaterThan(0);
    await expect.poll(() => pidAlive(lockPid), { timeout: 10_000 }).toBe(false);
    const old = await open(dirs);
    expect(old.version).toBe(before);
    expect(old.store.counts().docs).toBe(1);
    await expectSeedAnswers(old);

    // A smaller change, so the recovery run stays quick.
    await rm(path.join(dirs.corpusDir, "a-notes.jsonl"));
    await addPassages(dirs, 10);
    const next = await runToEnd(dirs);
    expect(next).toMatchObject({ code: 0, signal: null });
    expect(next.stderr).toContain("removed 1 unfinished build(s) left by an interrupted run");
    const m = SUMMARY.exec(next.stdout);
    expect(m, next.stdout).not.toBeNull();
    expect(m!.slice(1, 2).concat(m!.slice(3, 7))).toEqual(["11", "10", "0", "0", "1"]);
    expect(current(dirs)).toBe(m![11]);
    expect(m![11]).not.toBe(before);
    expect(await partials(dirs)).toEqual([]);
    expect(existsSync(path.join(dirs.indexDir, "LOCK"))).toBe(false);
    const index = await open(dirs);
    expect(index.store.counts().docs).toBe(11);
    await expectSeedAnswers(index);
    const hits = index.store.lexicalSearch(["anniversary"], 5);
    expect(hits.map((h) => index.store.getChunk(h.label)?.docId)).toEqual(["squad-dev-a00-p000"]);
  }, 180_000);

  it("continues a build killed mid-way, embedding only the texts the killed run had not", async () => {
    const dirs = await copyTemplate();
    await addShortNotes(dirs);
    await addPassages(dirs, 300);
    const run = runIndexer(dirs);
    // Killed once some chunks are written, so some vectors were computed and kept.
    await run.waitForStderr(/^indexing [1-9]\d*\/\d+ chunks/m, 90_000);
    process.kill(-run.child.pid!, "SIGKILL");
    expect(await run.closed).toMatchObject({ signal: "SIGKILL" });
    const cacheFile = path.join(dirs.indexDir, RESUME_FILE);
    expect(existsSync(cacheFile), run.stderr()).toBe(true);
    const db = new Database(cacheFile, { readonly: true });
    const cached = new Set(db.prepare("SELECT ehash FROM vectors").pluck().all() as string[]);
    db.close();
    expect(cached.size).toBeGreaterThan(0);

    // The real model, with a record of every text it is given.
    const seen: string[] = [];
    const counting: Embedder = {
      ...forwarding(embedder),
      embed: (texts, kind) => {
        seen.push(...texts);
        return embedder.embed(texts, kind);
      },
    };
    const config = loadConfig({ corpusDir: dirs.corpusDir, indexDir: dirs.indexDir });
    const s = await buildIndex({ openWriter: openBackendWriter, config, embedder: counting });
    expect(s.published).toBe(true);
    expect(s.resumed).toBe(cached.size);
    expect(s.embedded).toBe(seen.length);
    // Nothing the killed run computed is computed again.
    expect(seen.filter((t) => cached.has(ehash(t)))).toEqual([]);
    expect(existsSync(cacheFile)).toBe(false);
    const index = await open(dirs);
    expect(index.store.counts().docs).toBe(441);
    await expectSeedAnswers(index);
  }, 180_000);

  it("stops on Ctrl-C after the current batch, saying the previous index stays in use", async () => {
    const dirs = await copyTemplate();
    const before = current(dirs);
    await addShortNotes(dirs);
    await addPassages(dirs, 300);

    const run = runIndexer(dirs);
    await run.waitForStderr(PROGRESS, 90_000);
    // Ctrl-C in a terminal signals the whole foreground process group.
    process.kill(-run.child.pid!, "SIGINT");
    const exit = await run.closed;
    expect(run.stderr()).toContain(
      "interrupting: finishing the current batch, the previous index stays in use (Ctrl-C again to quit now)",
    );
    expect(run.stderr()).toContain(
      "error CANCELLED: indexing was interrupted; the previous index is unchanged",
    );
    expect(run.stdout()).not.toMatch(SUMMARY);
    // The script finishes the model batch in progress, cleans up and exits 1 on its own.
    expect(exit).toEqual({ code: 1, signal: null });

    expect(current(dirs)).toBe(before);
    expect(await partials(dirs)).toEqual([]);
    expect(existsSync(path.join(dirs.indexDir, "LOCK"))).toBe(false);
    const old = await open(dirs);
    expect(old.version).toBe(before);
    await expectSeedAnswers(old);
  }, 180_000);
});
