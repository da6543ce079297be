/**
 * Query latency, memory and disk at growing index sizes. Larger corpora are made by repeating
 * the dataset's documents under new ids (`<id>~<copy>`); the indexer reuses the vectors of
 * identical text, so the copies cost inserts, not model time. Questions come from the dataset.
 */

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { versionDir } from "../backends/embedded/versions.ts";
import { expectationFor, openBackendWriter, openSearchBackend } from "../backends/select.ts";
import { type Config, PROJECT_ROOT } from "../core/config.ts";
import { createEngine } from "../core/engine.ts";
import type { Embedder } from "../core/types.ts";
import { loadCorpus } from "../ingest/corpus.ts";
import { buildIndex, prepareDoc } from "../ingest/indexer.ts";
import { round } from "./indexing.ts";
import { benchServer, type ServerLoadOptions } from "./load.ts";
import type { LoadResult } from "./report.ts";
import { mib, type Percentiles, percentiles, sample } from "./stats.ts";

const run = promisify(execFile);

export interface ScalePoint {
  targetChunks: number;
  chunks: number;
  documents: number;
  buildSeconds: number;
  diskMiB: number;
  /** RSS added by opening the index, in a fresh process, MiB (another backend: its servers' RSS). */
  indexRssMiB: number;
  /** Chunks written per second by the build (vectors of repeated text are reused). */
  chunksPerSecond?: number;
  /** RSS of the benchmark process (model, engine, client) after the queries, MiB. */
  processRssMiB?: number;
  retrievalMs: Percentiles;
  answerMs: Percentiles;
  firstDeltaMs: Percentiles;
  /** Another backend's server RSS after a restart, once the questions are done: what the index needs. */
  restRssMiB?: { rss: number; anon: number; file: number };
  /** Passage texts the model embedded in this build (0: every vector was reused). */
  modelTexts?: number;
  /** Chunks written by the build, sampled about every 30 s: seconds since it began, chunks so far. */
  rateCurve?: { s: number; chunks: number }[];
  /** The machine's 1-minute load average when the build ended and when the queries ended. */
  loadAvg?: { afterBuild: number; afterQueries: number };
  /** A real server on this index under closed- and open-loop load (at the `loadAt` size). */
  load?: LoadResult;
}

interface Rec {
  id: string;
  title: string;
  date?: string;
  text: string;
}

/** Resident memory an opened index adds, measured in a fresh process. */
async function openRss(indexDir: string, config: Config): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(PROJECT_ROOT, "bench", "open-rss.ts"),
      indexDir,
      config.model,
      String(config.chunkMaxTokens),
      String(config.chunkOverlapTokens),
    ],
    { cwd: PROJECT_ROOT },
  );
  return (JSON.parse(stdout) as { rssBytes: number }).rssBytes;
}

export async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await dirSize(p) : (await stat(p)).size;
  }
  return total;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/**
 * A backend other than the embedded one: the settings that select it, and how to read the memory
 * and disk its store uses (its own processes, not this one).
 */
export interface ScaleStore {
  overrides: Partial<Config>;
  rssBytes(): Promise<number>;
  diskBytes(): Promise<number>;
  /** Called before each size is built (the Weaviate store keeps growing one index, as the embedded side does). */
  reset(): Promise<void>;
  /** Restarts the store's processes and reads their memory at rest, in bytes. */
  restRss?(): Promise<{ rss: number; anon: number; file: number }>;
}

