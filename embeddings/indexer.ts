import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import * as fsp from "node:fs/promises";
import path from "node:path";
import type { Config } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Doc, Embedder, IngestIssue, Span } from "../core/types.ts";
import { chunkDocument } from "./chunk.ts";
import { loadCorpus } from "./corpus.ts";
import {
  acquireLock,
  CHUNKER_VERSION,
  type ChunkerInfo,
  checkCompatible,
  currentVersion,
  DB_FILE,
  FORMAT_VERSION,
  fileDigest,
  HNSW_FILE,
  MANIFEST_FILE,
  type Manifest,
  type ModelInfo,
  newVersionName,
  publish,
  readManifest,
  removeStaleStaging,
  verifyFiles,
  versionDir,
} from "./index-files.ts";
import { splitSentences } from "./sentences.ts";
import { ChunkStore, type StoredChunk } from "./store.ts";
import { VectorIndex } from "./vector-index.ts";

export interface Progress {
  /**
   * Chunks written so far, of `total` (the chunks of the documents to write). Their sentences are
   * embedded too, but counting them would make one document read "12/12".
   */
  done: number;
  total: number;
  elapsedS: number;
  /** Items per second so far. */
  rate: number;
  etaS: number;
}

/** File-system operations the indexer writes through; tests inject failures here. */
export interface IndexerIO {
  copyFile: (src: string, dst: string) => Promise<void>;
  writeFile: (file: string, data: string) => Promise<void>;
}

export interface BuildOptions {
  config: Config;
  embedder: Embedder;
  /** Rebuild from scratch, ignoring the published index. */
  full?: boolean;
  onProgress?: (p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
  io?: Partial<IndexerIO>;
}

export interface BuildSummary {
  published: boolean;
  version: string | undefined;
  documents: number;
  chunks: number;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  /** Texts run through the model in this build (chunks and sentences). */
  embedded: number;
  /** Texts whose vectors were reused from the previous index or from identical text. */
  reused: number;
  seconds: number;
  /** Chunks written per second of build time. */
  chunksPerSecond: number;
  issues: IngestIssue[];
}

/** Texts given to the model per group; each group is written in one transaction. */
export const GROUP_CHUNKS = 256;

/** Model batches queued at once: enough to keep every embedding worker busy. */
const EMBED_AHEAD = 8;

/** Runs at most `n` of the given tasks at once, first come first served. */
function slotLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

export function chunkerInfo(config: Config): ChunkerInfo {
  return {
    maxTokens: config.chunkMaxTokens,
    overlapTokens: config.chunkOverlapTokens,
    version: CHUNKER_VERSION,
  };
}

export function modelInfo(embedder: Embedder): ModelInfo {
  return { name: embedder.modelId, dim: embedder.dim, pooling: embedder.pooling };
}

/** The context the embedder sees before a chunk's text; it is not part of the chunk offsets. */
export function chunkPrefix(doc: Pick<Doc, "title">): string {
  const title = doc.title.length > 200 ? `${doc.title.slice(0, 200)}…` : doc.title;
  return `${title}\n`;
}

function ehash(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 32);
}

export interface PreparedDoc {
  doc: Doc;
  /** Chunks with labels still to be assigned (-1). */
  chunks: StoredChunk[];
  /** What the embedder sees for each chunk: title context, then the chunk text. */
  chunkInputs: string[];
  sentences: Span[];
}

/** Chunks and sentences of a document, and the embedder inputs for them. */
export function prepareDoc(doc: Doc, config: Config, embedder: Embedder): PreparedDoc {
  const prefix = chunkPrefix(doc);
  const chunks = chunkDocument(doc, {
    maxTokens: Math.min(config.chunkMaxTokens, embedder.maxTokens - 2),
    overlapTokens: config.chunkOverlapTokens,
    countTokens: (t) => embedder.countTokens(t),
    prefixTokens: embedder.countTokens(prefix),
  }).map((c) => ({ ...c, label: -1 }));
  return {
    doc,
    chunks,
    chunkInputs: chunks.map((c) => prefix + c.text),
    sentences: splitSentences(doc.text),
  };
}

/**
 * Builds or updates the index for the corpus, incrementally by content hash, and publishes it
 * atomically. Nothing is published when nothing changed.
 */
