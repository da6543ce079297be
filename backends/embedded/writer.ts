/**
 * The write side of the embedded backend: a new version is staged in `<version>.partial/` as a
 * copy of the published one (SQLite file and hnswlib graph), changed there, and published by
 * rename (see backends/embedded/versions.ts). A crash or interrupt leaves the published version as
 * it was; the next build removes the unfinished folder.
 */
import * as fsp from "node:fs/promises";
import path from "node:path";
import type { BackendWriter, OpenWriterOptions, PublishedState } from "../../core/backend.ts";
import { AppError } from "../../core/errors.ts";
import { openVectorSource, storeSource, type VectorSource } from "./reuse.ts";
import { ChunkStore } from "./store.ts";
import { VectorIndex } from "./vector-index.ts";
import {
  acquireLock,
  checkCompatible,
  currentVersion,
  DB_FILE,
  FORMAT_VERSION,
  fileDigest,
  HNSW_FILE,
  MANIFEST_FILE,
  type Manifest,
  newVersionName,
  publish,
  readManifest,
  removeStaleStaging,
  UPGRADABLE_FORMATS,
  verifyFiles,
  versionDir,
} from "./versions.ts";

/** File-system operations the writer stages through; tests inject failures here. */
export interface WriterIO {
  copyFile: (src: string, dst: string) => Promise<void>;
  writeFile: (file: string, data: string) => Promise<void>;
}

export interface EmbeddedWriterOptions extends OpenWriterOptions {
  io?: Partial<WriterIO> | undefined;
}

interface Staged {
  version: string;
  dir: string;
  store: ChunkStore;
  vectors: VectorIndex;
  /** The published version's vectors, reused for unchanged text. */
  cache: VectorSource | undefined;
  /**
   * Labels of removed chunks, taken out of the graph at publish: until then their vectors may
   * be reused for the same text (an edited document keeps most of its chunks).
   */
  removed: number[];
  deletedLabels: number;
  nextLabel: number;
}

/** How the file system says a folder cannot be written by this process. */
const READ_ONLY_CODES = new Set(["EACCES", "EPERM", "EROFS"]);

