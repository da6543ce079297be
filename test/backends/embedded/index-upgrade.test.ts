import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoadedIndex, openIndex } from "../../../backends/embedded/open-version.ts";
import {
  currentVersion,
  DB_FILE,
  FORMAT_VERSION,
  fileDigest,
  HNSW_FILE,
  MANIFEST_FILE,
  type Manifest,
  versionDir,
} from "../../../backends/embedded/versions.ts";
import { openBackendWriter } from "../../../backends/select.ts";
import { chunkerInfo, modelInfo } from "../../../core/backend.ts";
import { type Config, loadConfig } from "../../../core/config.ts";
import type { Embedder } from "../../../core/types.ts";
import { cacheKey, ensureIndex, fileSha256 } from "../../../eval/index-cache.ts";
import { buildIndex } from "../../../ingest/indexer.ts";
import { countingEmbedder, getEmbedder } from "../../helpers/model.ts";

/**
 * Format 2, as an earlier release wrote it: every chunk's text and a float32 copy of its vector
 * in SQLite beside the hnswlib graph, and an int8 vector of every sentence. Kept here, verbatim,
 * to build an index of that format.
 */
const FORMAT2_SCHEMA = `
CREATE TABLE docs (
  id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT, source TEXT NOT NULL,
  hash TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX docs_date ON docs(date);
CREATE TABLE chunks (
  label INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, ehash TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_ehash ON chunks(ehash);
CREATE TABLE sentences (
  doc_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, ehash TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (doc_id, start)
) WITHOUT ROWID;
CREATE INDEX sentences_ehash ON sentences(ehash);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  title, text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2'
);
`;

/**
 * Format 3, as the previous release wrote it: chunk vectors in the graph only, no chunk text, and
 * an int8 vector of every sentence. Kept here, verbatim, to build an index of that format.
 */
const FORMAT3_SCHEMA = `
CREATE TABLE docs (
  id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT, source TEXT NOT NULL,
  hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT
);
CREATE INDEX docs_date ON docs(date);
CREATE TABLE chunks (
  label INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, ehash TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_ehash ON chunks(ehash);
CREATE TABLE sentences (
  doc_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, ehash TEXT NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (doc_id, start)
) WITHOUT ROWID;
CREATE INDEX sentences_ehash ON sentences(ehash);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  title, text, content='', contentless_delete=1, tokenize='porter unicode61 remove_diacritics 2'
);
`;

const CORPUS = {
  "notes.md": `# Kestrelford harbour bridge

The Kestrelford harbour bridge will close for repairs on 3 March.

Engineers found zephyrine corrosion on two of the steel cables last winter.

Ferries will run every twenty minutes while the bridge is shut.
`,
  "orchard.txt": `Orchard cooperative
The Pellowmere orchard cooperative picked a record apple harvest this autumn.
Members pressed most of the fruit into cider at the old mill.
`,
};

const QUESTIONS = ["When does the harbour bridge close?", "Who pressed cider at the mill?"];

let embedder: Embedder;
let root: string;
/** A current-format build of CORPUS, which the tests rewrite in an older format. */
let current: { config: Config; indexDir: string };
const opened: LoadedIndex[] = [];

/**
 * Writes `from`'s published version into `indexDir` as an index of format 2 or 3. Each sentence
 * gets a vector of zeros in the int8 form those formats stored: this version never reads it.
 */
