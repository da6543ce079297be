/** Renders benchmark results as a terminal table and as docs/benchmarks.md. */
import os from "node:os";
import type { GenerationResult } from "./generation.ts";
import type { IndexingResult } from "./indexing.ts";
import type { ScalePoint } from "./scale.ts";
import type { Percentiles } from "./stats.ts";
import type { OpenLoopResult } from "./ws-load.ts";

export interface LoadResult {
  clients: number;
  questionsEach: number;
  seconds: number;
  /** Answers that arrived complete and well-formed. */
  answers: number;
  answersPerS: number;
  incomplete: number;
  errors: Record<string, number>;
  firstDeltaMs: { p50: number; p99: number; max: number };
  doneMs: { p50: number; p99: number; max: number };
  serverRssMiB: { before: number; peak: number; after: number };
  /** Open loop at fixed arrival rates. */
  open: OpenLoopResult[];
}

export interface RetrievalFigures {
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  mrrAt10: number;
  ndcgAt10: number;
  answerInContextAtK: number;
}

export interface BaselineComparison {
  dataset: string;
  questions: number;
  k: number;
  ours: {
    retrieval: RetrievalFigures;
    chunksPerSecond: number;
    indexSeconds: number;
    queryMs: { p50Ms: number; p95Ms: number };
  };
  langchain: {
    retrieval: RetrievalFigures;
    chunksPerSecond: number;
    indexSeconds: number;
    queryMs: { p50Ms: number; p95Ms: number; p99Ms: number };
    notes: string[];
  };
}

export interface BenchResults {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  model: string;
  commands: string[];
  indexing?: IndexingResult & { dataset: string };
  scale?: ScalePoint[];
  /** The scale part on a Weaviate node (`--backend weaviate`), same corpus and questions. */
  scaleWeaviate?: ScalePoint[];
  load?: LoadResult & { index: string; chunks: number };
  baseline?: BaselineComparison;
  /** Only when asked for (`--only generation`, with a model). */
  generation?: GenerationResult;
  /**
   * Parts whose figures a `--quick` run produced (small sizes, short loads): a later run of other
   * parts keeps them, and the page is not written while any remain.
   */
  quickParts?: string[];
}

/** The four parts docs/benchmarks.md is made of. */
export const PAGE_PARTS = ["indexing", "scale", "load", "baseline"] as const;

/** Records which parts this run produced, and whether it was a `--quick` one. */
export function markRun(r: BenchResults, parts: readonly string[], quick: boolean): void {
  const q = new Set(r.quickParts ?? []);
  for (const p of parts) {
    if (quick) q.add(p);
    else q.delete(p);
  }
  r.quickParts = [...q].sort();
}

/** Whether the results make the whole page: every part, none of them from a `--quick` run. */
export function pageComplete(r: BenchResults): boolean {
  return PAGE_PARTS.every((p) => r[p] !== undefined) && (r.quickParts ?? []).length === 0;
}

export function machineInfo(): BenchResults["machine"] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

const pct = (p: Percentiles) => `${p.p50} / ${p.p95} / ${p.p99}`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");

const errorList = (errors: Record<string, number>) =>
  Object.entries(errors)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ") || "none";

function loadTables(name: string, l: LoadResult): string[] {
  const rows: (string | number)[][] = [
    [
      `closed, ${l.clients} clients`,
      l.answersPerS,
      `${l.firstDeltaMs.p50} / ${l.firstDeltaMs.p99} / ${l.firstDeltaMs.max}`,
      `${l.doneMs.p50} / ${l.doneMs.p99}`,
      `${l.answers} (${l.incomplete})`,
      errorList(l.errors),
    ],
    ...l.open.map((o) => [
      `open, ${o.rate} q/s`,
      o.answersPerS,
      `${o.firstDeltaMs.p50} / ${o.firstDeltaMs.p99} / ${o.firstDeltaMs.max}`,
      `${o.doneMs.p50} / ${o.doneMs.p99}`,
      `${o.complete} of ${o.sent} (${o.incomplete})`,
      errorList(o.errors),
    ]),
  ];
  return [
    `On ${name}; server RSS ${l.serverRssMiB.before} MiB before, ${l.serverRssMiB.peak} MiB at peak, ${l.serverRssMiB.after} MiB after.`,
    "",
    table(
      [
        "load",
        "answers/s",
        "first delta ms (p50/p99/max)",
        "done ms (p50/p99)",
        "complete (incomplete)",
        "errors",
      ],
      rows,
    ),
    "",
  ];
}

