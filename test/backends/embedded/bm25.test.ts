/**
 * The in-memory BM25 ranker against FTS5 itself, on real SQLite stores in temp dirs: the same
 * rows, in the same order, with the same scores to the last bit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Bm25Ranker } from "../../../backends/embedded/bm25.ts";
import { Fts5Doclists } from "../../../backends/embedded/fts5-doclist.ts";
import { CHUNKS_FTS, ChunkStore, type LexicalHit } from "../../../backends/embedded/store.ts";

const dir = mkdtempSync(path.join(os.tmpdir(), "citeline-bm25-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Words chosen so that stems collide, diacritics fold, cases differ and some are everywhere. */
const VOCAB = [
  "harbour",
  "harbours",
  "harboured",
  "ferry",
  "ferries",
  "café",
  "cafe",
  "Quay",
  "quay",
  "tide",
  "tides",
  "nets",
  "storm",
  "the",
  "winter",
  "Ødegaard",
  "2023",
  "zorblax",
];

interface Doc {
  id: string;
  title: string;
  date: string | undefined;
  chunks: string[];
}

const word = fc.constantFrom(...VOCAB);
const text = fc.array(word, { minLength: 1, maxLength: 30 }).map((w) => w.join(" "));
const docArb = fc.record({
  title: fc.array(word, { minLength: 0, maxLength: 4 }).map((w) => w.join(" ")),
  date: fc.option(fc.constantFrom("2023-01-05", "2023-02-10", "2023-03-15", "2023-04-20"), {
    nil: undefined,
  }),
  chunks: fc.array(text, { minLength: 1, maxLength: 4 }),
});
/** A corpus, some documents indexed twice over (identical chunks tie), some deleted after. */
const corpusArb: fc.Arbitrary<Corpus> = fc.record({
  docs: fc.array(docArb, { minLength: 1, maxLength: 25 }),
  copies: fc.array(fc.nat(24), { maxLength: 4 }),
  deletes: fc.array(fc.nat(24), { maxLength: 4 }),
  optimize: fc.boolean(),
  // FTS5's smallest leaf pages, so that doclists and position lists run across pages.
  pageSize: fc.constantFrom(undefined, 32, 64),
});
const queryArb = fc.record({
  terms: fc.array(word, { minLength: 1, maxLength: 5 }),
  limit: fc.integer({ min: 1, max: 40 }),
  filter: fc.constantFrom<Record<string, string> | undefined>(
    undefined,
    { notAfter: "2023-02-10" },
    { from: "2023-02-01", to: "2023-03-31" },
    { from: "2023-03-01" },
    { to: "2023-02-10" },
  ),
});

interface Corpus {
  docs: Omit<Doc, "id">[];
  copies: number[];
  deletes: number[];
  optimize: boolean;
  pageSize?: number | undefined;
}

function build(corpus: Corpus): { file: string; dates: Map<number, string | undefined> } {
  const file = path.join(dir, `index-${files++}.db`);
  const w = new ChunkStore(file);
  if (corpus.pageSize)
    w.db.exec(`INSERT INTO chunks_fts(chunks_fts, rank) VALUES('pgsz', ${corpus.pageSize})`);
  const dates = new Map<number, string | undefined>();
  let label = 0;
  const add = (doc: Doc) => {
    const body = doc.chunks.join("\n");
    const date = doc.date ? { date: doc.date } : {};
    w.insertDoc({ id: doc.id, title: doc.title, source: `${doc.id}.txt`, text: body, hash: doc.id, ...date });
    let start = 0;
    doc.chunks.forEach((t, ordinal) => {
      const chunk = {
        label,
        id: `${doc.id}#${ordinal}`,
        docId: doc.id,
        ordinal,
        start,
        end: start + t.length,
        text: t,
      };
      w.insertChunk(chunk, doc.title, `e${label}`);
      dates.set(label++, doc.date);
      start += t.length + 1;
    });
  };
  const docs: Doc[] = corpus.docs.map((d, i) => ({ ...d, id: `doc-${i}` }));
  w.transaction(() => {
    for (const d of docs) add(d);
    for (const c of corpus.copies) {
      const d = docs[c % docs.length] as Doc;
      add({ ...d, id: `${d.id}-copy-${label}` });
    }
  });
  // Deleting from a contentless FTS5 table leaves tombstones until the index is optimised.
  w.transaction(() => {
    for (const d of new Set(corpus.deletes.map((i) => i % docs.length))) {
      for (const l of w.deleteDoc(`doc-${d}`)) dates.delete(l);
    }
  });
  if (corpus.optimize) w.db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')");
  w.close();
  return { file, dates };
}

