import type { BuildSummary } from "../../ingest/indexer.ts";

/** A build's summary for stand-in builds: nothing added, changed or embedded unless given. */
export function buildSummary(fields: Partial<BuildSummary> = {}): BuildSummary {
  return {
    published: true,
    version: "v1",
    documents: 0,
    chunks: 0,
    added: 0,
    changed: 0,
    removed: 0,
    unchanged: 0,
    embedded: 0,
    reused: 0,
    resumed: 0,
    seconds: 0,
    chunksPerSecond: 0,
    issues: [],
    ...fields,
  };
}