async function writeOld(format: 2 | 3, from: LoadedIndex, indexDir: string): Promise<string> {
  const dir = versionDir(indexDir, from.version);
  await mkdir(dir, { recursive: true });
  await copyFile(path.join(from.dir, HNSW_FILE), path.join(dir, HNSW_FILE));
  const db = new Database(path.join(dir, DB_FILE));
  db.exec(format === 2 ? FORMAT2_SCHEMA : FORMAT3_SCHEMA);
  const src = from.store.db;
  db.transaction(() => {
    const insertDoc = db.prepare(
      format === 2
        ? "INSERT INTO docs VALUES (@id, @title, @date, @url, @source, @hash, @text)"
        : "INSERT INTO docs VALUES (@id, @title, @date, @url, @source, @hash, @text, @pages)",
    );
    for (const row of src.prepare("SELECT * FROM docs").all()) insertDoc.run(row);
    const insertChunk = db.prepare(
      format === 2
        ? "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        : "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const insertFts = db.prepare("INSERT INTO chunks_fts (rowid, title, text) VALUES (?, ?, ?)");
    const rows = src.prepare("SELECT label, ehash FROM chunks").all() as { label: number; ehash: string }[];
    for (const { label, ehash } of rows) {
      const c = from.store.getChunk(label)!;
      const v = from.vectors.vector(label);
      if (format === 2)
        insertChunk.run(
          label,
          c.id,
          c.docId,
          c.ordinal,
          c.start,
          c.end,
          c.text,
          ehash,
          Buffer.from(v.buffer),
        );
      else insertChunk.run(label, c.id, c.docId, c.ordinal, c.start, c.end, ehash);
      insertFts.run(label, from.store.getDocMeta(c.docId)!.title, c.text);
    }
    const insertSentence = db.prepare("INSERT INTO sentences VALUES (?, ?, ?, ?, ?)");
    const int8Zeros = Buffer.alloc(4 + embedder.dim);
    for (const s of src.prepare("SELECT doc_id, start, end, ehash FROM sentences").raw().all()) {
      insertSentence.run(...(s as unknown[]), int8Zeros);
    }
  })();
  db.close();
  const manifest: Manifest = {
    ...from.manifest,
    format,
    files: {
      [DB_FILE]: await fileDigest(path.join(dir, DB_FILE)),
      [HNSW_FILE]: await fileDigest(path.join(dir, HNSW_FILE)),
    },
  };
  await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest));
  await writeFile(path.join(indexDir, "CURRENT"), `${from.version}\n`);
  return from.version;
}

async function open(indexDir: string, config: Config): Promise<LoadedIndex> {
  const index = await openIndex(indexDir, { model: modelInfo(embedder), chunker: chunkerInfo(config) });
  opened.push(index);
  return index;
}

/** What an answer reads from an index: the chunks a dense and a lexical search return. */
async function readings(index: LoadedIndex) {
  const out = [];
  for (const q of QUESTIONS) {
    const [v] = await embedder.embed([q], "query");
    const dense = index.vectors.search(v!, 10).map((h) => ({ ...h, chunk: index.store.getChunk(h.label) }));
    const terms = q.toLowerCase().match(/\w+/g) ?? [];
    const lexical = index.store.lexicalSearch(terms, 10).map((h) => index.store.getChunk(h.label));
    out.push({ dense, lexical });
  }
  return out;
}

beforeAll(async () => {
  embedder = await getEmbedder();
  root = await mkdtemp(path.join(os.tmpdir(), "citeline-upgrade-"));
  const corpusDir = path.join(root, "corpus");
  await mkdir(corpusDir);
  for (const [name, text] of Object.entries(CORPUS)) await writeFile(path.join(corpusDir, name), text);
  const indexDir = path.join(root, "index");
  const config = loadConfig({ corpusDir, indexDir });
  await buildIndex({ openWriter: openBackendWriter, config, embedder });
  current = { config, indexDir };
}, 120_000);

afterAll(async () => {
  for (const index of opened.splice(0)) index.close();
  await rm(root, { recursive: true, force: true });
});

