/**
 * Every npm script as a user runs it, in a copy of the repository with a home folder of its own:
 * `--help` and an unknown option end as the README says and change nothing on disk (nothing
 * written, nothing fetched). And the paths a user can reach that used to end in a stack trace:
 * a read-only index folder, the bench without ../shared, a network address without a token.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBackendWriter } from "../backends/select.ts";
import { loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { buildIndex } from "../ingest/indexer.ts";
import { getEmbedder } from "./helpers/model.ts";
import { SEED_DOC, sharedPath } from "./helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);
/** Left out of the copy: installed or built things, and what runs leave behind. */
const NOT_COPIED = new Set([
  "node_modules",
  ".git",
  "models",
  "data",
  "bench-results",
  "eval-results",
  "test-artifacts",
]);
const STACK_LINE = /\n\s+at .+[(:]\d+/;

let root: string;
let repo: string;
let home: string;

interface Ended {
  code: number | null;
  out: string;
}

/** Runs a command to its end in `cwd`, as `uid` when given (a root test run plays another user). */
function run(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string>; uid?: number; timeoutMs?: number } = {},
): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? repo,
      env: { ...process.env, HOME: home, npm_config_update_notifier: "false", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    });
    let out = "";
    for (const s of [child.stdout, child.stderr]) s.setEncoding("utf8").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Every file and folder under `dir` with its size and modification time; symlinks not followed. */
async function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(dir, path.join(e.parentPath, e.name));
    if (skip(rel)) continue;
    const s = await stat(path.join(e.parentPath, e.name)).catch(() => undefined);
    out.push(`${rel} ${e.isDirectory() ? "dir" : `${s?.size} ${s?.mtimeMs}`}`);
  }
  return out.sort();
}

/** npm's own logs and the linters' caches are the tools' business, not the command's. */
const toolFiles = (rel: string) => /^\.npm(\/|$)|^\.cache(\/biome(\/|$)|$)/.test(rel);
const linked = (rel: string) => rel === "node_modules" || rel.startsWith("node_modules/");

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "citeline-commands-"));
  repo = path.join(root, "repo");
  home = path.join(root, "home");
  await mkdir(home);
  await cp(PROJECT_ROOT, repo, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(PROJECT_ROOT, src);
      const parts = rel.split(path.sep);
      // llm/node_modules too: only the top-level one is linked in.
      return (
        !NOT_COPIED.has(parts[0] ?? "") &&
        !parts.includes("node_modules") &&
        !rel.startsWith(path.join("client", "dist"))
      );
    },
  });
  await symlink(path.join(PROJECT_ROOT, "node_modules"), path.join(repo, "node_modules"));
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("every npm script", () => {
  const scripts = Object.keys(
    (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { scripts: object })
      .scripts,
  );
  /** Scripts that hand their arguments to a third-party tool, with that tool's usage. */
  const TOOLS: Record<string, RegExp> = {
    lint: /Usage: biome check/,
    format: /Usage: biome format/,
    typecheck: /tsc: The TypeScript Compiler/,
  };
  const usageOf = (name: string) =>
    new RegExp(`^usage: npm ${name === "start" || name === "test" ? name : `run ${name}`}\\b`);

  it("has no pre- or post- script that would run before the arguments are read", () => {
    expect(scripts.filter((s) => /^(pre|post)/.test(s))).toEqual([]);
  });

  it.each(scripts)(
    "%s: --help prints its usage and exits 0; an unknown option is refused; neither changes a file",
    async (name) => {
      const before = [await snapshot(repo, linked), await snapshot(home, toolFiles)];
      const help = await run("npm", ["run", "--silent", name, "--", "--help"]);
      const bogus = await run("npm", ["run", "--silent", name, "--", "--bogus"]);
      expect([await snapshot(repo, linked), await snapshot(home, toolFiles)]).toEqual(before);

      expect(help.code, help.out).toBe(0);
      expect(help.out).toMatch(TOOLS[name] ?? usageOf(name));
      expect(bogus.out).not.toMatch(STACK_LINE);
      if (TOOLS[name]) {
        expect(bogus.code).not.toBe(0);
        expect(bogus.out).toContain("--bogus");
      } else {
        expect(help.out).toContain("--help");
        const lines = bogus.out.trimEnd().split("\n");
        expect(lines[0]).toBe("error: Unknown option '--bogus'");
        expect(lines[1]).toMatch(usageOf(name));
        expect(bogus.code).toBe(2);
      }
    },
    120_000,
  );
});

