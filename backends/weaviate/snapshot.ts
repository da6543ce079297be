/**
 * One published version of the index in Weaviate behind the `IndexSnapshot` port. Every query
 * filters by the version it was opened at (see schema.ts), so a build publishing meanwhile
 * never mixes into an answer.
 */
import { Filters, type FilterValue } from "weaviate-client";
import type {
  ChunkRecord,
  ChunkSpan,
  CorpusFacts,
  DateScope,
  DocumentLead,
  DocumentSummary,
  IndexSnapshot,
  RecurringSentence,
  ScoredChunk,
  SentenceSpan,
} from "../../core/backend.ts";
import type { Doc } from "../../core/types.ts";
import type { Nodes } from "./nodes.ts";
import {
  batches,
  type ChunkProps,
  type Collections,
  collections,
  dayFilter,
  type Names,
  type PublishedMeta,
  visibleIn,
} from "./schema.ts";
import { words } from "./terms.ts";

/** Property boosts of BM25F: title counts 0.6 of text, as in the embedded index (integers only). */
const BM25_PROPERTIES = ["textStems^5", "titleStems^3"];
/** Most objects one fetch returns (Weaviate's default QUERY_MAXIMUM_RESULTS is 10,000). */
const PAGE = 5000;

export function facts(meta: PublishedMeta): CorpusFacts {
  return {
    backend: "weaviate",
    version: `v${meta.version}`,
    model: meta.model,
    builtAt: meta.builtAt,
    counts: meta.counts,
    dateRange: meta.dateRange,
  };
}

