import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IndexExpectation, type LoadedIndex, openIndex } from "../../backends/embedded/open-version.ts";
import { currentVersion } from "../../backends/embedded/versions.ts";
import { openEmbeddedWriter } from "../../backends/embedded/writer.ts";
import { openBackendWriter } from "../../backends/select.ts";
import { chunkerInfo, modelInfo } from "../../core/backend.ts";
import { type Config, loadConfig } from "../../core/config.ts";
import type { Doc, Embedder } from "../../core/types.ts";
import { loadCorpus } from "../../ingest/corpus.ts";
import {
  type BuildOptions,
  type BuildSummary,
  buildIndex,
  groupDocs,
  prepareDoc,
} from "../../ingest/indexer.ts";
import { issuesLine } from "../../scripts/issues.ts";
import { getEmbedder } from "../helpers/model.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);
const SEED_ID = "000_1819b03cfa5cc3af";

/** Small documents in three formats, each with words no other document uses. */
const NOTES_MD = `# Kestrelford harbour bridge

The Kestrelford harbour bridge will close for repairs on 3 March.

Engineers found zephyrine corrosion on two of the steel cables last winter.

Ferries will run every twenty minutes while the bridge is shut.
`;
const ORCHARD_TXT = `Orchard cooperative
The Pellowmere orchard cooperative picked a record apple harvest this autumn.
Members pressed most of the fruit into cider at the old mill.
`;
const RECORDS_JSONL = `${JSON.stringify({
  id: "rec-library",
  title: "Library opens late",
  date: "2024-11-02",
  text: "The Brannock public library now stays open until midnight on weekdays. Students asked for longer hours during exams.",
})}
${JSON.stringify({
  id: "rec-tram",
  title: "Tram line extended",
  text: "The Osterwick tram line gained four new stops to the airport. The first trams ran on Sunday morning.",
})}
`;

interface Fixture {
  root: string;
  corpusDir: string;
  indexDir: string;
  config: Config;
}

const roots: string[] = [];
let embedder: Embedder;
/** A published index of the base corpus, copied by tests that start from a built index. */
let template: Fixture;
let firstBuild: BuildSummary;

async function newRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-indexer-"));
  roots.push(root);
  return root;
}

function fixtureAt(root: string, overrides: Partial<Config> = {}): Fixture {
  const corpusDir = path.join(root, "corpus");
  const indexDir = path.join(root, "index");
  return { root, corpusDir, indexDir, config: loadConfig({ corpusDir, indexDir, ...overrides }) };
}

async function newFixture(
  files: Record<string, string | Buffer>,
  overrides: Partial<Config> = {},
): Promise<Fixture> {
  const f = fixtureAt(await newRoot(), overrides);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(f.corpusDir, name)), { recursive: true });
    await writeFile(path.join(f.corpusDir, name), content);
  }
  return f;
}

/** A copy of the template: the base corpus with its published index. */
async function builtFixture(): Promise<Fixture> {
  const f = fixtureAt(await newRoot());
  await cp(template.root, f.root, { recursive: true });
  return f;
}

function build(f: Fixture, opts: Partial<BuildOptions> = {}): Promise<BuildSummary> {
  return buildIndex({ config: f.config, embedder, openWriter: openBackendWriter, ...opts });
}

const expectation = (config: Config): IndexExpectation => ({
  model: modelInfo(embedder),
  chunker: chunkerInfo(config),
});

const opened: LoadedIndex[] = [];
async function open(f: Fixture): Promise<LoadedIndex> {
  const index = await openIndex(f.indexDir, expectation(f.config));
  opened.push(index);
  return index;
}

const docsOfLabels = (index: LoadedIndex, labels: number[]) =>
  labels.map((l) => index.store.getChunk(l)?.docId ?? `missing label ${l}`);

function lexicalDocs(index: LoadedIndex, word: string): string[] {
  return docsOfLabels(
    index,
    index.store.lexicalSearch([word], 50).map((h) => h.label),
  );
}

async function denseLabels(index: LoadedIndex, question: string, k = 10): Promise<number[]> {
  const [q] = await embedder.embed([question], "query");
  return index.vectors.search(q!, k).map((h) => h.label);
}

