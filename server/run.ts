/**
 * Runs the server until it is told to stop: the part `npm run serve` and `npm start` share.
 * SIGTERM, SIGINT and SIGHUP stop it with the graceful drain; so does the death of the process
 * that launched it, when asked to watch it (npm does not forward SIGHUP).
 */
import type { Config } from "../core/config.ts";
import type { Embedder } from "../core/types.ts";
import { isLoopbackAddress } from "./bind.ts";
import type { Logger } from "./log.ts";
import { type StartOptions, startServer } from "./start.ts";

export interface RunOptions {
  log: Logger;
  /** Stop when this process's parent goes away (it was launched by `npm start`). */
  exitWithParent?: boolean;
  /** A loaded embedder to serve with (`npm start` keeps the one its index check used). */
  embedder?: Embedder;
  /** Update the index when corpus files change (`npm start`). */
  watch?: StartOptions["watch"];
  /** How the build just before the start went, so the document list shows its problems. */
  initialBuild?: StartOptions["initialBuild"];
}

const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/** Starts the server and stops it gracefully on a stop signal; exits the process when stopped. */
export async function runServer(config: Config, opts: RunOptions): Promise<void> {
  const { log } = opts;
  const server = await startServer(config, {
    log,
    ...(opts.embedder ? { embedder: opts.embedder } : {}),
    ...(opts.watch ? { watch: opts.watch } : {}),
    ...(opts.initialBuild ? { initialBuild: opts.initialBuild } : {}),
  });
  const { counts } = server.backend.current().facts;
  log("info", "listening", {
    url: server.url,
    bound: server.bound,
    documents: counts.docs,
    chunks: counts.chunks,
    model: config.model,
  });
  const address = server.bound.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const local = isLoopbackAddress(address);
  if (config.accessToken === undefined) {
    // Reached only on the loopback, or when CITELINE_ALLOW_NO_TOKEN allowed it (server/bind.ts).
    log(local ? "info" : "warn", "no_access_token", {
      message: local
        ? `no CITELINE_TOKEN is set, so the server only listens on ${address}; set one before binding to other addresses`
        : `no CITELINE_TOKEN is set and the server listens on ${address} (CITELINE_ALLOW_NO_TOKEN): anyone who can reach it can use it`,
    });
  }
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutdown", { signal: reason, graceMs: config.shutdownGraceMs });
    void server.close().then(() => {
      log("info", "stopped", {});
      process.exit(0);
    });
  };
  for (const sig of STOP_SIGNALS) process.on(sig, () => stop(sig));
  // Said once a stop signal is handled: whoever reads this line may stop the server at once.
  console.error(
    local
      ? `citeline is answering at ${server.url}`
      : `citeline is answering at http://${server.bound} (reachable from other machines; ${server.url} from this one)`,
  );
  if (opts.exitWithParent) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop("parent_exited");
    }, 250).unref();
  }
}
