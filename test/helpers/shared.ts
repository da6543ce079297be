/**
 * The shared test data (the seed corpus, the evaluation sets) lives in `../shared`, beside the
 * repository's folder, not in it: it is large and read by every checkout.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../../core/config.ts";

/** The shared data folder: `shared/` beside the repository's root. */
export const SHARED_DIR = path.resolve(PROJECT_ROOT, "..", "shared");

/**
 * A path inside the shared data folder. Throws, naming what is missing and where it was looked
 * for, when it is not there, so a test without its data fails with that message and not later.
 */
export function sharedPath(...parts: string[]): string {
  const file = path.join(SHARED_DIR, ...parts);
  if (!existsSync(file)) {
    throw new Error(
      `the shared test data ${path.join(...parts)} is missing: tests read it from ${SHARED_DIR} ` +
        "(the folder shared/ beside the repository's root)",
    );
  }
  return file;
}

/** The seed document most tests index. */
export const SEED_DOC = ["seed", "000_1819b03cfa5cc3af.txt"] as const;