function textsOfDoc(index: LoadedIndex, docId: string): { chunks: number; sentences: number } {
  const count = (table: string) =>
    index.store.db.prepare(`SELECT COUNT(*) FROM ${table} WHERE doc_id = ?`).pluck().get(docId) as number;
  return { chunks: count("chunks"), sentences: count("sentences") };
}

function labelsOfDoc(index: LoadedIndex, docId: string): number[] {
  return index.store.db
    .prepare("SELECT label FROM chunks WHERE doc_id = ? ORDER BY label")
    .pluck()
    .all(docId) as number[];
}

function storedVectors(index: LoadedIndex): Map<number, Float32Array> {
  return new Map(index.store.allLabels().map((label) => [label, index.vectors.vector(label)]));
}

const readCurrent = (f: Fixture) => readFileSync(path.join(f.indexDir, "CURRENT"), "utf8").trim();
const partials = async (f: Fixture) => (await readdir(f.indexDir)).filter((n) => n.endsWith(".partial"));

/** Inverts one byte of a file, keeping its size. */
async function flipByte(file: string, at: (size: number) => number): Promise<void> {
  const bytes = await readFile(file);
  const i = at(bytes.length);
  bytes[i] = bytes[i]! ^ 0xff;
  await writeFile(file, bytes);
}

beforeAll(async () => {
  embedder = await getEmbedder();
  template = await newFixture({
    [`${SEED_ID}.txt`]: readFileSync(SEED),
    "notes.md": NOTES_MD,
    "farm/orchard.txt": ORCHARD_TXT,
    "records.jsonl": RECORDS_JSONL,
  });
  firstBuild = await build(template);
}, 120_000);

