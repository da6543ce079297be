/**
 * Builds the page into `client/dist/`: `client/src/main.ts` bundled by esbuild into `app.js`
 * (with its source map), plus `index.html` and `styles.css` copied as they are. `npm start` calls
 * `buildClient()` on every start; it returns at once when the build is already up to date.
 */
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { PROJECT_ROOT } from "../core/config.ts";
import { parseCommand, runCli } from "./cli.ts";

const CLIENT_DIR = path.join(PROJECT_ROOT, "client");
/** Where the server serves the page from. */
export const CLIENT_DIST = path.join(CLIENT_DIR, "dist");
const ENTRY = path.join(CLIENT_DIR, "src", "main.ts");
const STATIC_FILES = ["index.html", "styles.css"] as const;
const OUTPUTS = ["app.js", "app.js.map", ...STATIC_FILES];

export interface BuildClientOptions {
  /** Build even when `client/dist/` is newer than every source file. */
  force?: boolean;
}

export interface BuildClientResult {
  /** False when the build was skipped because it was up to date. */
  built: boolean;
  outDir: string;
}

/** Newest modification time of the files under `dir` (recursively), or 0 when there are none. */
async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const { mtimeMs } = await stat(path.join(entry.parentPath, entry.name));
    newest = Math.max(newest, mtimeMs);
  }
  return newest;
}

/** Everything the bundle is made from: the page's sources and the wire types it imports. */
async function sourcesMtime(): Promise<number> {
  const files = [
    ...STATIC_FILES.map((f) => path.join(CLIENT_DIR, f)),
    path.join(PROJECT_ROOT, "core", "protocol.ts"),
    path.join(PROJECT_ROOT, "core", "types.ts"),
    fileURLToPath(import.meta.url),
  ];
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));
  return Math.max(await newestMtime(path.join(CLIENT_DIR, "src")), ...times);
}

/** Oldest modification time of the outputs, or undefined when one is missing. */
async function outputsMtime(): Promise<number | undefined> {
  try {
    const times = await Promise.all(
      OUTPUTS.map(async (f) => (await stat(path.join(CLIENT_DIST, f))).mtimeMs),
    );
    return Math.min(...times);
  } catch {
    return undefined;
  }
}

/**
 * Bundles the page into `client/dist/`. Skips the work when every output is newer than every
 * source, unless `force` is set.
 */
export async function buildClient(opts: BuildClientOptions = {}): Promise<BuildClientResult> {
  if (!opts.force) {
    const built = await outputsMtime();
    if (built !== undefined && built >= (await sourcesMtime())) return { built: false, outDir: CLIENT_DIST };
  }
  await mkdir(CLIENT_DIST, { recursive: true });
  await build({
    entryPoints: [ENTRY],
    outfile: path.join(CLIENT_DIST, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    minify: true,
    sourcemap: true,
    legalComments: "none",
    logLevel: "warning",
  });
  await Promise.all(STATIC_FILES.map((f) => copyFile(path.join(CLIENT_DIR, f), path.join(CLIENT_DIST, f))));
  return { built: true, outDir: CLIENT_DIST };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCli(async () => {
    parseCommand(
      {
        usage: "usage: npm run build:client",
        summary:
          "Bundles the page (client/src/main.ts, index.html, styles.css) into client/dist/, even when it is up to date; npm start and npm run serve do this by themselves when the sources changed.",
        options: {},
      },
      process.argv.slice(2),
    );
    const t0 = performance.now();
    await buildClient({ force: true });
    const ms = Math.round(performance.now() - t0);
    console.log(`client built into ${path.relative(process.cwd(), CLIENT_DIST) || "."} in ${ms} ms`);
  });
}
