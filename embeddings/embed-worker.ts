/**
 * Worker-thread body of the embedding pool (embeddings/embed-pool.ts): one single-threaded ONNX
 * session per worker, so batches run side by side on the cores without the synchronisation cost
 * of one session's intra-op threads, and the main thread stays free while the model computes.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  type BatchRunner,
  openReaderSession,
  openSession,
  type PairBatch,
  type PairRunner,
  type PairScores,
  type SessionOptions,
  type TokenBatch,
} from "./onnx-session.ts";

export type WorkerRequest = ({ kind: "embed" } & TokenBatch) | ({ kind: "read" } & PairBatch);
export type WorkerReply =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; vectors: Float32Array }
  | { type: "read"; scores: PairScores }
  | { type: "error"; message: string };

const port = parentPort;
if (!port) throw new Error("embed-worker.ts runs only as a worker thread");
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

let runner: Promise<BatchRunner> | undefined;
let reader: Promise<PairRunner | undefined> | undefined;
port.on("message", async (req: WorkerRequest) => {
  try {
    if (req.kind === "read") {
      const r = await reader;
      if (!r) throw new Error("this embedder was started without the reader model");
      const raw = await r.run(req);
      // Copies: ONNX Runtime's outputs may be views of one buffer, which can be transferred once.
      const scores = { relevance: raw.relevance.slice(), start: raw.start.slice(), end: raw.end.slice() };
      post({ type: "read", scores }, [
        scores.relevance.buffer as ArrayBuffer,
        scores.start.buffer as ArrayBuffer,
        scores.end.buffer as ArrayBuffer,
      ]);
      return;
    }
    const vectors = await (await runner!).run(req);
    post({ type: "done", vectors }, [vectors.buffer as ArrayBuffer]);
  } catch (err) {
    post({ type: "error", message: (err as Error).message });
  }
});
const options = workerData as SessionOptions;
runner = openSession(options);
reader = options.readerPath
  ? openReaderSession(options.readerPath, options.threads)
  : Promise.resolve(undefined);
Promise.all([runner, reader]).then(
  () => post({ type: "ready" }),
  (err: Error) => post({ type: "failed", message: err.message.split("\n")[0] ?? "unknown error" }),
);
