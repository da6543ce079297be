import type { Embedder } from "./types.ts";

/**
 * Queues query embeddings from concurrent requests and runs them as one model call per batch,
 * so simultaneous questions share the CPU instead of contending for it. Up to `parallel` batches
 * run at once (the embedder's workers compute them side by side); whatever arrives meanwhile
 * forms the next batch.
 */
export class EmbedQueue {
  private pending: {
    text: string;
    resolve: (v: Float32Array) => void;
    reject: (e: unknown) => void;
    signal?: AbortSignal | undefined;
  }[] = [];
  private running = 0;
  /** Model calls made and texts embedded, for benchmarks and tests. */
  readonly stats = { batches: 0, texts: 0 };

  constructor(
    private readonly embedder: Embedder,
    private readonly maxBatch = 32,
    private readonly parallel = 2,
  ) {}

  /** Embeds a query; one whose signal has aborted by the time its batch forms is skipped. */
  embed(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ text, resolve, reject, signal });
      if (this.running < this.parallel) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running++;
    try {
      while (this.pending.length > 0) {
        // Let requests that arrive in the same turn of the event loop join the batch.
        await new Promise((r) => setImmediate(r));
        const taken = this.pending.splice(0, this.maxBatch);
        const batch = taken.filter((b) => {
          if (!b.signal?.aborted) return true;
          b.reject(b.signal.reason);
          return false;
        });
        if (batch.length === 0) continue;
        this.stats.batches++;
        this.stats.texts += batch.length;
        try {
          const vectors = await this.embedder.embed(
            batch.map((b) => b.text),
            "query",
          );
          for (const [i, b] of batch.entries()) b.resolve(vectors[i]!);
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running--;
    }
  }
}
