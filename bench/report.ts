/** Renders benchmark results as a terminal table and as docs/benchmarks.md. */
import os from "node:os";
import type { IndexingResult } from "./indexing.ts";
import type { ScalePoint } from "./scale.ts";
import type { Percentiles } from "./stats.ts";

export interface LoadResult {
  clients: number;
  questionsEach: number;
  seconds: number;
  /** Answers that arrived complete and well-formed. */
  answers: number;
  incomplete: number;
  errors: Record<string, number>;
  firstDeltaMs: { p50: number; p99: number; max: number };
  doneMs: { p50: number; p99: number; max: number };
  serverRssMiB: { before: number; peak: number; after: number };
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
  load?: LoadResult;
  baseline?: BaselineComparison;
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
      `Dataset \`${i.dataset}\`: ${i.documents} documents → ${i.chunks} chunks; the model embeds ${i.texts} texts (each chunk with its title, and each sentence for answer selection).`,
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
      "One client, questions sampled from the dataset, in-process engine (ms, p50 / p95 / p99). Larger corpora repeat the dataset's documents under new ids; the indexer reuses the vectors of identical text, so building them costs inserts, not model time.",
      "",
      table(
        ["chunks", "retrieval only", "first delta", "full answer", "index on disk", "index RSS", "build s"],
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
    const big = r.scale[r.scale.length - 1]!;
    const per100k = 100_000 / big.chunks;
    out.push(
      `Per 100k chunks (scaled from ${big.chunks}): ${(big.diskMiB * per100k).toFixed(0)} MiB on disk, ${(big.indexRssMiB * per100k).toFixed(0)} MiB of RSS once opened.`,
      "",
    );
  }
  if (r.load) {
    const l = r.load;
    out.push(
      "## WebSocket load",
      "",
      `${l.clients} concurrent clients × ${l.questionsEach} questions against a real server process on loopback: ${l.answers} complete answers (${l.incomplete} incomplete) in ${l.seconds} s.`,
      "",
      table(
        [
          "time to first delta ms (p50/p99/max)",
          "time to done ms (p50/p99/max)",
          "errors",
          "server RSS MiB (before/peak/after)",
        ],
        [
          [
            `${l.firstDeltaMs.p50} / ${l.firstDeltaMs.p99} / ${l.firstDeltaMs.max}`,
            `${l.doneMs.p50} / ${l.doneMs.p99} / ${l.doneMs.max}`,
            Object.entries(l.errors)
              .map(([k, v]) => `${k}: ${v}`)
              .join(", ") || "none",
            `${l.serverRssMiB.before} / ${l.serverRssMiB.peak} / ${l.serverRssMiB.after}`,
          ],
        ],
      ),
      "",
    );
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
  return out.join("\n");
}
