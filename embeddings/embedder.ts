import os from "node:os";
import path from "node:path";
import { AutoModel, AutoTokenizer, env, type PreTrainedTokenizer } from "@xenova/transformers";
import type { ModelName } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Embedder, EmbedKind, Reader } from "../core/types.ts";
import { createEmbedPool, type EmbedPool } from "./embed-pool.ts";
import { hasModelFiles, MODEL_SPECS, type ModelSpec, modelFolder } from "./models.ts";
import { DEFAULT_READER_DIR, hasReaderModel, poolReader, READER_ONNX } from "./reader.ts";

export { normalize } from "./pooling.ts";

export interface EmbedderOptions {
  model: ModelName;
  /** Local models folder, searched first (transformers.js layout). */
  modelsDir: string;
  /** Where models downloaded from the hub are cached. */
  modelCacheDir: string;
  embedBatchSize: number;
  /** Allow downloading from the model hub when the files are not local (default true). */
  allowDownload?: boolean;
  /** Worker threads, each with its own ONNX session (default: the cores, at most 4). */
  embedWorkers?: number;
  /** ONNX Runtime intra-op threads per worker (default 1). */
  embedThreads?: number;
  /**
   * The reader model's folder, loaded into the same workers (default: the committed reader/model
   * when present); false leaves the reader out.
   */
  readerDir?: string | false | undefined;
  /** False leaves the committed reader out when no readerDir is given (CITELINE_READER=0). */
  reader?: boolean | undefined;
}

/** Token ids remembered between counting and embedding (about 30 MB at most). */
const ID_CACHE_SIZE = 200_000;

/**
 * Loads the configured model with transformers.js (ONNX Runtime on the CPU) and returns an
 * Embedder. Throws MODEL_MISSING, naming the fix, when the weights are neither local nor
 * downloadable; there is never a fallback to other vectors.
 */
export async function createEmbedder(opts: EmbedderOptions): Promise<Embedder> {
  const spec = MODEL_SPECS[opts.model];
  if (!spec) throw new AppError("MODEL_UNKNOWN", `unknown embedding model "${opts.model}"`);
  let root = [opts.modelsDir, opts.modelCacheDir].find((r) => hasModelFiles(r, spec));
  env.allowLocalModels = true;
  env.useFSCache = true;
  env.cacheDir = opts.modelCacheDir;
  env.localModelPath = root ?? opts.modelsDir;
  env.allowRemoteModels = !root && (opts.allowDownload ?? true);
  let tokenizer: PreTrainedTokenizer;
  let pool: EmbedPool;
  const wanted = opts.readerDir === undefined ? opts.reader !== false && DEFAULT_READER_DIR : opts.readerDir;
  const readerDir = wanted && hasReaderModel(wanted) ? wanted : undefined;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(spec.hubId);
    if (!root) {
      // Not local: let transformers.js download the weights into its cache, then use them there.
      await (await AutoModel.from_pretrained(spec.hubId, { quantized: true })).dispose();
      root = opts.modelCacheDir;
    }
    // Our own sessions rather than transformers.js's: its default thread pool follows the host's
    // core count and runs the model many times slower on 2 cores. One single-threaded session per
    // worker thread: on 2-core machines, two intra-op threads in one session were a third slower
    // than one on some hosts, while separate workers never wait for each other.
    pool = await createEmbedPool(opts.embedWorkers ?? Math.max(1, Math.min(4, os.availableParallelism())), {
      modelPath: path.join(modelFolder(root, spec), "onnx", "model_quantized.onnx"),
      readerPath: readerDir ? path.join(readerDir, READER_ONNX) : undefined,
      threads: opts.embedThreads ?? 1,
      pooling: spec.pooling,
    });
  } catch (err) {
    throw new AppError(
      "MODEL_MISSING",
      `the embedding model ${spec.name} is not in ${opts.modelsDir} and could not be downloaded (${(err as Error).message.split("\n")[0]}); run \`npm run model:fetch\``,
      { model: spec.name },
    );
  }
  return new TransformersEmbedder(
    spec,
    tokenizer,
    pool,
    opts.embedBatchSize,
    readerDir ? poolReader(pool, readerDir) : undefined,
  );
}

class TransformersEmbedder implements Embedder {
  readonly modelId: string;
  readonly dim: number;
  readonly pooling: "cls" | "mean";
  readonly maxTokens: number;

  constructor(
    private readonly spec: ModelSpec,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly pool: EmbedPool,
    private readonly batchSize: number,
    readonly reader: Reader | undefined,
  ) {
    this.modelId = spec.name;
    this.dim = spec.dim;
    this.pooling = spec.pooling;
    this.maxTokens = spec.maxTokens;
    const [cls, sep] = tokenizer.encode("", null, { add_special_tokens: true });
    this.cls = BigInt(cls ?? 101);
    this.sep = BigInt(sep ?? 102);
  }

  private readonly idCache = new Map<string, number[]>();
  private readonly cls: bigint;
  private readonly sep: bigint;

  countTokens(text: string): number {
    return this.ids(text).length;
  }

  /**
   * Token ids without special tokens. The indexer counts every sentence before it embeds the
   * same sentences, so ids are remembered (first in, first out) to tokenize each text once.
   */
  private ids(text: string): number[] {
    let ids = this.idCache.get(text);
    if (!ids) {
      ids = this.tokenizer.encode(text, null, { add_special_tokens: false });
      if (this.idCache.size >= ID_CACHE_SIZE) this.idCache.delete(this.idCache.keys().next().value as string);
      this.idCache.set(text, ids);
    }
    return ids;
  }

  async embed(texts: readonly string[], kind: EmbedKind): Promise<Float32Array[]> {
    const inputs = kind === "query" ? texts.map((t) => this.spec.queryInstruction + t) : texts;
    // Batches of similar length waste less work on padding. Every batch is queued at once, so
    // the pool's workers take them side by side.
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[a]!.length - inputs[b]!.length);
    const out = new Array<Float32Array>(inputs.length);
    const batches: Promise<void>[] = [];
    for (let i = 0; i < order.length; i += this.batchSize) {
      const idx = order.slice(i, i + this.batchSize);
      batches.push(
        this.pool.run(this.tokenBatch(idx.map((j) => inputs[j]!))).then((flat) => {
          idx.forEach((j, b) => {
            out[j] = flat.slice(b * this.dim, (b + 1) * this.dim);
          });
        }),
      );
    }
    await Promise.all(batches);
    return out;
  }

  /** [CLS] ids [SEP], truncated to the model's length, padded to the longest in the batch. */
  private tokenBatch(batch: string[]) {
    const rows = batch.map((t) => this.ids(t).slice(0, this.maxTokens - 2));
    const seq = Math.max(...rows.map((r) => r.length)) + 2;
    const ids = new BigInt64Array(batch.length * seq);
    const lengths = new Int32Array(batch.length);
    rows.forEach((r, b) => {
      const off = b * seq;
      ids[off] = this.cls;
      for (let i = 0; i < r.length; i++) ids[off + 1 + i] = BigInt(r[i]!);
      ids[off + r.length + 1] = this.sep;
      lengths[b] = r.length + 2;
    });
    return { ids, lengths, seq };
  }

  async dispose(): Promise<void> {
    await this.pool.close();
  }
}
