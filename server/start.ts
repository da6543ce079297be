/** Wires the server together: model, index (with hot reload), engine, HTTP and WebSocket. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { expectationFor, openBackendWriter, openSearchBackend } from "../backends/select.ts";
import type { SearchBackend } from "../core/backend.ts";
import type { Config, ServerConfig } from "../core/config.ts";
import { createEngine, type Engine } from "../core/engine.ts";
import { AppError } from "../core/errors.ts";
import type { Answerer } from "../core/generate/answerer.ts";
import type { Embedder } from "../core/types.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { buildIndex } from "../ingest/indexer.ts";
import { createLibrary } from "../ingest/library.ts";
import { type BuildOutcome, createIndexUpdater, type IndexUpdater } from "../ingest/updater.ts";
import { type CorpusWatcher, watchCorpus } from "../ingest/watch.ts";
import { createGenerator } from "../llm/select.ts";
import { createApp } from "./app.ts";
import { checkBind, describeBound } from "./bind.ts";
import type { TransportDeps } from "./deps.ts";
import { rawErrorResponse } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { RateLimiter } from "./rate-limit.ts";
import { requestSchemas } from "./schemas.ts";
import { attachChat } from "./ws.ts";

export interface StartOptions {
  log?: Logger;
  /** A loaded embedder to share (tests); otherwise the configured model is loaded. */
  embedder?: Embedder;
  /** How often to look for a newly published index, in ms. */
  reloadIntervalMs?: number;
  clientDir?: string;
  /** How long a WebSocket may take to authenticate (default 5 s). */
  authTimeoutMs?: number;
  /** How long a WebSocket client may leave its replies unread before it is dropped (default 30 s). */
  slowReaderMs?: number;
  /** A loaded answer generator to share (tests); otherwise the configured one, if any, is loaded. */
  generator?: Answerer;
  /**
   * Watch the corpus folder and update the index when files are added, changed or removed, after
   * `debounceMs` of quiet (`npm start` does, unless given --no-watch).
   */
  watch?: { debounceMs: number };
  /** How the build just before the server started went (`npm start`'s), so its problems are listed. */
  initialBuild?: BuildOutcome;
}

