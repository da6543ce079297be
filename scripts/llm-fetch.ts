/**
 * `npm run llm:fetch`: provisions what generated answers need to be tried and tested: the
 * in-process runtime (llm/, when missing), the small test model and the OpenAI-compatible server.
 */
import { access } from "node:fs/promises";
import { LLAMA_RUNTIME } from "../llm/llama.ts";
import { runCli } from "./cli.ts";
import { ensureLlmAssets, installRuntime, SERVER_PYTHON, TEST_GGUF } from "./llm-assets.ts";

await runCli(async () => {
  const installed = await access(LLAMA_RUNTIME).then(
    () => true,
    () => false,
  );
  if (!installed) await installRuntime((line) => console.log(line));
  await ensureLlmAssets((line) => console.log(line));
  console.log(`model: ${TEST_GGUF}\nserver: ${SERVER_PYTHON} (xllamacpp)`);
});
