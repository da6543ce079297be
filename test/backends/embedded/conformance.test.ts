import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { embeddedBackend } from "../../../backends/embedded/adapter.ts";
import { loadConfig } from "../../../core/config.ts";
import { conformance } from "../conformance.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

conformance("embedded", {
  adapter: embeddedBackend,
  async config() {
    const dir = await mkdtemp(path.join(os.tmpdir(), "citeline-conformance-"));
    dirs.push(dir);
    return { ...loadConfig({}), indexDir: path.join(dir, "index") };
  },
  async breakIt(config) {
    const versions = (await readdir(config.indexDir)).filter((n) => n.startsWith("v-"));
    for (const v of versions) await writeFile(path.join(config.indexDir, v, "index.db"), "not a database");
  },
  brokenCode: "INDEX_CORRUPT",
});
