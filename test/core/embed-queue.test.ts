import { beforeAll, describe, expect, it } from "vitest";
import type { IndexSnapshot } from "../../core/backend.ts";
import { DEFAULTS } from "../../core/config.ts";
import { EmbedQueue } from "../../core/embed-queue.ts";
import { gatherCandidates } from "../../core/retrieval.ts";
import { type Embedder, forwarding } from "../../core/types.ts";
import { getEmbedder } from "../helpers/model.ts";

let embedder: Embedder;
beforeAll(async () => {
  embedder = await getEmbedder();
}, 120_000);

describe("EmbedQueue", () => {
  it("answers a repeated question from its cache with the vector the model gave, a copy each time", async () => {
    const queue = new EmbedQueue(embedder);
    const first = await queue.embed("Who is China's foreign minister?");
    const again = await queue.embed("Who is China's foreign minister?");
    expect(queue.stats).toEqual({ batches: 1, texts: 1, cached: 1 });
    expect(again).toEqual(first);
    again[0] = 42;
    expect(await queue.embed("Who is China's foreign minister?")).toEqual(first);
    const [direct] = await embedder.embed(["Who is China's foreign minister?"], "query");
    expect(first).toEqual(direct);
  });

  it("forgets the least recently used question beyond its size, and keeps nothing with size 0", async () => {
    const queue = new EmbedQueue(embedder, 32, 2, 2);
    await queue.embed("one");
    await queue.embed("two");
    await queue.embed("one");
    await queue.embed("three");
    expect(queue.stats).toMatchObject({ texts: 3, cached: 1 });
    await queue.embed("one");
    await queue.embed("two");
    expect(queue.stats).toMatchObject({ texts: 4, cached: 2 });

    const none = new EmbedQueue(embedder, 32, 2, 0);
    await none.embed("one");
    await none.embed("one");
    expect(none.stats).toMatchObject({ texts: 2, cached: 0 });
  });

  it("gets a hybrid search's question to the model before BM25 takes the main thread", async () => {
    const events: string[] = [];
    const spy: Embedder = {
      ...forwarding(embedder),
      embed: (texts, kind) => {
        events.push("model");
        return embedder.embed(texts, kind);
      },
    };
    const queue = new EmbedQueue(spy, 32, 2, 0);
    // Only what gathering candidates reads; the question goes through the real queue and model.
    const index = {
      facts: {},
      dense: async () => {
        events.push("dense");
        return [];
      },
      lexical: async () => {
        events.push("lexical");
        return [];
      },
      chunks: async () => [],
    } as unknown as IndexSnapshot;
    const deps = { index, embedder: spy, config: DEFAULTS, embedQuery: (t: string) => queue.embed(t) };
    const c = await gatherCandidates(deps, "Who is China's foreign minister?", { k: 5 });
    expect(c.queryVector).toHaveLength(384);
    expect(events).toEqual(["model", "lexical", "dense"]);
  });
});
