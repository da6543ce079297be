/** `npm run model:fetch`: provisions the configured embedding model ahead of time. */
import { loadConfig } from "../core/config.ts";
import { fetchModel } from "../embeddings/model-fetch.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  const config = loadConfig();
  const outcome = await fetchModel(config, (line) => console.log(line));
  const where = outcome === "hub" ? config.modelCacheDir : config.modelsDir;
  console.log(
    outcome === "present" ? `${config.model} is already available` : `${config.model} is ready in ${where}`,
  );
});
