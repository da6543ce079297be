import { createHash } from "node:crypto";
import {
  type BackendAdapter,
  chunkerInfo,
  type DocumentWrite,
  modelInfo,
  type OpenWriterOptions,
  type StoredChunk,
} from "../core/backend.ts";
import type { BackendConfig, IndexConfig } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Doc, Embedder, IngestIssue, Span } from "../core/types.ts";
import { chunkDocument } from "./chunk.ts";
import { loadCorpus } from "./corpus.ts";
import { ResumeCache } from "./resume-cache.ts";
import { splitSentences } from "./sentences.ts";

export interface Progress {
  /**
   * `read`: corpus files read (`done`/`total` count files); `embed` (the default): chunks written.
   */
  phase?: "read" | "embed";
  /** Chunks written so far, of `total` (the chunks of the documents to write). */
  done: number;
  total: number;
  elapsedS: number;
  /** Items per second so far. */
  rate: number;
  etaS: number;
}

/** How many files the issues are about: a file with several bad records counts once. */
export function failedFiles(issues: readonly IngestIssue[]): number {
  return new Set(issues.map((i) => i.source)).size;
}

export interface BuildOptions {
  config: IndexConfig & BackendConfig;
  embedder: Embedder;
  /** Rebuild from scratch, ignoring the published index. */
  full?: boolean;
  /**
   * Publish even when the corpus gives no document while the published index holds some. Off by
   * default: an empty or mistyped corpus folder must not wipe a good index.
   */
  allowEmpty?: boolean;
  onProgress?: (p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
  /**
   * Opens the writer of the backend to build into (it takes that backend's build lock). The build
   * is handed it rather than choosing one, so ingest depends on the port, not on an adapter.
   */
  openWriter: BackendAdapter["openWriter"];
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
  /** Chunk texts run through the model in this build (sentences are never embedded). */
  embedded: number;
  /** Chunk texts whose vectors were reused from the previous index or from identical text. */
  reused: number;
  /** Of those, texts whose vectors an interrupted build had computed (see resume-cache.ts). */
  resumed: number;
  seconds: number;
  /** Chunks written per second of build time. */
  chunksPerSecond: number;
  issues: IngestIssue[];
}

/**
 * Chunk texts per group: a group's texts are batched for the model together, its documents are
 * written in one transaction, and progress moves once per group. Large enough that sorting a
 * group's texts by tokens leaves little padding in a batch of 16: on squad-dev, 1.8 % of the
 * model's input is padding (0.7 % with groups of 1,024 chunks, whose progress moves a quarter as
 * often; 2.3 % when groups of 1,024 texts held sentences too, about 220 chunks).
 */
export const GROUP_TEXTS = 256;

/** Consecutive documents, cut into groups of at least GROUP_TEXTS chunks (the last may be smaller). */
export function groupDocs<T extends { chunks: unknown[] }>(prepared: T[]): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < prepared.length; ) {
    const group: T[] = [];
    let size = 0;
    while (i < prepared.length && (group.length === 0 || size < GROUP_TEXTS)) {
      const p = prepared[i++]!;
      group.push(p);
      size += p.chunks.length;
    }
    groups.push(group);
  }
  return groups;
}

/**
 * Cuts items into model batches of at most `size`, in order of token count (ties keep their
 * order), so each batch is padded to a length close to all its rows. The quantised model scales
 * its activations over the whole batch, so a text's vector depends on its batch: changing how
 * batches are formed changes vectors, and needs a new CHUNKER_VERSION (or, as when sentences left
 * the batches, a reason beside it not to bump it).
 */
export function modelBatches<T>(items: readonly T[], tokens: (item: T) => number, size: number): T[][] {
  const counted = items.map((item, i) => ({ item, n: tokens(item), i }));
  counted.sort((a, b) => a.n - b.n || a.i - b.i);
  const out: T[][] = [];
  for (let i = 0; i < counted.length; i += size) out.push(counted.slice(i, i + size).map((c) => c.item));
  return out;
}

/** Model batches queued at once: enough to keep every embedding worker busy. */
const EMBED_AHEAD = 8;

