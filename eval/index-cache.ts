/**
 * Indexes of evaluation corpora, built with the product's indexer and kept under a cache folder
 * keyed by what determines them: the corpus bytes, the model and the chunker settings.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { copyFile, cp, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { finished } from "node:stream/promises";
import {
  currentVersion,
  FORMAT_VERSION,
  publish,
  readManifest,
  UPGRADABLE_FORMATS,
  versionDir,
} from "../backends/embedded/versions.ts";
import { openBackendWriter } from "../backends/select.ts";
import { CHUNKER_VERSION } from "../core/backend.ts";
import type { Config } from "../core/config.ts";
import { loadConfig } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Embedder } from "../core/types.ts";
import { type BuildSummary, buildIndex, type Progress } from "../ingest/indexer.ts";
import { CORPUS_FILE } from "./dataset.ts";
import { seededEmbedder } from "./seeded-embedder.ts";

export interface CachedIndex {
  key: string;
  /** The cache entry: `corpus/` (only corpus.jsonl) and `index/`. */
  dir: string;
  corpusDir: string;
  indexDir: string;
  /** The build that made it, or undefined when a cached index was reused. */
  build: BuildSummary | undefined;
  /** Documents the index holds. */
  documents: number;
  /** With CITELINE_BACKEND=weaviate: the collection prefix the index was written under. */
  weaviatePrefix?: string;
  /**
   * The index holds every document of the corpus and nothing went wrong reading it. Only such an
   * index gets a cache entry; a partial one is rebuilt by the next run.
   */
  complete: boolean;
}

