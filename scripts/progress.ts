import type { Progress } from "../ingest/indexer.ts";

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** One terminal line: a bar, counts, rate and ETA, fitted to the width. */
export function progressLine(p: Progress, columns: number): string {
  const share = p.total > 0 ? p.done / p.total : 1;
  const unit = p.phase === "read" ? " files read" : "";
  const tail = ` ${Math.round(share * 100)}% ${p.done}/${p.total}${unit} ${p.rate.toFixed(1)}/s eta ${formatDuration(p.etaS)} `;
  const width = Math.max(10, Math.min(40, columns - tail.length - 3));
  const filled = Math.round(share * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]${tail}`;
}

/**
 * What `npm run index` and `npm start` show while a build runs: a bar redrawn in place on a
 * terminal, else a plain line every two seconds and at the end.
 */
export function progressReporter(out: NodeJS.WriteStream = process.stderr): {
  onProgress: (p: Progress) => void;
  /** Ends the bar's line, if one was drawn. */
  end: () => void;
} {
  const tty = out.isTTY === true;
  let lastPlain = 0;
  let drawn = false;
  let phase: Progress["phase"];
  return {
    onProgress(p) {
      const changed = p.phase !== phase;
      phase = p.phase;
      if (tty) {
        if (changed && drawn) out.write("\n");
        out.write(`\r${progressLine(p, out.columns ?? 80)}`);
        drawn = true;
      } else if (changed || p.done === p.total || performance.now() - lastPlain > 2000) {
        lastPlain = performance.now();
        const what = p.phase === "read" ? "reading" : "indexing";
        const unit = p.phase === "read" ? "files" : "chunks";
        out.write(
          `${what} ${p.done}/${p.total} ${unit}, ${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaS)}\n`,
        );
      }
    },
    end() {
      if (drawn) out.write("\n");
      drawn = false;
    },
  };
}