export async function benchScale(opts: {
  datasetDir: string;
  config: Config;
  embedder: Embedder & { modelTexts?: () => number };
  targets: number[];
  queries: number;
  /** Run the server load at the first size with at least this many chunks. */
  loadAt?: number;
  serverLoad?: Omit<ServerLoadOptions, "indexDir" | "corpusDir" | "questions" | "onLine">;
  /** Keep the largest index (and its corpus) in this folder, for runs against it later. */
  keepDir?: string | undefined;
  onLine?: (line: string) => void;
  store?: ScaleStore;
}): Promise<ScalePoint[]> {
  const { config, embedder } = opts;
  const say = opts.onLine ?? (() => {});
  const records = readJsonl<Rec>(path.join(opts.datasetDir, "corpus.jsonl"));
  const questions = sample(
    readJsonl<{ question: string }>(path.join(opts.datasetDir, "questions.jsonl")).map((q) => q.question),
    opts.queries,
  );
  const corpusDir = await mkdtemp(path.join(os.tmpdir(), "citeline-scale-corpus-"));
  const indexDir = await mkdtemp(path.join(os.tmpdir(), "citeline-scale-index-"));
  const cfg = { ...config, corpusDir, indexDir, ...opts.store?.overrides };
  // Chunks per document, to pick how many copies reach a target.
  await writeFile(path.join(corpusDir, "copy-0.jsonl"), records.map((r) => JSON.stringify(r)).join("\n"));
  const { docs } = await loadCorpus(corpusDir);
  const perDoc = new Map(docs.map((d) => [d.id, prepareDoc(d, cfg, embedder).chunks.length]));

  const points: ScalePoint[] = [];
  try {
    for (const target of opts.targets) {
      // One file per copy: the corpus loader refuses single files over 50 MiB.
      const copies: Rec[][] = [];
      let chunks = 0;
      for (let copy = 0; chunks < target; copy++) {
        const docs: Rec[] = [];
        for (const r of records) {
          if (chunks >= target) break;
          docs.push(copy === 0 ? r : { ...r, id: `${r.id}~${copy}` });
          chunks += perDoc.get(r.id) ?? 0;
        }
        copies.push(docs);
      }
      await rm(corpusDir, { recursive: true, force: true });
      await mkdir(corpusDir, { recursive: true });
      for (const [copy, docs] of copies.entries()) {
        await writeFile(
          path.join(corpusDir, `copy-${copy}.jsonl`),
          `${docs.map((r) => JSON.stringify(r)).join("\n")}\n`,
        );
      }
      const documents = copies.reduce((n, c) => n + c.length, 0);
      say(`building an index of about ${target} chunks (${documents} documents)`);
      await opts.store?.reset();
      const modelBefore = embedder.modelTexts?.();
      const rateCurve: { s: number; chunks: number }[] = [];
      const build = await buildIndex({
        openWriter: openBackendWriter,
        config: cfg,
        embedder,
        onProgress: (p) => {
          const last = rateCurve.at(-1);
          if (p.done < p.total && last && p.elapsedS - last.s < 30) return;
          rateCurve.push({ s: round(p.elapsedS, 1), chunks: p.done });
          if (p.done > 0)
            say(
              `  ${p.done}/${p.total} chunks written after ${p.elapsedS.toFixed(0)} s (load ${os.loadavg()[0]!.toFixed(1)})`,
            );
        },
      });
      const afterBuild = os.loadavg()[0]!;
      if (build.issues.length > 0)
        throw new Error(`the scaled corpus did not load: ${build.issues[0]!.message}`);
      const indexRss = opts.store ? 0 : await openRss(indexDir, cfg);
      const backend = await openSearchBackend(cfg, { expect: expectationFor(embedder, cfg) });
      // Without the query-vector cache, the answer after a question's search embeds it again:
      // both timings include the model, as for a question asked once.
      const engine = createEngine({ config: { ...cfg, queryCacheSize: 0 }, embedder, backend });
      const retrieval: number[] = [];
      const answer: number[] = [];
      const firstDelta: number[] = [];
      for (const q of questions.slice(0, 10)) await engine.search(`${q} (warm-up)`, { k: cfg.k });
      // Every question is asked once: even ones are searched, odd ones answered, so no timing
      // finds its own question's passages already in the caches.
      for (const [i, q] of questions.entries()) {
        const t0 = performance.now();
        if (i % 2 === 0) {
          await engine.search(q, { k: cfg.k });
          retrieval.push(performance.now() - t0);
          continue;
        }
        let first = 0;
        for await (const ev of engine.answer({ question: q })) {
          if (ev.type === "delta" && first === 0) first = performance.now() - t0;
        }
        answer.push(performance.now() - t0);
        firstDelta.push(first);
      }
      const point: ScalePoint = {
        targetChunks: target,
        chunks: build.chunks,
        documents: build.documents,
        buildSeconds: round(build.seconds, 1),
        diskMiB: mib(
          opts.store
            ? await opts.store.diskBytes()
            : await dirSize(versionDir(indexDir, build.version ?? "")),
        ),
        // For another backend: the resident memory of its server processes after the queries.
        indexRssMiB: mib(opts.store ? await opts.store.rssBytes() : indexRss),
        chunksPerSecond: round(build.chunksPerSecond, 1),
        processRssMiB: mib(process.memoryUsage().rss),
        retrievalMs: percentiles(retrieval),
        answerMs: percentiles(answer),
        firstDeltaMs: percentiles(firstDelta),
        ...(modelBefore === undefined ? {} : { modelTexts: embedder.modelTexts!() - modelBefore }),
        rateCurve,
        loadAvg: { afterBuild: round(afterBuild, 2), afterQueries: round(os.loadavg()[0]!, 2) },
      };
      await backend.close();
      if (opts.store?.restRss) {
        const r = await opts.store.restRss();
        point.restRssMiB = { rss: mib(r.rss), anon: mib(r.anon), file: mib(r.file) };
      }
      if (
        opts.serverLoad &&
        opts.loadAt !== undefined &&
        build.chunks >= opts.loadAt &&
        !points.some((p) => p.load)
      ) {
        say(`server load on the ${build.chunks}-chunk index`);
        point.load = await benchServer({
          ...opts.serverLoad,
          indexDir,
          corpusDir,
          questions,
          onLine: say,
        });
      }
      points.push(point);
      say(
        `${point.chunks} chunks: retrieval p50 ${point.retrievalMs.p50} ms, first delta p50 ${point.firstDeltaMs.p50} ms, answer p95 ${point.answerMs.p95} ms`,
      );
    }
    if (opts.keepDir) {
      await rm(opts.keepDir, { recursive: true, force: true });
      await mkdir(opts.keepDir, { recursive: true });
      await cp(indexDir, path.join(opts.keepDir, "index"), { recursive: true });
      await cp(corpusDir, path.join(opts.keepDir, "corpus"), { recursive: true });
      say(`kept the ${points.at(-1)?.chunks}-chunk index in ${opts.keepDir}`);
    }
  } finally {
    await rm(corpusDir, { recursive: true, force: true });
    await rm(indexDir, { recursive: true, force: true });
  }
  return points;
}
