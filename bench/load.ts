/**
 * WebSocket load against a real server process: the server runs as `npm run serve` would, on an
 * index, while many clients ask at once (closed loop) or questions arrive at a fixed rate (open
 * loop); its memory is read from /proc.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { openBackendWriter } from "../backends/select.ts";
import { type Config, PROJECT_ROOT } from "../core/config.ts";
import type { Embedder } from "../core/types.ts";
import { buildIndex } from "../ingest/indexer.ts";
import type { LoadResult } from "./report.ts";
import { DEFAULT_QUESTIONS, type OpenLoopResult, runLoadTest, runOpenLoop } from "./ws-load.ts";

/** Resident and peak memory of a process in MiB, from /proc (Linux). */
export function memoryMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
  } catch {
    return undefined;
  }
}

export interface ServerProcess {
  url: string;
  pid: number;
  stop(): Promise<number | null>;
}

/** Starts `scripts/serve.ts` in its own process with the given environment; resolves when it listens. */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", "serve.ts")], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CITELINE_PORT: "0", CITELINE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
      const m = /citeline is answering at (\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`the server exited before listening:\n${err}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

export interface ServerLoadOptions {
  indexDir: string;
  corpusDir: string;
  questions: readonly string[];
  /** Closed loop: clients asking one question after another. */
  clients: number;
  questionsEach: number;
  /** Open loop: arrival rates in questions per second, each held for `openSeconds`. */
  rates: readonly number[];
  openSeconds: number;
  onLine?: (line: string) => void;
}

/**
 * A real server process on an index, measured closed loop (saturation throughput) and then open
 * loop at each rate (latency under a steady arrival rate).
 */
export async function benchServer(opts: ServerLoadOptions): Promise<LoadResult> {
  // Rate limiting off: this measures capacity, not the limiter. The query-vector cache is off
  // too: the load repeats a few hundred questions (the seed part eight), and with the cache on
  // nearly every answer would skip the model, as no server asked new questions does.
  const server = await spawnServer({
    CITELINE_INDEX_DIR: opts.indexDir,
    CITELINE_CORPUS_DIR: opts.corpusDir,
    CITELINE_RATE_LIMIT: "0",
    CITELINE_QUERY_CACHE: "0",
  });
  try {
    const before = memoryMiB(server.pid)?.rss ?? 0;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryMiB(server.pid)?.rss ?? 0);
    }, 100);
    // A short warm-up, so the first measured answers do not pay for cold caches.
    await runLoadTest({ url: server.url, clients: 4, questionsEach: 5, questions: opts.questions });
    const r = await runLoadTest({
      url: server.url,
      clients: opts.clients,
      questionsEach: opts.questionsEach,
      questions: opts.questions,
    });
    opts.onLine?.(
      `closed loop: ${r.complete} complete answers in ${r.wallS} s (${r.answersPerS}/s); first delta p50 ${r.firstDeltaMs.p50} ms`,
    );
    const open: OpenLoopResult[] = [];
    for (const rate of opts.rates) {
      const o = await runOpenLoop({
        url: server.url,
        rate,
        durationS: opts.openSeconds,
        questions: opts.questions,
      });
      open.push(o);
      opts.onLine?.(
        `open loop ${rate} q/s: first delta p50 ${o.firstDeltaMs.p50} / p99 ${o.firstDeltaMs.p99} ms, ${o.answersPerS} answers/s`,
      );
    }
    clearInterval(sampler);
    const after = memoryMiB(server.pid)?.rss ?? 0;
    return {
      clients: r.clients,
      questionsEach: opts.questionsEach,
      seconds: r.wallS,
      answers: r.complete,
      answersPerS: r.answersPerS,
      incomplete: r.incomplete,
      errors: r.errors,
      firstDeltaMs: r.firstDeltaMs,
      doneMs: r.doneMs,
      serverRssMiB: { before, peak, after },
      open,
    };
  } finally {
    await server.stop();
  }
}

/** The seed corpus (one news article), indexed in a temporary folder for the load part. */
export async function benchLoad(opts: {
  seedDir: string;
  config: Config;
  embedder: Embedder;
  clients: number;
  questionsEach: number;
  rates: readonly number[];
  openSeconds: number;
  onLine?: (line: string) => void;
}): Promise<LoadResult & { index: string; chunks: number }> {
  const indexDir = await mkdtemp(path.join(os.tmpdir(), "citeline-load-index-"));
  try {
    const build = await buildIndex({
      openWriter: openBackendWriter,
      config: { ...opts.config, corpusDir: opts.seedDir, indexDir },
      embedder: opts.embedder,
    });
    const r = await benchServer({
      indexDir,
      corpusDir: opts.seedDir,
      questions: DEFAULT_QUESTIONS,
      clients: opts.clients,
      questionsEach: opts.questionsEach,
      rates: opts.rates,
      openSeconds: opts.openSeconds,
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
    return { ...r, index: "seed", chunks: build.chunks };
  } finally {
    await rm(indexDir, { recursive: true, force: true });
  }
}
