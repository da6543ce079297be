/**
 * The write side of the Weaviate backend. A build writes version V+1 into the same collections
 * as V (objects tagged addedIn = V+1; documents it replaces or deletes are tagged removedIn = V+1),
 * and publishes by replacing the one Meta object that names the published version. Until then
 * every reader filters by V and sees nothing of the build; an interrupted build is undone by the
 * next one (or by `close`). After publishing, objects that neither V nor V+1 sees are deleted.
 */

import os from "node:os";
import { Filters, type FilterValue, generateUuid5, type WeaviateClient } from "weaviate-client";
import type { BackendWriter, DocumentWrite, OpenWriterOptions, PublishedState } from "../../core/backend.ts";
import { BackendError } from "../../core/backend.ts";
import type { BackendConfig } from "../../core/config.ts";
import { pidAlive } from "../../core/pid.ts";
import { type BatchObject, insertObjects } from "./batch.ts";
import type { NodeEndpoint, Nodes } from "./nodes.ts";
import {
  ALIVE,
  batches,
  type ChunkProps,
  type Collections,
  collections,
  common,
  type DocProps,
  dayOf,
  ensureCollections,
  type LockMeta,
  type Names,
  names,
  PROPERTIES,
  type PublishedMeta,
  type SentenceProps,
  visibleIn,
  WEAVIATE_FORMAT,
} from "./schema.ts";
import { checkCompatible, LOCK_ID, nodesOf, PUBLISHED_ID, readPublished } from "./search.ts";
import { stems } from "./terms.ts";

const INSERT_BATCH = 500;
/** How long one batch request may take; the Nodes call around it has its own, longer limit. */
const INSERT_TIMEOUT_MS = 120_000;

type Versioned = { addedIn: number; removedIn: number; docId: string };

/**
 * Replication factor and shard count: the settings, or else a shard per node and 3 copies (2 on a
 * two-node cluster). Writes go at QUORUM, so with 3 copies indexing goes on while a node is down
 * (2 of 3 answer), and the node catches up by async replication when it is back; with 2 copies
 * every write needs both.
 */
export async function layoutOf(client: WeaviateClient, config: BackendConfig) {
  const nodeCount = (await client.cluster.nodes()).length || 1;
  return {
    replication: Math.min(config.weaviateReplication || 3, nodeCount),
    shards: config.weaviateShards || nodeCount,
  };
}

