/**
 * `npm run llm:install`: the in-process model runtime (node-llama-cpp, prebuilt) into
 * llm/node_modules from llm/package-lock.json, with no download at run time.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "../core/config.ts";
import { parseCommand, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npm run llm:install",
  summary:
    "Installs the in-process model runtime (node-llama-cpp, prebuilt for linux-x64, about 80 MB) into llm/node_modules from llm/package-lock.json; no compiler, and nothing is downloaded when a model runs.",
  options: {},
} as const;

await runCli(async () => {
  parseCommand(COMMAND, process.argv.slice(2));
  const code = await new Promise<number | null>((resolve, reject) => {
    const npm = spawn("npm", ["ci", "--omit=optional", "--no-audit", "--no-fund"], {
      cwd: path.join(PROJECT_ROOT, "llm"),
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" },
      stdio: "inherit",
    });
    npm.once("error", reject);
    npm.once("close", resolve);
  });
  if (code !== 0) process.exitCode = code ?? 1;
});
