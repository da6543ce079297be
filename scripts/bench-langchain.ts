/**
 * `npx tsx scripts/bench-langchain.ts --dataset DIR [--k N] [--limit N] [--models DIR]`: runs the
 * LangChain.js baseline (bench/langchain-baseline.ts) on a dataset and prints its figures as JSON.
 */
import { parseArgs } from "node:util";
import { runLangchainBaseline } from "../bench/langchain-baseline.ts";
import { loadConfig } from "../core/config.ts";
import { positiveInt as cliPositiveInt, runCli, usageError } from "./cli.ts";

const USAGE = "usage: npx tsx scripts/bench-langchain.ts --dataset DIR [--k N] [--limit N] [--models DIR]";

const bad = (message: string) => usageError(message, USAGE);
const positiveInt = (name: string, raw: string | undefined, max: number) =>
  cliPositiveInt(name, raw, max, USAGE);

function parse(argv: string[]) {
  let values: { dataset?: string; k?: string; limit?: string; models?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        dataset: { type: "string" },
        k: { type: "string" },
        limit: { type: "string" },
        models: { type: "string" },
      },
    }));
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!values.dataset) throw bad("--dataset is required");
  return {
    dataset: values.dataset,
    k: positiveInt("--k", values.k, 50) ?? 5,
    limit: positiveInt("--limit", values.limit, Number.MAX_SAFE_INTEGER),
    modelsDir: values.models ?? loadConfig().modelsDir,
  };
}

await runCli(async () => {
  const result = await runLangchainBaseline(parse(process.argv.slice(2)));
  console.log(JSON.stringify(result, null, 2));
});