export async function openWeaviateWriter(
  config: BackendConfig,
  opts: OpenWriterOptions,
): Promise<BackendWriter> {
  const nodes = nodesOf(config);
  const n = names(config.weaviatePrefix);
  const notice = opts.notice ?? (() => {});
  const run = <T>(
    what: string,
    fn: (c: Collections, client: WeaviateClient, node: NodeEndpoint) => Promise<T>,
  ) => nodes.run(what, (client, node) => fn(collections(client, n, "write"), client, node), "write");

  let locked = false;
  let stored: PublishedMeta | undefined;
  let prev: PublishedMeta | undefined;
  let published: PublishedState | undefined;
  try {
    await run("create the collections", async (_c, client) =>
      ensureCollections(client, n, () => layoutOf(client, config)),
    );
    await takeLock(nodes, n);
    locked = true;
    stored = await readPublished(nodes, n);
    if (stored && !opts.full) {
      try {
        checkCompatible(stored, opts.expect, n);
        prev = stored;
      } catch (err) {
        if (!(err instanceof BackendError)) throw err;
        // An older format is rebuilt like any refused index: every document written anew, each
        // chunk's vector taken from the objects it already has (see reusableVectors).
        notice(
          err.code === "INDEX_FORMAT_OLD"
            ? `upgrading the Weaviate index from format ${stored.format ?? 1} to ${WEAVIATE_FORMAT}: every document is written again, with the chunk vectors it has`
            : `rebuilding from scratch: ${err.message.split(";")[0]}`,
        );
      }
    }
    if (prev) {
      const p = prev;
      const docs = await run("read the published documents", async (c) => {
        const out = new Map<string, string>();
        for await (const o of c.doc.iterator({
          returnProperties: ["docId", "hash", "addedIn", "removedIn"],
        })) {
          const x = o.properties;
          if (x.addedIn >= p.base && x.addedIn <= p.version && x.removedIn > p.version)
            out.set(x.docId, x.hash);
        }
        return out;
      });
      published = { version: `v${p.version}`, docs, chunks: p.counts.chunks };
    }
  } catch (err) {
    if (locked) await releaseLock(nodes, n).catch(() => {});
    await nodes.close();
    throw err;
  }

  /** The version readers see now (0: none), the one being built, and where the build starts. */
  const pubV = stored?.version ?? 0;
  const newV = pubV + 1;
  const base = prev ? prev.base : newV;
  // Labels are never reused, also across full rebuilds: the previous version is still served.
  let nextLabel = stored?.nextLabel ?? 0;
  const docs = new Map(published?.docs);
  let began = false;
  let done = false;
  let closed = false;

  const undo = () =>
    run("undo an unfinished build", async (c, _client, node) => {
      for (const coll of [c.doc, c.chunk, c.sentence] as const) {
        await coll.data.deleteMany(common(coll).byProperty("addedIn").greaterThan(pubV));
        await restore(node, coll, pubV);
      }
    });

  /** Tags as removed in newV what version pubV sees of these documents; drops what newV added. */
  const remove = (ids: readonly string[]) =>
    run("delete documents", async (c, _client, node) => {
      for (const part of batches(ids, 100)) {
        for (const coll of [c.doc, c.chunk, c.sentence] as const) {
          const ofDocs = common(coll).byProperty("docId").containsAny(part);
          await coll.data.deleteMany(Filters.and(ofDocs, common(coll).byProperty("addedIn").equal(newV)));
          if (prev)
            await retag(node, coll, Filters.and(ofDocs, visibleIn(coll, pubV, base), alive(coll)), newV);
        }
      }
      for (const id of ids) docs.delete(id);
    });

  return {
    published,
    async begin() {
      if (began) return;
      began = true;
      await undo();
    },
    async reusableVectors(hashes) {
      const out = new Map<string, Float32Array>();
      if (hashes.length === 0) return out;
      await run("read stored vectors", async (c) => {
        // Chunks of any version: an upgrade takes them from the version it replaces.
        for (const part of batches([...new Set(hashes)], 200)) {
          const res = await c.chunk.query.fetchObjects({
            filters: c.chunk.filter.byProperty("ehash").containsAny(part),
            limit: part.length * 2,
            returnProperties: ["ehash"],
            includeVector: true,
          });
          for (const o of res.objects)
            out.set(o.properties.ehash, Float32Array.from(o.vectors.default as number[]));
        }
      });
      return out;
    },
    async deleteDocuments(ids) {
      if (!began) throw new Error("the writer has no staged version: call begin() first");
      await remove(ids);
    },
    async write(batch: readonly DocumentWrite[]) {
      if (!began) throw new Error("the writer has no staged version: call begin() first");
      const replaced = batch.filter((w) => docs.has(w.doc.id)).map((w) => w.doc.id);
      if (replaced.length) await remove(replaced);
      const docObjs: { id: string; properties: DocProps }[] = [];
      const chunkObjs: { id: string; properties: ChunkProps; vectors: number[] }[] = [];
      const sentObjs: { id: string; properties: SentenceProps }[] = [];
      for (const { doc, chunks, sentences } of batch) {
        const day = dayOf(doc.date);
        const pages = doc.pages === undefined ? "" : JSON.stringify(doc.pages);
        const meta = { date: doc.date ?? "", day, url: doc.url ?? "", source: doc.source, pages };
        const v = { addedIn: newV, removedIn: ALIVE };
        docObjs.push({
          id: generateUuid5(`${n.doc}:${doc.id}:${newV}`),
          properties: { docId: doc.id, title: doc.title, hash: doc.hash, text: doc.text, ...meta, ...v },
        });
        for (const c of chunks) {
          const label = nextLabel++;
          chunkObjs.push({
            id: generateUuid5(`${n.chunk}:${label}`),
            properties: {
              label,
              chunkId: c.chunk.id,
              docId: doc.id,
              ordinal: c.chunk.ordinal,
              start: c.chunk.start,
              end: c.chunk.end,
              text: c.chunk.text,
              title: doc.title,
              textStems: stems(c.chunk.text),
              titleStems: stems(doc.title),
              docHash: doc.hash,
              ehash: c.ehash,
              ...meta,
              ...v,
            },
            vectors: Array.from(c.vector),
          });
        }
        for (const s of sentences)
          sentObjs.push({
            id: generateUuid5(`${n.sentence}:${doc.id}:${newV}:${s.span.start}`),
            properties: {
              docId: doc.id,
              title: doc.title,
              start: s.span.start,
              end: s.span.end,
              text: s.span.text,
              ehash: s.ehash,
              ...v,
            },
          });
      }
      // The three collections at once: nothing reads a version before it is published, and
      // Weaviate works on the sentences while the chunks' vectors go into the graph.
      await run("write documents", (c, _client, node) =>
        Promise.all([
          insertAll(node, c.doc, docObjs),
          insertAll(node, c.chunk, chunkObjs),
          insertAll(node, c.sentence, sentObjs),
        ]),
      );
      for (const { doc } of batch) docs.set(doc.id, doc.hash);
    },
    async publish() {
      if (!began) throw new Error("the writer has no staged version: call begin() first");
      const meta = await run("publish the new version", async (c) => {
        const count = async (coll: AnyColl) =>
          (await (coll as Collections["doc"]).aggregate.overAll({ filters: visibleIn(coll, newV, base) }))
            .totalCount;
        const counts = {
          docs: await count(c.doc),
          chunks: await count(c.chunk),
          sentences: await count(c.sentence),
        };
        const edge = async (ascending: boolean) => {
          const res = await c.doc.query.fetchObjects({
            filters: Filters.and(
              visibleIn(c.doc, newV, base),
              c.doc.filter.byProperty("day").greaterOrEqual(1),
            ),
            limit: 1,
            sort: c.doc.sort.byProperty("day", ascending),
            returnProperties: ["date"],
          });
          return res.objects[0]?.properties.date;
        };
        const from = await edge(true);
        const to = await edge(false);
        const next: PublishedMeta = {
          format: WEAVIATE_FORMAT,
          version: newV,
          base,
          model: opts.expect.model,
          chunker: opts.expect.chunker,
          builtAt: new Date().toISOString(),
          counts,
          dateRange: from && to ? { from, to } : null,
          nextLabel,
        };
        // The switch: one object replaced, so a reader sees the old version or the new one.
        const res = await c.meta.data.insertMany([
          { id: PUBLISHED_ID(n), properties: { kind: "published", body: JSON.stringify(next) } },
        ]);
        if (res.hasErrors) throw new Error(Object.values(res.errors)[0]?.message ?? "publish failed");
        return next;
      });
      done = true;
      // Objects neither the previous version nor this one sees; a failure here loses nothing.
      if (stored) {
        const old = stored;
        await run("remove versions no reader uses", async (c) => {
          for (const coll of [c.doc, c.chunk, c.sentence] as const) {
            await coll.data.deleteMany(common(coll).byProperty("removedIn").lessOrEqual(old.version));
            await coll.data.deleteMany(common(coll).byProperty("addedIn").lessThan(old.base));
          }
        }).catch((err) => notice(`old versions were not removed yet: ${(err as Error).message}`));
      }
      return { version: `v${meta.version}`, counts: meta.counts };
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (began && !done) await undo();
      } finally {
        await releaseLock(nodes, n).catch(() => {});
        await nodes.close();
      }
    },
  };
}

