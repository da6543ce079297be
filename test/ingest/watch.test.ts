import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CorpusWatcher, watchCorpus } from "../../ingest/watch.ts";
import { waitFor } from "../helpers/server.ts";

describe("watching the corpus folder", () => {
  let dir: string;
  let watcher: CorpusWatcher | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "citeline-watch-"));
  });
  afterEach(async () => {
    watcher?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("rebuilds after a burst of changes, again after a later change, and never twice at once", async () => {
    let builds = 0;
    let concurrent = 0;
    let most = 0;
    watcher = watchCorpus(
      dir,
      async () => {
        concurrent++;
        most = Math.max(most, concurrent);
        builds++;
        await new Promise((r) => setTimeout(r, 300));
        concurrent--;
      },
      { debounceMs: 150 },
    );
    await mkdir(path.join(dir, "sub"));
    for (let i = 0; i < 5; i++) await writeFile(path.join(dir, "sub", `n${i}.txt`), `Note ${i}\nText.`);
    await waitFor("the first rebuild", () => (builds >= 1 && concurrent === 0 ? true : undefined), 5000);
    const afterBurst = builds;
    await unlink(path.join(dir, "sub", "n0.txt"));
    await waitFor("a rebuild for the removal", () => (builds > afterBurst ? true : undefined), 5000);
    // Changes while a rebuild runs queue more; they never run beside it.
    await writeFile(path.join(dir, "a.txt"), "A\nx");
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(path.join(dir, "b.txt"), "B\nx");
    await waitFor(
      "the rebuilds to settle",
      () => (builds >= afterBurst + 2 && concurrent === 0 ? true : undefined),
      5000,
    );
    expect(most).toBe(1);
  });

  it("ignores hidden files and stops when closed", async () => {
    let builds = 0;
    watcher = watchCorpus(
      dir,
      async () => {
        builds++;
      },
      { debounceMs: 50 },
    );
    await writeFile(path.join(dir, ".swap"), "x");
    await new Promise((r) => setTimeout(r, 300));
    expect(builds).toBe(0);
    watcher.close();
    await writeFile(path.join(dir, "late.txt"), "Late\nx");
    await new Promise((r) => setTimeout(r, 300));
    expect(builds).toBe(0);
  });
});
