import Database from "better-sqlite3";
import type { DocMeta, DocumentSummary, SentenceSpan, StoredChunk } from "../../core/backend.ts";
import { SizedLru } from "../../core/lru.ts";
import type { DateFilter, Doc, Span } from "../../core/types.ts";
import { type Bm25Options, Bm25Ranker } from "./bm25.ts";
import { type ChunkRow, ChunkTable } from "./chunk-table.ts";

export type { DocMeta, StoredChunk };

/**
 * The chunk store: documents, chunks (offsets into their document) and sentence spans in SQLite,
 * with an FTS5 table for BM25 over chunk text and document title. One file, opened read-only by
 * the server. Chunk vectors live in the hnswlib graph beside it (backends/embedded/vector-index.ts),
 * not here, and chunk text is cut from the document's text; sentences have no vector.
 */

/** How the FTS5 table tokenises chunk text, titles and query terms. */
const FTS_TOKENIZE = "porter unicode61 remove_diacritics 2";
/** BM25 weights of the FTS5 columns (title, text) as SQL literals: a title word counts a little less. */
const BM25_WEIGHTS = ["0.6", "1.0"] as const;
const BM25 = `bm25(chunks_fts, ${BM25_WEIGHTS.join(", ")})`;
/** The FTS5 table as the in-memory ranker reads it. */
export const CHUNKS_FTS: Bm25Options = {
  table: "chunks_fts",
  columns: ["title", "text"],
  weights: BM25_WEIGHTS,
  tokenize: FTS_TOKENIZE,
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS docs (
  id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT, source TEXT NOT NULL,
  hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT
);
CREATE INDEX IF NOT EXISTS docs_date ON docs(date);
CREATE TABLE IF NOT EXISTS chunks (
  label INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, ehash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_ehash ON chunks(ehash);
CREATE TABLE IF NOT EXISTS sentences (
  doc_id TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, ehash TEXT NOT NULL,
  PRIMARY KEY (doc_id, start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sentences_ehash ON sentences(ehash);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
  title, text, content='', contentless_delete=1, tokenize='${FTS_TOKENIZE}'
);
`;

export interface LexicalHit {
  label: number;
  /** BM25 score, higher is better (SQLite's bm25() negated). */
  score: number;
}

/** Document frequencies remembered per read-only store (one index version); ~100 bytes each. */
const DOC_FREQ_CACHE = 200_000;
/** Characters of document text a read-only store keeps to cut chunk text from (8–16 MiB). */
const DOC_TEXT_CACHE_CHARS = 8 * 1024 * 1024;
/**
 * Sentence spans a read-only store keeps by chunk: about 110 bytes of heap each with their share
 * of the key (measured with spans of 4–5 a chunk), so 14 MiB, about what 8,192 sentences took when
 * each came with its vector (1.5 KiB).
 */
const SENTENCE_CACHE = 131_072;

export class ChunkStore {
  readonly db: Database.Database;
  private readonly stmts;
  /** False for a version written before PDF support, read-only (no page starts stored). */
  private readonly hasPages: boolean;
  private readonly lexicalStmts = new Map<string, Database.Statement>();
  /**
   * Term statistics of a read-only store never change, so they are computed once per index
   * version rather than per question: answers count a document frequency for every question
   * term, and each is an FTS5 query (about 1 ms per term at 100k chunks). The document date of
   * every chunk, which lexical search with a not-after day reads, is kept the same way.
   */
  private readonly frozen:
    | {
        docFreq: Map<string, number>;
        counts?: ReturnType<ChunkStore["counts"]>;
        labelDates?: { dateOf: Int32Array; dates: string[] };
        /** Recently read document texts, within DOC_TEXT_CACHE_CHARS characters. */
        docTexts: SizedLru<string>;
        chunks?: ChunkTable;
        /** Document metadata read so far (a few hundred bytes per document). */
        docMetas: Map<string, DocMeta | undefined>;
        /** The sentences of recently read chunk spans, within SENTENCE_CACHE sentences. */
        spanSentences: SizedLru<SentenceSpan[]>;
        /** BM25 from postings in memory, opened on the first lexical search. */
        bm25?: Bm25Ranker;
      }
    | undefined;

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    const readonly = opts.readonly ?? false;
    this.db = new Database(file, { readonly, fileMustExist: readonly });
    this.frozen = readonly
      ? {
          docFreq: new Map(),
          docTexts: new SizedLru(DOC_TEXT_CACHE_CHARS, (text) => text.length),
          docMetas: new Map(),
          spanSentences: new SizedLru(SENTENCE_CACHE, (sentences) => sentences.length),
        }
      : undefined;
    if (!opts.readonly) {
      this.db.pragma("journal_mode = DELETE");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(SCHEMA);
    }
    // Page starts (JSON) came with PDF support; a version written before has no such column. The
    // writer adds it; a reader of such a version reads no pages.
    const hasPages = (this.db.pragma("table_info(docs)") as { name: string }[]).some(
      (c) => c.name === "pages",
    );
    if (!readonly && !hasPages) this.db.exec("ALTER TABLE docs ADD COLUMN pages TEXT");
    const pagesColumn = readonly && !hasPages ? "NULL AS pages" : "pages";
    const db = this.db;
    this.hasPages = hasPages;
    this.stmts = {
      insertDoc: db.prepare(
        "INSERT INTO docs (id, title, date, url, source, hash, text, pages) VALUES (@id, @title, @date, @url, @source, @hash, @text, @pages)",
      ),
      insertChunk: db.prepare(
        "INSERT INTO chunks (label, id, doc_id, ordinal, start, end, ehash) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      insertFts: db.prepare("INSERT INTO chunks_fts (rowid, title, text) VALUES (?, ?, ?)"),
      insertSentence: db.prepare("INSERT INTO sentences (doc_id, start, end, ehash) VALUES (?, ?, ?, ?)"),
      chunkLabelsOfDoc: db.prepare("SELECT label FROM chunks WHERE doc_id = ?").pluck(),
      deleteFts: db.prepare("DELETE FROM chunks_fts WHERE rowid = ?"),
      deleteChunks: db.prepare("DELETE FROM chunks WHERE doc_id = ?"),
      deleteSentences: db.prepare("DELETE FROM sentences WHERE doc_id = ?"),
      deleteDoc: db.prepare("DELETE FROM docs WHERE id = ?"),
      docHashes: db.prepare("SELECT id, hash FROM docs"),
      doc: db.prepare(
        `SELECT id, title, date, url, source, hash, text, ${pagesColumn} FROM docs WHERE id = ?`,
      ),
      docMeta: db.prepare(`SELECT id, title, date, url, source, hash, ${pagesColumn} FROM docs WHERE id = ?`),
      chunk: db.prepare("SELECT label, id, doc_id, ordinal, start, end FROM chunks WHERE label = ?"),
      docText: db.prepare("SELECT text FROM docs WHERE id = ?").pluck(),
      chunkLabel: db.prepare("SELECT label FROM chunks WHERE ehash = ? LIMIT 1").pluck(),
      sentencesIn: db.prepare(
        "SELECT start, end FROM sentences WHERE doc_id = ? AND start >= ? AND end <= ? ORDER BY start",
      ),
      maxLabel: db.prepare("SELECT COALESCE(MAX(label), -1) FROM chunks").pluck(),
      allLabels: db.prepare("SELECT label FROM chunks ORDER BY label").pluck(),
      counts: db.prepare(
        "SELECT (SELECT COUNT(*) FROM docs) AS docs, (SELECT COUNT(*) FROM chunks) AS chunks, (SELECT COUNT(*) FROM sentences) AS sentences",
      ),
      dateRange: db.prepare("SELECT MIN(date) AS from_, MAX(date) AS to_ FROM docs WHERE date IS NOT NULL"),
      titles: db.prepare("SELECT title FROM docs ORDER BY date DESC, id LIMIT ?").pluck(),
      docDate: db.prepare("SELECT date FROM docs WHERE id = ?").pluck(),
      docFreq: db.prepare("SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH ?").pluck(),
    };
  }

  close(): void {
    this.frozen?.bm25?.close();
    if (this.db.open) this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  docHashes(): Map<string, string> {
    const rows = this.stmts.docHashes.all() as { id: string; hash: string }[];
    return new Map(rows.map((r) => [r.id, r.hash]));
  }

  nextLabel(): number {
    return (this.stmts.maxLabel.get() as number) + 1;
  }

  /** Removes a document with its chunks and sentences; returns the labels its chunks had. */
  deleteDoc(id: string): number[] {
    const labels = this.stmts.chunkLabelsOfDoc.all(id) as number[];
    for (const label of labels) this.stmts.deleteFts.run(label);
    this.stmts.deleteChunks.run(id);
    this.stmts.deleteSentences.run(id);
    this.stmts.deleteDoc.run(id);
    return labels;
  }

  insertDoc(doc: Doc): void {
    this.stmts.insertDoc.run({
      id: doc.id,
      title: doc.title,
      date: doc.date ?? null,
      url: doc.url ?? null,
      source: doc.source,
      hash: doc.hash,
      text: doc.text,
      pages: doc.pages === undefined ? null : JSON.stringify(doc.pages),
    });
  }

  /** Records a chunk; its vector goes into the vector index under the same label. */
  insertChunk(chunk: StoredChunk, title: string, ehash: string): void {
    this.stmts.insertChunk.run(
      chunk.label,
      chunk.id,
      chunk.docId,
      chunk.ordinal,
      chunk.start,
      chunk.end,
      ehash,
    );
    this.stmts.insertFts.run(chunk.label, title, chunk.text);
  }

  /** Records a sentence's span; `hash` (of its text) groups the sentences that recur. */
  insertSentence(docId: string, span: Span, hash: string): void {
    this.stmts.insertSentence.run(docId, span.start, span.end, hash);
  }

  /** The label of a chunk embedded from the same embedder input, if any: its vector is reusable. */
  chunkLabelOf(ehash: string): number | undefined {
    return this.stmts.chunkLabel.get(ehash) as number | undefined;
  }

  /** Every chunk label, ascending. */
  allLabels(): number[] {
    return this.stmts.allLabels.all() as number[];
  }

  getDoc(id: string): Doc | undefined {
    const row = this.stmts.doc.get(id) as Record<string, string | null> | undefined;
    return row ? rowToDoc(row) : undefined;
  }

  getDocMeta(id: string): DocMeta | undefined {
    const frozen = this.frozen;
    if (frozen?.docMetas.has(id)) {
      const known = frozen.docMetas.get(id);
      return known && { ...known };
    }
    const row = this.stmts.docMeta.get(id) as Record<string, string | null> | undefined;
    let meta: DocMeta | undefined;
    if (row) {
      const { text: _text, ...rest } = rowToDoc({ ...row, text: "" });
      meta = rest;
    }
    frozen?.docMetas.set(id, meta && { ...meta });
    return meta;
  }

  docDate(id: string): string | undefined {
    return (this.stmts.docDate.get(id) as string | null | undefined) ?? undefined;
  }

  getChunk(label: number): StoredChunk | undefined {
    const row = this.chunkRow(label);
    if (!row) return undefined;
    if (this.frozen) {
      // Most chunks a question reads are lexical hits whose vectors alone are wanted (their
      // cosine, for fusion): their text is cut from the document only if it is used, which
      // spares reading whole documents from SQLite for chunks that never become passages.
      if (!this.getDocMeta(row.docId)) return undefined;
      let text: string | undefined;
      const docText = (id: string) => this.docText(id);
      return {
        ...row,
        get text(): string {
          text ??= docText(row.docId)?.slice(row.start, row.end) ?? "";
          return text;
        },
      };
    }
    const text = this.docText(row.docId);
    if (text === undefined) return undefined;
    return { ...row, text: text.slice(row.start, row.end) };
  }

  /** A chunk's row: from the table a read-only store reads once, else from SQLite. */
  private chunkRow(label: number): ChunkRow | undefined {
    if (this.frozen) {
      this.frozen.chunks ??= ChunkTable.read(this.db);
      return this.frozen.chunks.get(label);
    }
    const row = this.stmts.chunk.get(label) as
      | { label: number; id: string; doc_id: string; ordinal: number; start: number; end: number }
      | undefined;
    return (
      row && {
        label: row.label,
        id: row.id,
        docId: row.doc_id,
        ordinal: row.ordinal,
        start: row.start,
        end: row.end,
      }
    );
  }

  /** A document's text; a read-only store keeps the recently read ones (chunk hits cluster). */
  private docText(id: string): string | undefined {
    const cached = this.frozen?.docTexts.get(id);
    if (cached !== undefined) return cached;
    const text = this.stmts.docText.get(id) as string | undefined;
    if (text !== undefined) this.frozen?.docTexts.set(id, text);
    return text;
  }

  /**
   * Sentences of a document that lie wholly inside [start, end). A read-only store keeps them per
   * span: every answer reads the sentences of its passages, and popular passages recur, so the
   * SQL read is paid once per index version rather than per answer. The rows are then shared by
   * every caller: read them, never modify them.
   */
  sentencesIn(docId: string, start: number, end: number): SentenceSpan[] {
    const key = `${docId}\u0000${start}\u0000${end}`;
    const cached = this.frozen?.spanSentences.get(key);
    if (cached) return cached;
    const out = this.stmts.sentencesIn.all(docId, start, end) as SentenceSpan[];
    this.frozen?.spanSentences.set(key, out);
    return out;
  }

  /**
   * BM25 over chunk text and title. `terms` are plain words; each is quoted so no user input is
   * ever read as FTS5 syntax. `filter.notAfter` leaves out documents dated after that day.
   */
  lexicalSearch(
    terms: readonly string[],
    limit: number,
    filter?: DateFilter & { notAfter?: string },
  ): LexicalHit[] {
    if (terms.length === 0) return [];
    const dated = filter?.from !== undefined || filter?.to !== undefined;
    const capped = filter?.notAfter !== undefined;
    const from = filter?.from ?? "0000-00-00";
    const to = filter?.to ?? "9999-99-99";
    const notAfter = filter?.notAfter ?? "";
    const frozen = this.frozen;
    if (frozen) {
      // An index version never changes: its BM25 is served from memory, the same ranking as the
      // SQL below (see backends/embedded/bm25.ts), without FTS5 scoring every matching row per question.
      const accept =
        dated || capped
          ? (label: number) => {
              const date = this.labelDate(frozen, label);
              if (dated && (date === undefined || date < from || date > to)) return false;
              return !capped || date === undefined || date <= notAfter;
            }
          : undefined;
      const hits = this.bm25(frozen).search(terms, limit, accept);
      if (hits) return hits;
    }
    return this.ftsSearch(terms, limit, filter);
  }

  /** {@link lexicalSearch} by an FTS5 query; the writer's path, and the reference the ranker matches. */
  ftsSearch(
    terms: readonly string[],
    limit: number,
    filter?: DateFilter & { notAfter?: string },
  ): LexicalHit[] {
    if (terms.length === 0) return [];
    const match = terms.map((t) => `"${t.replaceAll('"', '""')}"`).join(" OR ");
    const dated = filter?.from !== undefined || filter?.to !== undefined;
    const capped = filter?.notAfter !== undefined;
    const where = [
      ...(dated ? ["d.date IS NOT NULL AND d.date >= @from AND d.date <= @to"] : []),
      ...(capped ? ["(d.date IS NULL OR d.date <= @notAfter)"] : []),
    ];
    const plain = `SELECT rowid AS label, -${BM25} AS score FROM chunks_fts
         WHERE chunks_fts MATCH @match ORDER BY ${BM25} LIMIT @limit`;
    if (where.length === 0) return this.prepared(plain).all({ match, limit }) as LexicalHit[];
    const params: Record<string, string | number> = { match, limit };
    if (dated) Object.assign(params, { from: filter?.from ?? "0000-00-00", to: filter?.to ?? "9999-99-99" });
    if (capped) params.notAfter = filter?.notAfter ?? "";
    const frozen = this.frozen;
    if (!dated && frozen) {
      // Only "nothing after day X", which most chunks pass: the best hits of the plain search,
      // filtered, are the answer whenever enough of them pass. Joining every match with its
      // document before ranking (the fallback) costs four times as much on a news corpus.
      const over = Math.max(limit * 2, limit + 50);
      const hits = this.prepared(plain).all({ match, limit: over }) as LexicalHit[];
      const notAfter = filter?.notAfter ?? "";
      const kept = hits.filter((h) => {
        const date = this.labelDate(frozen, h.label);
        return date === undefined || date <= notAfter;
      });
      if (kept.length >= limit || hits.length < over) return kept.slice(0, limit);
    }
    const sql = `SELECT f.rowid AS label, -${BM25} AS score FROM chunks_fts f
         JOIN chunks c ON c.label = f.rowid JOIN docs d ON d.id = c.doc_id
         WHERE chunks_fts MATCH @match AND ${where.join(" AND ")}
         ORDER BY ${BM25} LIMIT @limit`;
    return this.prepared(sql).all(params) as LexicalHit[];
  }

  /** Bytes the in-memory BM25 of a read-only store holds (0 before its first lexical search). */
  lexicalBytes(): number {
    return this.frozen?.bm25?.bytes() ?? 0;
  }

  private bm25(frozen: NonNullable<ChunkStore["frozen"]>): Bm25Ranker {
    frozen.bm25 ??= Bm25Ranker.open(this.db, CHUNKS_FTS);
    return frozen.bm25;
  }

  /** A lexical-search statement, prepared once per store. */
  private prepared(sql: string): Database.Statement {
    let stmt = this.lexicalStmts.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.lexicalStmts.set(sql, stmt);
    }
    return stmt;
  }

  /** The date of a chunk's document (read-only stores keep every chunk's, about 4 bytes each). */
  chunkDate(label: number): string | undefined {
    if (this.frozen) return this.labelDate(this.frozen, label);
    const date = this.db
      .prepare("SELECT d.date FROM chunks c JOIN docs d ON d.id = c.doc_id WHERE c.label = ?")
      .pluck()
      .get(label) as string | null | undefined;
    return date ?? undefined;
  }

  /** The date of a chunk's document, from a table built once per read-only store. */
  private labelDate(frozen: NonNullable<ChunkStore["frozen"]>, label: number): string | undefined {
    if (!frozen.labelDates) {
      const rows = this.db
        .prepare("SELECT c.label, d.date FROM chunks c JOIN docs d ON d.id = c.doc_id")
        .raw()
        .all() as [number, string | null][];
      let maxLabel = -1;
      for (const [label] of rows) maxLabel = Math.max(maxLabel, label);
      // A day index per label rather than a Map of strings: 4 bytes a chunk against about 70.
      const dateOf = new Int32Array(maxLabel + 1).fill(-1);
      const dates: string[] = [];
      const indexOf = new Map<string, number>();
      for (const [label, date] of rows) {
        if (date === null) continue;
        let i = indexOf.get(date);
        if (i === undefined) {
          i = dates.push(date) - 1;
          indexOf.set(date, i);
        }
        dateOf[label] = i;
      }
      frozen.labelDates = { dateOf, dates };
    }
    const i = frozen.labelDates.dateOf[label] ?? -1;
    return i < 0 ? undefined : frozen.labelDates.dates[i];
  }

  /** Chunks that contain a term (as FTS5 tokenises it). */
  docFreq(term: string): number {
    const known = this.frozen?.docFreq.get(term) ?? this.frozen?.bm25?.cachedDocFreq(term);
    if (known !== undefined) return known;
    const df = this.stmts.docFreq.get(`"${term.replaceAll('"', '""')}"`) as number;
    if (this.frozen) {
      const cache = this.frozen.docFreq;
      // First in, first out: a bound, not a policy; question vocabularies are small.
      if (cache.size >= DOC_FREQ_CACHE) cache.delete(cache.keys().next().value as string);
      cache.set(term, df);
    }
    return df;
  }

  counts(): { docs: number; chunks: number; sentences: number } {
    if (this.frozen?.counts) return { ...this.frozen.counts };
    const counts = this.stmts.counts.get() as { docs: number; chunks: number; sentences: number };
    if (this.frozen) this.frozen.counts = { ...counts };
    return counts;
  }

  dateRange(): { from: string; to: string } | null {
    const row = this.stmts.dateRange.get() as { from_: string | null; to_: string | null };
    return row.from_ && row.to_ ? { from: row.from_, to: row.to_ } : null;
  }

  /** Documents dated within the range, ends included; an undated document is in no range. */
  countInRange(range: { from?: string | undefined; to?: string | undefined }): number {
    const count = this.db
      .prepare("SELECT COUNT(*) FROM docs WHERE date IS NOT NULL AND date >= ? AND date <= ?")
      .pluck()
      .get(range.from ?? "", range.to ?? "\uffff");
    return count as number;
  }

  /** The newest documents (undated last) with the opening of their text. */
  recentDocs(limit: number): { id: string; title: string; lead: string }[] {
    return this.db
      .prepare("SELECT id, title, substr(text, 1, 600) AS lead FROM docs ORDER BY date DESC, id LIMIT ?")
      .all(limit) as { id: string; title: string; lead: string }[];
  }

  /** Every document without its text, by source then id, with its page and passage counts. */
  listDocs(): DocumentSummary[] {
    const pages = this.hasPages ? "json_array_length(d.pages)" : "NULL";
    const rows = this.db
      .prepare(
        `SELECT d.id, d.title, d.date, d.source, ${pages} AS pages,
           (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.id) AS passages
         FROM docs d ORDER BY d.source, d.id`,
      )
      .all() as {
      id: string;
      title: string;
      date: string | null;
      source: string;
      pages: number | null;
      passages: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      title: r.title,
      ...(r.date ? { date: r.date } : {}),
      source: r.source,
      ...(r.pages !== null ? { pages: r.pages } : {}),
      passages: r.passages,
    }));
  }

  recentTitles(limit: number): string[] {
    return this.stmts.titles.all(limit) as string[];
  }
}

function rowToDoc(row: Record<string, string | null>): Doc {
  const doc: Doc = {
    id: row.id as string,
    title: row.title as string,
    source: row.source as string,
    hash: row.hash as string,
    text: row.text as string,
  };
  if (row.date) doc.date = row.date;
  if (row.url) doc.url = row.url;
  if (row.pages) doc.pages = JSON.parse(row.pages) as number[];
  return doc;
}