function alive(coll: AnyColl): FilterValue {
  return common(coll).byProperty("removedIn").equal(ALIVE);
}

type AnyColl = Collections["doc"] | Collections["chunk"] | Collections["sentence"];

/** Rewrites the matching objects with `removedIn` set (a batch upsert keeps their ids and vectors). */
async function retag(
  node: NodeEndpoint,
  coll: AnyColl,
  where: FilterValue,
  removedIn: number,
): Promise<void> {
  // Every property by name: a fetch leaves blob properties out by default, and the upsert below
  // would drop what it did not read. (The `vec` blob of format 1's sentences is dropped so, on
  // purpose: nothing reads it.)
  const returnProperties =
    PROPERTIES[coll.name.endsWith("Sentence") ? "sentence" : coll.name.endsWith("Chunk") ? "chunk" : "doc"];
  for (;;) {
    const res = await (coll as Collections["chunk"]).query.fetchObjects({
      filters: where,
      limit: INSERT_BATCH,
      includeVector: true,
      returnProperties: returnProperties as never,
    });
    if (res.objects.length === 0) return;
    const objs = res.objects.map((o) => ({
      id: o.uuid,
      properties: { ...(o.properties as Versioned), removedIn },
      ...(o.vectors.default ? { vectors: o.vectors.default as number[] } : {}),
    }));
    await insertAll(node, coll, objs);
  }
}

