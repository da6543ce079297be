import { AppError } from "../core/errors.ts";

/**
 * A token bucket per client key: `perMinute` requests a minute, with bursts up to the same
 * number. Buckets idle for a minute are dropped, so memory stays bounded by active clients.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private sweepAt = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; throws RATE_LIMITED with a retry hint when none is left. */
  take(key: string): void {
    if (this.perMinute <= 0) return;
    const now = this.now();
    const rate = this.perMinute / 60_000;
    if (now > this.sweepAt) this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      const retryAfterS = Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
      throw new AppError("RATE_LIMITED", `too many questions; retry in ${retryAfterS} s`, { retryAfterS });
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(key);
    this.sweepAt = now + 60_000;
  }
}
