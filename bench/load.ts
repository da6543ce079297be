/**
 * WebSocket load against a real server process: the server runs as `npm run serve` would, on an
 * index of the dataset, while many clients ask at once; its memory is read from /proc.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../core/config.ts";
import type { Embedder } from "../core/types.ts";
import { loadDataset } from "../eval/dataset.ts";
import { ensureIndex, requireComplete } from "../eval/index-cache.ts";
import { DEFAULT_CACHE_ROOT } from "../eval/session.ts";
import type { LoadResult } from "./report.ts";
import { sample } from "./stats.ts";
import { runLoadTest } from "./ws-load.ts";

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

export async function benchLoad(opts: {
  datasetDir: string;
  embedder: Embedder;
  clients: number;
  questionsEach: number;
  onLine?: (line: string) => void;
}): Promise<LoadResult> {
  const dataset = await loadDataset(opts.datasetDir);
  const cached = await ensureIndex({
    corpusFile: dataset.corpusFile,
    cacheRoot: DEFAULT_CACHE_ROOT,
    overrides: {},
    embedder: opts.embedder,
    expectDocuments: dataset.docIds.length,
  });
  requireComplete(cached, { expectDocuments: dataset.docIds.length, source: dataset.corpusFile });
  const questions = sample(
    readFileSync(path.join(opts.datasetDir, "questions.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { question: string }).question),
    500,
  );
  // Rate limiting off: this measures capacity, not the limiter.
  const server = await spawnServer({
    CITELINE_INDEX_DIR: cached.indexDir,
    CITELINE_CORPUS_DIR: cached.corpusDir,
    CITELINE_RATE_LIMIT: "0",
  });
  try {
    const before = memoryMiB(server.pid)?.rss ?? 0;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryMiB(server.pid)?.rss ?? 0);
    }, 100);
    const r = await runLoadTest({
      url: server.url,
      clients: opts.clients,
      questionsEach: opts.questionsEach,
      questions,
    });
    clearInterval(sampler);
    const after = memoryMiB(server.pid)?.rss ?? 0;
    opts.onLine?.(`${r.complete} complete answers in ${r.wallS} s; first delta p50 ${r.firstDeltaMs.p50} ms`);
    return {
      clients: r.clients,
      questionsEach: opts.questionsEach,
      seconds: r.wallS,
      answers: r.complete,
      incomplete: r.incomplete,
      errors: r.errors,
      firstDeltaMs: r.firstDeltaMs,
      doneMs: r.doneMs,
      serverRssMiB: { before, peak, after },
    };
  } finally {
    await server.stop();
  }
}
