import type { Embedder } from "./types.ts";

/**
 * Queues query embeddings from concurrent requests and runs them as one model call per batch,
 * so simultaneous questions share the CPU instead of contending for it. Up to `parallel` batches
 * run at once (the embedder's workers compute them side by side); whatever arrives meanwhile
 * forms the next batch. The vectors of the last `cacheSize` distinct queries are kept: starter
 * questions, retries and the same question from many people skip the model, which is most of
 * an answer's CPU on a small index.
 */
export class EmbedQueue {
  private pending: {
    text: string;
    resolve: (v: Float32Array) => void;
    reject: (e: unknown) => void;
    signal?: AbortSignal | undefined;
  }[] = [];
  private running = 0;
  /** Model calls made, texts embedded and queries answered from the cache, for benchmarks and tests. */
  readonly stats = { batches: 0, texts: 0, cached: 0 };
  /** Recent query vectors by text, least recently used first. */
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly embedder: Embedder,
    private readonly maxBatch = 32,
    private readonly parallel = 2,
    private readonly cacheSize = 2048,
  ) {}

  /**
   * Embeds a query; one whose signal has aborted by the time its batch forms is skipped. Each
   * caller gets its own copy of the vector.
   */
  embed(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const known = this.cache.get(text);
    if (known) {
      this.cache.delete(text);
      this.cache.set(text, known);
      this.stats.cached++;
      return Promise.resolve(known.slice());
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ text, resolve, reject, signal });
      if (this.running < this.parallel) void this.drain();
    });
  }

  private remember(text: string, vector: Float32Array): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(text);
    this.cache.set(text, vector.slice());
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
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
          for (const [i, b] of batch.entries()) {
            this.remember(b.text, vectors[i]!);
            b.resolve(vectors[i]!);
          }
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running--;
    }
  }
}
