/**
 * `npm run llm:serve [-- --port N]`: serves the small test model (or CITELINE_LLM_GGUF's file,
 * given as --model) over llama.cpp's OpenAI-compatible API, for trying CITELINE_LLM_URL.
 */
import { parseCommand, positiveInt, runCli } from "./cli.ts";
import { ensureLlmAssets, startLlamaServer } from "./llm-assets.ts";

const COMMAND = {
  usage: "usage: npm run llm:serve -- [--port 8080] [--model file.gguf] [--threads N]",
  summary:
    "Serves a GGUF model (by default the small test model of npm run llm:fetch, provisioned when missing) over llama.cpp's OpenAI-compatible API on 127.0.0.1, for trying CITELINE_LLM_URL. Ctrl-C stops it.",
  options: { port: { type: "string" }, model: { type: "string" }, threads: { type: "string" } },
  help: [
    "--port N               port of the API (default 8080)",
    "--model FILE           the GGUF file to serve (default the small test model)",
    "--threads N            CPU threads (default 2)",
  ],
} as const;

await runCli(async () => {
  const values = parseCommand(COMMAND, process.argv.slice(2));
  // Options are checked before anything is provisioned or started.
  const port = positiveInt("--port", values.port, 65535, COMMAND.usage) ?? 8080;
  const threads = positiveInt("--threads", values.threads, 64, COMMAND.usage) ?? 2;
  await ensureLlmAssets((line) => console.log(line));
  const server = await startLlamaServer({ port, threads, ...(values.model ? { gguf: values.model } : {}) });
  console.log(`OpenAI-compatible API at ${server.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  await server.close();
});
