import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ChunkerInfo, ModelInfo } from "../../core/backend.ts";
import { AppError } from "../../core/errors.ts";
import { pidAlive } from "../../core/pid.ts";

export type { ChunkerInfo, ModelInfo };

/**
 * The index on disk: versioned folders under the index directory, and a CURRENT file naming
 * the published one. A build writes `<version>.partial/`, renames it to `<version>/`, then
 * replaces CURRENT by rename, so a reader sees the old index or the new one, never a mix.
 *
 *   data/index/CURRENT              "v-20261128T013800Z-1a2b"
 *   data/index/v-…/manifest.json    what was built, with whom, and file checksums
 *   data/index/v-…/index.db         SQLite: docs, chunks, sentences, FTS5
 *   data/index/v-…/vectors.hnsw     hnswlib graph of chunk vectors
 */

/**
 * Bumped when the files' layout changes. Format 3 keeps each chunk vector once (in the hnswlib
 * graph; format 2 also kept a float32 copy in SQLite) and no chunk text (a chunk is a slice of its
 * document's text, cut by its offsets). Format 4 keeps sentence spans without vectors (formats 2
 * and 3 kept an int8 vector of every sentence).
 */
export const FORMAT_VERSION = 4;
/**
 * Older formats an index can be upgraded from without running the model again: the indexer
 * rebuilds the files in the current format and takes every chunk vector from the old index.
 */
export const UPGRADABLE_FORMATS: readonly number[] = [2, 3];
export const DB_FILE = "index.db";
export const HNSW_FILE = "vectors.hnsw";
export const MANIFEST_FILE = "manifest.json";
const CURRENT_FILE = "CURRENT";
const LOCK_FILE = "LOCK";

export interface Manifest {
  format: number;
  model: ModelInfo;
  chunker: ChunkerInfo;
  counts: { docs: number; chunks: number; sentences: number; deletedLabels: number; nextLabel: number };
  builtAt: string;
  buildSeconds: number;
  /** Document id → content hash. */
  docs: Record<string, string>;
  files: Record<string, { size: number; sha256: string }>;
}

export function currentVersion(indexDir: string): string | undefined {
  const file = path.join(indexDir, CURRENT_FILE);
  if (!existsSync(file)) return undefined;
  const name = readFileSync(file, "utf8").trim();
  return /^v-[\w-]+$/.test(name) ? name : undefined;
}

export function versionDir(indexDir: string, version: string): string {
  return path.join(indexDir, version);
}

export function newVersionName(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `v-${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}

/**
 * Reads and parses a manifest; INDEX_CORRUPT when it is missing or not a manifest of one of
 * `formats` (the current one by default). An index of an upgradable format is refused with advice
 * to run the indexer, which upgrades it without re-embedding.
 */
export function readManifest(dir: string, formats: readonly number[] = [FORMAT_VERSION]): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new AppError(
      "INDEX_CORRUPT",
      `cannot read ${file}: ${(err as Error).message}; run \`npm run index -- --full\``,
    );
  }
  const m = parsed as Partial<Manifest>;
  if (m.format !== undefined && !formats.includes(m.format) && UPGRADABLE_FORMATS.includes(m.format)) {
    throw new AppError(
      "INDEX_FORMAT_OLD",
      `${file} is an index of format ${m.format}; this version reads format ${FORMAT_VERSION}: run \`npm run index\` to upgrade it (its chunk vectors are reused, nothing is embedded again)`,
    );
  }
  if (
    m.format === undefined ||
    !formats.includes(m.format) ||
    !m.model ||
    !m.chunker ||
    !m.files ||
    !m.docs ||
    !m.counts
  ) {
    throw new AppError(
      "INDEX_CORRUPT",
      `${file} is not an index manifest of format ${FORMAT_VERSION}; run \`npm run index -- --full\``,
    );
  }
  return m as Manifest;
}