describe("the bench without ../shared", () => {
  it("says which folder is missing and how to give one, exit 1, before any work", async () => {
    const before = await snapshot(repo, linked);
    const r = await run("npm", ["run", "--silent", "bench", "--", "--quick"]);
    expect(r.out.trim()).toBe(
      `error CORPUS_MISSING: ${path.join(root, "shared", "eval", "squad-dev", "corpus.jsonl")} does not exist; the bench needs a dataset folder (corpus.jsonl, questions.jsonl): give one with --dataset DIR (the default is beside this repository, in ../shared)`,
    );
    expect(r.code).toBe(1);
    expect(await snapshot(repo, linked)).toEqual(before);
  }, 120_000);
});

describe("a read-only index folder", () => {
  // Root may write anywhere: as root, the commands run as `nobody`, for whom the folder is read-only.
  const uid = process.getuid?.() === 0 ? 65534 : undefined;
  let data: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    data = path.join(root, "ro");
    const corpusDir = path.join(data, "corpus");
    const indexDir = path.join(data, "index");
    const modelsDir = path.join(data, "models");
    await mkdir(corpusDir, { recursive: true });
    await copyFile(SEED, path.join(corpusDir, path.basename(SEED)));
    const config = loadConfig();
    const models = [config.modelsDir, config.modelCacheDir].find((d) => existsSync(path.join(d, "Xenova")));
    if (!models) throw new Error("the embedding model is not provisioned: run npm run model:fetch");
    await cp(models, modelsDir, { recursive: true });
    await buildIndex({
      openWriter: openBackendWriter,
      config: loadConfig({ corpusDir, indexDir }),
      embedder: await getEmbedder(),
    });
    // Installed by one user, served by another: the page is built, the index is up to date.
    const built = await run("npm", ["run", "--silent", "build:client"]);
    expect(built.code, built.out).toBe(0);
    env = {
      CITELINE_CORPUS_DIR: corpusDir,
      CITELINE_INDEX_DIR: indexDir,
      CITELINE_MODELS_DIR: modelsDir,
      CITELINE_PORT: "",
      PORT: "0",
    };
    // Readable by everyone (the copy, its home), writable by no one but root.
    for (const dir of [root, repo, home]) await chmod(dir, 0o755);
    await run("chmod", ["-R", "a+rX,a-w", indexDir]);
  }, 180_000);

  const ro = (script: string, extra: Record<string, string> = {}) =>
    run(process.execPath, ["--import", "tsx", `scripts/${script}.ts`], {
      env: { ...env, ...extra },
      ...(uid !== undefined ? { uid } : {}),
      timeoutMs: 90_000,
    });

  it("npm run index finds an up-to-date index up to date, without the lock", async () => {
    const r = await ro("index-corpus");
    expect(r.out).toMatch(/^index is up to date: 1 documents, 3 chunks/m);
    expect(r.code).toBe(0);
  }, 120_000);

  it("npm start serves an up-to-date index from it", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/start.ts"], {
      cwd: repo,
      env: { ...process.env, HOME: home, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(uid !== undefined ? { uid, gid: uid } : {}),
    });
    let out = "";
    try {
      await new Promise<void>((resolve, reject) => {
        for (const s of [child.stdout, child.stderr])
          s.setEncoding("utf8").on("data", (d: string) => {
            out += d;
            if (/answering at http:\/\/127\.0\.0\.1:\d+/.test(out)) resolve();
          });
        child.once("close", (code) => reject(new Error(`exited ${code}:\n${out}`)));
      });
      const port = /answering at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as {
        documents: number;
      };
      expect(health.documents).toBe(1);
      expect(out).not.toMatch(STACK_LINE);
    } finally {
      child.kill("SIGTERM");
    }
  }, 120_000);

  it("refuses a changed corpus with INDEX_READ_ONLY and no stack trace, on npm run index and npm start", async () => {
    const corpusDir = env.CITELINE_CORPUS_DIR as string;
    await writeFile(path.join(corpusDir, "zorblax.txt"), "Zorblax is the smallest moon of the planet Quell.");
    try {
      for (const script of ["index-corpus", "start"]) {
        const r = await ro(script);
        expect(r.out.trim().split("\n").at(-1)).toBe(
          `error INDEX_READ_ONLY: the index folder ${env.CITELINE_INDEX_DIR} cannot be written (EACCES) and the corpus has changed since the index was built; let this user write there, or set CITELINE_INDEX_DIR to a folder it can write`,
        );
        expect(r.out).not.toMatch(STACK_LINE);
        expect(r.code).toBe(1);
      }
    } finally {
      await rm(path.join(corpusDir, "zorblax.txt"));
    }
  }, 180_000);
});

