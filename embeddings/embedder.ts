import os from "node:os";
import path from "node:path";
import { AutoModel, AutoTokenizer, env, type PreTrainedTokenizer } from "@xenova/transformers";
import ort from "onnxruntime-node";
import type { ModelName } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { Embedder, EmbedKind } from "../core/types.ts";
import { hasModelFiles, MODEL_SPECS, type ModelSpec, modelFolder } from "./models.ts";

export interface EmbedderOptions {
  model: ModelName;
  /** Local models folder, searched first (transformers.js layout). */
  modelsDir: string;
  /** Where models downloaded from the hub are cached. */
  modelCacheDir: string;
  embedBatchSize: number;
  /** Allow downloading from the model hub when the files are not local (default true). */
  allowDownload?: boolean;
  /** ONNX Runtime threads per model call (default: the cores, at most 4). */
  embedThreads?: number;
}

/** Token ids remembered between counting and embedding (about 30 MB at most). */
const ID_CACHE_SIZE = 200_000;

interface Tensor {
  data: Float32Array | BigInt64Array;
  dims: number[];
}

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
  let session: ort.InferenceSession;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(spec.hubId);
    if (!root) {
      // Not local: let transformers.js download the weights into its cache, then use them there.
      await (await AutoModel.from_pretrained(spec.hubId, { quantized: true })).dispose();
      root = opts.modelCacheDir;
    }
    // Our own session rather than transformers.js's: its default thread pool follows the host's
    // core count, not this machine's, and runs the model many times slower on 2 cores.
    const threads = opts.embedThreads ?? Math.max(1, Math.min(4, os.availableParallelism()));
    session = await ort.InferenceSession.create(
      path.join(modelFolder(root, spec), "onnx", "model_quantized.onnx"),
      {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: "sequential",
        graphOptimizationLevel: "all",
      },
    );
  } catch (err) {
    throw new AppError(
      "MODEL_MISSING",
      `the embedding model ${spec.name} is not in ${opts.modelsDir} and could not be downloaded (${(err as Error).message.split("\n")[0]}); run \`npm run model:fetch\``,
      { model: spec.name },
    );
  }
  return new TransformersEmbedder(spec, tokenizer, session, opts.embedBatchSize);
}

class TransformersEmbedder implements Embedder {
  readonly modelId: string;
  readonly dim: number;
  readonly pooling: "cls" | "mean";
  readonly maxTokens: number;

  constructor(
    private readonly spec: ModelSpec,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly session: ort.InferenceSession,
    private readonly batchSize: number,
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
    // Batches of similar length waste less work on padding.
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[a]!.length - inputs[b]!.length);
    const out = new Array<Float32Array>(inputs.length);
    for (let i = 0; i < order.length; i += this.batchSize) {
      const idx = order.slice(i, i + this.batchSize);
      const vectors = await this.embedBatch(idx.map((j) => inputs[j]!));
      // ONNX Runtime computes on the main thread; yielding between batches lets signals and
      // timers run during long embedding jobs.
      await new Promise((r) => setImmediate(r));
      idx.forEach((j, b) => {
        out[j] = vectors[b]!;
      });
    }
    return out;
  }

  private async embedBatch(batch: string[]): Promise<Float32Array[]> {
    // [CLS] ids [SEP], truncated to the model's length, padded to the longest in the batch.
    const rows = batch.map((t) => this.ids(t).slice(0, this.maxTokens - 2));
    const seqLen = Math.max(...rows.map((r) => r.length)) + 2;
    const inputIds = new BigInt64Array(batch.length * seqLen);
    const attention = new BigInt64Array(batch.length * seqLen);
    rows.forEach((r, b) => {
      const off = b * seqLen;
      inputIds[off] = this.cls;
      for (let i = 0; i < r.length; i++) inputIds[off + 1 + i] = BigInt(r[i]!);
      inputIds[off + r.length + 1] = this.sep;
      attention.fill(1n, off, off + r.length + 2);
    });
    const dims = [batch.length, seqLen];
    const tensors: Record<string, BigInt64Array> = {
      input_ids: inputIds,
      attention_mask: attention,
      token_type_ids: new BigInt64Array(batch.length * seqLen),
    };
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.session.inputNames) {
      const data = tensors[name];
      if (!data) throw new Error(`${this.spec.name} wants an input ${name} this embedder does not make`);
      feeds[name] = new ort.Tensor("int64", data, dims);
    }
    const output = await this.session.run(feeds);
    const hidden = (output.last_hidden_state ?? Object.values(output)[0]) as unknown as Tensor;
    const mask = { data: attention };
    const [n, seq, dim] = hidden.dims as [number, number, number];
    const data = hidden.data as Float32Array;
    const result: Float32Array[] = [];
    for (let b = 0; b < n; b++) {
      const v = new Float32Array(dim);
      const base = b * seq * dim;
      if (this.pooling === "cls") {
        v.set(data.subarray(base, base + dim));
      } else {
        let count = 0;
        for (let t = 0; t < seq; t++) {
          if (mask.data[b * seq + t] === 0n) continue;
          count++;
          const off = base + t * dim;
          for (let d = 0; d < dim; d++) v[d]! += data[off + d]!;
        }
        for (let d = 0; d < dim; d++) v[d]! /= Math.max(count, 1);
      }
      result.push(normalize(v));
    }
    return result;
  }

  async dispose(): Promise<void> {
    // onnxruntime-node 1.14 frees a session when it is garbage-collected; nothing to release.
  }
}

/** Scales a vector to unit length in place. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