/** Refuses an index built with another model or other chunker settings. */
export function checkCompatible(manifest: Manifest, model: ModelInfo, chunker: ChunkerInfo): void {
  const m = manifest.model;
  if (m.name !== model.name || m.dim !== model.dim || m.pooling !== model.pooling) {
    throw new AppError(
      "INDEX_MODEL_MISMATCH",
      `the index was built with ${m.name} (${m.dim} dimensions, ${m.pooling} pooling) but the configured model is ${model.name} (${model.dim}, ${model.pooling}); run \`npm run index -- --full\` or set CITELINE_MODEL=${m.name}`,
      { indexModel: m.name, configuredModel: model.name },
    );
  }
  const c = manifest.chunker;
  if (
    c.maxTokens !== chunker.maxTokens ||
    c.overlapTokens !== chunker.overlapTokens ||
    c.version !== chunker.version
  ) {
    throw new AppError(
      "INDEX_SETTINGS_MISMATCH",
      `the index was built with chunks of ${c.maxTokens} tokens and ${c.overlapTokens} overlap (chunker v${c.version}) but the settings say ${chunker.maxTokens} and ${chunker.overlapTokens} (v${chunker.version}); run \`npm run index -- --full\``,
    );
  }
}

export async function fileDigest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { size: statSync(file).size, sha256: hash.digest("hex") };
}

/** Checks that every file the manifest lists is present with its recorded size and checksum. */
export async function verifyFiles(dir: string, manifest: Manifest): Promise<void> {
  for (const name of [DB_FILE, HNSW_FILE]) {
    const want = manifest.files[name];
    const file = path.join(dir, name);
    if (!want)
      throw new AppError(
        "INDEX_CORRUPT",
        `the manifest in ${dir} does not list ${name}; run \`npm run index -- --full\``,
      );
    if (!existsSync(file))
      throw new AppError("INDEX_CORRUPT", `${file} is missing; run \`npm run index -- --full\``);
    const got = await fileDigest(file);
    if (got.size !== want.size || got.sha256 !== want.sha256) {
      throw new AppError(
        "INDEX_CORRUPT",
        `${file} does not match its manifest (${got.size} bytes, expected ${want.size}); run \`npm run index -- --full\``,
      );
    }
  }
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a file durably: temp file, fsync, rename. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await fsyncPath(tmp);
  await rename(tmp, file);
}

/**
 * Publishes a finished staging folder: renames it to its version name and points CURRENT at it.
 * Keeps the version it replaces (a running server may still read it) and deletes older ones.
 */
export async function publish(indexDir: string, stagingDir: string, version: string): Promise<string> {
  const finalDir = versionDir(indexDir, version);
  for (const f of [DB_FILE, HNSW_FILE, MANIFEST_FILE]) await fsyncPath(path.join(stagingDir, f));
  const previous = currentVersion(indexDir);
  await rename(stagingDir, finalDir);
  await writeFileAtomic(path.join(indexDir, CURRENT_FILE), `${version}\n`);
  await fsyncPath(indexDir);
  for (const name of readdirSync(indexDir)) {
    if (name.startsWith("v-") && name !== version && name !== previous && !name.endsWith(".partial")) {
      await rm(path.join(indexDir, name), { recursive: true, force: true });
    }
  }
  return finalDir;
}

/** Removes staging folders that an interrupted build left behind. */
export async function removeStaleStaging(indexDir: string): Promise<string[]> {
  if (!existsSync(indexDir)) return [];
  const stale = readdirSync(indexDir).filter((n) => n.endsWith(".partial"));
  for (const name of stale) await rm(path.join(indexDir, name), { recursive: true, force: true });
  return stale;
}

/**
 * Takes the indexer lock (one build at a time). A lock left by a process that no longer runs is
 * taken over. Returns the release function.
 */
export async function acquireLock(indexDir: string): Promise<() => Promise<void>> {
  await mkdir(indexDir, { recursive: true });
  const file = path.join(indexDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(file, "utf8"));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new AppError(
          "INDEX_LOCKED",
          `another indexer (pid ${pid}) is building ${indexDir}; wait for it to finish`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new AppError("INDEX_LOCKED", `could not take the lock ${file}`);
}
