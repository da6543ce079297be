/**
 * How the index lives in Weaviate: four collections per prefix, versioned by property.
 *
 *   <P>Doc       one object per document version: id, title, date, text, content hash
 *   <P>Chunk     one object per chunk, with its vector (HNSW, cosine, uncompressed) and BM25 over
 *                text and title; the document's metadata rides along so a hit needs no join
 *   <P>Sentence  one object per sentence: span, text and the hash of its text (no vector: sentences
 *                are never embedded, only read by span and grouped by hash)
 *   <P>Meta      two objects: the published version (with the format of what it wrote), and the
 *                build lock
 *
 * Every Doc/Chunk/Sentence object carries `addedIn` (the version that wrote it) and `removedIn`
 * (the version that deleted it; ALIVE while it is live). Version V sees an object when
 * base(V) ≤ addedIn ≤ V < removedIn, where base is the first version of a full rebuild. A build
 * writes version V+1 beside V; readers keep filtering by V until the Meta object names V+1, a
 * single-object write: that is the atomic switch. An interrupted build is undone by deleting
 * what V+1 added and clearing the removals it marked.
 */

import {
  type Collection,
  configure,
  dataType,
  type Filter,
  Filters,
  type FilterValue,
  tokenization,
  vectorIndex,
  type WeaviateClient,
} from "weaviate-client";

/**
 * Bumped when what the collections hold changes; the published-version record names it. Format
 * 2: sentences without a vector (format 1, the records that name no format, gave each an int8
 * vector in a `vec` blob). A Sentence collection made by format 1 keeps `vec` in its schema, as
 * Weaviate cannot drop a property, but no object sets it after the upgrade.
 */
export const WEAVIATE_FORMAT = 2;

/** `removedIn` of a live object. */
export const ALIVE = 2 ** 31 - 1;

export type DocProps = {
  docId: string;
  title: string;
  date: string;
  day: number;
  url: string;
  source: string;
  /** Page starts as JSON (see Doc.pages); "" for a document without pages. */
  pages: string;
  hash: string;
  text: string;
  addedIn: number;
  removedIn: number;
};

export type ChunkProps = {
  label: number;
  chunkId: string;
  docId: string;
  ordinal: number;
  start: number;
  end: number;
  text: string;
  title: string;
  /** Porter stems of the text and title (see terms.ts): what BM25 and document frequencies read. */
  textStems: string;
  titleStems: string;
  date: string;
  day: number;
  url: string;
  source: string;
  /** The document's page starts as JSON; "" for a document without pages. */
  pages: string;
  docHash: string;
  ehash: string;
  addedIn: number;
  removedIn: number;
};

export type SentenceProps = {
  docId: string;
  title: string;
  start: number;
  end: number;
  text: string;
  /** The hash of the sentence's text, which recurring sentences are grouped by. */
  ehash: string;
  addedIn: number;
  removedIn: number;
};

/** Every property of each collection, for reads that must see whole objects. */
export const PROPERTIES = {
  doc: ["docId", "title", "date", "day", "url", "source", "pages", "hash", "text", "addedIn", "removedIn"],
  chunk: [
    "label",
    "chunkId",
    "docId",
    "ordinal",
    "start",
    "end",
    "text",
    "title",
    "textStems",
    "titleStems",
    "date",
    "day",
    "url",
    "source",
    "pages",
    "docHash",
    "ehash",
    "addedIn",
    "removedIn",
  ],
  sentence: ["docId", "title", "start", "end", "text", "ehash", "addedIn", "removedIn"],
} as const satisfies Record<string, readonly string[]>;

export type MetaProps = {
  kind: string;
  /** JSON of {@link PublishedMeta} or {@link LockMeta}. */
  body: string;
};

export interface PublishedMeta {
  /** {@link WEAVIATE_FORMAT} of the build; absent in records format 1 wrote. */
  format?: number;
  version: number;
  base: number;
  model: { name: string; dim: number; pooling: "cls" | "mean" };
  chunker: { maxTokens: number; overlapTokens: number; version: number };
  builtAt: string;
  counts: { docs: number; chunks: number; sentences: number };
  dateRange: { from: string; to: string } | null;
  nextLabel: number;
}

export interface LockMeta {
  host: string;
  pid: number;
  since: string;
}

export interface Names {
  doc: string;
  chunk: string;
  sentence: string;
  meta: string;
}

export function names(prefix: string): Names {
  return {
    doc: `${prefix}Doc`,
    chunk: `${prefix}Chunk`,
    sentence: `${prefix}Sentence`,
    meta: `${prefix}Meta`,
  };
}

export interface Collections {
  doc: Collection<DocProps, string>;
  chunk: Collection<ChunkProps, string>;
  sentence: Collection<SentenceProps, string>;
  meta: Collection<MetaProps, string>;
}

/**
 * Handles on the collections. Reads go with consistency ONE (any live replica answers, so a
 * killed node does not fail a question); writes with QUORUM.
 */
export function collections(client: WeaviateClient, n: Names, mode: "read" | "write"): Collections {
  const level = mode === "read" ? "ONE" : "QUORUM";
  return {
    doc: client.collections.use<string, DocProps>(n.doc).withConsistency(level),
    chunk: client.collections.use<string, ChunkProps>(n.chunk).withConsistency(level),
    sentence: client.collections.use<string, SentenceProps>(n.sentence).withConsistency(level),
    meta: client.collections.use<string, MetaProps>(n.meta).withConsistency(level),
  };
}

export interface Layout {
  replication: number;
  shards: number;
}

