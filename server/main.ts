/** `npm run serve`: starts the server on the published index. SIGTERM/SIGINT stop it gracefully. */
import { loadConfig } from "../core/config.ts";
import { isAppError } from "../core/errors.ts";
import { buildClient } from "../scripts/build-client.ts";
import { createLogger } from "./log.ts";
import { startServer } from "./start.ts";

const config = loadConfig();
const log = createLogger(config.logLevel);
try {
  // Cheap when the page is up to date; `npm run serve` on a fresh checkout still gets a page.
  await buildClient();
  const server = await startServer(config, { log });
  const counts = server.indexes.index.manifest.counts;
  log("info", "listening", {
    url: server.url,
    documents: counts.docs,
    chunks: counts.chunks,
    model: config.model,
  });
  if (config.accessToken === undefined) {
    const local = ["127.0.0.1", "localhost", "::1"].includes(config.host);
    log(local ? "info" : "warn", "no_access_token", {
      message: local
        ? `no CITELINE_TOKEN is set, so the server only listens on ${config.host}; set one before binding to other addresses`
        : `no CITELINE_TOKEN is set and the server listens on ${config.host}: anyone who can reach it can use it`,
    });
  }
  console.error(`citeline is answering at ${server.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "shutdown", { signal, graceMs: config.shutdownGraceMs });
    void server.close().then(() => {
      log("info", "stopped", {});
      process.exit(0);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (err) {
  if (isAppError(err)) {
    console.error(`error ${err.code}: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
}
