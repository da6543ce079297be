/**
 * `npm run llm:fetch`: provisions what generated answers need to be tried and tested: the
 * in-process runtime (llm/, when missing), the small test model and the OpenAI-compatible server.
 */
import { access } from "node:fs/promises";
import { LLAMA_RUNTIME } from "../llm/llama.ts";
import { parseCommand, runCli } from "./cli.ts";
import { ensureLlmAssets, installRuntime, SERVER_PYTHON, TEST_GGUF } from "./llm-assets.ts";

const COMMAND = {
  usage: "usage: npm run llm:fetch",
  summary:
    "Provisions what generated answers need to be tried and tested, skipping what is there: the in-process runtime (npm run llm:install, when llm/node_modules is missing), SmolLM2-135M-Instruct and llama.cpp's OpenAI-compatible server (a Python environment), both into ~/.cache/citeline/llm (about 300 MB).",
  options: {},
} as const;

await runCli(async () => {
  parseCommand(COMMAND, process.argv.slice(2));
  const installed = await access(LLAMA_RUNTIME).then(
    () => true,
    () => false,
  );
  if (!installed) await installRuntime((line) => console.log(line));
  await ensureLlmAssets((line) => console.log(line));
  console.log(`model: ${TEST_GGUF}\nserver: ${SERVER_PYTHON} (xllamacpp)`);
});
