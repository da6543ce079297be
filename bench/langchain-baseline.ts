/**
 * A typical LangChain.js RAG retrieval pipeline — RecursiveCharacterTextSplitter, LangChain's
 * transformers.js embeddings and the HNSWLib vector store, each with its documented defaults — run
 * on an eval dataset with the same model as ours, so its retrieval metrics and timings can be
 * reported next to ours. LangChain is a devDependency: only benchmarks import this module.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
// The entry point that uses @xenova/transformers. The newer `embeddings/huggingface_transformers`
// needs @huggingface/transformers 3, whose onnxruntime-node install step downloads CUDA
// binaries and so cannot be installed on a machine without internet access.
import { HuggingFaceTransformersEmbeddings } from "@langchain/community/embeddings/hf_transformers";
import { HNSWLib } from "@langchain/community/vectorstores/hnswlib";
import { Document } from "@langchain/core/documents";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { env } from "@xenova/transformers";
import { AppError } from "../core/errors.ts";
import { answerOccurs } from "../eval/answer-match.ts";
import { CORPUS_FILE, type EvalQuestion, loadDataset } from "../eval/dataset.ts";
import { mean, ndcgAt, rankDocs, recallAt, reciprocalRankAt } from "../eval/metrics.ts";
import { percentiles } from "./stats.ts";

/** The model our product uses, as transformers.js names it under the models folder. */
export const BASELINE_MODEL = "Xenova/bge-small-en-v1.5";
/** Ranking depth for recall@10, MRR@10 and nDCG@10. */
const DEPTH = 10;

export interface LangchainBaselineOptions {
  /** A folder with corpus.jsonl and questions.jsonl. */
  dataset: string;
  /** Chunks given as context; answer-in-context is measured over the first k. */
  k: number;
  /** Only the first `limit` questions, as `npm run eval -- --limit` does. */
  limit?: number | undefined;
  /** Local models folder in the transformers.js layout; nothing is downloaded. */
  modelsDir: string;
}

export interface LangchainBaselineResult {
  dataset: string;
  k: number;
  indexing: { docs: number; chunks: number; seconds: number; chunksPerSecond: number };
  /** One `similaritySearch` per question (embed the question, search the index), in ms. */
  query: { questions: number; p50Ms: number; p95Ms: number; p99Ms: number };
  /** Means over the questions that have gold documents; null when there are none. */
  retrieval: {
    questions: number;
    recallAt1: number | null;
    recallAt5: number | null;
    recallAt10: number | null;
    mrrAt10: number | null;
    ndcgAt10: number | null;
    answerInContextAtK: number | null;
  };
  /** Wall time of the whole run, model load and dataset reading included. */
  wallSeconds: number;
  notes: string[];
}

interface CorpusDoc {
  id: string;
  text: string;
}

/**
 * Indexes the dataset's corpus with the LangChain pipeline, asks every question (or the first
 * `limit`) and scores the chunks it returns against the gold documents and answers.
 */
