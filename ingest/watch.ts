/**
 * Watches the corpus folder and calls `rebuild` once changes settle: files added, changed, renamed
 * or removed anywhere under it (fs.watch, recursive). A burst of changes (a copy of many files)
 * is one rebuild after `debounceMs` of quiet; a change during a rebuild queues one more, never two
 * at once. Hidden entries (editors' swap files, `.git`) are ignored, as the corpus ignores them.
 */
import { type FSWatcher, watch } from "node:fs";

export interface CorpusWatcher {
  close(): void;
}

export interface WatchOptions {
  /** Quiet time after the last change before rebuilding. */
  debounceMs: number;
  /** A rebuild failed; the watcher keeps watching. */
  onError?: (err: unknown) => void;
}

export function watchCorpus(dir: string, rebuild: () => Promise<void>, opts: WatchOptions): CorpusWatcher {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const run = (): void => {
    timer = undefined;
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = rebuild()
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          schedule();
        }
      });
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(run, opts.debounceMs);
  };
  const watcher: FSWatcher = watch(dir, { recursive: true }, (_event, name) => {
    const parts = (name ?? "").split(/[\\/]/);
    if (parts.some((p) => p.startsWith("."))) return;
    schedule();
  });
  watcher.on("error", (err) => opts.onError?.(err));
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
