/**
 * `npm start`: everything a fresh checkout needs, then the server. Provisions the model when it
 * is missing, builds the page when its sources changed, brings the index up to date with the
 * corpus, and serves.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { buildIndex } from "../embeddings/indexer.ts";
import { fetchModel } from "../embeddings/model-fetch.ts";
import { buildClient } from "./build-client.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  const config = loadConfig();
  await fetchModel(config, (line) => console.error(line));
  await buildClient();
  const embedder = await createEmbedder(config);
  const s = await buildIndex({ config, embedder, onNotice: (l) => console.error(l) });
  for (const issue of s.issues) console.error(`skipped ${issue.source}: ${issue.code}: ${issue.message}`);
  console.error(
    s.published
      ? `indexed ${s.documents} documents, ${s.chunks} chunks in ${s.seconds.toFixed(1)} s`
      : `index is up to date: ${s.documents} documents, ${s.chunks} chunks`,
  );
  await embedder.dispose();
  // The server runs in its own process so signals reach it directly.
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "server", "main.ts")], {
    stdio: "inherit",
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
  await new Promise<void>((resolve) => {
    child.on("exit", (code) => {
      process.exitCode = code ?? 0;
      resolve();
    });
  });
});
