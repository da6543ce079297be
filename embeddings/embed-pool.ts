/**
 * A pool of embedding worker threads, each with its own single-threaded ONNX session. Batches
 * queue first in, first out and go to whichever worker is free. Idle workers do not keep the
 * process alive.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerReply, WorkerRequest } from "./embed-worker.ts";
import type { BatchRunner, PairBatch, PairScores, SessionOptions, TokenBatch } from "./onnx-session.ts";

type Job =
  | { kind: "embed"; batch: TokenBatch; resolve: (v: Float32Array) => void; reject: (e: Error) => void }
  | { kind: "read"; batch: PairBatch; resolve: (v: PairScores) => void; reject: (e: Error) => void };

interface Slot {
  worker: Worker;
  job: Job | undefined;
  /** Settles when the worker has answered its current batch (or has gone). */
  idle: Promise<void>;
  settle: () => void;
}

const WORKER_URL = new URL("./embed-worker.ts", import.meta.url).href;

/**
 * Workers load TypeScript through tsx, as the main thread does; a worker's execArgv `--import`
 * does not reach its module loader on Node 20, so the loader is registered from a bootstrap.
 */
function bootstrap(): string {
  const tsx = pathToFileURL(tsxEsmApi()).href;
  return `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL)}); });`;
}

/**
 * The ESM entry of `tsx/esm/api`, read from tsx's export map: import.meta.resolve is missing under
 * vitest's module runner, and require.resolve finds the CommonJS build, which cannot register.
 */
function tsxEsmApi(): string {
  const pkgFile = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  const entry = pkg.exports["./esm/api"]?.import?.default;
  if (!entry) throw new Error("tsx has no ESM entry for tsx/esm/api");
  return path.join(path.dirname(pkgFile), entry);
}

export interface EmbedPool extends BatchRunner {
  readonly size: number;
  /** Reader logits for a batch of pairs (only when the pool was started with the reader model). */
  read(batch: PairBatch): Promise<PairScores>;
  close(): Promise<void>;
}

/** Starts `size` workers and resolves once every session is open; rejects with the first failure. */
export async function createEmbedPool(size: number, session: SessionOptions): Promise<EmbedPool> {
  const queue: Job[] = [];
  let closed = false;
  const slots: Slot[] = [];

  const dispatch = () => {
    for (const slot of slots) {
      if (slot.job || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.idle = new Promise((r) => {
        slot.settle = r;
      });
      slot.worker.ref();
      const req: WorkerRequest =
        job.kind === "embed" ? { kind: "embed", ...job.batch } : { kind: "read", ...job.batch };
      const transfer = [req.ids.buffer as ArrayBuffer];
      if (req.kind === "read") transfer.push(req.types.buffer as ArrayBuffer);
      slot.worker.postMessage(req, transfer);
    }
  };

  // A worker that dies takes the pool with it: later batches are refused, not left waiting.
  let broken: Error | undefined;
  const failAll = (err: Error) => {
    broken ??= err;
    for (const slot of slots) {
      slot.job?.reject(err);
      slot.job = undefined;
    }
    for (const job of queue.splice(0)) job.reject(err);
  };

  const started = Array.from({ length: size }, () => {
    const worker = new Worker(bootstrap(), { eval: true, workerData: session });
    const slot: Slot = { worker, job: undefined, idle: Promise.resolve(), settle: () => {} };
    slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (reply: WorkerReply) => {
        if (reply.type === "ready") return resolve();
        if (reply.type === "failed") return reject(new Error(reply.message));
        const job = slot.job;
        slot.job = undefined;
        slot.settle();
        worker.unref();
        if (reply.type === "done" && job?.kind === "embed") job.resolve(reply.vectors);
        else if (reply.type === "read" && job?.kind === "read") job.resolve(reply.scores);
        else if (reply.type === "error") job?.reject(new Error(reply.message));
        else job?.reject(new Error(`an embedding worker answered ${reply.type} to a ${job?.kind} batch`));
        dispatch();
      });
      worker.on("error", (err) => {
        slot.settle();
        reject(err);
        failAll(err);
      });
      worker.on("exit", (code) => {
        slot.settle();
        if (closed) return;
        const err = new Error(`an embedding worker exited with code ${code}`);
        reject(err);
        failAll(err);
      });
    });
  });

  const close = async () => {
    closed = true;
    const disposed = new Error("the embedder was disposed");
    for (const job of queue.splice(0)) job.reject(disposed);
    // Workers stop between batches, never inside the model: terminating a thread while ONNX
    // Runtime computes aborts the whole process (a failed start used to end in SIGABRT).
    await Promise.all(slots.map((s) => s.idle));
    failAll(disposed);
    // Idle workers are unref'd; awaiting their exit must keep the event loop alive, or a process
    // with nothing else pending (npm start between its index check and its server) could end
    // with the await unsettled.
    for (const s of slots) s.worker.ref();
    await Promise.all(slots.map((s) => s.worker.terminate()));
  };
  try {
    await Promise.all(started);
  } catch (err) {
    await close();
    throw err;
  }
  for (const s of slots) s.worker.unref();

  return {
    size,
    run(batch) {
      if (closed) return Promise.reject(new Error("the embedder was disposed"));
      if (broken) return Promise.reject(broken);
      return new Promise((resolve, reject) => {
        queue.push({ kind: "embed", batch, resolve, reject });
        dispatch();
      });
    },
    read(batch) {
      if (closed) return Promise.reject(new Error("the embedder was disposed"));
      if (broken) return Promise.reject(broken);
      return new Promise((resolve, reject) => {
        queue.push({ kind: "read", batch, resolve, reject });
        dispatch();
      });
    },
    close,
  };
}