export async function runLangchainBaseline(opts: LangchainBaselineOptions): Promise<LangchainBaselineResult> {
  const started = performance.now();
  const modelFile = path.join(opts.modelsDir, BASELINE_MODEL, "onnx", "model_quantized.onnx");
  if (!existsSync(modelFile)) {
    throw new AppError("MODEL_MISSING", `${modelFile} does not exist; run \`npm run model:fetch\``);
  }
  const dataset = await loadDataset(opts.dataset);
  const questions = opts.limit === undefined ? dataset.questions : dataset.questions.slice(0, opts.limit);
  const corpus = await readCorpus(dataset.corpusFile);

  const embeddings = new HuggingFaceTransformersEmbeddings({ model: BASELINE_MODEL });
  const loadSeconds = await withLocalModels(opts.modelsDir, async () => {
    // The first call loads the model; paying for it here keeps it out of the indexing time, as
    // our benchmark's embedder is loaded before it starts timing.
    const t0 = performance.now();
    await embeddings.embedQuery("warm-up");
    return (performance.now() - t0) / 1000;
  });

  const t0 = performance.now();
  const splitter = new RecursiveCharacterTextSplitter();
  const chunks = await splitter.splitDocuments(
    corpus.map((d) => new Document({ pageContent: d.text, metadata: { docId: d.id } })),
  );
  const store = await HNSWLib.fromDocuments(chunks, embeddings);
  const indexSeconds = (performance.now() - t0) / 1000;

  // HNSWLib warns on every search that asks for more chunks than the index holds.
  const depth = Math.min(Math.max(DEPTH, opts.k), chunks.length);
  const latencies: number[] = [];
  const scores: QuestionScores[] = [];
  for (const q of questions) {
    const t = performance.now();
    const found = await store.similaritySearch(q.question, depth);
    latencies.push(performance.now() - t);
    if (q.goldDocIds.length > 0) scores.push(scoreQuestion(q, found, opts.k));
  }
  const lat = percentiles(latencies);
  const avg = (pick: (s: QuestionScores) => number) => {
    const m = mean(scores.map(pick));
    return m === undefined ? null : round(m, 4);
  };

  const skipped = questions.length - scores.length;
  return {
    dataset: dataset.name,
    k: opts.k,
    indexing: {
      docs: corpus.length,
      chunks: chunks.length,
      seconds: round(indexSeconds),
      chunksPerSecond: round(chunks.length / indexSeconds),
    },
    query: { questions: latencies.length, p50Ms: lat.p50, p95Ms: lat.p95, p99Ms: lat.p99 },
    retrieval: {
      questions: scores.length,
      recallAt1: avg((s) => s.recallAt1),
      recallAt5: avg((s) => s.recallAt5),
      recallAt10: avg((s) => s.recallAt10),
      mrrAt10: avg((s) => s.mrrAt10),
      ndcgAt10: avg((s) => s.ndcgAt10),
      answerInContextAtK: avg((s) => s.answerInContextAtK),
    },
    wallSeconds: round((performance.now() - started) / 1000, 1),
    notes: [
      `pipeline: @langchain/textsplitters RecursiveCharacterTextSplitter() with its defaults (chunkSize 1000, chunkOverlap 200, characters, separators "\\n\\n", "\\n", " ", ""), one Document per corpus record with the text only (no title); @langchain/community HuggingFaceTransformersEmbeddings({ model: "${BASELINE_MODEL}" }) from embeddings/hf_transformers (@xenova/transformers, model_quantized.onnx); HNSWLib.fromDocuments (cosine space, hnswlib-node defaults: M 16, efConstruction 200, ef 10 raised to k); vectorStore.similaritySearch(question, ${depth})`,
      "embeddings as LangChain documents them: mean pooling and L2 normalisation, newlines replaced by spaces, batches of 512 texts, no query instruction (ours uses none either); bge-small-en-v1.5 is trained for CLS pooling, which our embedder uses",
      "ONNX Runtime runs with transformers.js's default session options (thread count chosen by ONNX Runtime), not with our embedder's tuned ones",
      `indexing time is split + embed + HNSW build; the model load (${round(loadSeconds)} s) is excluded, paid by a warm-up query`,
      "query time is one similaritySearch per question, sequential, the question's embedding included; percentiles are nearest-rank",
      "documents rank where their first chunk ranks; recall@1/5/10, MRR@10, nDCG@10 (binary) against gold_doc_ids; answer-in-context@k: a SQuAD-normalised gold answer occurs, as whole words, in one of the first k chunks; metrics from eval/metrics.ts, shared with our eval",
      `${questions.length} of ${dataset.questions.length} questions asked${opts.limit === undefined ? "" : ` (--limit ${opts.limit}: the first ones in file order)`}; ${skipped} without gold documents (expect: "not_found") are timed but not scored`,
      "timings are from a 2-core machine shared with other work: noisy",
    ],
  };
}

interface QuestionScores {
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  mrrAt10: number;
  ndcgAt10: number;
  answerInContextAtK: number;
}

function scoreQuestion(q: EvalQuestion, found: readonly Document[], k: number): QuestionScores {
  const ranked = rankDocs(found.map((d) => String(d.metadata.docId)));
  const gold = q.goldDocIds;
  return {
    recallAt1: recallAt(ranked, gold, 1),
    recallAt5: recallAt(ranked, gold, 5),
    recallAt10: recallAt(ranked, gold, DEPTH),
    mrrAt10: reciprocalRankAt(ranked, gold, DEPTH),
    ndcgAt10: ndcgAt(ranked, gold, DEPTH),
    answerInContextAtK: found.slice(0, k).some((d) => answerOccurs(d.pageContent, q.answers)) ? 1 : 0,
  };
}

/** Corpus texts as the file holds them; loadDataset has validated every record already. */
async function readCorpus(file: string): Promise<CorpusDoc[]> {
  const docs: CorpusDoc[] = [];
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    if (line.trim() === "") continue;
    const rec = JSON.parse(line) as { id: unknown; text: unknown };
    docs.push({ id: String(rec.id), text: String(rec.text) });
  }
  if (docs.length === 0) throw new AppError("FILE_EMPTY", `${file}: no documents in ${CORPUS_FILE}`);
  return docs;
}

/**
 * Runs `fn` with transformers.js reading models only from `modelsDir`. LangChain's class imports
 * the same transformers.js module, so these settings reach it; they are restored afterwards
 * because our own embedder sets them too.
 */
async function withLocalModels<T>(modelsDir: string, fn: () => Promise<T>): Promise<T> {
  const saved = { localModelPath: env.localModelPath, allowRemoteModels: env.allowRemoteModels };
  env.localModelPath = modelsDir;
  env.allowRemoteModels = false;
  try {
    return await fn();
  } finally {
    Object.assign(env, saved);
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
