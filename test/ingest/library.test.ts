import { mkdtemp, rm, stat, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DocumentSummary } from "../../core/backend.ts";
import type { DocumentList } from "../../core/protocol.ts";
import { listCorpusFiles } from "../../ingest/corpus.ts";
import type { BuildSummary } from "../../ingest/indexer.ts";
import { createLibrary, type Library } from "../../ingest/library.ts";
import { createIndexUpdater, type IndexUpdater } from "../../ingest/updater.ts";
import { buildSummary } from "../helpers/build-summary.ts";
import { waitFor } from "../helpers/server.ts";

const ZORBLAX = "Zorblax harbour notes\n\nThe Zorblax ferry leaves the quay at seven every morning.";

/**
 * Builds the test ends, standing in for buildIndex (which needs the model): each reads the folder
 * as it starts, and what it read is served once it publishes, as the server's backend does.
 */
function controlledIndex(corpusDir: string) {
  let served: DocumentSummary[] = [];
  let built: DocumentSummary[] = [];
  const builds: { read: string[]; finish: () => void }[] = [];
  const build = async (): Promise<BuildSummary> => {
    const read = (await listCorpusFiles(corpusDir)).map((e) => e.rel);
    await new Promise<void>((finish) => builds.push({ read, finish }));
    built = read.map((rel) => ({ id: rel.replace(/\.[^.]*$/, ""), title: rel, source: rel, passages: 1 }));
    return buildSummary({ version: `v${builds.length}`, documents: built.length, chunks: built.length });
  };
  const publish = async () => {
    served = built;
  };
  return { builds, build, publish, served: () => served };
}

/** The file's status and whether the list says a build runs, as the page reads them. */
function statusOf(list: DocumentList, name: string): string {
  const file = list.files.find((f) => f.name === name);
  return `${file?.status ?? "missing"}/${list.indexing.busy ? "busy" : "idle"}`;
}

describe("the corpus folder's list while builds run", () => {
  let corpusDir: string;
  let updater: IndexUpdater;
  let library: Library;
  let index: ReturnType<typeof controlledIndex>;
  /** Runs once, while the next list reads the index (after it leased what is served now). */
  let whileListing: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    corpusDir = await mkdtemp(path.join(os.tmpdir(), "citeline-library-"));
    index = controlledIndex(corpusDir);
    updater = createIndexUpdater({ build: index.build, onPublished: index.publish });
    library = createLibrary({
      corpusDir,
      maxUploadBytes: 1024 * 1024,
      maxFiles: 10,
      updater,
      indexed: async () => {
        const snapshot = index.served();
        const during = whileListing;
        whileListing = undefined;
        await during?.();
        return snapshot;
      },
    });
  });
  afterEach(async () => {
    for (const b of index.builds) b.finish();
    await updater.close();
    await rm(corpusDir, { recursive: true, force: true });
  });

  it("lists an upload as indexing, not idle and unindexed, when its build ends while the list is read", async () => {
    await library.add("zorblax.txt", Buffer.from(ZORBLAX));
    await waitFor("the upload's build to read the folder", () => index.builds[0]);
    const seen = [statusOf(await library.list(), "zorblax.txt")];
    whileListing = async () => {
      index.builds[0]!.finish();
      await waitFor("the build to be served", () => (updater.state().busy ? undefined : true));
    };
    seen.push(statusOf(await library.list(), "zorblax.txt"));
    seen.push(statusOf(await library.list(), "zorblax.txt"));
    expect(whileListing).toBeUndefined();
    // An idle list without the file's documents would tell the page to stop looking for them.
    expect(seen).toEqual(["indexing/busy", "indexing/busy", "indexed/idle"]);
  });

  it("lists an upload as indexing until its own build ends, though a build that began before it ends first", async () => {
    // A build the folder watcher asked for, reading the folder before the upload is saved.
    const asked = Date.now();
    void updater.update();
    await waitFor("the watcher's build to read the folder", () => index.builds[0]);
    await library.add("zorblax.txt", Buffer.from(ZORBLAX));
    // File systems stamp a file with their clock's last tick, which lags Date.now() by up to a
    // tick (4 ms at 250 Hz): a file saved just after a build began mostly looks older than that
    // build. Set here, so the test does not depend on where the tick falls.
    const file = path.join(corpusDir, "zorblax.txt");
    await utimes(file, (await stat(file)).atime, new Date(asked - 10));
    const seen = [statusOf(await library.list(), "zorblax.txt")];
    expect(index.builds[0]!.read).toEqual([]);
    index.builds[0]!.finish();
    await waitFor("the upload's build to read the folder", () => index.builds[1]);
    seen.push(statusOf(await library.list(), "zorblax.txt"));
    index.builds[1]!.finish();
    await waitFor("the upload's build to be served", () => (updater.state().busy ? undefined : true));
    seen.push(statusOf(await library.list(), "zorblax.txt"));
    expect(seen).toEqual(["indexing/busy", "indexing/busy", "indexed/idle"]);
  });
});
