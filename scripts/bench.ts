/**
 * `npm run bench [-- --dataset DIR] [--sizes 1000,10000,100000,300000] [--queries 200] [--only a,b]
 * [--clients 200] [--questions 20] [--rates 25,50,100] [--baseline-limit N] [--quick]`, and on
 * its own `npm run bench -- --only generation [--llm-questions N]` with CITELINE_LLM_* set
 *
 * Speed, measured: indexing throughput against the raw model, query latency, memory and disk by
 * index size, WebSocket load closed loop (saturation) and open loop (fixed arrival rates) on the
 * seed index and on the largest index, and a LangChain.js pipeline side by side. Prints a table,
 * writes bench-results/latest.json and docs/benchmarks.md. Parts: indexing, scale, load, baseline;
 * a run of some parts (--only) keeps the previous run's other parts. `--quick` is a CI smoke run:
 * small sizes, few questions, a short load; its figures are not written to docs/benchmarks.md.
 * The generation part (time to the first verified generated sentence) runs only when named: the
 * bench needs no language model.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { benchIndexing, subsetDataset } from "../bench/indexing.ts";
import { runLangchainBaseline } from "../bench/langchain-baseline.ts";
import { benchLoad } from "../bench/load.ts";
import { memoPassages } from "../bench/passage-memo.ts";
import {
  type BenchResults,
  machineInfo,
  markRun,
  PAGE_PARTS,
  pageComplete,
  renderMarkdown,
} from "../bench/report.ts";
import { benchScale, type ScaleStore } from "../bench/scale.ts";
import { startBenchWeaviate } from "../bench/weaviate-store.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { runEval } from "../eval/run.ts";
import { parseCommand, positiveInt, runCli, usageError } from "./cli.ts";

const PARTS = PAGE_PARTS;
/** Parts that run only when named in --only: they need what a default run must not (a model). */
const OPTIONAL_PARTS = ["generation"] as const;
/** docs/benchmarks.md keeps everything from this line on when the bench rewrites the page. */
const KEEP_MARKER = "<!-- notes kept across bench runs -->";

