/**
 * One published version of the embedded index (SQLite + hnswlib, opened by open-version.ts) behind
 * the `IndexSnapshot` port. Queries run synchronously on the local files; the port's promises
 * only let a networked backend share the same callers.
 */
import type {
  ChunkRecord,
  ChunkSpan,
  CorpusFacts,
  DateScope,
  IndexSnapshot,
  RecurringSentence,
  ScoredChunk,
} from "../../core/backend.ts";
import { inRange } from "../../core/dates.ts";
import type { LoadedIndex } from "./open-version.ts";

const snapshots = new WeakMap<LoadedIndex, IndexSnapshot>();

/** The snapshot of a loaded index; the same object for the same index, so callers may cache on it. */
export function snapshotOf(index: LoadedIndex): IndexSnapshot {
  let s = snapshots.get(index);
  if (!s) {
    s = createSnapshot(index);
    snapshots.set(index, s);
  }
  return s;
}

function createSnapshot(index: LoadedIndex): IndexSnapshot {
  const { store, vectors, manifest } = index;
  const facts: CorpusFacts = {
    backend: "embedded",
    version: index.version,
    model: manifest.model,
    builtAt: manifest.builtAt,
    counts: {
      docs: manifest.counts.docs,
      chunks: manifest.counts.chunks,
      sentences: manifest.counts.sentences,
    },
    dateRange: store.dateRange(),
  };
  // Every chunk's document date, kept by the store from the first search: the vector filter runs
  // per label.
  const dateOf = (label: number): string | undefined => store.chunkDate(label);
  const accepts = (scope: DateScope | undefined) => {
    const range = scope?.range;
    const notAfter = scope?.notAfter;
    if (!range && notAfter === undefined) return undefined;
    return (label: number) => {
      const date = dateOf(label);
      if (range && !inRange(date, range)) return false;
      return notAfter === undefined || date === undefined || date <= notAfter;
    };
  };
  const dated = <T extends { label: number }>(hits: T[]): (T & { date: string | undefined })[] =>
    hits.map((h) => ({ ...h, date: dateOf(h.label) }));

  return {
    facts,
    async dense(vector, k, scope): Promise<ScoredChunk[]> {
      return dated(vectors.search(vector, k, accepts(scope)));
    },
    async lexical(terms, k, scope): Promise<ScoredChunk[]> {
      const filter = { ...scope?.range, ...(scope?.notAfter ? { notAfter: scope.notAfter } : {}) };
      return dated(store.lexicalSearch(terms, k, filter));
    },
    async chunks(labels) {
      return labels.map((label): ChunkRecord | undefined => {
        const chunk = store.getChunk(label);
        const doc = chunk && store.getDocMeta(chunk.docId);
        if (!chunk || !doc) return undefined;
        return { chunk, doc, vector: vectors.vector(label) };
      });
    },
    async document(id) {
      return store.getDoc(id);
    },
    async sentences(spans) {
      return spans.map((s) => store.sentencesIn(s.docId, s.start, s.end));
    },
    async docFreq(terms) {
      return terms.map((t) => store.docFreq(t));
    },
    async countInRange(range) {
      return store.countInRange(range);
    },
    async recentDocuments(limit) {
      return store.recentDocs(limit);
    },
    async listDocuments() {
      return store.listDocs();
    },
    async recurringSentences(minTitles): Promise<RecurringSentence[]> {
      const hashes = store.db
        .prepare(
          `SELECT s.ehash FROM sentences s JOIN docs d ON d.id = s.doc_id
           GROUP BY s.ehash HAVING COUNT(DISTINCT d.title) >= ?`,
        )
        .pluck()
        .all(minTitles) as string[];
      const spansOf = store.db.prepare("SELECT doc_id AS docId, start, end FROM sentences WHERE ehash = ?");
      return hashes.map((h) => {
        const spans = spansOf.all(h) as { docId: string; start: number; end: number }[];
        const first = spans[0];
        const text = (first && store.getDoc(first.docId)?.text.slice(first.start, first.end)) ?? "";
        return { text, spans };
      });
    },
    async chunkSpans(docIds): Promise<ChunkSpan[]> {
      const chunksOf = store.db.prepare("SELECT label, start, end FROM chunks WHERE doc_id = ?");
      return docIds.flatMap((docId) =>
        (chunksOf.all(docId) as { label: number; start: number; end: number }[]).map((c) => ({
          ...c,
          docId,
        })),
      );
    },
  };
}
