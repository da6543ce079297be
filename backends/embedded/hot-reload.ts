import { type IndexExpectation, type LoadedIndex, openIndex, openVersion } from "./open-version.ts";
import { currentVersion } from "./versions.ts";

export interface Lease {
  index: LoadedIndex;
  release(): void;
}

export interface IndexHolderOptions {
  indexDir: string;
  expect: IndexExpectation;
  log?: (level: "info" | "warn", event: string, fields: Record<string, unknown>) => void;
}

/**
 * Holds the published index and swaps in a newer one when the indexer publishes it. Readers
 * lease the index for the length of a request, so an answer in flight finishes on the index it
 * started with; a replaced index is closed when its last lease ends.
 */
export class IndexHolder {
  private current: LoadedIndex;
  private readonly leases = new Map<LoadedIndex, number>();
  private readonly retired = new Set<LoadedIndex>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  /** Versions already refused, so a bad build is logged once, not every poll. */
  private readonly refused = new Set<string>();

  private constructor(
    private readonly opts: IndexHolderOptions,
    initial: LoadedIndex,
  ) {
    this.current = initial;
  }

  /** Opens the published index; refuses a missing, corrupt or mismatched one. */
  static async open(opts: IndexHolderOptions): Promise<IndexHolder> {
    return new IndexHolder(opts, await openIndex(opts.indexDir, opts.expect));
  }

  get index(): LoadedIndex {
    return this.current;
  }

  lease(): Lease {
    const index = this.current;
    this.leases.set(index, (this.leases.get(index) ?? 0) + 1);
    let released = false;
    return {
      index,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.leases.get(index) ?? 1) - 1;
        if (n > 0) {
          this.leases.set(index, n);
          return;
        }
        this.leases.delete(index);
        if (this.retired.has(index)) {
          this.retired.delete(index);
          index.close();
        }
      },
    };
  }

  /**
   * Switches to the published version if it changed. A version that fails to open is refused
   * and logged; the current index keeps serving. Returns true when it switched.
   */
  async reload(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      const version = currentVersion(this.opts.indexDir);
      if (!version || version === this.current.version || this.refused.has(version)) return false;
      let next: LoadedIndex;
      try {
        next = await openVersion(this.opts.indexDir, version, this.opts.expect);
      } catch (err) {
        this.refused.add(version);
        this.opts.log?.("warn", "index_reload_refused", {
          version,
          code: (err as { code?: string }).code ?? "INTERNAL",
          reason: (err as Error).message,
        });
        return false;
      }
      const old = this.current;
      this.current = next;
      if ((this.leases.get(old) ?? 0) > 0) this.retired.add(old);
      else old.close();
      this.opts.log?.("info", "index_reloaded", {
        from: old.version,
        to: version,
        chunks: next.manifest.counts.chunks,
      });
      return true;
    } finally {
      this.checking = false;
    }
  }

  /** Polls for a newly published index every `intervalMs`. */
  watch(intervalMs = 1000): void {
    this.timer ??= setInterval(() => void this.reload(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.current.close();
    for (const idx of this.retired) idx.close();
    this.retired.clear();
  }
}
