/**
 * `npm run llm:serve [-- --port N]`: serves the small test model (or CITELINE_LLM_GGUF's file,
 * given as --model) over llama.cpp's OpenAI-compatible API, for trying CITELINE_LLM_URL.
 */
import { parseArgs } from "node:util";
import { positiveInt, runCli } from "./cli.ts";
import { ensureLlmAssets, startLlamaServer } from "./llm-assets.ts";

const USAGE = "usage: npm run llm:serve -- [--port 8080] [--model file.gguf] [--threads N]";

await runCli(async () => {
  const { values } = parseArgs({
    options: { port: { type: "string" }, model: { type: "string" }, threads: { type: "string" } },
  });
  await ensureLlmAssets((line) => console.log(line));
  const server = await startLlamaServer({
    port: positiveInt("--port", values.port, 65535, USAGE) ?? 8080,
    threads: positiveInt("--threads", values.threads, 64, USAGE) ?? 2,
    ...(values.model ? { gguf: values.model } : {}),
  });
  console.log(`OpenAI-compatible API at ${server.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  await server.close();
});