const COMMAND = {
  usage:
    "usage: npm run bench [-- --dataset DIR] [--seed DIR] [--sizes 1000,10000,100000,300000] [--queries N] [--only indexing,scale,load,baseline] [--clients N] [--questions N] [--rates LIST] [--open-seconds N] [--load-at N] [--baseline-limit N] [--k N] [--docs N] [--keep-index DIR] [--quick] [--backend weaviate] [--llm-questions N]",
  summary:
    "Measures indexing throughput, query latency by index size, WebSocket load, memory and disk, and a LangChain.js baseline; writes bench-results/latest.json and, when every part ran, docs/benchmarks.md.",
  options: {
    dataset: { type: "string", default: path.join(PROJECT_ROOT, "..", "shared", "eval", "squad-dev") },
    seed: { type: "string", default: path.join(PROJECT_ROOT, "..", "shared", "seed") },
    sizes: { type: "string" },
    queries: { type: "string" },
    only: { type: "string", default: PARTS.join(",") },
    clients: { type: "string" },
    questions: { type: "string" },
    rates: { type: "string" },
    "open-seconds": { type: "string" },
    "load-at": { type: "string" },
    "baseline-limit": { type: "string" },
    k: { type: "string", default: "5" },
    docs: { type: "string" },
    "keep-index": { type: "string" },
    quick: { type: "boolean", default: false },
    backend: { type: "string" },
    "llm-questions": { type: "string" },
  },
  help: [
    "--dataset DIR          dataset folder (corpus.jsonl, questions.jsonl)",
    "--seed DIR             corpus folder of the load part's small index (default ../shared/seed)",
    "--sizes LIST           index sizes in chunks for the scale part (default 1000,10000,100000,300000)",
    "--queries N            one-client questions per size, half searched and half answered (default 200)",
    "--only LIST            parts to run: indexing, scale, load, baseline; generation only when named",
    "--clients N            closed-loop WebSocket clients (default 200)",
    "--questions N          questions per closed-loop client (default 20)",
    "--rates LIST           open-loop arrival rates, questions/s (default 25,50,100)",
    "--open-seconds N       seconds each open-loop rate is held (default 10)",
    "--load-at N            server load also at the first size of at least N chunks (default 100000)",
    "--baseline-limit N     questions in the baseline part",
    "--k N                  passages per question",
    "--keep-index DIR       keep the scale part's largest index (and corpus) in DIR",
    "--docs N               only the dataset's first N documents (and their questions)",
    "--quick                CI smoke: small sizes and short loads; docs/benchmarks.md is left alone",
    "--backend weaviate     the scale part also runs on a Weaviate node of its own, side by side (with the embedded side's vectors)",
    "--llm-questions N      questions of the generation part (default 20; needs CITELINE_LLM_GGUF or CITELINE_LLM_URL)",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  const quick = values.quick;
  // --quick changes the defaults only; explicit options still win.
  const pick = (given: string | undefined, full: string, small: string) => given ?? (quick ? small : full);
  const sizes = pick(values.sizes, "1000,10000,100000,300000", "500,2000");
  const queries = pick(values.queries, "200", "10");
  const clients = pick(values.clients, "200", "20");
  const questionsEach = pick(values.questions, "20", "3");
  const rates = pick(values.rates, "25,50,100", "10");
  const openSeconds = pick(values["open-seconds"], "10", "2");
  const loadAt = pick(values["load-at"], "100000", "2000");
  const baselineLimit = values["baseline-limit"] ?? (quick ? "50" : undefined);
  const llmQuestions = pick(values["llm-questions"], "20", "3");
  for (const [name, raw] of [
    ["--queries", queries],
    ["--clients", clients],
    ["--questions", questionsEach],
    ["--open-seconds", openSeconds],
    ["--load-at", loadAt],
    ["--k", values.k],
    ["--baseline-limit", baselineLimit],
    ["--llm-questions", llmQuestions],
  ] as const) {
    positiveInt(name, raw, Number.MAX_SAFE_INTEGER, COMMAND.usage);
  }
  for (const size of sizes.split(",")) positiveInt("--sizes", size, 10_000_000, COMMAND.usage);
  for (const rate of rates.split(",")) positiveInt("--rates", rate, 100_000, COMMAND.usage);
  const serverLoad = {
    clients: Number(clients),
    questionsEach: Number(questionsEach),
    rates: rates.split(",").map(Number),
    openSeconds: Number(openSeconds),
  };
  const only = new Set(values.only.split(","));
  for (const p of only) {
    if (![...PARTS, ...OPTIONAL_PARTS].includes(p as never))
      throw usageError(
        `unknown part ${p}; parts are ${[...PARTS, ...OPTIONAL_PARTS].join(", ")}`,
        COMMAND.usage,
      );
  }
  // Checked before any work: the defaults sit beside the repository (../shared), where a fresh
  // clone has nothing.
  const needs: [string, string, string][] = [
    [
      "--dataset",
      path.join(path.resolve(values.dataset), "corpus.jsonl"),
      "a dataset folder (corpus.jsonl, questions.jsonl)",
    ],
    ...(only.has("load")
      ? [["--seed", path.resolve(values.seed), "a corpus folder"] as [string, string, string]]
      : []),
  ];
  for (const [flag, file, what] of needs) {
    if (!existsSync(file)) {
      throw new AppError(
        "CORPUS_MISSING",
        `${file} does not exist; the bench needs ${what}: give one with ${flag} DIR (the default is beside this repository, in ../shared)`,
      );
    }
  }
  // A smoke run indexes a few documents of the dataset, not all of it.
  const docs = positiveInt("--docs", values.docs ?? (quick ? "4" : undefined), 10_000_000, COMMAND.usage);
  const dataset = docs
    ? await subsetDataset(path.resolve(values.dataset), docs)
    : path.resolve(values.dataset);
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
    // Side by side, the Weaviate builds take the vectors the embedded side computed (same texts,
    // same model), so both hold the same vectors and the model runs once per run, not twice.
    const scaleEmbedder = values.backend === "weaviate" ? memoPassages(embedder) : embedder;
    const scale = (store?: ScaleStore) =>
      benchScale({
        datasetDir: dataset,
        config,
        embedder: scaleEmbedder,
        targets: sizes.split(",").map(Number),
        queries: Number(queries),
        // Server load runs once, on the embedded index.
        ...(store ? {} : { loadAt: Number(loadAt), serverLoad }),
        keepDir: store || values["keep-index"] === undefined ? undefined : path.resolve(values["keep-index"]),
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
        "chunks | backend | build chunks/s (texts embedded) | retrieval p50/p95 ms | answer p50/p95 ms | index or server RSS MiB (server at rest: all, anon, file) | bench process RSS MiB | disk MiB | load after build/queries",
      );
      for (const [name, points] of [
        ["embedded", results.scale],
        ["weaviate", results.scaleWeaviate],
      ] as const)
        for (const p of points)
          say(
            `${p.chunks} | ${name} | ${p.chunksPerSecond} (${p.modelTexts ?? "?"}) | ${p.retrievalMs.p50}/${p.retrievalMs.p95} | ${p.answerMs.p50}/${p.answerMs.p95} | ${p.indexRssMiB}${p.restRssMiB ? ` (${p.restRssMiB.rss}, ${p.restRssMiB.anon}, ${p.restRssMiB.file})` : ""} | ${p.processRssMiB} | ${p.diskMiB} | ${p.loadAvg?.afterBuild}/${p.loadAvg?.afterQueries}`,
          );
    }
  }
  if (only.has("load")) {
    say(
      `load on the seed index: ${clients} WebSocket clients × ${questionsEach} questions, then ${rates} q/s`,
    );
    results.load = await benchLoad({
      seedDir: path.resolve(values.seed),
      config,
      embedder,
      ...serverLoad,
      onLine: say,
    });
  }
  if (only.has("baseline")) {
    const limit = baselineLimit === undefined ? undefined : Number(baselineLimit);
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
  if (only.has("generation")) {
    say(`generated answers on the first ${llmQuestions} questions of ${path.basename(dataset)}`);
    // Loaded only for this part, which a default run never has.
    const { benchGeneration } = await import("../bench/generation.ts");
    results.generation = await benchGeneration({
      datasetDir: dataset,
      limit: Number(llmQuestions),
      outDir: path.join(outDir, "generation"),
      onLine: say,
    });
  }
  await embedder.dispose();
  if (docs) await rm(dataset, { recursive: true, force: true });

  markRun(
    results,
    PARTS.filter((p) => only.has(p) || (p === "indexing" && only.has("baseline"))),
    quick || docs !== undefined,
  );
  const markdown = renderMarkdown(results);
  console.log(markdown);
  await mkdir(outDir, { recursive: true });
  await writeFile(latest, `${JSON.stringify(results, null, 2)}\n`);
  if (!quick && !docs && pageComplete(results)) {
    // Hand-written notes below the marker (before/after comparisons) survive a regenerated page.
    const docFile = path.join(PROJECT_ROOT, "docs", "benchmarks.md");
    const old = existsSync(docFile) ? readFileSync(docFile, "utf8") : "";
    const kept = old.includes(KEEP_MARKER) ? old.slice(old.indexOf(KEEP_MARKER)) : "";
    await writeFile(docFile, `${markdown}\n${kept}`);
    say("wrote docs/benchmarks.md and bench-results/latest.json");
  } else {
    say(
      "wrote bench-results/latest.json (docs/benchmarks.md needs every part, none of them from a --quick or --docs run)",
    );
  }
});
