/**
 * One ONNX Runtime session running token-id batches: the part of embedding that costs CPU time.
 * Used inside each embedding worker thread (embeddings/embed-worker.ts).
 */
import ort from "onnxruntime-node";
import { poolRows } from "./pooling.ts";

/** A padded batch: `ids` is [rows, seq] row-major; `lengths[b]` counts row b's real tokens. */
export interface TokenBatch {
  ids: BigInt64Array;
  lengths: Int32Array;
  seq: number;
}

export interface SessionOptions {
  modelPath: string;
  /** The reader model, opened beside the embedding model in the same worker when given. */
  readerPath?: string | undefined;
  /** Intra-op threads; one per worker keeps several workers from contending for the cores. */
  threads: number;
  pooling: "cls" | "mean";
}

export interface BatchRunner {
  /** Unit vectors, `rows × dim`, concatenated. */
  run(batch: TokenBatch): Promise<Float32Array>;
}

export async function openSession(opts: SessionOptions): Promise<BatchRunner> {
  const session = await ort.InferenceSession.create(opts.modelPath, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  return {
    async run({ ids, lengths, seq }) {
      const rows = lengths.length;
      const attention = new BigInt64Array(rows * seq);
      for (let b = 0; b < rows; b++) attention.fill(1n, b * seq, b * seq + lengths[b]!);
      const dims = [rows, seq];
      const tensors: Record<string, BigInt64Array> = {
        input_ids: ids,
        attention_mask: attention,
        token_type_ids: new BigInt64Array(rows * seq),
      };
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        const data = tensors[name];
        if (!data) throw new Error(`the model wants an input ${name} this embedder does not make`);
        feeds[name] = new ort.Tensor("int64", data, dims);
      }
      const output = await session.run(feeds);
      const hidden = (output.last_hidden_state ?? Object.values(output)[0]) as ort.Tensor;
      const [, , dim] = hidden.dims as [number, number, number];
      const vectors = poolRows(hidden.data as Float32Array, rows, seq, dim, lengths, opts.pooling);
      const out = new Float32Array(rows * dim);
      for (const [b, v] of vectors.entries()) out.set(v, b * dim);
      return out;
    },
  };
}

/** A padded batch of (question, sentence) pairs for the reader: ids and segment of every token. */
export interface PairBatch {
  ids: BigInt64Array;
  types: BigInt64Array;
  lengths: Int32Array;
  seq: number;
}

/** The reader's outputs for a batch: a relevance logit per row, start/end logits per token. */
export interface PairScores {
  relevance: Float32Array;
  start: Float32Array;
  end: Float32Array;
}

export interface PairRunner {
  run(batch: PairBatch): Promise<PairScores>;
}

/** A session of the reader model (reader/model): question–sentence pairs in, logits out. */
export async function openReaderSession(modelPath: string, threads: number): Promise<PairRunner> {
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  return {
    async run({ ids, types, lengths, seq }) {
      const rows = lengths.length;
      const attention = new BigInt64Array(rows * seq);
      for (let b = 0; b < rows; b++) attention.fill(1n, b * seq, b * seq + lengths[b]!);
      const dims = [rows, seq];
      const out = await session.run({
        input_ids: new ort.Tensor("int64", ids, dims),
        attention_mask: new ort.Tensor("int64", attention, dims),
        token_type_ids: new ort.Tensor("int64", types, dims),
      });
      return {
        relevance: out.relevance!.data as Float32Array,
        start: out.start_logits!.data as Float32Array,
        end: out.end_logits!.data as Float32Array,
      };
    },
  };
}