/** Takes the build lock of `indexDir` and reads what is published there. */
export async function openEmbeddedWriter(
  indexDir: string,
  opts: EmbeddedWriterOptions,
): Promise<BackendWriter> {
  const io: WriterIO = { copyFile: fsp.copyFile, writeFile: fsp.writeFile, ...opts.io };
  const notice = opts.notice ?? (() => {});
  const started = performance.now();
  // A folder this process may not write (a read-only mount, another user's index) can still be
  // up to date: it is read without the lock, and refused only when something must be written.
  let readOnly: string | undefined;
  const release = await acquireLock(indexDir).catch((err: NodeJS.ErrnoException) => {
    if (!READ_ONLY_CODES.has(err.code ?? "")) throw err;
    readOnly = err.code;
    return async () => {};
  });
  let prev: { version: string; manifest: Manifest } | undefined;
  /** A published index of an older format: rebuilt in this one, with its vectors. */
  let upgrade: { dir: string; manifest: Manifest } | undefined;
  try {
    const stale = readOnly ? [] : await removeStaleStaging(indexDir);
    if (stale.length) notice(`removed ${stale.length} unfinished build(s) left by an interrupted run`);
    const prevVersion = currentVersion(indexDir);
    if (prevVersion && !opts.full) {
      try {
        const dir = versionDir(indexDir, prevVersion);
        const manifest = readManifest(dir, [FORMAT_VERSION, ...UPGRADABLE_FORMATS]);
        checkCompatible(manifest, opts.expect.model, opts.expect.chunker);
        // A damaged previous index must not be copied forward under fresh checksums.
        await verifyFiles(dir, manifest);
        if (manifest.format === FORMAT_VERSION) prev = { version: prevVersion, manifest };
        else {
          upgrade = { dir, manifest };
          notice(
            `upgrading the index from format ${manifest.format} to ${FORMAT_VERSION}: every document is written again, with the chunk vectors it has`,
          );
        }
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        notice(`rebuilding from scratch: ${err.message.split(";")[0]}`);
      }
    }
  } catch (err) {
    await release();
    throw err;
  }

  const published: PublishedState | undefined = prev && {
    version: prev.version,
    docs: new Map(Object.entries(prev.manifest.docs)),
    chunks: prev.manifest.counts.chunks,
  };
  const docs = new Map(published?.docs);
  let staged: Staged | undefined;
  /** The staging folder, from the moment it is named until it is published or removed. */
  let staging: string | undefined;
  let closed = false;
  const need = (): Staged => {
    if (!staged) throw new Error("the writer has no staged version: call begin() first");
    return staged;
  };
  const removeDoc = (s: Staged, id: string) => {
    for (const label of s.store.deleteDoc(id)) {
      s.removed.push(label);
      s.deletedLabels++;
    }
    docs.delete(id);
  };

  return {
    published,
    async begin() {
      if (staged || staging) return;
      if (readOnly) {
        throw new AppError(
          "INDEX_READ_ONLY",
          `the index folder ${indexDir} cannot be written (${readOnly}) and ${prev ? "the corpus has changed since the index was built" : "holds no index to use"}; let this user write there, or set CITELINE_INDEX_DIR to a folder it can write`,
        );
      }
      const version = newVersionName();
      const dir = `${versionDir(indexDir, version)}.partial`;
      // Noted before anything can fail, so close() removes the folder.
      staging = dir;
      await fsp.mkdir(dir, { recursive: true });
      let cache: VectorSource | undefined;
      let store: ChunkStore | undefined;
      try {
        let vectors: VectorIndex;
        if (prev) {
          const prevDir = versionDir(indexDir, prev.version);
          await io.copyFile(path.join(prevDir, DB_FILE), path.join(dir, DB_FILE));
          await io.copyFile(path.join(prevDir, HNSW_FILE), path.join(dir, HNSW_FILE));
          vectors = VectorIndex.load(path.join(dir, HNSW_FILE), opts.expect.model.dim);
          // The staged graph is a copy of the published one, and removals wait for publish.
          cache = storeSource(new ChunkStore(path.join(prevDir, DB_FILE), { readonly: true }), vectors);
        } else {
          vectors = VectorIndex.create(opts.expect.model.dim, 1024);
          if (upgrade) cache = openVectorSource(upgrade.dir, upgrade.manifest);
        }
        store = new ChunkStore(path.join(dir, DB_FILE));
        staged = {
          version,
          dir,
          store,
          vectors,
          cache,
          removed: [],
          deletedLabels: prev?.manifest.counts.deletedLabels ?? 0,
          // Labels are never reused: a label deleted from the graph stays deleted.
          nextLabel: Math.max(store.nextLabel(), prev?.manifest.counts.nextLabel ?? 0),
        };
      } catch (err) {
        store?.close();
        cache?.close();
        throw err;
      }
    },
    async reusableVectors(hashes) {
      const cache = need().cache;
      const out = new Map<string, Float32Array>();
      if (!cache) return out;
      for (const h of hashes) {
        const v = cache.chunk(h);
        if (v) out.set(h, v);
      }
      return out;
    },
    async deleteDocuments(ids) {
      const s = need();
      s.store.transaction(() => {
        for (const id of ids) removeDoc(s, id);
      });
    },
    async write(batch) {
      const s = need();
      s.store.transaction(() => {
        for (const { doc, chunks, sentences } of batch) {
          if (docs.has(doc.id)) removeDoc(s, doc.id);
          s.store.insertDoc(doc);
          for (const c of chunks) {
            const label = s.nextLabel++;
            s.store.insertChunk({ ...c.chunk, label }, doc.title, c.ehash);
            s.vectors.add(label, c.vector);
          }
          for (const x of sentences) s.store.insertSentence(doc.id, x.span, x.ehash);
          docs.set(doc.id, doc.hash);
        }
      });
    },
    async publish() {
      const s = need();
      const counts = s.store.counts();
      s.store.db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')");
      // Merging the FTS5 segments (and deleting documents) leaves free pages; past a tenth of the
      // file they are given back, which costs one rewrite of the file.
      const free = s.store.db.pragma("freelist_count", { simple: true }) as number;
      const pages = s.store.db.pragma("page_count", { simple: true }) as number;
      if (free > pages / 10) s.store.db.exec("VACUUM");
      s.store.close();
      s.cache?.close();
      for (const label of s.removed) s.vectors.remove(label);
      s.vectors.save(path.join(s.dir, HNSW_FILE));
      const manifest: Manifest = {
        format: FORMAT_VERSION,
        model: opts.expect.model,
        chunker: opts.expect.chunker,
        counts: { ...counts, deletedLabels: s.deletedLabels, nextLabel: s.nextLabel },
        builtAt: new Date().toISOString(),
        buildSeconds: (performance.now() - started) / 1000,
        docs: Object.fromEntries(docs),
        files: {
          [DB_FILE]: await fileDigest(path.join(s.dir, DB_FILE)),
          [HNSW_FILE]: await fileDigest(path.join(s.dir, HNSW_FILE)),
        },
      };
      await io.writeFile(path.join(s.dir, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
      await publish(indexDir, s.dir, s.version);
      staged = undefined;
      staging = undefined;
      return { version: s.version, counts };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        staged?.store.close();
        staged?.cache?.close();
        staged = undefined;
        if (staging) await fsp.rm(staging, { recursive: true, force: true });
        staging = undefined;
      } finally {
        await release();
      }
    },
  };
}
