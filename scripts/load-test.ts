/**
 * `npx tsx scripts/load-test.ts [--clients 200] [--questions 20]`: many WebSocket clients asking
 * at once against a real server, started here as its own process on the configured index (rate
 * limit off: this measures capacity, not the limiter). Prints time to first delta and to done
 * (p50/p99), errors by code and the server's memory.
 */
import { memoryMiB, spawnServer } from "../bench/load.ts";
import { DEFAULT_QUESTIONS, runLoadTest } from "../bench/ws-load.ts";
import { parseCommand, positiveInt, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npx tsx scripts/load-test.ts [--clients N] [--questions N]",
  summary:
    "Starts a server on the configured index and runs many WebSocket clients asking at once; prints latency percentiles, errors by code and the server's memory as JSON.",
  options: { clients: { type: "string" }, questions: { type: "string" } },
  help: [
    "--clients N            WebSocket clients at once (default 200)",
    "--questions N          questions each client asks (default 20)",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  const clients = positiveInt("--clients", values.clients, 100_000, COMMAND.usage) ?? 200;
  const questionsEach = positiveInt("--questions", values.questions, 100_000, COMMAND.usage) ?? 20;
  const server = await spawnServer({ CITELINE_RATE_LIMIT: "0" });
  const idle = memoryMiB(server.pid);
  let peakRss = idle?.rss ?? 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, memoryMiB(server.pid)?.rss ?? 0);
  }, 200);
  console.error(`load test: ${clients} clients x ${questionsEach} questions against ${server.url}`);
  const result = await runLoadTest({ url: server.url, clients, questionsEach, questions: DEFAULT_QUESTIONS });
  clearInterval(sampler);
  const after = memoryMiB(server.pid);
  const exitCode = await server.stop();
  const serverFigures = { rssIdleMB: idle?.rss, rssPeakMB: peakRss, rssAfterMB: after?.rss, exitCode };
  console.log(JSON.stringify({ ...result, server: serverFigures }, null, 2));
});