/** Clears removal tags an unpublished version left (removedIn above the published version). */
async function restore(node: NodeEndpoint, coll: AnyColl, pubV: number): Promise<void> {
  await retag(
    node,
    coll,
    Filters.and(
      common(coll).byProperty("removedIn").greaterThan(pubV),
      common(coll).byProperty("removedIn").lessThan(ALIVE),
    ),
    ALIVE,
  );
}

/** Writes objects in batches of {@link INSERT_BATCH} at QUORUM, as every write of the writer. */
async function insertAll(node: NodeEndpoint, coll: AnyColl, objs: readonly BatchObject[]) {
  for (const part of batches(objs, INSERT_BATCH))
    await insertObjects(node, coll.name, part, "QUORUM", INSERT_TIMEOUT_MS);
}

async function takeLock(nodes: Nodes, n: Names): Promise<void> {
  const me: LockMeta = { host: os.hostname(), pid: process.pid, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    const held = await nodes.run("take the build lock", async (client) => {
      const meta = collections(client, n, "write").meta;
      try {
        await meta.data.insert({ id: LOCK_ID(n), properties: { kind: "lock", body: JSON.stringify(me) } });
        return undefined;
      } catch (err) {
        const obj = await meta.query.fetchObjectById(LOCK_ID(n));
        if (!obj) throw err;
        return JSON.parse(obj.properties.body) as LockMeta;
      }
    });
    if (!held) return;
    if (held.host === me.host && !pidAlive(held.pid)) {
      await nodes.run("take over a stale build lock", (client) =>
        collections(client, n, "write").meta.data.deleteById(LOCK_ID(n)),
      );
      continue;
    }
    throw new BackendError(
      "INDEX_LOCKED",
      `another indexer (pid ${held.pid} on ${held.host}, since ${held.since}) is building the Weaviate index ${n.meta.replace(/Meta$/, "")}; wait for it to finish`,
    );
  }
  throw new BackendError("INDEX_LOCKED", `could not take the build lock in ${n.meta}`);
}

async function releaseLock(nodes: Nodes, n: Names): Promise<void> {
  await nodes.run("release the build lock", async (client) => {
    const meta = collections(client, n, "write").meta;
    const obj = await meta.query.fetchObjectById(LOCK_ID(n));
    if (obj && (JSON.parse(obj.properties.body) as LockMeta).pid === process.pid)
      await meta.data.deleteById(LOCK_ID(n));
  });
}
