/**
 * `npx tsx scripts/bench-langchain.ts --dataset DIR [--k N] [--limit N] [--models DIR]`: runs the
 * LangChain.js baseline (bench/langchain-baseline.ts) on a dataset and prints its figures as JSON.
 */
import { runLangchainBaseline } from "../bench/langchain-baseline.ts";
import { loadConfig } from "../core/config.ts";
import { positiveInt as cliPositiveInt, parseCommand, runCli, usageError } from "./cli.ts";

const COMMAND = {
  usage: "usage: npx tsx scripts/bench-langchain.ts --dataset DIR [--k N] [--limit N] [--models DIR]",
  summary: "Runs the LangChain.js baseline on a dataset and prints its figures as JSON.",
  options: {
    dataset: { type: "string" },
    k: { type: "string" },
    limit: { type: "string" },
    models: { type: "string" },
  },
  help: [
    "--dataset DIR          the dataset folder (required)",
    "--k N                  passages per question (default 5)",
    "--limit N              only the first N questions",
    "--models DIR           local model folder (default CITELINE_MODELS_DIR)",
  ],
} as const;
const USAGE = COMMAND.usage;

const positiveInt = (name: string, raw: string | undefined, max: number) =>
  cliPositiveInt(name, raw, max, USAGE);

function parse(argv: string[]) {
  const values = parseCommand(COMMAND, argv);
  if (!values.dataset) throw usageError("--dataset is required", USAGE);
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
