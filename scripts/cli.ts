import { AppError, isAppError } from "../core/errors.ts";

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

/** A command-line mistake, with the command's usage line appended. */
export function usageError(message: string, usage: string): AppError {
  return new AppError("CONFIG_INVALID", `${message}; ${usage}`);
}

/** An optional whole-number option from 1 to `max`; undefined when absent. */
export function positiveInt(
  name: string,
  raw: string | undefined,
  max: number,
  usage: string,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw usageError(
      `${name} is "${raw}"; it must be a whole number from 1 to ${max.toLocaleString("en-US")}`,
      usage,
    );
  }
  return n;
}
