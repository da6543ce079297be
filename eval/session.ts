/**
 * One evaluation corpus, open for questions: its cached index, the configuration that points at
 * it, and the same engine and retrieval deps the server builds.
 */
import path from "node:path";
import { expectationFor, openSearchBackend } from "../backends/select.ts";
import type { SearchBackend } from "../core/backend.ts";
import { type Config, loadConfig, PROJECT_ROOT } from "../core/config.ts";
import { createEngine, type Engine } from "../core/engine.ts";
import type { AnswerEvent } from "../core/protocol.ts";
import type { RetrievalDeps } from "../core/retrieval.ts";
import type { Progress } from "../ingest/indexer.ts";
import { type CachedIndex, ensureIndex, requireComplete } from "./index-cache.ts";
import type { QueryMemoEmbedder } from "./query-memo.ts";

/** Where cached evaluation indexes live unless told otherwise (`data/` is not committed). */
export const DEFAULT_CACHE_ROOT = path.join(PROJECT_ROOT, "data", "eval-cache");

export interface SessionOptions {
  /** Settings on top of defaults and environment (not the corpus or index folders). */
  overrides: Partial<Config>;
  cacheRoot: string;
  embedder: QueryMemoEmbedder;
  /** Documents in the corpus file, as the dataset loader counted them. */
  expectDocuments: number;
  /**
   * Evaluate on the documents that could be indexed when some could not. Without it, any ingest
   * issue stops the evaluation: a score on part of a corpus must never pass for a score on all of it.
   */
  allowPartial?: boolean;
  /** The corpus file to name in messages (default: the file indexed). */
  source?: string;
  /** An index of a superset of the corpus to start from (see ensureIndex). */
  seedFrom?: string | undefined;
  onIndexProgress?: (p: Progress) => void;
  onNotice?: (line: string) => void;
  signal?: AbortSignal;
}

export interface Session {
  cached: CachedIndex;
  /** Corpus documents the index does not hold (only ever non-zero with `allowPartial`). */
  dropped: number;
  config: Config;
  engine: Engine;
  backend: SearchBackend;
  /** What `retrieve` needs, on the memoising embedder. */
  deps: RetrievalDeps;
  /**
   * Reads the texts of these documents as indexed (the offsets of chunks and citations refer to
   * them) and returns a lookup that answers for them and for the documents read recently.
   */
  docTexts(ids: Iterable<string>): Promise<(id: string) => string | undefined>;
  close(): Promise<void>;
}

/** The documents an answer's events name: its sources and its citations. */
export function citedDocs(events: readonly AnswerEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === "done"
      ? e.citations.map((c) => c.docId)
      : e.type === "sources"
        ? e.sources.map((s) => s.docId)
        : [],
  );
}

/** Builds or reuses the index of `corpusFile` and opens it with the product engine. */
export async function openSession(corpusFile: string, opts: SessionOptions): Promise<Session> {
  const cached = await ensureIndex({
    corpusFile,
    cacheRoot: opts.cacheRoot,
    overrides: opts.overrides,
    embedder: opts.embedder,
    expectDocuments: opts.expectDocuments,
    seedFrom: opts.seedFrom,
    ...(opts.onIndexProgress ? { onProgress: opts.onIndexProgress } : {}),
    ...(opts.onNotice ? { onNotice: opts.onNotice } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const dropped = requireComplete(cached, { ...opts, source: opts.source ?? corpusFile });
  const config = loadConfig({ ...opts.overrides, corpusDir: cached.corpusDir, indexDir: cached.indexDir });
  // A cached evaluation index is fixed: the session reads one snapshot from start to end.
  const backend = await openSearchBackend(
    {
      ...config,
      indexDir: cached.indexDir,
      ...(cached.weaviatePrefix ? { weaviatePrefix: cached.weaviatePrefix } : {}),
    },
    { expect: expectationFor(opts.embedder, config) },
  );
  const engine = createEngine({ config, embedder: opts.embedder, backend });
  const index = backend.current();
  const texts = new Map<string, string | undefined>();
  return {
    cached,
    dropped,
    config,
    engine,
    backend,
    deps: { index, embedder: opts.embedder, config },
    async docTexts(ids) {
      const all = [...new Set(ids)];
      // A handful of gold and cited documents per question; keep the last few hundred.
      if (texts.size + all.length > 256) texts.clear();
      const wanted = all.filter((id) => !texts.has(id));
      const docs = await Promise.all(wanted.map((id) => index.document(id)));
      wanted.forEach((id, i) => void texts.set(id, docs[i]?.text));
      return (id) => texts.get(id);
    },
    close: () => backend.close(),
  };
}
