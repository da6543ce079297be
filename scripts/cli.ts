import { isAppError } from "../core/errors.ts";

/** Runs a command-line entry: expected failures print `error CODE: message` and exit 1. */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (isAppError(err)) {
      console.error(`error ${err.code}: ${err.message}`);
    } else {
      console.error(err);
    }
    process.exitCode = 1;
  }
}
