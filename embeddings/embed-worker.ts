/**
 * Worker-thread body of the embedding pool (embeddings/embed-pool.ts): one single-threaded ONNX
 * session per worker, so batches run side by side on the cores without the synchronisation cost
 * of one session's intra-op threads, and the main thread stays free while the model computes.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type BatchRunner, openSession, type SessionOptions, type TokenBatch } from "./onnx-session.ts";

export type WorkerRequest = TokenBatch;
export type WorkerReply =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "done"; vectors: Float32Array }
  | { type: "error"; message: string };

const port = parentPort;
if (!port) throw new Error("embed-worker.ts runs only as a worker thread");
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);

let runner: Promise<BatchRunner> | undefined;
port.on("message", async (req: WorkerRequest) => {
  try {
    const vectors = await (await runner!).run(req);
    post({ type: "done", vectors }, [vectors.buffer as ArrayBuffer]);
  } catch (err) {
    post({ type: "error", message: (err as Error).message });
  }
});
runner = openSession(workerData as SessionOptions);
runner.then(
  () => post({ type: "ready" }),
  (err: Error) => post({ type: "failed", message: err.message.split("\n")[0] ?? "unknown error" }),
);
