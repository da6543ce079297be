/**
 * The commands as a user runs them, as real processes: `npm start` stopped by a signal to npm
 * or to the server, a taken port, and every command's --help and usage errors.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openBackendWriter } from "../backends/select.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { buildIndex } from "../ingest/indexer.ts";
import { getEmbedder } from "./helpers/model.ts";
import { SEED_DOC, sharedPath } from "./helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (pattern: RegExp, ms: number) => Promise<RegExpMatchArray>;
}

const procs: Proc[] = [];
let root: string;
let env: Record<string, string>;

/** Runs a command in its own process group, so cleanup can reach everything it started. */
function run(command: string, args: string[], extraEnv: Record<string, string> = {}): Proc {
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  const waiters = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      for (const w of waiters) w();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (pattern: RegExp, ms: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = out.match(pattern);
        if (!m) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => reject(new Error(`no ${pattern} after ${ms} ms:\n${out}`)), ms);
      waiters.add(check);
      void exited.then(({ code, signal }) =>
        setTimeout(
          () => reject(new Error(`exited (code ${code}, signal ${signal}) without ${pattern}:\n${out}`)),
          50,
        ),
      );
      check();
    });
  const p = { child, output: () => out, exited, waitFor };
  procs.push(p);
  return p;
}

/** True when nothing accepts connections on the port. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
    s.connect(port, "127.0.0.1");
  });
}

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Rejects with `why()` when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why())), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Which processes of the group are alive, and what they printed: for a failure message. */
function describeGroup(p: Proc): string {
  const pid = p.child.pid!;
  let alive = "npm exited";
  try {
    process.kill(pid, 0);
    alive = "npm alive";
  } catch {}
  const members = spawnSync("ps", ["-o", "pid,ppid,stat,args", "-g", String(pid)], {
    encoding: "utf8",
  }).stdout;
  return `${alive}; its process group:\n${members}\noutput:\n${p.output()}`;
}

async function waitUntil(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "citeline-proc-"));
  const corpusDir = path.join(root, "corpus");
  const indexDir = path.join(root, "index");
  await mkdir(corpusDir);
  await copyFile(SEED, path.join(corpusDir, path.basename(SEED)));
  // Built here so `npm start` finds the index up to date and starts quickly.
  await buildIndex({
    openWriter: openBackendWriter,
    config: loadConfig({ corpusDir, indexDir }),
    embedder: await getEmbedder(),
  });
  env = { CITELINE_CORPUS_DIR: corpusDir, CITELINE_INDEX_DIR: indexDir, CITELINE_PORT: "", PORT: "0" };
}, 120_000);

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.pid && groupAlive(p.child.pid)) process.kill(-p.child.pid, "SIGKILL");
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("npm start", () => {
  it.each(["SIGTERM", "SIGHUP", "SIGINT"] as const)(
    "stops the server, after draining, when npm gets %s",
    async (signal) => {
      const npm = run("npm", ["start"]);
      const [, port] = await npm.waitFor(/answering at http:\/\/127\.0\.0\.1:(\d+)/, 90_000);
      expect(await refused(Number(port))).toBe(false);
      process.kill(npm.child.pid!, signal);
      await within(
        npm.exited,
        30_000,
        () => `npm start still running 30 s after ${signal}: ${describeGroup(npm)}`,
      );
      expect(await waitUntil(() => !groupAlive(npm.child.pid!), 15_000)).toBe(true);
      expect(await refused(Number(port))).toBe(true);
      expect(npm.output()).toMatch(/"event":"stopped"/);
    },
    120_000,
  );
});

describe("a taken port", () => {
  let blocker: Server | undefined;
  afterEach(() => blocker?.close());

  it("says which port is taken and how to choose another, without a stack trace", async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    const serve = run(process.execPath, ["--import", "tsx", "scripts/serve.ts"], { PORT: String(port) });
    const { code } = await serve.exited;
    expect(code).toBe(1);
    expect(serve.output()).toContain(
      `error PORT_IN_USE: port ${port} on 127.0.0.1 is already in use (is citeline already running?); stop that process or choose another port, e.g. PORT=${port + 1} npm start (CITELINE_PORT wins over PORT)`,
    );
    expect(serve.output()).not.toMatch(/\n\s+at /);
    // Nothing of the start that did not happen is logged: the index is closed before anything asks it.
    expect(serve.output()).not.toMatch(/"level":"(warn|error)"|database connection is not open/);
  }, 90_000);
});

describe("command lines", () => {
  const commands: [string, string[], RegExp][] = [
    ["index", ["scripts/index-corpus.ts"], /^usage: npm run index/],
    ["eval", ["scripts/eval.ts"], /^usage: npm run eval/],
    ["bench", ["scripts/bench.ts"], /^usage: npm run bench/],
    ["model:fetch", ["scripts/model-fetch.ts"], /^usage: npm run model:fetch/],
    ["load test", ["scripts/load-test.ts"], /^usage: npx tsx scripts\/load-test\.ts/],
    ["start", ["scripts/start.ts"], /^usage: npm start/],
    ["serve", ["scripts/serve.ts"], /^usage: npm run serve/],
  ];

  it.each(commands)(
    "%s --help prints its usage and exits 0",
    async (_name, args, usage) => {
      const p = run(process.execPath, ["--import", "tsx", ...args, "--help"]);
      const { code } = await p.exited;
      expect(p.output()).toMatch(usage);
      expect(p.output()).toContain("--help");
      expect(code).toBe(0);
    },
    60_000,
  );

  it.each(commands)(
    "%s refuses an unknown option in one line plus usage, exit 2",
    async (_n, args, usage) => {
      const p = run(process.execPath, ["--import", "tsx", ...args, "--bogus"]);
      const { code } = await p.exited;
      const lines = p.output().trimEnd().split("\n");
      expect(lines[0]).toBe("error: Unknown option '--bogus'");
      expect(lines[1]).toMatch(usage);
      expect(p.output()).not.toMatch(/\n\s+at /);
      expect(code).toBe(2);
    },
    60_000,
  );

  it("refuses a bad option value with exit 2 and no stack trace", async () => {
    const p = run(process.execPath, ["--import", "tsx", "scripts/load-test.ts", "--clients", "lots"]);
    const { code } = await p.exited;
    expect(p.output().split("\n")[0]).toBe(
      'error: --clients is "lots"; it must be a whole number from 1 to 100,000',
    );
    expect(code).toBe(2);
  }, 60_000);
});