const match = (terms: readonly string[]) => terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(" OR ");

describe("in-memory BM25", () => {
  it("ranks every query exactly as FTS5's bm25() does: same rows, order and scores", () => {
    fc.assert(
      fc.property(corpusArb, fc.array(queryArb, { minLength: 1, maxLength: 12 }), (corpus, queries) => {
        const { file, dates } = build(corpus);
        const store = new ChunkStore(file, { readonly: true });
        const ranker = Bm25Ranker.open(store.db, CHUNKS_FTS);
        try {
          const sql = store.db.prepare(
            `SELECT rowid AS label, -bm25(chunks_fts, 0.6, 1.0) AS score FROM chunks_fts
             WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 0.6, 1.0) LIMIT ?`,
          );
          let found = false;
          for (const q of queries) {
            const expected = sql.all(match(q.terms), q.limit) as LexicalHit[];
            expect(ranker.search(q.terms, q.limit)).toEqual(expected);
            // With a date filter the store's in-memory path against its FTS5 query (joined with
            // the documents' dates); every vocabulary word is one token, so no fallback is taken.
            expect(store.lexicalSearch(q.terms, q.limit, q.filter)).toEqual(
              store.ftsSearch(q.terms, q.limit, q.filter),
            );
            const all = ranker.search(q.terms, 1000) ?? [];
            for (const hit of all) expect(dates.has(hit.label)).toBe(true);
            found ||= all.length > 0;
          }
          // An optimised index is one segment without tombstones: its postings come from its pages.
          if (corpus.optimize && found) expect(ranker.reads.pages).toBeGreaterThan(0);
        } finally {
          ranker.close();
          store.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("gives the same scores to the last bit, not merely close ones", () => {
    const { file } = build({
      docs: [
        {
          title: "Harbour news",
          date: undefined,
          chunks: ["the harbour ferry left at the tide", "storm nets"],
        },
        { title: "", date: undefined, chunks: ["harbour harbour quay café", "winter tides and the storm"] },
        { title: "Quay", date: undefined, chunks: ["ferries", "zorblax harbour"] },
        // 0.6 added 6, 10, 11 or 12 times is not 0.6 × n in floating point, and FTS5 adds.
        ...[6, 10, 11, 12].map((n) => ({
          title: Array(n).fill("harbour").join(" "),
          date: undefined,
          chunks: ["storm", "tide harbour", "quay quay storm the"],
        })),
        // Rows without the terms, so that no IDF falls to FTS5's floor.
        {
          title: "Winter",
          date: undefined,
          chunks: ["nets", "nets winter", "winter", "2023", "ferry", "nets"],
        },
      ],
      copies: [1],
      deletes: [],
      optimize: true,
    });
    const store = new ChunkStore(file, { readonly: true });
    const ranker = Bm25Ranker.open(store.db, CHUNKS_FTS);
    for (const terms of [["harbour"], ["harbour", "tide", "quay", "storm"], ["storm", "harbour"]]) {
      const mine = ranker.search(terms, 30) ?? [];
      const fts = store.ftsSearch(terms, 30);
      expect(mine.length).toBeGreaterThan(3);
      expect(mine.map((h) => [h.label, h.score])).toStrictEqual(fts.map((h) => [h.label, h.score]));
    }
    ranker.close();
    store.close();
  });

  it("leaves a phrase of several tokens to FTS5, and the store still answers it", () => {
    const { file } = build({
      docs: [{ title: "Rowing", date: undefined, chunks: ["o brien rowed across the harbour", "brien o"] }],
      copies: [],
      deletes: [],
      optimize: false,
    });
    const store = new ChunkStore(file, { readonly: true });
    const ranker = Bm25Ranker.open(store.db, CHUNKS_FTS);
    expect(ranker.search(["o'brien", "harbour"], 5)).toBeUndefined();
    const hits = store.lexicalSearch(["o'brien", "harbour"], 5);
    expect(hits.map((h) => h.label)).toEqual([0]);
    expect(hits).toEqual(store.ftsSearch(["o'brien", "harbour"], 5));
    ranker.close();
    store.close();
  });

  it("counts document frequencies from the postings a search loaded", () => {
    const { file } = build({
      docs: [{ title: "", date: undefined, chunks: ["harbour", "harbours and tides", "nets"] }],
      copies: [],
      deletes: [],
      optimize: true,
    });
    const store = new ChunkStore(file, { readonly: true });
    store.lexicalSearch(["harbour", "nets"], 5);
    expect([
      store.docFreq("harbour"),
      store.docFreq("nets"),
      store.docFreq("tides"),
      store.docFreq("zorblax"),
    ]).toEqual([2, 1, 1, 0]);
    store.close();
  });

  it("reads each term's postings from the leaf pages as fts5vocab counts them, across pages", () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
    let n = 7;
    const next = () => {
      n = (n * 48271) % 2147483647;
      return n;
    };
    // Frequent and rare words, some repeated within a chunk, in titles and text: with 32-byte
    // pages most doclists, and some position lists, run over several pages.
    const docs = Array.from({ length: 80 }, () => ({
      title: Array.from({ length: next() % 3 }, () => words[next() % 8]).join(" "),
      date: undefined,
      chunks: Array.from({ length: 1 + (next() % 3) }, () =>
        Array.from({ length: 5 + (next() % 40) }, () => words[Math.min(next() % 60, next() % 60)]).join(" "),
      ),
    }));
    const { file } = build({ docs, copies: [], deletes: [], optimize: true, pageSize: 32 });
    const store = new ChunkStore(file, { readonly: true });
    store.db.exec(`CREATE VIRTUAL TABLE temp.inst USING fts5vocab(main, "chunks_fts", 'instance');
      CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, "chunks_fts", 'row');`);
    const vocab = store.db.prepare(
      "SELECT doc, col, COUNT(*) FROM temp.inst WHERE term = ? GROUP BY doc, col ORDER BY doc",
    );
    const reader = Fts5Doclists.open(store.db, "chunks_fts", 2);
    expect(reader).toBeDefined();
    const terms = store.db.prepare("SELECT term FROM temp.terms").pluck().all() as string[];
    expect(terms.length).toBeGreaterThan(40);
    let longest = 0;
    for (const term of terms) {
      const labels: number[] = [];
      const counts: number[] = [];
      for (const [doc, col, count] of vocab.raw().all(term) as [number, string, number][]) {
        if (labels.at(-1) !== doc) {
          labels.push(doc);
          counts.push(0, 0);
        }
        counts[counts.length - (col === "title" ? 2 : 1)] = count;
      }
      expect(reader?.postings(term), term).toEqual({ labels, counts });
      longest = Math.max(longest, labels.length);
    }
    // At least one doclist far longer than a 32-byte page holds.
    expect(longest).toBeGreaterThan(50);
    expect(reader?.postings("absent")).toBeUndefined();
    store.close();
  });

  it("leaves an index of several segments, or with deletions, to fts5vocab", () => {
    const docs = [
      { title: "Harbour", date: undefined, chunks: ["harbour ferry", "tide"] },
      { title: "", date: undefined, chunks: ["storm nets harbour"] },
    ];
    const several = build({ docs, copies: [0, 1], deletes: [], optimize: false });
    const written = new ChunkStore(several.file);
    // Each insert outside a transaction of the others is a segment of its own.
    written.insertDoc({ id: "late", title: "Late", source: "late.txt", text: "harbour", hash: "late" });
    written.insertChunk(
      { label: 99, id: "late#0", docId: "late", ordinal: 0, start: 0, end: 7, text: "harbour" },
      "Late",
      "e99",
    );
    written.close();
    const deleted = build({ docs, copies: [], deletes: [1], optimize: false });
    for (const file of [several.file, deleted.file]) {
      const store = new ChunkStore(file, { readonly: true });
      expect(Fts5Doclists.open(store.db, "chunks_fts", 2)).toBeUndefined();
      const ranker = Bm25Ranker.open(store.db, CHUNKS_FTS);
      expect(ranker.search(["harbour", "storm"], 10)).toEqual(store.ftsSearch(["harbour", "storm"], 10));
      expect(ranker.reads).toEqual({ pages: 0, vocab: 2 });
      ranker.close();
      store.close();
    }
  });
});
