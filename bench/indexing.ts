/**
 * Indexing throughput: the whole pipeline (ingest, chunk, embed, write SQLite and HNSW, publish)
 * against the same model batches run alone, so the pipeline's own overhead is visible.
 */
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openBackendWriter } from "../backends/select.ts";
import type { Config } from "../core/config.ts";
import type { Embedder } from "../core/types.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { loadCorpus } from "../ingest/corpus.ts";
import { buildIndex, groupDocs, modelBatches, prepareDoc } from "../ingest/indexer.ts";

export interface IndexingResult {
  documents: number;
  chunks: number;
  /** Every text the model embeds: one per distinct chunk input (sentences are not embedded). */
  texts: number;
  pipelineSeconds: number;
  chunksPerSecond: number;
  rawModelSeconds: number;
  /** pipeline / raw model − 1. */
  overhead: number;
}

/** A folder holding only the dataset's corpus.jsonl, as a corpus for the indexer. */
export async function corpusFolder(datasetDir: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "citeline-bench-corpus-"));
  await copyFile(path.join(datasetDir, "corpus.jsonl"), path.join(dir, "corpus.jsonl"));
  return dir;
}

/**
 * A smaller copy of a dataset for smoke runs: its first `docs` documents, their passages and the
 * questions whose gold documents are all among them. The caller removes the folder.
 */
export async function subsetDataset(datasetDir: string, docs: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "citeline-bench-subset-"));
  const lines = (file: string) =>
    readFileSync(path.join(datasetDir, file), "utf8")
      .split("\n")
      .filter((l) => l.trim());
  const corpus = lines("corpus.jsonl").slice(0, docs);
  const ids = new Set(corpus.map((l) => (JSON.parse(l) as { id: string }).id));
  const questions = lines("questions.jsonl").filter((l) => {
    const gold = (JSON.parse(l) as { gold_doc_ids?: string[] }).gold_doc_ids ?? [];
    return gold.length > 0 && gold.every((id) => ids.has(id));
  });
  await writeFile(path.join(dir, "corpus.jsonl"), `${corpus.join("\n")}\n`);
  await writeFile(path.join(dir, "questions.jsonl"), `${questions.join("\n")}\n`);
  if (existsSync(path.join(datasetDir, "passages.jsonl"))) {
    const passages = lines("passages.jsonl").filter((l) =>
      ids.has((JSON.parse(l) as { doc_id: string }).doc_id),
    );
    await writeFile(path.join(dir, "passages.jsonl"), `${passages.join("\n")}\n`);
  }
  return dir;
}

export async function benchIndexing(
  datasetDir: string,
  config: Config,
  embedder: Embedder,
): Promise<IndexingResult> {
  const corpusDir = await corpusFolder(datasetDir);
  const indexDir = await mkdtemp(path.join(os.tmpdir(), "citeline-bench-index-"));
  try {
    const cfg = { ...config, corpusDir, indexDir };
    const summary = await buildIndex({ openWriter: openBackendWriter, config: cfg, embedder, full: true });

    // The same texts, grouped and batched as the indexer does, through the model alone: a fresh
    // embedder, so the pipeline's remembered token ids do not speed the raw run up.
    const raw = await createEmbedder(config);
    const { docs } = await loadCorpus(corpusDir);
    const prepared = docs.map((d) => prepareDoc(d, cfg, embedder));
    let rawSeconds = 0;
    let count = 0;
    const seen = new Set<string>();
    const unique = (list: string[]) =>
      list.filter((t) => {
        if (seen.has(t)) return false;
        seen.add(t);
        return true;
      });
    for (const group of groupDocs(prepared)) {
      // A group's chunk inputs batched by token count, as the pipeline queues them for the workers.
      const texts = unique(group.flatMap((p) => p.chunkInputs));
      const batches = modelBatches(texts, (t) => raw.countTokens(t), config.embedBatchSize);
      const t0 = performance.now();
      await Promise.all(batches.map((b) => raw.embed(b, "passage")));
      rawSeconds += (performance.now() - t0) / 1000;
      count += texts.length;
    }
    await raw.dispose();
    return {
      documents: summary.documents,
      chunks: summary.chunks,
      texts: count,
      pipelineSeconds: round(summary.seconds),
      chunksPerSecond: round(summary.chunksPerSecond),
      rawModelSeconds: round(rawSeconds),
      overhead: round(summary.seconds / rawSeconds - 1, 3),
    };
  } finally {
    await rm(corpusDir, { recursive: true, force: true });
    await rm(indexDir, { recursive: true, force: true });
  }
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
