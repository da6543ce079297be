/** `npm run model:fetch`: provisions the configured embedding model ahead of time. */
import { loadConfig } from "../core/config.ts";
import { fetchModel } from "../embeddings/model-fetch.ts";
import { parseCommand, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npm run model:fetch",
  summary:
    "Provisions the configured embedding model (CITELINE_MODEL) ahead of time: from the local models folder, or fetched once into the model cache.",
  options: {},
} as const;

await runCli(async () => {
  parseCommand(COMMAND, process.argv.slice(2));
  const config = loadConfig();
  const outcome = await fetchModel(config, (line) => console.log(line));
  const where = outcome === "hub" ? config.modelCacheDir : config.modelsDir;
  console.log(
    outcome === "present" ? `${config.model} is already available` : `${config.model} is ready in ${where}`,
  );
});