describe("the bind promise", () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    const corpusDir = path.join(root, "bind-corpus");
    const indexDir = path.join(root, "bind-index");
    await mkdir(corpusDir);
    await copyFile(SEED, path.join(corpusDir, path.basename(SEED)));
    await buildIndex({
      openWriter: openBackendWriter,
      config: loadConfig({ corpusDir, indexDir }),
      embedder: await getEmbedder(),
    });
    const config = loadConfig();
    env = {
      CITELINE_CORPUS_DIR: corpusDir,
      CITELINE_INDEX_DIR: indexDir,
      CITELINE_MODELS_DIR: config.modelsDir,
      CITELINE_MODEL_CACHE_DIR: config.modelCacheDir,
      CITELINE_PORT: "",
      PORT: "0",
      CITELINE_HOST: "0.0.0.0",
    };
  }, 120_000);

  it("npm run serve refuses 0.0.0.0 without a token, saying how to allow it", async () => {
    const r = await run(process.execPath, ["--import", "tsx", "scripts/serve.ts"], {
      env,
      cwd: PROJECT_ROOT,
    });
    expect(r.out.trim()).toBe(
      "error NO_TOKEN_FOR_NETWORK: refusing to listen on 0.0.0.0 without an access token: anyone who can reach it could use it. Set CITELINE_TOKEN (16 characters or more), or CITELINE_ALLOW_NO_TOKEN=1 to serve it open, or listen on 127.0.0.1",
    );
    expect(r.code).toBe(1);
  }, 60_000);

  it("with CITELINE_ALLOW_NO_TOKEN=1 it serves 0.0.0.0 and says that is the address it bound", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/serve.ts"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env, CITELINE_ALLOW_NO_TOKEN: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    try {
      const line = await new Promise<string>((resolve, reject) => {
        for (const s of [child.stdout, child.stderr])
          s.setEncoding("utf8").on("data", (d: string) => {
            out += d;
            const m = /^citeline is answering at .*$/m.exec(out);
            if (m) resolve(m[0]);
          });
        child.once("close", (code) => reject(new Error(`exited ${code}:\n${out}`)));
      });
      const port = /:(\d+) \(/.exec(line)?.[1];
      expect(line).toBe(
        `citeline is answering at http://0.0.0.0:${port} (reachable from other machines; http://127.0.0.1:${port} from this one)`,
      );
      expect(out).toMatch(/"level":"warn","event":"no_access_token"/);
    } finally {
      child.kill("SIGTERM");
    }
  }, 60_000);
});