export function createSnapshot(nodes: Nodes, n: Names, meta: PublishedMeta): IndexSnapshot {
  const v = meta.version;
  const base = meta.base;
  // Scans of the whole corpus (recurring sentences) get the long timeout of writes.
  const run = <T>(what: string, fn: (c: ReturnType<typeof collections>) => Promise<T>, scan = false) =>
    nodes.run(what, (client) => fn(collections(client, n, "read")), scan ? "write" : "read");
  const and = (...f: (FilterValue | undefined)[]) => {
    const parts = f.filter((x): x is FilterValue => x !== undefined);
    return parts.length === 1 ? parts[0]! : Filters.and(...parts);
  };
  const hit = (o: { properties: Pick<ChunkProps, "label" | "date"> }, score: number): ScoredChunk => ({
    label: o.properties.label,
    score,
    date: o.properties.date || undefined,
  });
  const toRecord = (o: { properties: ChunkProps; vectors: Record<string, unknown> }): ChunkRecord => {
    const p = o.properties;
    const doc: ChunkRecord["doc"] = { id: p.docId, title: p.title, source: p.source, hash: p.docHash };
    if (p.date) doc.date = p.date;
    if (p.url) doc.url = p.url;
    if (p.pages) doc.pages = JSON.parse(p.pages) as number[];
    return {
      chunk: {
        label: p.label,
        id: p.chunkId,
        docId: p.docId,
        ordinal: p.ordinal,
        start: p.start,
        end: p.end,
        text: p.text,
      },
      doc,
      vector: Float32Array.from(o.vectors.default as number[]),
    };
  };

  return {
    facts: facts(meta),
    async dense(vector, k, scope?: DateScope) {
      if (k <= 0) return [];
      return run("search by vector", async (c) => {
        const res = await c.chunk.query.nearVector(Array.from(vector), {
          limit: k,
          filters: and(visibleIn(c.chunk, v, base), dayFilter(c.chunk, scope)),
          returnMetadata: ["distance"],
          returnProperties: ["label", "date"],
        });
        return res.objects.map((o) => hit(o, 1 - (o.metadata?.distance ?? 1)));
      });
    },
    async lexical(terms, k, scope?: DateScope) {
      // BM25 gets the words as plain text; Weaviate reads no operators in it.
      const query = words(terms.join(" ")).join(" ");
      if (!query || k <= 0) return [];
      return run("search by words", async (c) => {
        const res = await c.chunk.query.bm25(query, {
          queryProperties: BM25_PROPERTIES as never,
          limit: k,
          filters: and(visibleIn(c.chunk, v, base), dayFilter(c.chunk, scope)),
          returnMetadata: ["score"],
          returnProperties: ["label", "date"],
        });
        return res.objects.map((o) => hit(o, o.metadata?.score ?? 0));
      });
    },
    async chunks(labels) {
      if (labels.length === 0) return [];
      const found = new Map<number, ChunkRecord>();
      await run("read chunks", async (c) => {
        for (const part of batches([...new Set(labels)], 500)) {
          const res = await c.chunk.query.fetchObjects({
            filters: and(visibleIn(c.chunk, v, base), c.chunk.filter.byProperty("label").containsAny(part)),
            limit: part.length,
            includeVector: true,
          });
          for (const o of res.objects) found.set(o.properties.label, toRecord(o as never));
        }
      });
      return labels.map((l) => found.get(l));
    },
    async document(id) {
      return run("read a document", async (c) => {
        const res = await c.doc.query.fetchObjects({
          filters: and(visibleIn(c.doc, v, base), c.doc.filter.byProperty("docId").equal(id)),
          limit: 1,
        });
        const p = res.objects[0]?.properties;
        if (!p) return undefined;
        const doc: Doc = { id: p.docId, title: p.title, source: p.source, hash: p.hash, text: p.text };
        if (p.date) doc.date = p.date;
        if (p.url) doc.url = p.url;
        if (p.pages) doc.pages = JSON.parse(p.pages) as number[];
        return doc;
      });
    },
    async sentences(spans) {
      return run("read sentences", (c) =>
        Promise.all(
          spans.map(async (s): Promise<SentenceSpan[]> => {
            const res = await c.sentence.query.fetchObjects({
              filters: and(
                visibleIn(c.sentence, v, base),
                c.sentence.filter.byProperty("docId").equal(s.docId),
                c.sentence.filter.byProperty("start").greaterOrEqual(s.start),
                c.sentence.filter.byProperty("end").lessOrEqual(s.end),
              ),
              limit: PAGE,
              returnProperties: ["start", "end"],
            });
            return res.objects
              .map((o) => ({ start: o.properties.start, end: o.properties.end }))
              .sort((a, b) => a.start - b.start);
          }),
        ),
      );
    },
    async docFreq(terms) {
      return run("count documents per term", (c) =>
        Promise.all(
          terms.map(async (t) => {
            const w = words(t);
            if (w.length === 0) return 0;
            return count(
              c.chunk,
              and(
                visibleIn(c.chunk, v, base),
                Filters.or(
                  c.chunk.filter.byProperty("textStems").containsAll(w),
                  c.chunk.filter.byProperty("titleStems").containsAll(w),
                ),
              ),
            );
          }),
        ),
      );
    },
    async countInRange(range) {
      return run("count documents in a range", async (c) => {
        return count(c.doc, and(visibleIn(c.doc, v, base), dayFilter(c.doc, { range })));
      });
    },
    async recentDocuments(limit): Promise<DocumentLead[]> {
      return run("read the newest documents", async (c) => {
        const res = await c.doc.query.fetchObjects({
          filters: visibleIn(c.doc, v, base),
          limit,
          sort: c.doc.sort.byProperty("day", false).byProperty("docId", true),
          returnProperties: ["docId", "title", "text"],
        });
        return res.objects.map((o) => ({
          id: o.properties.docId,
          title: o.properties.title,
          lead: o.properties.text.slice(0, 600),
        }));
      });
    },
    async listDocuments(): Promise<DocumentSummary[]> {
      return run(
        "list the documents",
        async (c) => {
          const groups = await c.chunk.aggregate.groupBy.overAll({
            groupBy: { property: "docId", limit: 10_000_000 },
            filters: visibleIn(c.chunk, v, base),
          });
          const passages = new Map(groups.map((g) => [String(g.groupedBy.value), g.totalCount]));
          const out: DocumentSummary[] = [];
          // The iterator takes no filter: versions are checked here, as the writer does.
          for await (const o of c.doc.iterator({
            returnProperties: ["docId", "title", "date", "source", "pages", "addedIn", "removedIn"],
          })) {
            const p = o.properties;
            if (p.addedIn < base || p.addedIn > v || p.removedIn <= v) continue;
            out.push({
              id: p.docId,
              title: p.title,
              ...(p.date ? { date: p.date } : {}),
              source: p.source,
              ...(p.pages ? { pages: (JSON.parse(p.pages) as number[]).length } : {}),
              passages: passages.get(p.docId) ?? 0,
            });
          }
          return out.sort((a, b) =>
            a.source < b.source ? -1 : a.source > b.source ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
          );
        },
        true,
      );
    },
    async recurringSentences(minTitles): Promise<RecurringSentence[]> {
      return run(
        "find recurring sentences",
        async (c) => {
          // Candidates: hashes that occur at least minTitles times; then distinct titles decide.
          const groups = await c.sentence.aggregate.groupBy.overAll({
            groupBy: { property: "ehash", limit: 100_000 },
            filters: visibleIn(c.sentence, v, base),
          });
          const candidates = groups
            .filter((g) => g.totalCount >= minTitles)
            .map((g) => String(g.groupedBy.value));
          const out: RecurringSentence[] = [];
          for (const part of batches(candidates, 20)) {
            const res = await c.sentence.query.fetchObjects({
              filters: and(
                visibleIn(c.sentence, v, base),
                c.sentence.filter.byProperty("ehash").containsAny(part),
              ),
              limit: PAGE,
              returnProperties: ["ehash", "docId", "title", "start", "end", "text"],
            });
            const byHash = new Map<string, (typeof res.objects)[number]["properties"][]>();
            for (const o of res.objects) {
              const list = byHash.get(o.properties.ehash) ?? [];
              list.push(o.properties);
              byHash.set(o.properties.ehash, list);
            }
            for (const list of byHash.values()) {
              if (new Set(list.map((p) => p.title)).size < minTitles) continue;
              list.sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : a.start - b.start));
              out.push({
                text: list[0]!.text,
                spans: list.map((p) => ({ docId: p.docId, start: p.start, end: p.end })),
              });
            }
          }
          return out;
        },
        true,
      );
    },
    async chunkSpans(docIds): Promise<ChunkSpan[]> {
      if (docIds.length === 0) return [];
      return run("read chunk spans", async (c) => {
        const out: ChunkSpan[] = [];
        for (const part of batches([...new Set(docIds)], 50)) {
          const res = await c.chunk.query.fetchObjects({
            filters: and(visibleIn(c.chunk, v, base), c.chunk.filter.byProperty("docId").containsAny(part)),
            limit: PAGE,
            returnProperties: ["label", "docId", "start", "end"],
          });
          for (const o of res.objects)
            out.push({
              label: o.properties.label,
              docId: o.properties.docId,
              start: o.properties.start,
              end: o.properties.end,
            });
        }
        return out.sort((a, b) => a.label - b.label);
      });
    },
  };
}

/** Most objects a fetch may return on a default Weaviate (QUERY_MAXIMUM_RESULTS). */
const MAX_RESULTS = 10_000;

/**
 * Objects that match a filter. Aggregations in Weaviate 1.35 run at QUORUM whatever the client
 * asks, and fail ("inconsistent consistency levels") while a replica of some shard is down; then
 * the matching objects are fetched at consistency ONE and counted, up to 10,000.
 */
async function count(
  coll: { aggregate: { overAll(o: { filters: FilterValue }): Promise<{ totalCount: number }> } },
  filters: FilterValue,
): Promise<number> {
  try {
    return (await coll.aggregate.overAll({ filters })).totalCount;
  } catch (err) {
    if (!/consisten/i.test((err as Error).message)) throw err;
    const res = await (coll as unknown as Collections["doc"]).query.fetchObjects({
      filters,
      limit: MAX_RESULTS,
      returnProperties: ["addedIn"],
    });
    return res.objects.length;
  }
}