/** Runs at most `n` of the given tasks at once, first come first served. */
function taskSlots(n: number): <T>(task: () => Promise<T>) => Promise<T> {
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

/** The context the embedder sees before a chunk's text; it is not part of the chunk offsets. */
export function chunkPrefix(doc: Pick<Doc, "title">): string {
  const title = doc.title.length > 200 ? `${doc.title.slice(0, 200)}…` : doc.title;
  return `${title}\n`;
}

/** The hash of an exact embedder input; stored beside each vector so equal text is embedded once. */
export function ehash(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 32);
}

export interface PreparedDoc {
  doc: Doc;
  /** Chunks, labelled -1: the backend's writer assigns their labels. */
  chunks: StoredChunk[];
  /** What the embedder sees for each chunk: title context, then the chunk text. */
  chunkInputs: string[];
  sentences: Span[];
}

/** Chunks and sentences of a document, and the embedder inputs of its chunks. */
export function prepareDoc(doc: Doc, config: IndexConfig, embedder: Embedder): PreparedDoc {
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
  const notice = opts.onNotice ?? (() => {});
  const started = performance.now();
  // Set when the build ends for any reason, so batches still queued are not computed for nothing.
  let finished = false;
  let resume: ResumeCache | undefined;
  const cancelled = () =>
    new AppError("CANCELLED", "indexing was interrupted; the previous index is unchanged");
  const writerOptions: OpenWriterOptions = {
    expect: { model: modelInfo(embedder), chunker: chunkerInfo(config) },
    full: opts.full,
    notice,
  };
  const writer = await opts.openWriter(config, writerOptions);
  try {
    const corpus = await loadCorpus(config.corpusDir, {
      maxFileBytes: config.maxFileBytes,
      maxRecordBytes: config.maxRecordBytes,
      onFile: (done, total) => {
        const elapsedS = (performance.now() - started) / 1000;
        const rate = done / Math.max(elapsedS, 1e-3);
        opts.onProgress?.({ phase: "read", done, total, elapsedS, rate, etaS: (total - done) / rate });
      },
    });
    const prev = writer.published;
    const prevDocs = prev?.docs ?? new Map<string, string>();
    if (corpus.docs.length === 0 && prevDocs.size > 0 && !opts.allowEmpty) {
      const failed = failedFiles(corpus.issues);
      const why = failed > 0 ? ` (${failed} ${failed === 1 ? "file" : "files"} could not be read)` : "";
      throw new AppError(
        "INDEX_WOULD_EMPTY",
        `the corpus folder ${config.corpusDir} gives no document${why}; the published index of ${prevDocs.size} documents is kept. Check the folder, or pass --allow-empty to publish an empty index`,
        { corpusDir: config.corpusDir, published: prevDocs.size },
      );
    }
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
        chunks: prev.chunks,
        embedded: 0,
        reused: 0,
        resumed: 0,
        seconds,
        chunksPerSecond: 0,
      };
    }

    await writer.begin();
    await writer.deleteDocuments([
      ...removedIds,
      ...toWrite.filter((d) => prevDocs.has(d.id)).map((d) => d.id),
    ]);

    // Chunk everything first so progress has a true total.
    const prepared: PreparedDoc[] = [];
    let total = 0;
    for (const doc of toWrite) {
      const p = prepareDoc(doc, config, embedder);
      prepared.push(p);
      total += p.chunks.length;
    }

    const memo = new Map<string, Promise<Float32Array>>();
    let done = 0;
    let embedded = 0;
    let reused = 0;
    let resumed = 0;
    resume = await ResumeCache.open(config.indexDir, JSON.stringify(modelInfo(embedder)));
    const cache = resume;
    const slots = taskSlots(EMBED_AHEAD);
    /** A text to embed, and how to hand its vector to whoever awaits it in `memo`. */
    interface Pending {
      text: string;
      hash: string;
      settle: (vector: Promise<Float32Array>) => void;
    }
    /**
     * Registers the vectors of `texts` in `memo`: from the previous index when it holds them, else
     * as pending, in the same step that finds them missing, so a group queued beside this one
     * waits for this text's vector instead of embedding it again. Returns the pending texts.
     */
    const resolve = async (texts: string[], hashes: string[]) => {
      const unknown = [...new Set(hashes.filter((h) => !memo.has(h)))];
      const stored = await writer.reusableVectors(unknown);
      // What an interrupted build computed and the index does not hold yet.
      const cached = cache.get(unknown.filter((h) => !stored.has(h)));
      for (const [h, v] of cached) stored.set(h, v);
      const missing = new Map<string, Pending>();
      for (const [i, h] of hashes.entries()) {
        if (memo.has(h)) {
          if (!missing.has(h)) reused++;
          continue;
        }
        const vector = stored.get(h);
        if (vector) {
          memo.set(h, Promise.resolve(vector));
          reused++;
          if (cached.has(h)) resumed++;
          continue;
        }
        let settle!: Pending["settle"];
        const v = new Promise<Float32Array>((r) => {
          settle = r;
        });
        // Awaited below or by a later group; a cancelled build must not leave it unhandled.
        v.catch(() => {});
        memo.set(h, v);
        missing.set(h, { text: texts[i]!, hash: h, settle });
      }
      return missing;
    };
    /** Vectors of a group's chunk inputs, in order, each with its hash. */
    const embedGroup = async (group: PreparedDoc[]) => {
      const texts = group.flatMap((p) => p.chunkInputs);
      const hashes = texts.map(ehash);
      const missing = await resolve(texts, hashes);
      // One model batch per call, several calls in flight so every worker has one, and an
      // interrupt is honoured at the next batch.
      for (const batch of modelBatches(
        [...missing.values()],
        ({ text }) => embedder.countTokens(text),
        config.embedBatchSize,
      )) {
        const vecs = slots(async () => {
          if (signal?.aborted || finished) throw cancelled();
          const out = await embedder.embed(
            batch.map(({ text }) => text),
            "passage",
          );
          embedded += batch.length;
          // Kept at once, so an interrupt after this batch loses none of it.
          cache.put(batch.map(({ hash }, j) => ({ ehash: hash, vector: out[j]! })));
          return out;
        });
        for (const [j, { settle }] of batch.entries()) settle(vecs.then((out) => out[j]!));
      }
      return Promise.all(hashes.map(async (h) => ({ ehash: h, vector: await memo.get(h)! })));
    };

    // The rate counts from the start of embedding, not of the build: reading and chunking a large
    // corpus takes a while and would make the first minutes' rate (and ETA) far off.
    const embedStart = performance.now();
    const emit = () => {
      const elapsedS = (performance.now() - started) / 1000;
      const rate = done / Math.max((performance.now() - embedStart) / 1000, 1e-3);
      opts.onProgress?.({
        phase: "embed",
        done,
        total,
        elapsedS,
        rate,
        etaS: rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY,
      });
    };
    emit();
    const groups = groupDocs(prepared);
    // Two groups are queued ahead of the writer, so the workers never wait for it, nor for the
    // next group's tokens at the end of a group (the slots serve batches first come first served).
    const queue = (gi: number) => {
      const group = groups[gi];
      if (!group) return undefined;
      const vectors = embedGroup(group);
      vectors.catch(() => {});
      return vectors;
    };
    const ahead = [queue(0), queue(1)];
    for (const [gi, group] of groups.entries()) {
      if (signal?.aborted) throw cancelled();
      const chunkVecs = (await ahead[gi])!;
      ahead[gi] = undefined;
      ahead.push(queue(gi + 2));
      if (signal?.aborted) throw cancelled();
      let ci = 0;
      await writer.write(
        group.map(
          (p): DocumentWrite => ({
            doc: p.doc,
            chunks: p.chunks.map((chunk) => ({ chunk, ...chunkVecs[ci++]! })),
            sentences: p.sentences.map((span) => ({ span, ehash: ehash(span.text) })),
          }),
        ),
      );
      done += group.reduce((n, p) => n + p.chunks.length, 0);
      emit();
    }

    if (signal?.aborted) throw cancelled();
    const { version, counts } = await writer.publish();
    // The published index holds every vector the cache kept.
    cache.discard();
    resume = undefined;
    const seconds = (performance.now() - started) / 1000;
    const written = prepared.reduce((n, p) => n + p.chunks.length, 0);
    return {
      ...base,
      published: true,
      version,
      chunks: counts.chunks,
      embedded,
      reused,
      resumed,
      seconds,
      chunksPerSecond: written / seconds,
    };
  } finally {
    finished = true;
    resume?.close();
    await writer.close();
  }
}