afterAll(async () => {
  for (const index of opened) index.close();
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe("buildIndex", () => {
  it("publishes a first build in which every chunk's offsets slice its document exactly", async () => {
    const s = firstBuild;
    expect(s).toMatchObject({
      published: true,
      documents: 5,
      added: 5,
      changed: 0,
      removed: 0,
      unchanged: 0,
    });
    expect(s.issues).toEqual([]);
    expect(s.version).toBe(currentVersion(template.indexDir));
    expect(await partials(template)).toEqual([]);
    expect(existsSync(path.join(template.indexDir, "LOCK"))).toBe(false);

    const index = await open(template);
    const counts = index.store.counts();
    expect(counts.docs).toBe(5);
    expect(s.chunks).toBe(counts.chunks);
    // Every chunk was new and unique, so each went through the model once; no sentence did.
    expect(counts.sentences).toBeGreaterThan(counts.chunks);
    expect(s.embedded).toBe(counts.chunks);
    expect(s.reused).toBe(0);

    const { docs } = await loadCorpus(template.corpusDir);
    const byId = new Map<string, Doc>(docs.map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(
      [SEED_ID, "farm/orchard", "notes", "rec-library", "rec-tram"].sort(),
    );
    expect(textsOfDoc(index, SEED_ID).chunks).toBeGreaterThan(1);
    const vectors = storedVectors(index);
    expect(vectors.size).toBe(counts.chunks);
    for (const doc of docs) {
      expect(index.store.getDoc(doc.id)?.text).toBe(doc.text);
      const labels = labelsOfDoc(index, doc.id);
      expect(labels.length).toBeGreaterThan(0);
      for (const [ordinal, label] of labels.entries()) {
        const chunk = index.store.getChunk(label)!;
        expect(chunk).toMatchObject({ docId: doc.id, ordinal, id: `${doc.id}#${ordinal}` });
        expect(chunk.text.trim()).not.toBe("");
        expect(chunk.text).toBe(doc.text.slice(chunk.start, chunk.end));
        // The dense index holds the same vector the store does.
        const v = index.vectors.vector(label);
        const stored = vectors.get(label)!;
        for (let d = 0; d < v.length; d++) expect(Math.abs(v[d]! - stored[d]!)).toBeLessThan(1e-5);
      }
    }
  });

  it("embeds a chunk shared by the first two groups once, though both are queued at once", async () => {
    const SHARED =
      "The harbour office posts the tide tables for the coming week on the notice board every Monday morning.";
    const files: Record<string, string> = {};
    // 14 documents of 41 one-sentence chunks: two groups, the shared chunk in the first and the last.
    for (let d = 0; d < 14; d++) {
      const lines = Array.from(
        { length: 40 },
        (_, i) =>
          `Ledger ${d} entry ${i} records that crate ${d * 100 + i} of the Varnholm shipment left the northern quay at dawn.`,
      );
      if (d === 0 || d === 13) lines.splice(20, 0, SHARED);
      files[`ledger-${String(d).padStart(2, "0")}.txt`] = `Harbour ledger\n\n${lines.join(" ")}\n`;
    }
    // Chunks of one sentence each, so the shared sentence under the same title is a shared chunk.
    const f = await newFixture(files, { chunkMaxTokens: 32, chunkOverlapTokens: 0 });
    const shared = `Harbour ledger\n${SHARED}`;
    const { docs } = await loadCorpus(f.corpusDir);
    const groups = groupDocs(docs.map((d) => prepareDoc(d, f.config, embedder)));
    expect(groups).toHaveLength(2);
    expect(groups.map((g) => g.flatMap((p) => p.chunkInputs).filter((t) => t === shared))).toEqual([
      [shared],
      [shared],
    ]);
    const calls: string[][] = [];
    const recording: Embedder = Object.assign(Object.create(embedder) as Embedder, {
      embed: (texts: readonly string[], kind: "query" | "passage") => {
        calls.push([...texts]);
        return embedder.embed(texts, kind);
      },
    });
    const s = await buildIndex({ config: f.config, embedder: recording, openWriter: openBackendWriter });
    const counts = (await open(f)).store.counts();
    const texts = calls.flat();
    expect(texts.filter((t) => t === shared)).toHaveLength(1);
    expect(new Set(texts).size).toBe(texts.length);
    expect(s.embedded).toBe(texts.length);
    expect(s.embedded).toBe(counts.chunks - 1);
    expect(s.reused).toBe(1);
  }, 120_000);

  it("embeds a group's chunk inputs and nothing else, in batches by token count, each text once", async () => {
    const f = await newFixture({
      "notes.md": NOTES_MD,
      "farm/orchard.txt": ORCHARD_TXT,
      "records.jsonl": RECORDS_JSONL,
    });
    const calls: string[][] = [];
    // The real model, with each call it is given written down.
    const recording: Embedder = Object.assign(Object.create(embedder) as Embedder, {
      embed: (texts: readonly string[], kind: "query" | "passage") => {
        calls.push([...texts]);
        return embedder.embed(texts, kind);
      },
    });
    const s = await buildIndex({
      config: { ...f.config, embedBatchSize: 4 },
      embedder: recording,
      openWriter: openBackendWriter,
    });
    const counts = (await open(f)).store.counts();
    const texts = calls.flat();
    expect(texts.length).toBe(s.embedded);
    expect(new Set(texts).size).toBe(texts.length);
    expect(s.embedded).toBe(counts.chunks);
    // Three small documents make one group: every batch full but the last, and the token counts
    // never fall from one text to the next across batches.
    expect(calls.slice(0, -1).every((c) => c.length === 4)).toBe(true);
    const tokens = texts.map((t) => embedder.countTokens(t));
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    // Exactly the chunk inputs, with their titles: no sentence went through the model.
    const { docs } = await loadCorpus(f.corpusDir);
    const inputs = docs.flatMap((d) => prepareDoc(d, f.config, embedder).chunkInputs);
    expect([...texts].sort()).toEqual([...inputs].sort());
  });

  it("counts progress in chunks, so one document ends at its own chunk count", async () => {
    const f = await newFixture({ "notes.md": NOTES_MD });
    const seen: { done: number; total: number }[] = [];
    const s = await build(f, { onProgress: ({ done, total }) => seen.push({ done, total }) });
    const index = await open(f);
    expect(textsOfDoc(index, "notes").sentences).toBeGreaterThan(s.chunks);
    expect(seen[0]).toEqual({ done: 0, total: s.chunks });
    expect(seen.at(-1)).toEqual({ done: s.chunks, total: s.chunks });
  });

  it("answers lexical and dense searches from the published index", async () => {
    const index = await open(template);
    expect(lexicalDocs(index, "Pellowmere")).toEqual(["farm/orchard"]);
    const [top] = await denseLabels(index, "Who is China's foreign minister?");
    expect(index.store.getChunk(top!)?.docId).toBe(SEED_ID);
  });

  it("publishes nothing and embeds nothing when nothing changed", async () => {
    const f = await builtFixture();
    const before = await readdir(f.indexDir);
    const version = readCurrent(f);
    const s = await build(f);
    expect(s).toMatchObject({
      published: false,
      version,
      embedded: 0,
      reused: 0,
      documents: 5,
      unchanged: 5,
      added: 0,
      changed: 0,
      removed: 0,
      chunks: firstBuild.chunks,
    });
    expect(readCurrent(f)).toBe(version);
    expect(await readdir(f.indexDir)).toEqual(before);
  });

  it("embeds only the texts of an added document", async () => {
    const f = await builtFixture();
    const old = await open(f);
    await writeFile(
      path.join(f.corpusDir, "harbour.txt"),
      "Lighthouse reopens\nThe Varnholm lighthouse reopened to visitors after a two-year restoration. Its lamp was rebuilt by local glassmakers.\n",
    );
    const s = await build(f);
    expect(s).toMatchObject({ published: true, added: 1, changed: 0, removed: 0, unchanged: 5, reused: 0 });
    const index = await open(f);
    const added = textsOfDoc(index, "harbour");
    expect(added.chunks).toBeGreaterThan(0);
    expect(s.embedded).toBe(added.chunks);
    expect(lexicalDocs(index, "Varnholm")).toEqual(["harbour"]);
    const [top] = await denseLabels(index, "Which lighthouse was restored?");
    expect(index.store.getChunk(top!)?.docId).toBe("harbour");
    // The documents already indexed keep their labels and vectors.
    const before = storedVectors(old);
    const after = storedVectors(index);
    for (const [label, v] of before) expect(after.get(label)).toEqual(v);
  });

  it("replaces a changed document's chunks and reuses the vectors of unchanged text", async () => {
    const f = await builtFixture();
    const old = await open(f);
    const oldNotes = labelsOfDoc(old, "notes");
    expect(oldNotes).toHaveLength(1);
    const oldSentences = textsOfDoc(old, "notes").sentences;
    expect(oldSentences).toBeGreaterThan(1);
    await writeFile(
      path.join(f.corpusDir, "notes.md"),
      NOTES_MD.replace("zephyrine corrosion", "quillonbrook rust"),
    );

    const s = await build(f);
    expect(s).toMatchObject({ published: true, added: 0, changed: 1, removed: 0, unchanged: 4 });
    const index = await open(f);
    expect(lexicalDocs(index, "zephyrine")).toEqual([]);
    expect(lexicalDocs(index, "quillonbrook")).toEqual(["notes"]);
    // The one chunk is new text; the sentences are written again as spans, never embedded.
    expect(textsOfDoc(index, "notes")).toEqual({ chunks: 1, sentences: oldSentences });
    expect(s.embedded).toBe(1);
    expect(s.reused).toBe(0);

    const newNotes = labelsOfDoc(index, "notes");
    expect(newNotes.some((l) => oldNotes.includes(l))).toBe(false);
    for (const label of oldNotes) expect(index.store.getChunk(label)).toBeUndefined();
    const hits = index.vectors.search(old.vectors.vector(oldNotes[0]!), index.vectors.size);
    expect(hits[0]!.label).toBe(newNotes[0]);
    expect(hits.filter((h) => oldNotes.includes(h.label))).toEqual([]);

    const before = storedVectors(old);
    const after = storedVectors(index);
    for (const [label, v] of before) {
      if (!oldNotes.includes(label)) expect(after.get(label)).toEqual(v);
    }
  });

  it("removes a deleted document from both the lexical and the dense index", async () => {
    const f = await builtFixture();
    const old = await open(f);
    const gone = labelsOfDoc(old, "farm/orchard");
    await unlink(path.join(f.corpusDir, "farm/orchard.txt"));

    const s = await build(f);
    expect(s).toMatchObject({ published: true, added: 0, changed: 0, removed: 1, unchanged: 4, embedded: 0 });
    const index = await open(f);
    expect(index.store.getDoc("farm/orchard")).toBeUndefined();
    expect(index.manifest.docs).not.toHaveProperty("farm/orchard");
    expect(index.store.counts().docs).toBe(4);
    expect(lexicalDocs(index, "Pellowmere")).toEqual([]);
    for (const label of gone) {
      const hits = index.vectors.search(old.vectors.vector(label), index.vectors.size);
      expect(hits.length).toBe(index.store.counts().chunks);
      expect(
        docsOfLabels(
          index,
          hits.map((h) => h.label),
        ).filter((d) => d === "farm/orchard" || d.startsWith("missing")),
      ).toEqual([]);
    }
    const top = docsOfLabels(index, await denseLabels(index, "Which orchard had a record apple harvest?"));
    expect(top).not.toContain("farm/orchard");
  });

  it("rebuilds everything from scratch with the full option", async () => {
    const f = await builtFixture();
    const old = await open(f);
    const s = await build(f, { full: true });
    expect(s).toMatchObject({ published: true, added: 5, changed: 0, removed: 0, unchanged: 0, reused: 0 });
    expect(s.version).not.toBe(old.version);
    const index = await open(f);
    expect(s.embedded).toBe(index.store.counts().chunks);
    expect(index.manifest.counts.deletedLabels).toBe(0);
    const texts = (i: LoadedIndex) =>
      [...storedVectors(i).keys()].map((l) => i.store.getChunk(l)!.text).sort();
    expect(texts(index)).toEqual(texts(old));
  });

  it("rebuilds from scratch when the chunker settings change", async () => {
    const f = await builtFixture();
    const notices: string[] = [];
    const smaller = { ...f, config: { ...f.config, chunkMaxTokens: 96, chunkOverlapTokens: 16 } };
    const s = await build(smaller, { onNotice: (line) => notices.push(line) });
    expect(notices.some((n) => n.startsWith("rebuilding from scratch"))).toBe(true);
    expect(s).toMatchObject({ published: true, added: 5, reused: 0 });
    const index = await open(smaller);
    expect(index.store.counts().chunks).toBeGreaterThan(firstBuild.chunks);
    await expect(openIndex(f.indexDir, expectation(f.config))).rejects.toMatchObject({
      code: "INDEX_SETTINGS_MISMATCH",
    });
  });

  it("reports a bad JSONL line and a binary .txt by name and indexes the rest", async () => {
    const f = await newFixture({
      "good.txt": ORCHARD_TXT,
      "bad.jsonl": `${JSON.stringify({ id: "fine", text: "The ferry timetable changes in spring." })}\n{"id": "broken", "text": \n`,
      "binary.txt": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]),
    });
    const s = await build(f);
    expect(s).toMatchObject({ published: true, documents: 2 });
    expect(s.issues.map((i) => [i.source, i.code]).sort()).toEqual([
      ["bad.jsonl", "FILE_MALFORMED"],
      ["binary.txt", "FILE_BINARY"],
    ]);
    expect(s.issues.find((i) => i.source === "bad.jsonl")?.message).toMatch(
      /^bad\.jsonl line 2: invalid JSON/,
    );
    const index = await open(f);
    expect(index.store.getDoc("good")).toBeDefined();
    expect(index.store.getDoc("fine")?.text).toBe("The ferry timetable changes in spring.");
    expect(lexicalDocs(index, "timetable")).toEqual(["fine"]);
  });

  it("stops at the next batch when its signal is aborted, keeping the previous index", async () => {
    const f = await builtFixture();
    const version = readCurrent(f);
    await writeFile(path.join(f.corpusDir, "notes.md"), NOTES_MD.replace("zephyrine", "quillonbrook"));
    const controller = new AbortController();
    controller.abort();
    await expect(build(f, { signal: controller.signal })).rejects.toMatchObject({
      code: "CANCELLED",
      message: "indexing was interrupted; the previous index is unchanged",
    });
    expect(readCurrent(f)).toBe(version);
    expect(await partials(f)).toEqual([]);
    expect(lexicalDocs(await open(f), "zephyrine")).toEqual(["notes"]);
  });

  it("cites exact text in documents with characters outside the Basic Multilingual Plane", async () => {
    // Emoji and mathematical letters take two UTF-16 code units; offsets are UTF-16 (JS) offsets.
    const text = Array.from(
      { length: 12 },
      (_, i) =>
        `Sentence ${i + 1} 🚲 mentions the 𝔙elmora bike-share scheme, which grew fast in its ${i + 1}th month.`,
    ).join(" ");
    const f = await newFixture({ "bikes.txt": `Bike share\n${text}\n` });
    f.config = { ...f.config, chunkMaxTokens: 64, chunkOverlapTokens: 8 };
    await build(f);
    const index = await open(f);
    const doc = index.store.getDoc("bikes")!;
    const labels = labelsOfDoc(index, "bikes");
    expect(labels.length).toBeGreaterThan(2);
    for (const label of labels) {
      const chunk = index.store.getChunk(label)!;
      expect(chunk.text).toBe(doc.text.slice(chunk.start, chunk.end));
    }
  });
});

describe("openIndex", () => {
  it.each([
    { change: "model name", model: { name: "all-MiniLM-L6-v2" } },
    { change: "dimensions", model: { dim: 768 } },
    { change: "pooling", model: { pooling: "mean" as const } },
  ])("refuses an index built with another embedding model ($change)", async ({ model }) => {
    const expect_ = expectation(template.config);
    await expect(
      openIndex(template.indexDir, { ...expect_, model: { ...expect_.model, ...model } }),
    ).rejects.toMatchObject({
      code: "INDEX_MODEL_MISMATCH",
      message: expect.stringContaining(
        "the index was built with bge-small-en-v1.5 (384 dimensions, cls pooling)",
      ),
    });
  });

  it.each([
    { change: "chunk size", chunker: { maxTokens: 256 } },
    { change: "overlap", chunker: { overlapTokens: 0 } },
    { change: "chunker version", chunker: { version: 99 } },
  ])("refuses an index built with other chunker settings ($change)", async ({ chunker }) => {
    const expect_ = expectation(template.config);
    await expect(
      openIndex(template.indexDir, { ...expect_, chunker: { ...expect_.chunker, ...chunker } }),
    ).rejects.toMatchObject({
      code: "INDEX_SETTINGS_MISMATCH",
      message: expect.stringContaining("the index was built with chunks of 192 tokens and 32 overlap"),
    });
  });

  it.each([
    { damage: "a truncated vectors.hnsw", file: "vectors.hnsw", harm: (f: string) => truncate(f, 1000) },
    {
      damage: "a flipped byte in vectors.hnsw",
      file: "vectors.hnsw",
      harm: (f: string) => flipByte(f, (n) => n >> 1),
    },
    { damage: "a truncated index.db", file: "index.db", harm: (f: string) => truncate(f, 4096) },
    {
      damage: "a flipped byte in index.db",
      file: "index.db",
      harm: (f: string) => flipByte(f, (n) => n - 100),
    },
    { damage: "a missing index.db", file: "index.db", harm: (f: string) => unlink(f) },
    { damage: "a manifest that is not JSON", file: "manifest.json", harm: (f: string) => truncate(f, 10) },
  ])("refuses an index with $damage as INDEX_CORRUPT", async ({ file, harm }) => {
    const f = await builtFixture();
    await harm(path.join(f.indexDir, readCurrent(f), file));
    await expect(openIndex(f.indexDir, expectation(f.config))).rejects.toMatchObject({
      code: "INDEX_CORRUPT",
      message: expect.stringContaining("run `npm run index -- --full`"),
    });
  });

  it("refuses a folder with no index as INDEX_MISSING", async () => {
    const f = await newFixture({});
    await expect(openIndex(f.indexDir, expectation(f.config))).rejects.toMatchObject({
      code: "INDEX_MISSING",
    });
  });
});

describe("buildIndex over a damaged index", () => {
  it.each([
    { damage: "a truncated vectors.hnsw", file: "vectors.hnsw", harm: (f: string) => truncate(f, 1000) },
    {
      damage: "a flipped byte in index.db",
      file: "index.db",
      harm: (f: string) => flipByte(f, (n) => n - 100),
    },
  ])("rebuilds from scratch instead of building on $damage", async ({ file, harm }) => {
    const f = await builtFixture();
    await harm(path.join(f.indexDir, readCurrent(f), file));
    await writeFile(path.join(f.corpusDir, "notes.md"), NOTES_MD.replace("zephyrine", "quillonbrook"));
    const notices: string[] = [];
    const s = await build(f, { onNotice: (line) => notices.push(line) });
    expect(notices.some((n) => n.startsWith("rebuilding from scratch"))).toBe(true);
    expect(s).toMatchObject({ published: true, added: 5, reused: 0 });
    const index = await open(f);
    expect(s.embedded).toBe(index.store.counts().chunks);
  });
});

describe("buildIndex when writing fails", () => {
  const enospc = () =>
    Promise.reject(
      Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 }),
    );
  it.each([
    { step: "writing the manifest", io: { writeFile: enospc } },
    { step: "copying the previous index", io: { copyFile: enospc } },
  ])(
    "keeps the previous index published after a failure $step, and the next build succeeds",
    async ({ io }) => {
      const f = await builtFixture();
      const version = readCurrent(f);
      await writeFile(path.join(f.corpusDir, "notes.md"), NOTES_MD.replace("zephyrine", "quillonbrook"));

      const openWriter: BuildOptions["openWriter"] = (config, o) =>
        openEmbeddedWriter(config.indexDir, { ...o, io });
      await expect(build(f, { openWriter })).rejects.toMatchObject({ code: "ENOSPC" });
      expect(readCurrent(f)).toBe(version);
      const old = await open(f);
      expect(old.version).toBe(version);
      expect(lexicalDocs(old, "zephyrine")).toEqual(["notes"]);
      const [top] = await denseLabels(old, "Who is China's foreign minister?");
      expect(old.store.getChunk(top!)?.docId).toBe(SEED_ID);

      const s = await build(f);
      expect(s).toMatchObject({ published: true, changed: 1 });
      expect(readCurrent(f)).toBe(s.version);
      expect(await partials(f)).toEqual([]);
      expect(lexicalDocs(await open(f), "quillonbrook")).toEqual(["notes"]);
    },
  );
});

