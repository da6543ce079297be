/**
 * `npx tsx scripts/answer-cpu.ts --index DIR --questions FILE [--every N] [--reps N] [--out FILE]`:
 * the main thread's CPU time per answer on a built index, in process. Query vectors are embedded
 * first, so the timed loop is the answer path alone (retrieval, selection, composition), which is
 * what one core spends per answer under load. CPU time moves less than wall time when the machine
 * is shared. `--profile FILE` writes a V8 CPU profile of the timed passes alone (open it in
 * Chrome's DevTools) to see where that time goes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { expectationFor, openSearchBackend } from "../backends/select.ts";
import { loadConfig } from "../core/config.ts";
import { createEngine } from "../core/engine.ts";
import type { AnswerEvent } from "../core/protocol.ts";
import type { Embedder, EmbedKind } from "../core/types.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { parseCommand, positiveInt, runCli, UsageError } from "./cli.ts";

const COMMAND = {
  usage:
    "usage: npx tsx scripts/answer-cpu.ts --index DIR --questions FILE [--every N] [--reps N] [--as-of DAY] [--out FILE] [--profile FILE]",
  summary:
    "Answers a dataset's questions in process on a built index, query vectors embedded beforehand, and prints the main thread's CPU ms and wall ms per answer as JSON.",
  options: {
    index: { type: "string" },
    questions: { type: "string" },
    every: { type: "string" },
    reps: { type: "string" },
    "as-of": { type: "string" },
    out: { type: "string" },
    profile: { type: "string" },
  },
  help: [
    "--index DIR            the index folder (as CITELINE_INDEX_DIR)",
    "--questions FILE       questions.jsonl ({question} per line)",
    "--every N              every Nth question only (default 1)",
    "--reps N               timed passes over the questions after one warm-up pass (default 1)",
    "--as-of DAY            the day questions are asked as of (default: the engine's)",
    "--out FILE             write each answer's done event (timings left out) as JSON lines",
    "--profile FILE         write a CPU profile (.cpuprofile) of the timed passes",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  if (!values.index || !values.questions)
    throw new UsageError("--index and --questions are required", COMMAND.usage);
  const every = positiveInt("--every", values.every, 1_000_000, COMMAND.usage) ?? 1;
  const reps = positiveInt("--reps", values.reps, 1000, COMMAND.usage) ?? 1;
  const questions = readFileSync(values.questions, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { question: string }).question)
    .filter((_, i) => i % every === 0);
  const config = loadConfig({ indexDir: values.index });
  const embedder = await createEmbedder(config);
  const backend = await openSearchBackend(config, { expect: expectationFor(embedder, config) });
  const vectors = new Map<string, Float32Array>();
  const embedded = await embedder.embed(questions, "query");
  questions.forEach((q, i) => void vectors.set(q, embedded[i] as Float32Array));
  // The model only for what was not embedded beforehand (follow-up rewrites do not occur here).
  const memo: Embedder = {
    ...embedder,
    countTokens: (t) => embedder.countTokens(t),
    dispose: () => embedder.dispose(),
    embed: async (texts: readonly string[], kind: EmbedKind) =>
      kind === "query" && texts.every((t) => vectors.has(t))
        ? texts.map((t) => vectors.get(t) as Float32Array)
        : embedder.embed(texts, kind),
  };
  const engine = createEngine({ config, embedder: memo, backend });
  const answers: unknown[] = [];
  const pass = async () => {
    for (const question of questions) {
      const req = values["as-of"] ? { question, asOf: values["as-of"] } : { question };
      let done: AnswerEvent | undefined;
      for await (const ev of engine.answer(req)) if (ev.type === "done") done = ev;
      answers.push(done && { ...done, timings: undefined });
    }
  };
  await pass();
  if (values.out) writeFileSync(values.out, `${answers.map((a) => JSON.stringify(a)).join("\n")}\n`);
  const session = values.profile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await pass();
  const cpu = process.cpuUsage(cpu0);
  if (session && values.profile) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(values.profile, JSON.stringify(profile));
    session.disconnect();
  }
  const n = questions.length * reps;
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    JSON.stringify({
      answers: n,
      cpuMsPerAnswer: Math.round(((cpu.user + cpu.system) / 1000 / n) * 100) / 100,
      wallMsPerAnswer: Math.round(((performance.now() - t0) / n) * 100) / 100,
      rssMiB: Math.round(rss),
    }),
  );
  await backend.close();
  await embedder.dispose();
});
