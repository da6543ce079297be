/** `npm run serve`: starts the server on the published index. SIGTERM/SIGINT/SIGHUP stop it gracefully. */
import { loadConfig } from "../core/config.ts";
import { createLogger } from "../server/log.ts";
import { runServer } from "../server/run.ts";
import { buildClient } from "./build-client.ts";
import { parseCommand, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npm run serve",
  summary:
    "Serves the page, the HTTP API and the WebSocket on the published index (build it with npm run index). Port: CITELINE_PORT, else PORT, else 8787; address: CITELINE_HOST, else HOST, else 127.0.0.1.",
  options: {},
} as const;

await runCli(async () => {
  parseCommand(COMMAND, process.argv.slice(2));
  const config = loadConfig();
  // Cheap when the page is up to date; `npm run serve` on a fresh checkout still gets a page.
  await buildClient();
  await runServer(config, { log: createLogger(config.logLevel) });
});
// A failed start may leave the model or index open; nothing else is left to do.
if (process.exitCode) process.exit();