describe("the indexer lock", () => {
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => child.once("exit", resolve));
    return child.pid!;
  }

  it("takes over a lock left by a process that no longer runs", async () => {
    const f = await builtFixture();
    const lock = path.join(f.indexDir, "LOCK");
    await writeFile(lock, String(await deadPid()));
    const s = await build(f);
    expect(s.published).toBe(false);
    expect(existsSync(lock)).toBe(false);
  });

  it("refuses to build while another live process holds the lock", async () => {
    const f = await builtFixture();
    const lock = path.join(f.indexDir, "LOCK");
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    try {
      const pid = holder.pid!;
      await writeFile(lock, String(pid));
      await expect(build(f)).rejects.toMatchObject({
        code: "INDEX_LOCKED",
        message: `another indexer (pid ${pid}) is building ${f.indexDir}; wait for it to finish`,
      });
      expect(readFileSync(lock, "utf8")).toBe(String(pid));
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

describe("an empty corpus over a published index", () => {
  it.each<[string, (f: Fixture) => Promise<void>]>([
    ["an emptied folder", (f) => rm(f.corpusDir, { recursive: true }).then(() => mkdir(f.corpusDir))],
    [
      "a folder whose only file cannot be read",
      async (f) => {
        await rm(f.corpusDir, { recursive: true });
        await mkdir(f.corpusDir);
        await writeFile(path.join(f.corpusDir, "bad.jsonl"), "{oops\n{nope\n");
      },
    ],
  ])("refuses to publish %s and keeps the index", async (_name, empty) => {
    const f = await builtFixture();
    const before = (await open(f)).version;
    await empty(f);
    const err = await build(f).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "INDEX_WOULD_EMPTY" });
    expect((err as Error).message).toMatch(
      /^the corpus folder .+ gives no document( \(1 file could not be read\))?; the published index of \d+ documents is kept\. Check the folder, or pass --allow-empty to publish an empty index$/,
    );
    expect((await open(f)).version).toBe(before);
  });

  it("publishes the empty index when asked to", async () => {
    const f = await builtFixture();
    await rm(f.corpusDir, { recursive: true });
    await mkdir(f.corpusDir);
    const s = await build(f, { allowEmpty: true });
    expect(s.published).toBe(true);
    expect(s.documents).toBe(0);
  });
});

describe("the closing line about corpus problems", () => {
  const problem = (source: string) => ({
    source,
    code: "FILE_MALFORMED" as const,
    message: `${source}: bad`,
  });
  it.each<[string, ReturnType<typeof problem>[], string]>([
    ["one file", [problem("a.txt")], "1 file could not be indexed in full; see above"],
    [
      "nine bad lines of one file as one file",
      Array.from({ length: 9 }, () => problem("records.jsonl")),
      "1 file could not be indexed in full (9 problems); see above",
    ],
    [
      "files, not problems",
      [problem("a.txt"), problem("b.jsonl"), problem("b.jsonl")],
      "2 files could not be indexed in full (3 problems); see above",
    ],
  ])("counts %s", (_name, issues, line) => {
    expect(issuesLine(issues)).toBe(line);
  });
});
