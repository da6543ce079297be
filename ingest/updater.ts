/**
 * Keeps the index up to date with the corpus folder while the server runs: uploads, deletions and
 * the folder watcher ask for a build here, and builds run one at a time. A request made while a
 * build runs is served by the next build (all requests made meanwhile share it), never by the
 * running one, which may have read the folder before the change. The build itself is the same
 * incremental, atomic one as `npm run index`: readers keep the old index until it is published.
 */
import { AppError } from "../core/errors.ts";
import type { BuildSummary, Progress } from "./indexer.ts";

/** What one build needs from its caller besides the corpus: a stop signal and progress. */
export interface BuildRequest {
  signal: AbortSignal;
  onProgress: (p: Progress) => void;
  /** Publish even when the corpus gives no document (someone deleted the last file on purpose). */
  allowEmpty: boolean;
}

/** How the last finished build went. */
export interface BuildOutcome {
  /** When it began reading the folder (ms since the epoch): later changes were not in it. */
  startedAt: number;
  finishedAt: number;
  summary?: BuildSummary;
  /** Its failure, as a client may see it (an AppError's code and message, or INTERNAL). */
  error?: { code: string; message: string };
}

export interface UpdaterState {
  /** A build runs or is waiting to run. */
  busy: boolean;
  /** The running build's progress, when it has said any. */
  progress: Progress | undefined;
  last: BuildOutcome | undefined;
}

export interface IndexUpdater {
  /**
   * Asks for a build that starts after this call. Resolves with its summary once it is published
   * and served (see `onPublished`); rejects with its error.
   */
  update(opts?: { allowEmpty?: boolean }): Promise<BuildSummary>;
  state(): UpdaterState;
  /** Stops the running build (the published index stays as it was) and refuses new requests. */
  close(): Promise<void>;
}

export interface UpdaterOptions {
  build: (req: BuildRequest) => Promise<BuildSummary>;
  /** Runs after a build published, before its callers hear of it (the server switches to it). */
  onPublished?: (summary: BuildSummary) => Promise<void>;
  /** Called when a build fails; its callers also see the error. */
  onError?: (err: unknown) => void;
  /** A build that ran before the updater existed (`npm start`'s), so its problems are known. */
  initial?: BuildOutcome;
}

export function createIndexUpdater(opts: UpdaterOptions): IndexUpdater {
  const controller = new AbortController();
  let closed = false;
  let running = false;
  let progress: Progress | undefined;
  let last = opts.initial;
  /** The build that has not started yet, which new requests join. */
  let queued: { promise: Promise<BuildSummary>; flags: { allowEmpty: boolean } } | undefined;
  /** Settles when every build asked for so far has ended. */
  let tail: Promise<unknown> = Promise.resolve();

  const run = async (allowEmpty: boolean): Promise<BuildSummary> => {
    if (closed) throw shuttingDown();
    running = true;
    progress = undefined;
    const startedAt = Date.now();
    try {
      const summary = await opts.build({
        signal: controller.signal,
        onProgress: (p) => {
          progress = p;
        },
        allowEmpty,
      });
      if (summary.published) await opts.onPublished?.(summary);
      last = { startedAt, finishedAt: Date.now(), summary };
      return summary;
    } catch (err) {
      last = { startedAt, finishedAt: Date.now(), error: describe(err) };
      opts.onError?.(err);
      throw err;
    } finally {
      running = false;
      progress = undefined;
    }
  };

  return {
    update(req = {}) {
      if (closed) return Promise.reject(shuttingDown());
      if (queued) {
        queued.flags.allowEmpty ||= req.allowEmpty === true;
        return queued.promise;
      }
      const flags = { allowEmpty: req.allowEmpty === true };
      const promise: Promise<BuildSummary> = tail.then(() => {
        // Started: later requests wait for the next build.
        if (queued?.promise === promise) queued = undefined;
        return run(flags.allowEmpty);
      });
      queued = { promise, flags };
      tail = promise.catch(() => {});
      return promise;
    },
    state() {
      return { busy: running || queued !== undefined, progress, last };
    },
    async close() {
      closed = true;
      controller.abort();
      await tail;
    },
  };
}

function shuttingDown(): AppError {
  return new AppError("SHUTTING_DOWN", "the server is shutting down; the index was not updated");
}

function describe(err: unknown): { code: string; message: string } {
  if (err instanceof AppError) return { code: err.code, message: err.message };
  return { code: "INTERNAL", message: "the index build failed; the error was logged" };
}
