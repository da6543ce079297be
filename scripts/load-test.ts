/**
 * `npx tsx scripts/load-test.ts [--clients 200] [--questions 20]`: many WebSocket clients asking
 * at once against a real server, started here as its own process on the configured index (rate
 * limit off: this measures capacity, not the limiter). Prints time to first delta and to done
 * (p50/p99), errors by code and the server's memory.
 */
import { memoryMiB, spawnServer } from "../bench/load.ts";
import { DEFAULT_QUESTIONS, runLoadTest } from "../bench/ws-load.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    const n = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number above 0`);
    return n;
  };
  const clients = arg("clients", 200);
  const questionsEach = arg("questions", 20);
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
