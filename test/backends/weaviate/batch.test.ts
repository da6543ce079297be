import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateUuid5, type WeaviateClient } from "weaviate-client";
import { insertObjects } from "../../../backends/weaviate/batch.ts";
import {
  type ChunkProps,
  ensureCollections,
  names,
  PROPERTIES,
  type SentenceProps,
} from "../../../backends/weaviate/schema.ts";
import { connectClient, startWeaviate, type TestCluster, uniquePrefix } from "../../helpers/weaviate.ts";

let cluster: TestCluster;
let client: WeaviateClient;
const n = names(uniquePrefix());

beforeAll(async () => {
  cluster = await startWeaviate(1);
  client = await connectClient(cluster);
  await ensureCollections(client, n, async () => ({ replication: 1, shards: 1 }));
}, 180_000);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
});

const chunk = (
  label: number,
  vector: number[],
): { id: string; properties: ChunkProps; vectors: number[] } => ({
  id: generateUuid5(`chunk:${label}`),
  properties: {
    label,
    chunkId: `d1#${label}`,
    docId: "d1",
    ordinal: label,
    start: 0,
    end: 9,
    text: "Zürich 🚋 tram",
    title: "Trams",
    textStems: "zürich tram",
    titleStems: "tram",
    date: "2024-03-01",
    day: 20240301,
    url: "",
    source: "a.jsonl",
    pages: "",
    docHash: "h",
    ehash: `e${label}`,
    addedIn: 1,
    removedIn: 2 ** 31 - 1,
  },
  vectors: vector,
});

describe("batch inserts over the REST batch endpoint", () => {
  it("stores chunks with their exact float32 vectors and sentences as spans", async () => {
    // Values that are not exact in float32 as decimals: they must come back bit for bit.
    const v = Float32Array.from({ length: 384 }, (_, i) => Math.sin(i + 0.1) / 7);
    const node = { url: cluster.urls[0]! };
    await insertObjects(
      node,
      n.chunk,
      [chunk(1, Array.from(v)), chunk(2, Array.from(v).reverse())],
      "QUORUM",
      30_000,
    );
    const sentence: SentenceProps = {
      docId: "d1",
      title: "Trams",
      start: 0,
      end: 9,
      text: "Zürich 🚋 tram",
      ehash: "s1",
      addedIn: 1,
      removedIn: 2 ** 31 - 1,
    };
    await insertObjects(
      node,
      n.sentence,
      [{ id: generateUuid5("sentence:1"), properties: sentence }],
      "QUORUM",
      30_000,
    );

    const got = await client.collections
      .use<string, ChunkProps>(n.chunk)
      .query.fetchObjectById(generateUuid5("chunk:1"), { includeVector: true });
    expect(got?.properties.text).toBe("Zürich 🚋 tram");
    expect(got?.properties.day).toBe(20240301);
    expect(Float32Array.from(got?.vectors.default as number[])).toEqual(v);
    const s = await client.collections
      .use<string, SentenceProps>(n.sentence)
      .query.fetchObjectById(generateUuid5("sentence:1"), { includeVector: true });
    expect(s?.properties).toEqual(sentence);
    expect(s?.vectors).toEqual({});
  });

  it("creates collections with exactly the properties the writer reads and rewrites", async () => {
    const listed = { doc: n.doc, chunk: n.chunk, sentence: n.sentence } as const;
    for (const [kind, name] of Object.entries(listed) as [keyof typeof listed, string][]) {
      const config = await client.collections.use(name).config.get();
      expect(config.properties.map((p) => p.name).sort()).toEqual([...PROPERTIES[kind]].sort());
    }
  });

  it("replaces an object written again under the same id (the writer's retagging relies on it)", async () => {
    const node = { url: cluster.urls[0]! };
    const v = Array.from({ length: 384 }, (_, i) => (i % 7) / 10);
    await insertObjects(node, n.chunk, [chunk(3, v)], "QUORUM", 30_000);
    const again = chunk(3, v);
    again.properties.removedIn = 4;
    await insertObjects(node, n.chunk, [again], "QUORUM", 30_000);
    const got = await client.collections.use<string, ChunkProps>(n.chunk).query.fetchObjectById(again.id);
    expect(got?.properties.removedIn).toBe(4);
  });

  it("rejects naming how many objects were not written and why", async () => {
    const node = { url: cluster.urls[0]! };
    const bad = chunk(
      5,
      Array.from({ length: 384 }, () => 0.5),
    );
    (bad.properties as unknown as Record<string, unknown>).ordinal = "five";
    await expect(
      insertObjects(
        node,
        n.chunk,
        [
          chunk(
            4,
            Array.from({ length: 384 }, () => 0.25),
          ),
          bad,
        ],
        "QUORUM",
        30_000,
      ),
    ).rejects.toThrow(/^1 of 2 objects were not written: .*ordinal/);
  });
});