export interface EnsureIndexOptions {
  /** The corpus.jsonl to index. */
  corpusFile: string;
  /** Folder holding one entry per key. */
  cacheRoot: string;
  /** Settings besides the folders (model, chunker, ...); env overrides apply beneath them. */
  overrides: Partial<Config>;
  embedder: Embedder;
  /** Documents in the corpus file, as the dataset loader counted them. */
  expectDocuments: number;
  /**
   * The index folder of a corpus this one is a subset of. Its published version is copied in
   * first, so the product's incremental build only removes documents instead of embedding anew.
   */
  seedFrom?: string | undefined;
  onProgress?: (p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
}

/** sha256 of a file's bytes, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(file);
  stream.on("data", (b) => hash.update(b));
  await finished(stream);
  return hash.digest("hex");
}

/** What an index depends on besides the corpus. */
function indexSettings(config: Config, formatVersion = FORMAT_VERSION) {
  return {
    model: config.model,
    chunkMaxTokens: config.chunkMaxTokens,
    chunkOverlapTokens: config.chunkOverlapTokens,
    chunkerVersion: CHUNKER_VERSION,
    formatVersion,
  };
}

/** The cache key: corpus content, model, chunker settings and the index's file format. */
export function cacheKey(corpusSha256: string, config: Config, formatVersion = FORMAT_VERSION): string {
  return createHash("sha256")
    .update(JSON.stringify({ corpus: corpusSha256, ...indexSettings(config, formatVersion) }))
    .digest("hex")
    .slice(0, 16);
}

/**
 * The index folder of a complete cache entry for the same corpus and settings in an older file
 * format, if there is one: a new entry is seeded from it and upgraded by the indexer, with the
 * vectors it holds, instead of embedding the corpus again. The old entry is only read.
 */
function olderFormatEntry(cacheRoot: string, corpusSha256: string, config: Config): string | undefined {
  for (const format of UPGRADABLE_FORMATS) {
    const dir = path.join(cacheRoot, cacheKey(corpusSha256, config, format));
    const indexDir = path.join(dir, "index");
    if (existsSync(path.join(dir, "cache.json")) && currentVersion(indexDir)) return indexDir;
  }
  return undefined;
}

/**
 * Returns the cached index of the corpus, building it first when there is none. The corpus is
 * copied into a folder of its own, so the indexer sees that one file and nothing else.
 */
export async function ensureIndex(opts: EnsureIndexOptions): Promise<CachedIndex> {
  const base = loadConfig(opts.overrides);
  if (base.backend === "weaviate") return ensureWeaviateIndex(opts);
  const corpusSha256 = await fileSha256(opts.corpusFile);
  const key = cacheKey(corpusSha256, base);
  const dir = path.join(opts.cacheRoot, key);
  const corpusDir = path.join(dir, "corpus");
  const indexDir = path.join(dir, "index");
  // The entry is written last, after the index is published.
  const entry = path.join(dir, "cache.json");
  const cachedVersion = existsSync(entry) ? currentVersion(indexDir) : undefined;
  if (cachedVersion) {
    const documents = readManifest(versionDir(indexDir, cachedVersion)).counts.docs;
    if (documents === opts.expectDocuments) {
      return { key, dir, corpusDir, indexDir, build: undefined, documents, complete: true };
    }
    // Written before partial indexes were refused: never reuse it.
    opts.onNotice?.(
      `the cached index ${key} holds ${documents} of ${opts.expectDocuments} documents; rebuilding it`,
    );
  }

  await rm(dir, { recursive: true, force: true });
  await mkdir(corpusDir, { recursive: true });
  await copyFile(opts.corpusFile, path.join(corpusDir, CORPUS_FILE));
  const older = opts.seedFrom ? undefined : olderFormatEntry(opts.cacheRoot, corpusSha256, base);
  const seedFrom = opts.seedFrom ?? older;
  if (older) opts.onNotice?.(`upgrading the cached index ${older} to index format ${FORMAT_VERSION}`);
  const seedVersion = seedFrom && currentVersion(seedFrom);
  if (seedFrom && seedVersion) {
    const staging = path.join(indexDir, `${seedVersion}.partial`);
    await cp(versionDir(seedFrom, seedVersion), staging, { recursive: true });
    await publish(indexDir, staging, seedVersion);
  }
  const config = loadConfig({ ...opts.overrides, corpusDir, indexDir });
  const build = await buildIndex({
    openWriter: openBackendWriter,
    config,
    embedder: opts.embedder,
    full: !seedVersion,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (older && seedVersion && build.published) {
    // The copy of the old-format index was only read for its vectors; nothing serves it.
    await rm(versionDir(indexDir, seedVersion), { recursive: true, force: true });
  }
  const complete = build.issues.length === 0 && build.documents === opts.expectDocuments;
  if (complete) {
    const seed = seedVersion ? { seededFrom: seedFrom } : {};
    await writeFile(
      entry,
      `${JSON.stringify({ source: opts.corpusFile, corpusSha256, ...indexSettings(base), ...seed }, null, 2)}\n`,
    );
  }
  return { key, dir, corpusDir, indexDir, build, documents: build.documents, complete };
}

/**
 * Refuses an index that lacks part of the corpus, naming the file and the reasons, unless
 * `allowPartial` is set; then it reports them and returns how many documents are missing.
 * An index without a single document is refused either way: there is nothing to evaluate.
 */
export function requireComplete(
  cached: CachedIndex,
  opts: {
    expectDocuments: number;
    allowPartial?: boolean | undefined;
    /** The corpus file, named in messages. */
    source: string;
    onNotice?: (line: string) => void;
  },
): number {
  if (cached.complete) return 0;
  const issues = cached.build?.issues ?? [];
  const dropped = opts.expectDocuments - cached.documents;
  const what = `${opts.source}: ${dropped} of ${opts.expectDocuments} documents could not be indexed`;
  const first = issues[0];
  const reasons =
    first === undefined
      ? ""
      : ` (${first.message}${issues.length > 1 ? `; and ${issues.length - 1} more issues` : ""})`;
  if (!opts.allowPartial || cached.documents === 0) {
    const advice =
      cached.documents === 0
        ? "nothing is left to evaluate; fix the file"
        : "fix the file, or pass --allow-partial to evaluate on the rest";
    throw new AppError(first?.code ?? "INDEX_CORRUPT", `${what}${reasons}; ${advice}`, {
      dropped,
      issues: issues.length,
    });
  }
  opts.onNotice?.(`${what}; evaluating on the other ${cached.documents} (--allow-partial)`);
  for (const issue of issues) opts.onNotice?.(`not indexed: ${issue.code}: ${issue.message}`);
  return dropped;
}

/**
 * Writes a copy of a corpus.jsonl without the records whose id is in `drop`, line for line
 * otherwise, so the copy's hash names exactly that subset.
 */
export async function writeCorpusWithout(src: string, dst: string, drop: ReadonlySet<string>): Promise<void> {
  await mkdir(path.dirname(dst), { recursive: true });
  const out = createWriteStream(dst, "utf8");
  const lines = createInterface({ input: createReadStream(src, "utf8"), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() !== "") {
        const rec = JSON.parse(line.replace(/^\uFEFF/, "")) as { id?: unknown };
        if (drop.has(String(rec.id))) continue;
      }
      if (!out.write(`${line}\n`)) await once(out, "drain");
    }
  } finally {
    lines.close();
    out.end();
    await finished(out);
  }
}

/**
 * The evaluation index in Weaviate, under a collection prefix named by the cache key. The
 * embedded cache entry of the same corpus is made (or reused) first: its corpus copy is what is
 * indexed, and its stored vectors (computed by the same model and indexer) are reused for
 * identical embedder inputs, so both backends search the very same vectors and only the search
 * engines differ. Anything not in that index is embedded by the model.
 */
async function ensureWeaviateIndex(opts: EnsureIndexOptions): Promise<CachedIndex> {
  const embedded = await ensureIndex({ ...opts, overrides: { ...opts.overrides, backend: "embedded" } });
  const weaviatePrefix = `Eval${embedded.key}`;
  const config = loadConfig({
    ...opts.overrides,
    backend: "weaviate",
    weaviatePrefix,
    corpusDir: embedded.corpusDir,
    indexDir: embedded.indexDir,
  });
  const embedder = seededEmbedder(opts.embedder, embedded.indexDir);
  try {
    const build = await buildIndex({
      openWriter: openBackendWriter,
      config,
      embedder,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const complete = build.issues.length === 0 && build.documents === opts.expectDocuments;
    opts.onNotice?.(
      `weaviate index ${weaviatePrefix}: ${build.published ? `built (${embedder.reused()} vectors reused from the embedded index, ${embedder.embedded()} embedded)` : "up to date"}`,
    );
    return { ...embedded, build: build.published ? build : undefined, complete, weaviatePrefix };
  } finally {
    embedder.close();
  }
}