export async function buildIndex(opts: BuildOptions): Promise<BuildSummary> {
  const { config, embedder, signal } = opts;
  const io: IndexerIO = { copyFile: fsp.copyFile, writeFile: fsp.writeFile, ...opts.io };
  const notice = opts.onNotice ?? (() => {});
  const started = performance.now();
  const release = await acquireLock(config.indexDir);
  let staging: string | undefined;
  let store: ChunkStore | undefined;
  // Set when the build ends for any reason, so batches still queued are not computed for nothing.
  let finished = false;
  let cache: ChunkStore | undefined;
  try {
    const stale = await removeStaleStaging(config.indexDir);
    if (stale.length) notice(`removed ${stale.length} unfinished build(s) left by an interrupted run`);
    const corpus = await loadCorpus(config.corpusDir, {
      maxFileBytes: config.maxFileBytes,
      maxRecordBytes: config.maxRecordBytes,
    });
    const chunker = chunkerInfo(config);
    const model = modelInfo(embedder);

    let prev: { version: string; manifest: Manifest } | undefined;
    const prevVersion = currentVersion(config.indexDir);
    if (prevVersion && !opts.full) {
      try {
        const manifest = readManifest(versionDir(config.indexDir, prevVersion));
        checkCompatible(manifest, model, chunker);
        // A damaged previous index must not be copied forward under fresh checksums.
        await verifyFiles(versionDir(config.indexDir, prevVersion), manifest);
        prev = { version: prevVersion, manifest };
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        notice(`rebuilding from scratch: ${err.message.split(";")[0]}`);
      }
    }

    const prevDocs = new Map(Object.entries(prev?.manifest.docs ?? {}));
    const nextIds = new Set(corpus.docs.map((d) => d.id));
    const toWrite = corpus.docs.filter((d) => prevDocs.get(d.id) !== d.hash);
    const changed = toWrite.filter((d) => prevDocs.has(d.id)).length;
    const removedIds = [...prevDocs.keys()].filter((id) => !nextIds.has(id));
    const base = {
      documents: corpus.docs.length,
      added: toWrite.length - changed,
      changed,
      removed: removedIds.length,
      unchanged: corpus.docs.length - toWrite.length,
      issues: corpus.issues,
    };

    if (prev && toWrite.length === 0 && removedIds.length === 0) {
      const seconds = (performance.now() - started) / 1000;
      return {
        ...base,
        published: false,
        version: prev.version,
        chunks: prev.manifest.counts.chunks,
        embedded: 0,
        reused: 0,
        seconds,
        chunksPerSecond: 0,
      };
    }

    const version = newVersionName();
    staging = `${versionDir(config.indexDir, version)}.partial`;
    await fsp.mkdir(staging, { recursive: true });
    let vectors: VectorIndex;
    let deletedLabels = 0;
    if (prev) {
      const prevDir = versionDir(config.indexDir, prev.version);
      await io.copyFile(path.join(prevDir, DB_FILE), path.join(staging, DB_FILE));
      await io.copyFile(path.join(prevDir, HNSW_FILE), path.join(staging, HNSW_FILE));
      vectors = VectorIndex.load(path.join(staging, HNSW_FILE), model.dim);
      deletedLabels = prev.manifest.counts.deletedLabels;
      cache = new ChunkStore(path.join(prevDir, DB_FILE), { readonly: true });
    } else {
      vectors = VectorIndex.create(model.dim, 1024);
    }
    store = new ChunkStore(path.join(staging, DB_FILE));

    const writeStore = store;
    // Labels are never reused: a label deleted from the graph stays deleted.
    let nextLabel = Math.max(writeStore.nextLabel(), prev?.manifest.counts.nextLabel ?? 0);
    writeStore.transaction(() => {
      for (const id of [...removedIds, ...toWrite.filter((d) => prevDocs.has(d.id)).map((d) => d.id)]) {
        for (const label of writeStore.deleteDoc(id)) {
          vectors.remove(label);
          deletedLabels++;
        }
      }
    });

    // Chunk everything first so progress has a true total.
    const prepared: PreparedDoc[] = [];
    let total = 0;
    for (const doc of toWrite) {
      const p = prepareDoc(doc, config, embedder);
      for (const c of p.chunks) c.label = nextLabel++;
      prepared.push(p);
      total += p.chunks.length;
    }

    // Vectors by text hash, settled or still being computed, so identical text is embedded once
    // even when the next group is prepared while this one is still in the model.
    const memo = new Map<string, Promise<Float32Array>>();
    let done = 0;
    let embedded = 0;
    let reused = 0;
    const cancelled = () =>
      new AppError("CANCELLED", "indexing was interrupted; the previous index is unchanged");
    const slots = slotLimiter(EMBED_AHEAD);
    const embedAll = (texts: string[], lookup: (h: string) => Float32Array | undefined) => {
      const hashes = texts.map(ehash);
      const firstText = new Map<string, string>();
      for (const [i, h] of hashes.entries()) {
        if (firstText.has(h)) continue;
        if (memo.has(h)) {
          reused++;
          continue;
        }
        const cached = lookup(h);
        if (cached) {
          memo.set(h, Promise.resolve(cached));
          reused++;
        } else firstText.set(h, texts[i]!);
      }
      const missing = [...firstText.keys()];
      // Similar lengths together waste less on padding; then one model batch per call, several
      // calls in flight so every worker has one, and an interrupt is honoured at the next batch.
      missing.sort((a, b) => firstText.get(a)!.length - firstText.get(b)!.length);
      for (let i = 0; i < missing.length; i += config.embedBatchSize) {
        const slice = missing.slice(i, i + config.embedBatchSize);
        const vecs = slots(async () => {
          if (signal?.aborted || finished) throw cancelled();
          const out = await embedder.embed(
            slice.map((h) => firstText.get(h)!),
            "passage",
          );
          embedded += slice.length;
          return out;
        });
        for (const [j, h] of slice.entries()) {
          const v = vecs.then((out) => out[j]!);
          // Awaited below or by a later group; a cancelled build must not leave it unhandled.
          v.catch(() => {});
          memo.set(h, v);
        }
      }
      return Promise.all(hashes.map(async (h) => ({ hash: h, vector: await memo.get(h)! })));
    };

    const emit = () => {
      const elapsedS = (performance.now() - started) / 1000;
      const rate = done / Math.max(elapsedS, 1e-3);
      opts.onProgress?.({ done, total, elapsedS, rate, etaS: rate > 0 ? (total - done) / rate : 0 });
    };
    emit();
    const groups: PreparedDoc[][] = [];
    for (let i = 0; i < prepared.length; ) {
      const group: PreparedDoc[] = [];
      let size = 0;
      while (i < prepared.length && (group.length === 0 || size < GROUP_CHUNKS)) {
        const p = prepared[i++]!;
        group.push(p);
        size += p.chunks.length + p.sentences.length;
      }
      groups.push(group);
    }
    const embedGroup = (group: PreparedDoc[]) => {
      const both = Promise.all([
        embedAll(
          group.flatMap((p) => p.chunkInputs),
          (h) => cache?.cachedChunkVector(h),
        ),
        embedAll(
          group.flatMap((p) => p.sentences.map((s) => s.text)),
          (h) => cache?.cachedSentenceVector(h),
        ),
      ]);
      both.catch(() => {});
      return both;
    };
    // The next group is queued while this one is written, so the workers never wait for SQLite.
    let ahead = groups[0] ? embedGroup(groups[0]) : undefined;
    for (const [gi, group] of groups.entries()) {
      if (signal?.aborted) throw cancelled();
      const [chunkVecs, sentVecs] = await ahead!;
      ahead = groups[gi + 1] ? embedGroup(groups[gi + 1]!) : undefined;
      if (signal?.aborted) throw cancelled();
      let ci = 0;
      let si = 0;
      writeStore.transaction(() => {
        for (const p of group) {
          writeStore.insertDoc(p.doc);
          for (const chunk of p.chunks) {
            const { hash, vector } = chunkVecs[ci++]!;
            writeStore.insertChunk(chunk, p.doc.title, hash, vector);
            vectors.add(chunk.label, vector);
          }
          for (const s of p.sentences) {
            const { hash, vector } = sentVecs[si++]!;
            writeStore.insertSentence(p.doc.id, s, hash, vector);
          }
        }
      });
      done += group.reduce((n, p) => n + p.chunks.length, 0);
      emit();
    }

    const counts = writeStore.counts();
    writeStore.db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')");
    writeStore.close();
    cache?.close();
    vectors.save(path.join(staging, HNSW_FILE));

    const manifest: Manifest = {
      format: FORMAT_VERSION,
      model,
      chunker,
      counts: { ...counts, deletedLabels, nextLabel },
      builtAt: new Date().toISOString(),
      buildSeconds: (performance.now() - started) / 1000,
      docs: Object.fromEntries(corpus.docs.map((d) => [d.id, d.hash])),
      files: {
        [DB_FILE]: await fileDigest(path.join(staging, DB_FILE)),
        [HNSW_FILE]: await fileDigest(path.join(staging, HNSW_FILE)),
      },
    };
    await io.writeFile(path.join(staging, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
    if (signal?.aborted)
      throw new AppError("CANCELLED", "indexing was interrupted; the previous index is unchanged");
    await publish(config.indexDir, staging, version);
    staging = undefined;
    const seconds = (performance.now() - started) / 1000;
    const written = prepared.reduce((n, p) => n + p.chunks.length, 0);
    return {
      ...base,
      published: true,
      version,
      chunks: counts.chunks,
      embedded,
      reused,
      seconds,
      chunksPerSecond: written / seconds,
    };
  } finally {
    finished = true;
    store?.close();
    cache?.close();
    if (staging && existsSync(staging)) await fsp.rm(staging, { recursive: true, force: true });
    await release();
  }
}
