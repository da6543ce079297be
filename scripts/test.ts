/**
 * `npm test [-- FILE ...]`: what CI runs. Provisions what the tests drive when it is missing (the
 * embedding model, the small language model and its server, the pinned Weaviate binary, Debian's
 * Chromium), then lint, type-check and every test (or only the test files named).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "../core/config.ts";
import { parseCommandArgs, runCli } from "./cli.ts";

const COMMAND = {
  usage: "usage: npm test [-- FILE ...]",
  summary:
    "Fetches what the tests need when it is missing (npm run model:fetch, npm run llm:fetch, npm run weaviate -- install, Debian's chromium), then runs lint, the type-check and every test; FILE arguments (paths or parts of paths) run only those test files.",
  options: {},
  help: ["FILE                   a test file, or part of its path, to run instead of all"],
} as const;

const bin = (name: string) => path.join(PROJECT_ROOT, "node_modules", ".bin", name);

/** Runs one step in the foreground; a failing step ends the run with its exit code. */
function step(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, stdio: "inherit" });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolve();
      else {
        process.exitCode = code ?? 1;
        reject(
          new StepFailed(
            `${[command, ...args].map((a) => path.basename(a)).join(" ")} failed (${signal ?? code})`,
          ),
        );
      }
    });
  });
}

class StepFailed extends Error {}

await runCli(async () => {
  const { positionals } = parseCommandArgs(COMMAND, process.argv.slice(2), true);
  try {
    await step("npm", ["run", "--silent", "model:fetch"]);
    await step("npm", ["run", "--silent", "llm:fetch"]);
    await step("npm", ["run", "--silent", "weaviate", "--", "install"]);
    await step(process.execPath, [
      "--import",
      "tsx",
      path.join(PROJECT_ROOT, "scripts", "ensure-chromium.ts"),
    ]);
    await step(bin("biome"), ["check", "."]);
    await step(bin("tsc"), ["--noEmit", "-p", "tsconfig.json"]);
    await step(bin("vitest"), ["run", ...positionals]);
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    console.error(err.message);
  }
});
