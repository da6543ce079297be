/**
 * The one argument parser every command uses, and the one way commands end. `--help` prints the
 * command's help and exits 0; a usage mistake prints one line plus the usage and exits 2; an
 * expected failure prints `error CODE: message` and exits 1. None of them prints a stack trace.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { isAppError } from "../core/errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What a command accepts; `usage` is its synopsis, `help` the lines under it (one per option). */
export interface CommandSpec<O extends Options> {
  usage: string;
  summary: string;
  options: O;
  help?: readonly string[];
}

/** A command-line mistake: the caller prints `message` and the usage, and exits 2. */
export class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** `--help` was asked for: the caller prints `text` and exits 0. */
export class HelpRequested extends Error {
  readonly text: string;
  constructor(text: string) {
    super("help requested");
    this.name = "HelpRequested";
    this.text = text;
  }
}

/** The full help of a command: synopsis, summary, options. */
export function helpText(spec: CommandSpec<Options>): string {
  const lines = [spec.usage, "", spec.summary];
  if (spec.help?.length) lines.push("", "options:", ...spec.help.map((l) => `  ${l}`));
  lines.push("  --help                 print this help and exit");
  return `${lines.join("\n")}\n`;
}

/**
 * Parses `argv` against `spec` strictly: unknown options, stray arguments and missing values
 * are usage errors; `--help` or `-h` anywhere asks for the help.
 */
export function parseCommand<O extends Options>(spec: CommandSpec<O>, argv: readonly string[]) {
  return parseCommandArgs(spec, argv, false).values;
}

/**
 * As {@link parseCommand}, for a command that also takes plain arguments (file names) when
 * `positionals` is true.
 */
export function parseCommandArgs<O extends Options>(
  spec: CommandSpec<O>,
  argv: readonly string[],
  positionals: boolean,
) {
  if (argv.some((a) => a === "--help" || a === "-h")) throw new HelpRequested(helpText(spec));
  try {
    return parseArgs({ args: [...argv], options: spec.options, strict: true, allowPositionals: positionals });
  } catch (err) {
    // node:util adds a second sentence about "--" that does not apply to these commands.
    const message = (err as Error).message.split(/\.\s/)[0] ?? "";
    throw new UsageError(message.replace(/\.$/, ""), spec.usage);
  }
}

/** Runs a command-line entry and maps how it ended to output and an exit code. */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.text);
      process.exitCode = 0;
    } else if (err instanceof UsageError) {
      console.error(`error: ${err.message}\n${err.usage}\n(run with --help for details)`);
      process.exitCode = 2;
    } else if (isAppError(err) || err instanceof CommandError) {
      console.error(`error ${err.code}: ${err.message}`);
      process.exitCode = 1;
    } else if (isSystemError(err)) {
      // The operating system's refusal (a folder this user may not write, a full disk) is the
      // user's to fix, and its message names the file: no stack trace.
      console.error(`error ${err.message}${SYSTEM_HINTS[err.code] ?? ""}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  }
}

/**
 * An expected failure of a command-line tool, coded from the tool's own catalogue: core's
 * catalogue (core/errors.ts) holds what the product can meet, not what a dev tool can.
 */
export class CommandError<C extends string> extends Error {
  readonly code: C;

  constructor(code: C, message: string) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

const SYSTEM_HINTS: Record<string, string> = {
  EACCES: " (this user may not do that there: check the permissions, or choose another folder)",
  EPERM: " (this user may not do that there: check the permissions, or choose another folder)",
  EROFS: " (the file system is read-only: choose a folder on a writable one)",
  ENOSPC: " (the disk is full)",
  ENOENT: " (no such file or folder)",
};

/** An error the operating system raised for a file or socket call (`EACCES: …, open '…'`). */
function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  const e = err as NodeJS.ErrnoException | undefined;
  return (
    e instanceof Error &&
    typeof e.code === "string" &&
    typeof e.syscall === "string" &&
    e.message.startsWith(e.code)
  );
}

/** A command-line mistake, with the command's usage line. */
export function usageError(message: string, usage: string): UsageError {
  return new UsageError(message, usage);
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
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < 1 || n > max) {
    throw usageError(
      `${name} is "${raw}"; it must be a whole number from 1 to ${max.toLocaleString("en-US")}`,
      usage,
    );
  }
  return n;
}
