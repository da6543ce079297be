/**
 * Run as its own process by the scale benchmark: opens an index and prints the resident memory
 * it added, so the figure is not blurred by the benchmark's own garbage.
 * Usage: node --import tsx bench/open-rss.ts <indexDir> <model> <maxTokens> <overlapTokens>
 */

import { openIndex } from "../backends/embedded/open-version.ts";
import { CHUNKER_VERSION } from "../core/backend.ts";
import type { ModelName } from "../core/config.ts";
import { MODEL_SPECS } from "../embeddings/models.ts";

const [indexDir, model, maxTokens, overlapTokens] = process.argv.slice(2);
const spec = MODEL_SPECS[model as ModelName];
const before = process.memoryUsage().rss;
const index = await openIndex(indexDir!, {
  model: { name: spec.name, dim: spec.dim, pooling: spec.pooling },
  chunker: { maxTokens: Number(maxTokens), overlapTokens: Number(overlapTokens), version: CHUNKER_VERSION },
});
// The HNSW graph is read whole; SQLite pages are mapped as queries touch them.
const after = process.memoryUsage().rss;
index.close();
console.log(JSON.stringify({ rssBytes: after - before }));
