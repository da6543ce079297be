/**
 * `npm run bench [-- --dataset DIR] [--sizes 1000,10000,100000] [--queries 200] [--only a,b]
 * [--clients 50] [--questions 10] [--baseline-limit N]`
 *
 * Speed, measured: indexing throughput against the raw model, query latency by index size,
 * WebSocket load, memory and disk, and a LangChain.js pipeline side by side. Prints a table,
 * writes bench-results/latest.json and docs/benchmarks.md. Parts: indexing, scale, load, baseline;
 * a run of some parts (--only) keeps the previous run's other parts.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { benchIndexing } from "../bench/indexing.ts";
import { runLangchainBaseline } from "../bench/langchain-baseline.ts";
import { benchLoad } from "../bench/load.ts";
import { type BenchResults, machineInfo, renderMarkdown } from "../bench/report.ts";
import { benchScale, type ScaleStore } from "../bench/scale.ts";
import { startBenchWeaviate } from "../bench/weaviate-store.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { runEval } from "../eval/run.ts";
import { parseCommand, positiveInt, runCli, usageError } from "./cli.ts";

const PARTS = ["indexing", "scale", "load", "baseline"] as const;

const COMMAND = {
  usage:
    "usage: npm run bench [-- --dataset DIR] [--sizes 1000,10000,100000] [--queries N] [--only indexing,scale,load,baseline] [--clients N] [--questions N] [--baseline-limit N] [--k N] [--backend weaviate]",
  summary:
    "Measures indexing throughput, query latency by index size, WebSocket load, memory and disk, and a LangChain.js baseline; writes bench-results/latest.json and, when every part ran, docs/benchmarks.md.",
  options: {
    dataset: { type: "string", default: path.join(PROJECT_ROOT, "..", "shared", "eval", "squad-dev") },
    sizes: { type: "string", default: "1000,10000,100000" },
    queries: { type: "string", default: "200" },
    only: { type: "string", default: PARTS.join(",") },
    clients: { type: "string", default: "50" },
    questions: { type: "string", default: "10" },
    "baseline-limit": { type: "string" },
    k: { type: "string", default: "5" },
    backend: { type: "string" },
  },
  help: [
    "--dataset DIR          dataset folder (corpus.jsonl, questions.jsonl)",
    "--sizes LIST           index sizes for the latency part",
    "--queries N            queries per size",
    "--only LIST            parts to run: indexing, scale, load, baseline",
    "--clients N            WebSocket clients in the load part",
    "--questions N          questions per client in the load part",
    "--baseline-limit N     questions in the baseline part",
    "--k N                  passages per question",
    "--backend weaviate     the scale part also runs on a Weaviate node of its own, side by side",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  for (const name of ["queries", "clients", "questions", "k", "baseline-limit"] as const) {
    positiveInt(`--${name}`, values[name], Number.MAX_SAFE_INTEGER, COMMAND.usage);
  }
  for (const size of values.sizes.split(",")) positiveInt("--sizes", size, 10_000_000, COMMAND.usage);
  const only = new Set(values.only.split(","));
  for (const p of only) {
    if (!(PARTS as readonly string[]).includes(p))
      throw usageError(`unknown part ${p}; parts are ${PARTS.join(", ")}`, COMMAND.usage);
  }
  const dataset = path.resolve(values.dataset);
  const k = Number(values.k);
  const config = loadConfig({ logLevel: "silent" });
  const embedder = await createEmbedder(config);
  const say = (line: string) => console.error(`[bench] ${line}`);
  const argv = process.argv.slice(2).join(" ");
  const command = `npm run bench${argv ? ` -- ${argv}` : ""}`;
  const outDir = path.join(PROJECT_ROOT, "bench-results");
  const latest = path.join(outDir, "latest.json");
  // A run of some parts keeps the other parts of the previous run, and says so in the commands.
  const previous =
    only.size < PARTS.length && existsSync(latest)
      ? (JSON.parse(readFileSync(latest, "utf8")) as BenchResults)
      : undefined;
  const results: BenchResults = previous
    ? { ...previous, commands: [...previous.commands, command] }
    : {
        startedAt: new Date().toISOString(),
        machine: machineInfo(),
        model: config.model,
        commands: [command],
      };

  if (only.has("indexing") || only.has("baseline")) {
    say(`indexing ${dataset} with the full pipeline, then the same batches through the model alone`);
    results.indexing = {
      dataset: path.basename(dataset),
      ...(await benchIndexing(dataset, config, embedder)),
    };
    say(
      `${results.indexing.chunksPerSecond} chunks/s, overhead ${(results.indexing.overhead * 100).toFixed(1)}%`,
    );
  }
  if (values.backend !== undefined && values.backend !== "weaviate")
    throw usageError(`--backend is "${values.backend}"; the only other backend is weaviate`, COMMAND.usage);
  if (only.has("scale")) {
    const scale = (store?: ScaleStore) =>
      benchScale({
        datasetDir: dataset,
        config,
        embedder,
        targets: values.sizes.split(",").map(Number),
        queries: Number(values.queries),
        onLine: (line) => say(`${store ? "weaviate" : "embedded"}: ${line}`),
        ...(store ? { store } : {}),
      });
    results.scale = await scale();
    if (values.backend === "weaviate") {
      const store = await startBenchWeaviate();
      try {
        results.scaleWeaviate = await scale(store);
      } finally {
        await store.stop();
      }
      say(
        "chunks | backend | build chunks/s | retrieval p50/p95 ms | answer p50/p95 ms | index or server RSS MiB | bench process RSS MiB | disk MiB",
      );
      for (const [name, points] of [
        ["embedded", results.scale],
        ["weaviate", results.scaleWeaviate],
      ] as const)
        for (const p of points)
          say(
            `${p.chunks} | ${name} | ${p.chunksPerSecond} | ${p.retrievalMs.p50}/${p.retrievalMs.p95} | ${p.answerMs.p50}/${p.answerMs.p95} | ${p.indexRssMiB} | ${p.processRssMiB} | ${p.diskMiB}`,
          );
    }
  }
  if (only.has("load")) {
    say(`load: ${values.clients} WebSocket clients × ${values.questions} questions`);
    results.load = await benchLoad({
      datasetDir: dataset,
      embedder,
      clients: Number(values.clients),
      questionsEach: Number(values.questions),
      onLine: say,
    });
  }
  if (only.has("baseline")) {
    const limit = values["baseline-limit"] === undefined ? undefined : Number(values["baseline-limit"]);
    say(`our hybrid retrieval on ${path.basename(dataset)}${limit ? ` (first ${limit} questions)` : ""}`);
    const ours = await runEval({ datasetDir: dataset, modes: ["hybrid"], k, limit, embedder });
    const hybrid = ours.modes.hybrid!;
    say("the LangChain.js pipeline on the same dataset");
    const lc = await runLangchainBaseline({ dataset, k, limit, modelsDir: config.modelsDir });
    const lr = lc.retrieval;
    results.baseline = {
      dataset: path.basename(dataset),
      questions: hybrid.questions,
      k,
      ours: {
        retrieval: {
          recallAt1: hybrid.recall1 ?? 0,
          recallAt5: hybrid.recall5 ?? 0,
          recallAt10: hybrid.recall10 ?? 0,
          mrrAt10: hybrid.mrr10 ?? 0,
          ndcgAt10: hybrid.ndcg10 ?? 0,
          answerInContextAtK: hybrid.answerInContext.rate ?? 0,
        },
        chunksPerSecond: results.indexing?.chunksPerSecond ?? 0,
        indexSeconds: results.indexing?.pipelineSeconds ?? 0,
        // Retrieval as an answer does it, query embedding included, like similaritySearch.
        queryMs: { p50Ms: ours.answer.retrievalMs.p50 ?? 0, p95Ms: ours.answer.retrievalMs.p95 ?? 0 },
      },
      langchain: {
        retrieval: {
          recallAt1: lr.recallAt1 ?? 0,
          recallAt5: lr.recallAt5 ?? 0,
          recallAt10: lr.recallAt10 ?? 0,
          mrrAt10: lr.mrrAt10 ?? 0,
          ndcgAt10: lr.ndcgAt10 ?? 0,
          answerInContextAtK: lr.answerInContextAtK ?? 0,
        },
        chunksPerSecond: lc.indexing.chunksPerSecond,
        indexSeconds: lc.indexing.seconds,
        queryMs: lc.query,
        notes: lc.notes,
      },
    };
  }
  await embedder.dispose();

  const markdown = renderMarkdown(results);
  console.log(markdown);
  await mkdir(outDir, { recursive: true });
  await writeFile(latest, `${JSON.stringify(results, null, 2)}\n`);
  if (results.indexing && results.scale && results.load && results.baseline) {
    await writeFile(path.join(PROJECT_ROOT, "docs", "benchmarks.md"), `${markdown}\n`);
    say("wrote docs/benchmarks.md and bench-results/latest.json");
  } else {
    say("wrote bench-results/latest.json (docs/benchmarks.md needs every part)");
  }
});
