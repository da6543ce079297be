import { describe, expect, it } from "vitest";
import { type BenchResults, markRun, pageComplete } from "../../bench/report.ts";

/** Results with every page part present; the parts' figures do not matter here. */
function full(): BenchResults {
  const some = {} as never;
  return {
    startedAt: "2026-12-07T00:00:00.000Z",
    machine: { cpus: 2, cpuModel: "x", memoryGiB: 24, node: "v20", platform: "linux" },
    model: "bge-small-en-v1.5",
    commands: ["npm run bench"],
    indexing: some,
    scale: some,
    load: some,
    baseline: some,
  };
}

describe("docs/benchmarks.md from bench-results/latest.json", () => {
  it("is written from a full run of every part", () => {
    const r = full();
    markRun(r, ["indexing", "scale", "load", "baseline"], false);
    expect(pageComplete(r)).toBe(true);
  });

  it("is not written while a part kept from an earlier run came from --quick", () => {
    const r = full();
    markRun(r, ["indexing", "scale", "load", "baseline"], false);
    markRun(r, ["scale", "load"], true);
    // A later full run of other parts keeps the quick scale and load figures.
    markRun(r, ["indexing", "baseline"], false);
    expect(r.quickParts).toEqual(["load", "scale"]);
    expect(pageComplete(r)).toBe(false);
    // Running those parts in full again clears them.
    markRun(r, ["scale", "load"], false);
    expect(pageComplete(r)).toBe(true);
  });

  it("is not written while a part is missing", () => {
    const r = full();
    delete r.load;
    expect(pageComplete(r)).toBe(false);
  });
});