describe.each([2, 3] as const)("an index of format %i", (format) => {
  it("is refused by a reader with advice to run the indexer, which upgrades it", async () => {
    const indexDir = path.join(root, `refused-${format}`);
    const version = await writeOld(format, await open(current.indexDir, current.config), indexDir);
    await expect(open(indexDir, current.config)).rejects.toMatchObject({
      code: "INDEX_FORMAT_OLD",
      message: `${path.join(versionDir(indexDir, version), MANIFEST_FILE)} is an index of format ${format}; this version reads format 4: run \`npm run index\` to upgrade it (its chunk vectors are reused, nothing is embedded again)`,
    });
  });

  it("is upgraded by the indexer without embedding anything, and reads as the current build does", async () => {
    const indexDir = path.join(root, `upgraded-${format}`);
    const oldVersion = await writeOld(format, await open(current.indexDir, current.config), indexDir);
    const config = loadConfig({ corpusDir: current.config.corpusDir, indexDir });
    const model = countingEmbedder(embedder);
    const notices: string[] = [];
    const s = await buildIndex({
      openWriter: openBackendWriter,
      config,
      embedder: model,
      onNotice: (l) => notices.push(l),
    });
    expect(notices).toContain(
      `upgrading the index from format ${format} to 4: every document is written again, with the chunk vectors it has`,
    );
    expect(model.passages).toBe(0);
    expect(s).toMatchObject({ published: true, embedded: 0 });
    const upgraded = await open(indexDir, config);
    expect(upgraded.manifest.format).toBe(FORMAT_VERSION);
    expect(upgraded.version).not.toBe(oldVersion);
    const counts = upgraded.store.counts();
    expect(s.reused).toBe(counts.chunks);
    const columns = upgraded.store.db.pragma("table_info(sentences)") as { name: string }[];
    expect(columns.map((c) => c.name)).toEqual(["doc_id", "start", "end", "ehash"]);

    const reference = await open(current.indexDir, current.config);
    expect(counts).toEqual(reference.store.counts());
    // Same labels in the same order, same chunk texts and vectors: the same searches.
    expect(await readings(upgraded)).toEqual(await readings(reference));
    const spans = (index: LoadedIndex) =>
      [...index.store.docHashes().keys()].sort().map((id) => index.store.sentencesIn(id, 0, 1e9));
    expect(spans(upgraded)).toEqual(spans(reference));
    expect(spans(upgraded).flat().length).toBe(counts.sentences);
    for (const label of reference.store.allLabels()) {
      const a = reference.vectors.vector(label);
      const b = upgraded.vectors.vector(label);
      for (let d = 0; d < a.length; d++) expect(Math.abs(a[d]! - b[d]!)).toBeLessThan(1e-6);
    }
  });

  it("in the evaluation cache seeds the entry of the current format, which embeds nothing and leaves the old entry as it was", async () => {
    const cacheRoot = path.join(root, `cache-${format}`);
    await mkdir(path.join(root, `jsonl-${format}`));
    const corpusFile = path.join(root, `jsonl-${format}`, "corpus.jsonl");
    await writeFile(
      corpusFile,
      `${Object.entries(CORPUS)
        .map(([id, text]) => JSON.stringify({ id, title: id, text }))
        .join("\n")}\n`,
    );
    // The entry an earlier version made: the same corpus indexed in the old format.
    const built = path.join(root, `jsonl-index-${format}`);
    await buildIndex({
      openWriter: openBackendWriter,
      config: loadConfig({ corpusDir: path.dirname(corpusFile), indexDir: built }),
      embedder,
    });
    const sha = await fileSha256(corpusFile);
    const oldEntry = path.join(cacheRoot, cacheKey(sha, current.config, format));
    const oldVersion = await writeOld(
      format,
      await open(built, current.config),
      path.join(oldEntry, "index"),
    );
    const oldCacheJson = `${JSON.stringify({ corpusSha256: sha, formatVersion: format })}\n`;
    await writeFile(path.join(oldEntry, "cache.json"), oldCacheJson);
    const oldDb = await readFile(path.join(oldEntry, "index", oldVersion, DB_FILE));

    const model = countingEmbedder(embedder);
    const cached = await ensureIndex({
      corpusFile,
      cacheRoot,
      overrides: {},
      embedder: model,
      expectDocuments: 2,
    });
    expect(model.passages).toBe(0);
    expect(cached).toMatchObject({ key: cacheKey(sha, current.config), complete: true });
    expect(cached.build).toMatchObject({ published: true, embedded: 0 });
    const version = currentVersion(cached.indexDir)!;
    expect(
      JSON.parse(await readFile(path.join(versionDir(cached.indexDir, version), MANIFEST_FILE), "utf8")),
    ).toMatchObject({ format: FORMAT_VERSION, counts: { docs: 2 } });
    expect(await readFile(path.join(oldEntry, "cache.json"), "utf8")).toBe(oldCacheJson);
    expect(await readFile(path.join(oldEntry, "index", oldVersion, DB_FILE))).toEqual(oldDb);
  });
});
