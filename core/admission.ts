import { AppError } from "./errors.ts";

/**
 * Caps the answers computed at once. Beyond the cap, requests wait in a bounded FIFO queue;
 * beyond the queue they are refused with BUSY and a retry hint. A waiter whose signal aborts
 * leaves the queue.
 */
export class AdmissionQueue {
  private active = 0;
  private readonly waiting: { resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal }[] =
    [];

  constructor(
    private readonly maxActive: number,
    private readonly maxWaiting: number,
    /** Seconds a client is told to wait when refused. */
    private readonly retryAfterS = 2,
  ) {}

  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.maxActive) {
      this.active++;
      return this.releaser();
    }
    if (this.waiting.length >= this.maxWaiting) {
      throw new AppError(
        "BUSY",
        `the server is answering ${this.active} questions with ${this.waiting.length} waiting; retry in ${this.retryAfterS} s`,
        {
          retryAfterS: this.retryAfterS,
        },
      );
    }
    await new Promise<void>((resolve, reject) => {
      const entry: { resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal } = {
        resolve,
        reject,
      };
      if (signal) {
        entry.signal = signal;
        signal.addEventListener(
          "abort",
          () => {
            const i = this.waiting.indexOf(entry);
            if (i >= 0) this.waiting.splice(i, 1);
            reject(signal.reason);
          },
          { once: true },
        );
      }
      this.waiting.push(entry);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next.resolve();
      else this.active--;
    };
  }
}