export interface RunningServer {
  /** How to reach the server from this machine (a wildcard bind is reached on 127.0.0.1). */
  url: string;
  /** The address and port actually bound, as `address:port` (`[::]:8787` for IPv6). */
  bound: string;
  port: number;
  http: Server;
  engine: Engine;
  /** Builds of the corpus folder while the server runs (uploads, deletions, the watcher). */
  updater: IndexUpdater;
  /** The search backend answers are read from. */
  backend: SearchBackend;
  log: Logger;
  /**
   * Graceful stop: refuse new work, let answers in flight finish within the grace period,
   * close WebSockets with 1001, close the index.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the server; refuses a missing, corrupt or mismatched index with a message naming the fix. */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  // Before anything loads: a refused address costs nothing.
  await checkBind({ host: config.host, token: config.accessToken, allowNoToken: config.allowNoToken });
  // The server never downloads a model: `npm run model:fetch` (or `npm start`) provisions it.
  const embedder = opts.embedder ?? (await createEmbedder({ ...config, allowDownload: false }));
  const backend = await openSearchBackend(config, {
    expect: expectationFor(embedder, config),
    watchMs: opts.reloadIntervalMs ?? 1000,
    log,
  });
  // Off unless CITELINE_LLM_GGUF or CITELINE_LLM_URL is set; its modules load only then.
  const generator = opts.generator ?? (await createGenerator(config, log));
  const engine = createEngine({ config, embedder, backend, log, generator });
  const rateLimiter = new RateLimiter(config.rateLimitPerMinute);
  const inflight = new Set<Promise<unknown>>();
  let draining = false;
  const deps: TransportDeps = {
    config,
    engine,
    log,
    schemas: requestSchemas(config),
    rateLimiter,
    inflight,
    draining: () => draining,
  };
  const updater = createIndexUpdater({
    build: ({ signal, onProgress, allowEmpty }) =>
      buildIndex({ openWriter: openBackendWriter, config, embedder, signal, onProgress, allowEmpty }),
    // Served at once, not at the next look for a new version.
    onPublished: async (s) => {
      await backend.refresh();
      log("info", "index_updated", {
        version: s.version,
        documents: s.documents,
        added: s.added,
        changed: s.changed,
        removed: s.removed,
        problems: s.issues.length,
        seconds: Math.round(s.seconds * 10) / 10,
      });
    },
    onError: (err) =>
      log("warn", "index_update_failed", {
        code: err instanceof AppError ? err.code : "INTERNAL",
        message: err instanceof Error ? err.message : String(err),
      }),
    ...(opts.initialBuild ? { initial: opts.initialBuild } : {}),
  });
  const library = createLibrary({
    corpusDir: config.corpusDir,
    maxUploadBytes: config.uploadMaxBytes,
    maxFiles: config.uploadMaxFiles,
    updater,
    indexed: async () => {
      const lease = backend.lease();
      try {
        return await lease.snapshot.listDocuments();
      } finally {
        lease.release();
      }
    },
  });
  const app = createApp({ ...deps, library, ...(opts.clientDir ? { clientDir: opts.clientDir } : {}) });
  const http = createServer({ requestTimeout: 60_000, headersTimeout: 20_000 }, app);
  http.keepAliveTimeout = 5000;
  http.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => refuseMalformed(err, socket));
  const chat = attachChat(http, {
    ...deps,
    authTimeoutMs: opts.authTimeoutMs,
    slowReaderMs: opts.slowReaderMs,
  });

  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(config.port, config.host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    chat.wss.close();
    await backend.close();
    if (!opts.embedder) await embedder.dispose();
    throw listenError(err as NodeJS.ErrnoException, config);
  }
  // Only once listening: a start that fails (a taken port) closes the index, and the questions
  // must not be asked of a closed one.
  // The empty page's starter questions are checked against the index before they are offered.
  void engine.prepareExamples();
  const { address, port } = http.address() as AddressInfo;
  const { url, bound } = describeBound(address, port);
  let watcher: CorpusWatcher | undefined;
  if (opts.watch) {
    const failed = (err: unknown) =>
      log("warn", "corpus_watch_failed", {
        corpusDir: config.corpusDir,
        message: err instanceof Error ? err.message : String(err),
      });
    try {
      watcher = watchCorpus(config.corpusDir, () => updater.update().then(() => {}), {
        debounceMs: opts.watch.debounceMs,
        // A build's failure is logged by the updater; this is the watch itself failing.
        onError: (err) => {
          if (!(err instanceof AppError)) failed(err);
        },
      });
    } catch (err) {
      // A corpus folder that is not there: the server answers from its index all the same.
      failed(err);
    }
  }

  let closing: Promise<void> | undefined;
  const close = (graceMs = config.shutdownGraceMs) => {
    closing ??= (async () => {
      draining = true;
      watcher?.close();
      http.close();
      const deadline = sleepUnref(graceMs);
      await Promise.race([Promise.allSettled([...inflight]), deadline]);
      chat.closeAll(1001, "server shutting down");
      http.closeAllConnections();
      // Not unref'd: a caller awaiting close() must see it finish even when nothing else runs.
      await new Promise((r) => setTimeout(r, 50));
      for (const ws of chat.wss.clients) ws.terminate();
      chat.wss.close();
      // A build in progress stops; the published index stays as it was.
      await updater.close();
      await backend.close();
      if (!opts.generator) await generator?.close();
    })();
    return closing;
  };
  return { url, bound, port, http, engine, updater, backend, log, close };
}

/** Why the server could not listen, and what to do about it. */
function listenError(err: NodeJS.ErrnoException, config: Pick<ServerConfig, "host" | "port">): Error {
  const where = `${config.host}:${config.port}`;
  if (err.code === "EADDRINUSE") {
    return new AppError(
      "PORT_IN_USE",
      `port ${config.port} on ${config.host} is already in use (is citeline already running?); stop that process or choose another port, e.g. PORT=${config.port === 65535 ? 8788 : config.port + 1} npm start (CITELINE_PORT wins over PORT)`,
    );
  }
  if (err.code === "EACCES") {
    return new AppError(
      "LISTEN_FAILED",
      `not allowed to listen on ${where}; ports below 1024 need privileges: choose another with PORT or CITELINE_PORT`,
    );
  }
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") {
    return new AppError(
      "LISTEN_FAILED",
      `${config.host} is not an address of this machine; set HOST or CITELINE_HOST to one that is (127.0.0.1 for this machine only)`,
    );
  }
  return err;
}

/**
 * Answers a request Node could not parse (bad header bytes, oversized headers) with the same JSON
 * error body and headers as every other error, instead of a bare 400.
 */
function refuseMalformed(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const e =
    err.code === "HPE_HEADER_OVERFLOW"
      ? new AppError("PAYLOAD_TOO_LARGE", "the request headers are larger than the limit")
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? new AppError("BAD_REQUEST", "the request took too long to arrive")
        : new AppError("BAD_REQUEST", "the request is not valid HTTP");
  socket.end(rawErrorResponse(e));
}

function sleepUnref(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