const field = (name: string, filterable = true) => ({
  name,
  dataType: dataType.TEXT,
  tokenization: tokenization.FIELD,
  indexFilterable: filterable,
  indexSearchable: false,
});
const stored = (name: string) => ({
  name,
  dataType: dataType.TEXT,
  indexFilterable: false,
  indexSearchable: false,
});
const int = (name: string, range = false) => ({
  name,
  dataType: dataType.INT,
  indexFilterable: true,
  indexRangeFilters: range,
});
const versionProps = [int("addedIn", true), int("removedIn", true)];

/**
 * Creates the collections that do not exist yet. The layout is asked for only then: it counts the
 * nodes, which Weaviate refuses while one is down, and a build must go on with a node down.
 */
export async function ensureCollections(
  client: WeaviateClient,
  n: Names,
  layoutOf: () => Promise<Layout>,
): Promise<void> {
  const all = [n.doc, n.chunk, n.sentence, n.meta];
  const missing = new Set<string>();
  for (const name of all) if (!(await client.collections.exists(name))) missing.add(name);
  if (missing.size === 0) return;
  const layout = await layoutOf();
  // Async replication brings a replica that missed writes (it was down) up to date in the
  // background. A delete made while a replica was down must win over the copy it still holds when
  // it comes back (Weaviate's default keeps such conflicts unresolved, and a read at ONE could
  // then see the deleted object), hence the newest of write and delete wins.
  const replication = configure.replication({
    factor: layout.replication,
    asyncEnabled: layout.replication > 1,
    ...(layout.replication > 1 ? { deletionStrategy: "TimeBasedResolution" as const } : {}),
  });
  const sharding = configure.sharding({ desiredCount: layout.shards });
  const noVectors = configure.vectors.selfProvided({ vectorIndexConfig: vectorIndex.hnsw({ skip: true }) });
  const specs = [
    {
      name: n.doc,
      properties: [
        field("docId"),
        field("title", false),
        field("date", false),
        int("day", true),
        stored("url"),
        stored("source"),
        stored("pages"),
        field("hash", false),
        stored("text"),
        ...versionProps,
      ],
      vectorizers: noVectors,
    },
    {
      name: n.chunk,
      properties: [
        int("label"),
        field("chunkId", false),
        field("docId"),
        int("ordinal"),
        int("start"),
        int("end"),
        stored("text"),
        stored("title"),
        { name: "textStems", dataType: dataType.TEXT, tokenization: tokenization.WHITESPACE },
        { name: "titleStems", dataType: dataType.TEXT, tokenization: tokenization.WHITESPACE },
        field("date", false),
        int("day", true),
        stored("url"),
        stored("source"),
        stored("pages"),
        field("docHash", false),
        field("ehash"),
        ...versionProps,
      ],
      vectorizers: configure.vectors.selfProvided({
        vectorIndexConfig: vectorIndex.hnsw({
          distanceMetric: "cosine",
          // The embedded index's graph settings, and no quantisation (Weaviate ≥ 1.33 compresses
          // new collections by default), so both backends rank the same way.
          maxConnections: 16,
          efConstruction: 200,
          ef: 128,
          quantizer: vectorIndex.quantizer.none(),
        }),
      }),
    },
    {
      name: n.sentence,
      properties: [
        field("docId"),
        field("title", false),
        int("start", true),
        int("end", true),
        stored("text"),
        field("ehash"),
        ...versionProps,
      ],
      vectorizers: noVectors,
    },
    { name: n.meta, properties: [field("kind"), stored("body")], vectorizers: noVectors },
  ];
  // No stopword list: the stems are matched as given, as FTS5 does.
  const invertedIndex = configure.invertedIndex({ stopwordsPreset: "none", bm25k1: 1.2, bm25b: 0.75 });
  for (const spec of specs) {
    if (!missing.has(spec.name)) continue;
    try {
      await client.collections.create({ ...spec, replication, sharding, invertedIndex } as never);
    } catch (err) {
      // Another process created it meanwhile.
      if (!(await client.collections.exists(spec.name))) throw err;
    }
  }
}

type Common = { addedIn: number; removedIn: number; day: number; docId: string };
/** The filter builder of any of the collections, for the properties they share. */
export function common(c: { filter: unknown }): Filter<Common> {
  return c.filter as Filter<Common>;
}

/** Objects version `v` (whose full rebuild started at `base`) sees. */
export function visibleIn(c: { filter: unknown }, v: number, base: number): FilterValue {
  const f = common(c);
  return Filters.and(
    f.byProperty("addedIn").greaterOrEqual(base),
    f.byProperty("addedIn").lessOrEqual(v),
    f.byProperty("removedIn").greaterThan(v),
  );
}

/** YYYY-MM-DD as a whole number (20230115); 0 for an undated document. */
export function dayOf(date: string | undefined): number {
  return date ? Number(date.replaceAll("-", "")) : 0;
}

/** The date filter of a search scope on the `day` property; undefined when there is none. */
export function dayFilter(
  coll: { filter: unknown },
  scope: { range?: { from?: string; to?: string } | undefined; notAfter?: string | undefined } | undefined,
): FilterValue | undefined {
  const c = { filter: common(coll) };
  const parts: FilterValue[] = [];
  const range = scope?.range;
  if (range && (range.from !== undefined || range.to !== undefined)) {
    // An undated document (day 0) is in no range.
    parts.push(c.filter.byProperty("day").greaterOrEqual(Math.max(1, dayOf(range.from))));
    if (range.to !== undefined) parts.push(c.filter.byProperty("day").lessOrEqual(dayOf(range.to)));
  }
  // Undated documents (day 0) are kept by notAfter.
  if (scope?.notAfter !== undefined)
    parts.push(c.filter.byProperty("day").lessOrEqual(dayOf(scope.notAfter)));
  return parts.length ? Filters.and(...parts) : undefined;
}

/** Splits a list into runs of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
