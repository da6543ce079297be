import type { LogLevel } from "../core/config.ts";

export type Logger = (
  level: "debug" | "info" | "warn" | "error",
  event: string,
  fields?: Record<string, unknown>,
) => void;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Structured logs: one JSON object per line on stdout. Values are JSON-encoded, so nothing a
 * client sends (request ids, questions) can forge a log line.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const min = RANK[level];
  return (lvl, event, fields = {}) => {
    if (RANK[lvl] < min) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: lvl, event, ...fields });
    // JSON leaves U+2028 and U+2029 raw; some log readers split lines on them.
    write(`${line.replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")}\n`);
  };
}
