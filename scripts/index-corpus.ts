/**
 * `npm run index [-- --full]`: builds or updates the index of the corpus folder.
 * Ctrl-C stops cleanly; the previously published index stays in use.
 */

import { openBackendWriter } from "../backends/select.ts";
import { loadConfig } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { buildIndex, type Progress } from "../ingest/indexer.ts";
import { parseCommand, runCli } from "./cli.ts";
import { formatDuration, progressLine } from "./progress.ts";

const COMMAND = {
  usage: "usage: npm run index [-- --full]",
  summary:
    "Builds or updates the index of the corpus folder (CITELINE_CORPUS_DIR). Only changed files are embedded again; Ctrl-C stops cleanly and the previous index stays in use.",
  options: { full: { type: "boolean" } },
  help: ["--full                 rebuild from scratch instead of updating"],
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

  const tty = process.stderr.isTTY === true;
  let lastPlain = 0;
  const onProgress = (p: Progress) => {
    if (tty) {
      process.stderr.write(`\r${progressLine(p, process.stderr.columns ?? 80)}`);
    } else if (p.done === p.total || performance.now() - lastPlain > 2000) {
      lastPlain = performance.now();
      console.error(
        `indexing ${p.done}/${p.total} chunks, ${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaS)}`,
      );
    }
  };

  const embedder = await createEmbedder(config);
  try {
    const s = await buildIndex({
      openWriter: openBackendWriter,
      config,
      embedder,
      full: args.full === true,
      onProgress,
      onNotice: (line) => console.error(line),
      signal: controller.signal,
    });
    if (tty) process.stderr.write("\n");
    for (const issue of s.issues) console.error(`skipped ${issue.source}: ${issue.code}: ${issue.message}`);
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
    if (s.issues.length) console.log(`${s.issues.length} file(s) could not be indexed; see above`);
  } finally {
    await embedder.dispose();
  }
});
