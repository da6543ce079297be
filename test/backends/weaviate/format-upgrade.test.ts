/**
 * A Weaviate index written by format 1 (an int8 vector of every sentence in a `vec` blob, and a
 * published-version record that names no format), against a real node: refused by the reader
 * with advice to run the indexer, and upgraded by the indexer without embedding anything.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataType, type WeaviateClient } from "weaviate-client";
import { expectationFor } from "../../../backends/select.ts";
import { backend } from "../../../backends/weaviate/adapter.ts";
import { collections, names, type PublishedMeta } from "../../../backends/weaviate/schema.ts";
import { PUBLISHED_ID } from "../../../backends/weaviate/search.ts";
import type { SearchBackend } from "../../../core/backend.ts";
import { type Config, loadConfig } from "../../../core/config.ts";
import type { Embedder } from "../../../core/types.ts";
import { buildIndex } from "../../../ingest/indexer.ts";
import { countingEmbedder, getEmbedder } from "../../helpers/model.ts";
import { connectClient, startWeaviate, type TestCluster, uniquePrefix } from "../../helpers/weaviate.ts";

const CORPUS = {
  "bridge.txt": `Kestrelford harbour bridge

The Kestrelford harbour bridge will close for repairs on 3 March. Engineers found zephyrine corrosion on two of the steel cables last winter. Ferries will run every twenty minutes while the bridge is shut.
`,
  "orchard.txt": `Orchard cooperative

The Pellowmere orchard cooperative picked a record apple harvest this autumn. Members pressed most of the fruit into cider at the old mill.
`,
};

let cluster: TestCluster;
let client: WeaviateClient;
let embedder: Embedder;
let root: string;
let config: Config;
const backends: SearchBackend[] = [];

const open = async () => {
  const b = await backend.openSearch(config, { expect: expectationFor(embedder, config) });
  backends.push(b);
  return b;
};

/** Chunk id → vector, of every chunk the published version holds. */
async function chunkVectors(b: SearchBackend): Promise<Map<string, Float32Array>> {
  const s = b.current();
  const docs = await s.listDocuments();
  const spans = await s.chunkSpans(docs.map((d) => d.id));
  const records = await s.chunks(spans.map((x) => x.label));
  return new Map(records.map((r) => [r!.chunk.id, r!.vector]));
}

beforeAll(async () => {
  cluster = await startWeaviate(1);
  client = await connectClient(cluster);
  embedder = await getEmbedder();
  root = await mkdtemp(path.join(os.tmpdir(), "citeline-weaviate-upgrade-"));
  const corpusDir = path.join(root, "corpus");
  await mkdir(corpusDir);
  for (const [name, text] of Object.entries(CORPUS)) await writeFile(path.join(corpusDir, name), text);
  config = {
    ...loadConfig({ corpusDir, logLevel: "silent" }),
    backend: "weaviate",
    weaviateUrls: cluster.urls,
    weaviateGrpc: cluster.grpc,
    weaviatePrefix: uniquePrefix(),
  };
  await buildIndex({ config, embedder, openWriter: backend.openWriter });
}, 180_000);

afterAll(async () => {
  for (const b of backends) await b.close();
  await client?.close();
  await cluster?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("a Weaviate index of format 1", () => {
  let before: Map<string, Float32Array>;

  it("is refused by a reader with advice to run the indexer", async () => {
    before = await chunkVectors(await open());
    expect(before.size).toBeGreaterThan(0);
    // What format 1 left: a `vec` blob on the Sentence collection, a record that names no format.
    const n = names(config.weaviatePrefix);
    await client.collections.use(n.sentence).config.addProperty({ name: "vec", dataType: dataType.BLOB });
    const meta = collections(client, n, "write").meta;
    const record = await meta.query.fetchObjectById(PUBLISHED_ID(n));
    const { format: _format, ...format1 } = JSON.parse(record!.properties.body) as PublishedMeta;
    await meta.data.replace({
      id: PUBLISHED_ID(n),
      properties: { kind: "published", body: JSON.stringify(format1) },
    });

    await expect(open()).rejects.toMatchObject({
      code: "INDEX_FORMAT_OLD",
      message: `the Weaviate index under ${config.weaviatePrefix} is of format 1; this version reads format 2: run \`npm run index\` to upgrade it (its chunk vectors are reused, nothing is embedded again)`,
    });
  });

  it("is upgraded by the indexer without embedding anything, with the same chunk vectors", async () => {
    const model = countingEmbedder(embedder);
    const notices: string[] = [];
    const s = await buildIndex({
      config,
      embedder: model,
      openWriter: backend.openWriter,
      onNotice: (line) => notices.push(line),
    });
    expect(notices).toContain(
      "upgrading the Weaviate index from format 1 to 2: every document is written again, with the chunk vectors it has",
    );
    expect(model.passages).toBe(0);
    expect(s).toMatchObject({ published: true, added: 2, embedded: 0 });
    expect(s.reused).toBe(s.chunks);

    const upgraded = await open();
    const after = await chunkVectors(upgraded);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, v] of before) expect(after.get(id)).toEqual(v);
    const facts = upgraded.current().facts;
    expect(facts.counts).toMatchObject({ docs: 2, chunks: before.size });
    expect(facts.counts.sentences).toBeGreaterThan(before.size);
  });
});
