/**
 * `npm run index [-- --full]`: builds or updates the index of the corpus folder.
 * Ctrl-C stops cleanly; the previously published index stays in use.
 */

import { openBackendWriter } from "../backends/select.ts";
import { loadConfig } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { buildIndex } from "../ingest/indexer.ts";
import { parseCommand, runCli } from "./cli.ts";
import { issuesLine } from "./issues.ts";
import { progressReporter } from "./progress.ts";

const COMMAND = {
  usage: "usage: npm run index [-- --full] [-- --allow-empty]",
  summary:
    "Builds or updates the index of the corpus folder (CITELINE_CORPUS_DIR). Only changed files are embedded again; Ctrl-C stops cleanly and the previous index stays in use.",
  options: { full: { type: "boolean" }, "allow-empty": { type: "boolean" } },
  help: [
    "--full                 rebuild from scratch instead of updating",
    "--allow-empty          publish even when the corpus gives no document (replacing a non-empty index)",
  ],
} as const;

await runCli(async () => {
  const args = parseCommand(COMMAND, process.argv.slice(2));
  const config = loadConfig();
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error(
      "\ninterrupting: finishing the current batch, the previous index stays in use (Ctrl-C again to quit now)",
    );
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const progress = progressReporter();

  const embedder = await createEmbedder(config);
  try {
    const s = await buildIndex({
      openWriter: openBackendWriter,
      config,
      embedder,
      full: args.full === true,
      allowEmpty: args["allow-empty"] === true,
      onProgress: progress.onProgress,
      onNotice: (line) => console.error(line),
      signal: controller.signal,
    });
    progress.end();
    for (const issue of s.issues) console.error(`skipped: ${issue.code}: ${issue.message}`);
    const changes = `${s.added} added, ${s.changed} changed, ${s.removed} removed, ${s.unchanged} unchanged`;
    if (!s.published) {
      console.log(
        `index is up to date: ${s.documents} documents, ${s.chunks} chunks (${changes}) in ${s.seconds.toFixed(2)} s`,
      );
    } else {
      console.log(
        `indexed ${s.documents} documents, ${s.chunks} chunks (${changes}); embedded ${s.embedded} texts, reused ${s.reused}; ${s.seconds.toFixed(1)} s, ${s.chunksPerSecond.toFixed(1)} chunks/s; published ${s.version}`,
      );
    }
    if (s.resumed > 0)
      console.log(`continued an interrupted build: ${s.resumed} vectors it had computed were reused`);
    if (s.issues.length) console.log(issuesLine(s.issues));
  } finally {
    await embedder.dispose();
  }
});
