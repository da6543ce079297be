/**
 * `npm start`: everything a fresh checkout needs, then the server. Provisions the model when it
 * is missing, builds the page when its sources changed, brings the index up to date with the
 * corpus, and serves.
 */

import { openBackendWriter } from "../backends/select.ts";
import { launchedByNpm, loadConfig } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { fetchModel } from "../embeddings/model-fetch.ts";
import { buildIndex } from "../ingest/indexer.ts";
import type { BuildOutcome } from "../ingest/updater.ts";
import { createLogger } from "../server/log.ts";
import { runServer } from "../server/run.ts";
import { buildClient } from "./build-client.ts";
import { parseCommand, runCli } from "./cli.ts";
import { issuesLine } from "./issues.ts";
import { progressReporter } from "./progress.ts";

const COMMAND = {
  usage: "usage: npm start [-- --no-watch]",
  summary:
    "Fetches the embedding model if it is missing, builds the page, brings the index up to date with the corpus folder, and serves it, updating the index when files in the corpus folder are added, changed or removed. Port: CITELINE_PORT, else PORT, else 8787; address: CITELINE_HOST, else HOST, else 127.0.0.1. SIGTERM, SIGINT or SIGHUP stop the server after answers in flight finish.",
  options: { "no-watch": { type: "boolean" } },
  help: [
    "--no-watch             do not watch the corpus folder (files added later are indexed by npm run index)",
  ],
} as const;

/** Quiet time after the last change in the corpus folder before the index is updated. */
const WATCH_DEBOUNCE_MS = 1000;

await runCli(async () => {
  const args = parseCommand(COMMAND, process.argv.slice(2));
  const config = loadConfig();
  await fetchModel(config, (line) => console.error(line));
  await buildClient();
  const embedder = await createEmbedder(config);
  const progress = progressReporter();
  let initialBuild: BuildOutcome | undefined;
  const startedAt = Date.now();
  try {
    const s = await buildIndex({
      openWriter: openBackendWriter,
      config,
      embedder,
      onNotice: (l) => console.error(l),
      onProgress: progress.onProgress,
    });
    progress.end();
    initialBuild = { startedAt, finishedAt: Date.now(), summary: s };
    for (const issue of s.issues) console.error(`skipped: ${issue.code}: ${issue.message}`);
    console.error(
      s.published
        ? `indexed ${s.documents} documents, ${s.chunks} chunks in ${s.seconds.toFixed(1)} s`
        : `index is up to date: ${s.documents} documents, ${s.chunks} chunks`,
    );
    if (s.issues.length) console.error(issuesLine(s.issues));
  } catch (err) {
    progress.end();
    // An empty corpus folder leaves the published index in service; anything else stops the start.
    if (!(err instanceof AppError && err.code === "INDEX_WOULD_EMPTY")) throw err;
    console.error(`warning ${err.code}: ${err.message}`);
  }
  // The server runs in this process (package.json execs it from npm's shell), so a signal to
  // npm or to this process reaches it; npm does not forward SIGHUP, so its exit is watched too.
  // It keeps the embedder the index check loaded: disposing it and loading another (terminating
  // ONNX Runtime worker threads, then starting new ones) crashed the process now and then with
  // SIGSEGV or SIGFPE between "index is up to date" and "answering at" (2 of 6 runs under load).
  await runServer(config, {
    log: createLogger(config.logLevel),
    exitWithParent: launchedByNpm(),
    embedder,
    ...(args["no-watch"] ? {} : { watch: { debounceMs: WATCH_DEBOUNCE_MS } }),
    ...(initialBuild ? { initialBuild } : {}),
  });
});
// A failed start may leave the model or index open; nothing else is left to do.
if (process.exitCode) process.exit();
