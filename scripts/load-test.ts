/**
 * `npx tsx scripts/load-test.ts [--clients 200] [--questions 20] [--rates 25,50,100] [--seconds 10]`:
 * a real server, started here as its own process on the configured index (rate limit off: this
 * measures capacity, not the limiter). Closed loop: many WebSocket clients asking at once, each
 * waiting for its answer before the next question. Open loop (--rates): questions arrive at each
 * fixed rate for --seconds, whatever the answers do. Prints time to first delta and to done
 * (p50/p99), answers/s, errors by code and the server's memory as JSON.
 */
import { memoryMiB, spawnServer } from "../bench/load.ts";
import { DEFAULT_QUESTIONS, runLoadTest, runOpenLoop } from "../bench/ws-load.ts";
import { parseCommand, positiveInt, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npx tsx scripts/load-test.ts [--clients N] [--questions N] [--rates LIST] [--seconds N]",
  summary:
    "Starts a server on the configured index and measures it closed loop (many clients asking at once) and, with --rates, open loop (fixed arrival rates); prints latency percentiles, answers/s, errors by code and the server's memory as JSON.",
  options: {
    clients: { type: "string" },
    questions: { type: "string" },
    rates: { type: "string" },
    seconds: { type: "string" },
  },
  help: [
    "--clients N            closed loop: WebSocket clients at once (default 200)",
    "--questions N          closed loop: questions each client asks (default 20)",
    "--rates LIST           open loop: arrival rates in questions/s, e.g. 25,50,100 (default: none)",
    "--seconds N            open loop: seconds each rate is held (default 10)",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  const clients = positiveInt("--clients", values.clients, 100_000, COMMAND.usage) ?? 200;
  const questionsEach = positiveInt("--questions", values.questions, 100_000, COMMAND.usage) ?? 20;
  const seconds = positiveInt("--seconds", values.seconds, 3600, COMMAND.usage) ?? 10;
  const rates = (values.rates?.split(",") ?? []).map(
    (r) => positiveInt("--rates", r, 100_000, COMMAND.usage)!,
  );
  const server = await spawnServer({ CITELINE_RATE_LIMIT: "0" });
  const idle = memoryMiB(server.pid);
  let peakRss = idle?.rss ?? 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, memoryMiB(server.pid)?.rss ?? 0);
  }, 200);
  console.error(`load test: ${clients} clients x ${questionsEach} questions against ${server.url}`);
  const result = await runLoadTest({ url: server.url, clients, questionsEach, questions: DEFAULT_QUESTIONS });
  const open = [];
  for (const rate of rates) {
    console.error(`open loop: ${rate} questions/s for ${seconds} s`);
    open.push(await runOpenLoop({ url: server.url, rate, durationS: seconds, questions: DEFAULT_QUESTIONS }));
  }
  clearInterval(sampler);
  const after = memoryMiB(server.pid);
  const exitCode = await server.stop();
  const serverFigures = { rssIdleMB: idle?.rss, rssPeakMB: peakRss, rssAfterMB: after?.rss, exitCode };
  console.log(JSON.stringify({ ...result, open, server: serverFigures }, null, 2));
});