/** A small ASCII bar chart: one row per label, each bar as long as its value relative to the largest. */
export function asciiBars(rows: { label: string; value: number; unit: string }[], width = 40): string[] {
  const max = Math.max(...rows.map((r) => r.value), 1e-9);
  const pad = Math.max(...rows.map((r) => r.label.length));
  return rows.map(
    (r) =>
      `${r.label.padStart(pad)} | ${"#".repeat(Math.max(1, Math.round((r.value / max) * width)))} ${r.value} ${r.unit}`,
  );
}

/** Markdown for docs/benchmarks.md (also printed on the terminal). */
export function renderMarkdown(r: BenchResults): string {
  const out: string[] = [];
  out.push("# Benchmarks", "");
  out.push(
    `Measured ${r.startedAt} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.platform}; model ${r.model}.`,
    "",
    "Produced by:",
    "",
    "```sh",
    ...r.commands,
    "```",
    "",
  );
  if (r.indexing) {
    const i = r.indexing;
    out.push(
      "## Indexing",
      "",
      `Dataset \`${i.dataset}\`: ${i.documents} documents → ${i.chunks} chunks; the model embeds ${i.texts} texts (each distinct chunk with its title: ${(i.texts / i.chunks).toFixed(2)} per chunk).`,
      "",
      table(
        ["pipeline s", "chunks/s", "raw model s (same batches)", "pipeline overhead"],
        [[i.pipelineSeconds, i.chunksPerSecond, i.rawModelSeconds, `${(i.overhead * 100).toFixed(1)}%`]],
      ),
      "",
    );
  }
  if (r.scale?.length) {
    out.push(
      "## Query latency by index size",
      "",
      "One client, questions sampled from the dataset, in-process engine with the query-vector cache off, so each timing includes embedding the question; each question is asked once, half of them searched and half answered (ms, p50 / p95 / p99). Larger corpora repeat the dataset's documents under new ids; the indexer reuses the vectors of identical text, so building them costs inserts, not model time. Each size is an incremental build on the one before: build s is the time to add its new chunks.",
      "",
      table(
        [
          "chunks",
          "retrieval only",
          "first delta",
          "full answer",
          "index on disk",
          "index RSS",
          "build s (added chunks)",
        ],
        r.scale.map((p) => [
          p.chunks,
          pct(p.retrievalMs),
          pct(p.firstDeltaMs),
          pct(p.answerMs),
          `${p.diskMiB} MiB`,
          `${p.indexRssMiB} MiB`,
          p.buildSeconds,
        ]),
      ),
      "",
    );
    const charts: [string, (p: ScalePoint) => number, string][] = [
      ["first delta p50", (p) => p.firstDeltaMs.p50, "ms"],
      ["retrieval p50", (p) => p.retrievalMs.p50, "ms"],
      ["index on disk", (p) => p.diskMiB, "MiB"],
      ["index RSS", (p) => p.indexRssMiB, "MiB"],
    ];
    out.push("Growth with corpus size (chunks on the left):", "", "```text");
    for (const [title, get, unit] of charts) {
      out.push(
        title,
        ...asciiBars(r.scale.map((p) => ({ label: String(p.chunks), value: get(p), unit }))),
        "",
      );
    }
    out.push("```", "");
    const big = r.scale[r.scale.length - 1]!;
    const per100k = 100_000 / big.chunks;
    out.push(
      `Per 100k chunks (scaled from ${big.chunks}): ${(big.diskMiB * per100k).toFixed(0)} MiB on disk, ${(big.indexRssMiB * per100k).toFixed(0)} MiB of RSS once opened.`,
      "",
    );
  }
  if (r.load) {
    out.push(
      "## WebSocket load",
      "",
      `A real server process on loopback, rate limit and query-vector cache off (every answer embeds its question, as for new questions). Closed loop: ${r.load.clients} clients, each asking ${r.load.questionsEach} questions one after another (throughput at saturation). Open loop: questions arrive at a fixed rate whatever the answers do, spread over 64 connections; latency counts from each question's scheduled arrival.`,
      "",
      ...loadTables(`the seed index (${r.load.chunks} chunks)`, r.load),
    );
    const big = r.scale?.find((p) => p.load);
    if (big?.load) out.push(...loadTables(`the ${big.chunks}-chunk index`, big.load));
  }
  if (r.baseline) {
    const b = r.baseline;
    // Our indexing figures come from the indexing part, which a later run may have refreshed.
    const oursCps = r.indexing?.chunksPerSecond ?? b.ours.chunksPerSecond;
    const oursS = r.indexing?.pipelineSeconds ?? b.ours.indexSeconds;
    const o = b.ours.retrieval;
    const lc = b.langchain.retrieval;
    out.push(
      "## Against a LangChain.js pipeline",
      "",
      `Dataset \`${b.dataset}\`, ${b.questions} questions, k = ${b.k}, same model files, measured in the same run.`,
      "",
      table(
        ["", "citeline (hybrid)", "LangChain.js", "ratio"],
        [
          ["doc Recall@1", o.recallAt1, lc.recallAt1, ratio(o.recallAt1, lc.recallAt1)],
          ["doc Recall@5", o.recallAt5, lc.recallAt5, ratio(o.recallAt5, lc.recallAt5)],
          ["doc Recall@10", o.recallAt10, lc.recallAt10, ratio(o.recallAt10, lc.recallAt10)],
          ["MRR@10", o.mrrAt10, lc.mrrAt10, ratio(o.mrrAt10, lc.mrrAt10)],
          ["nDCG@10", o.ndcgAt10, lc.ndcgAt10, ratio(o.ndcgAt10, lc.ndcgAt10)],
          [
            `answer in top-${b.k} chunks`,
            o.answerInContextAtK,
            lc.answerInContextAtK,
            ratio(o.answerInContextAtK, lc.answerInContextAtK),
          ],
          [
            "indexing chunks/s",
            oursCps,
            b.langchain.chunksPerSecond,
            ratio(oursCps, b.langchain.chunksPerSecond),
          ],
          [
            "indexing the corpus, s",
            oursS,
            b.langchain.indexSeconds,
            `${ratio(b.langchain.indexSeconds, oursS)} faster`,
          ],
          [
            "retrieval p50 ms",
            b.ours.queryMs.p50Ms,
            b.langchain.queryMs.p50Ms,
            ratio(b.langchain.queryMs.p50Ms, b.ours.queryMs.p50Ms),
          ],
          [
            "retrieval p95 ms",
            b.ours.queryMs.p95Ms,
            b.langchain.queryMs.p95Ms,
            ratio(b.langchain.queryMs.p95Ms, b.ours.queryMs.p95Ms),
          ],
        ],
      ),
      "",
      ...b.langchain.notes.map((n) => `- ${n}`),
      "",
    );
  }
  if (r.generation) {
    const g = r.generation;
    const ms = (x: { p50: number | null; p95: number | null }) => `${x.p50 ?? "n/a"} / ${x.p95 ?? "n/a"}`;
    out.push(
      "## Generated answers",
      "",
      `${g.model} (${g.provider}), ${g.settings.llmThreads} threads, ${g.settings.llmPassages} passages, at most ${g.settings.llmMaxTokens} tokens; the first ${g.questions} answerable questions of \`${g.dataset}\`; the model's sentences were verified and shown on ${g.answeredByModel} of them. Load average ${g.loadAvg.before} before, ${g.loadAvg.after} after.`,
      "",
      table(
        ["quoted answer ms", "first model token ms", "first verified sentence ms", "whole answer ms"],
        [[ms(g.quotedMs), ms(g.firstTokenMs), ms(g.firstSentenceMs), ms(g.totalMs)]],
      ),
      "",
      "p50 / p95. The first verified sentence counts only questions where the model had one.",
      "",
    );
  }
  return out.join("\n");
}
