import { describe, expect, it } from "vitest";
import { AppError } from "../../core/errors.ts";
import type { BuildSummary } from "../../ingest/indexer.ts";
import { type BuildRequest, createIndexUpdater } from "../../ingest/updater.ts";
import { buildSummary } from "../helpers/build-summary.ts";

const summary = (published: boolean) => buildSummary({ published, documents: 1, chunks: 1, unchanged: 1 });

/** A build that ends when the test says so, recording what it was asked. */
function controlledBuilds() {
  const started: { req: BuildRequest; finish: (err?: Error) => void }[] = [];
  const build = (req: BuildRequest) =>
    new Promise<BuildSummary>((resolve, reject) => {
      started.push({ req, finish: (err) => (err ? reject(err) : resolve(summary(true))) });
    });
  return { started, build };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("the index updater", () => {
  it("runs one build at a time, and serves every request made meanwhile with one next build", async () => {
    const { started, build } = controlledBuilds();
    const published: string[] = [];
    const updater = createIndexUpdater({ build, onPublished: async (s) => void published.push(s.version!) });
    const first = updater.update();
    await tick();
    expect(started).toHaveLength(1);
    expect(updater.state().busy).toBe(true);
    const second = updater.update();
    const third = updater.update({ allowEmpty: true });
    expect(second).toBe(third);
    await tick();
    expect(started).toHaveLength(1);
    started[0]!.finish();
    await expect(first).resolves.toMatchObject({ published: true });
    await tick();
    expect(started).toHaveLength(2);
    // One request of the batch asked to allow an empty corpus: the shared build does.
    expect(started.map((s) => s.req.allowEmpty)).toEqual([false, true]);
    started[1]!.finish();
    await expect(second).resolves.toMatchObject({ published: true });
    expect(published).toEqual(["v1", "v1"]);
    expect(updater.state()).toMatchObject({ busy: false, last: { summary: { published: true } } });
  });

  it("reports a failed build to its callers and in its state, and builds again on the next request", async () => {
    const { started, build } = controlledBuilds();
    const errors: unknown[] = [];
    const updater = createIndexUpdater({ build, onError: (e) => errors.push(e) });
    const failing = updater.update();
    await tick();
    started[0]!.finish(new AppError("INDEX_LOCKED", "another indexer is running"));
    await expect(failing).rejects.toThrow("another indexer is running");
    expect(updater.state().last?.error).toEqual({
      code: "INDEX_LOCKED",
      message: "another indexer is running",
    });
    expect(errors).toHaveLength(1);
    const next = updater.update();
    await tick();
    started[1]!.finish();
    await expect(next).resolves.toMatchObject({ published: true });
    expect(updater.state().last?.error).toBeUndefined();
  });

  it("stops the running build when closed and refuses requests after", async () => {
    const { started, build } = controlledBuilds();
    const updater = createIndexUpdater({ build });
    const running = updater.update();
    running.catch(() => {});
    await tick();
    const closing = updater.close();
    expect(started[0]!.req.signal.aborted).toBe(true);
    started[0]!.finish(new AppError("CANCELLED", "indexing was interrupted"));
    await closing;
    await expect(updater.update()).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
  });
});
