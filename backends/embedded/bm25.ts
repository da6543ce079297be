import Database from "better-sqlite3";
import { Fts5Doclists, readVarints } from "./fts5-doclist.ts";

/**
 * FTS5's `bm25()` ranking of a read-only index, computed from postings held in memory.
 *
 * An FTS5 query scores every row that matches any question term, and for each row FTS5 reads
 * the row's size from its docsize table and walks its position lists: at 100k chunks that was
 * the largest part of an answer's main-thread time. An index version never changes, so its row
 * sizes are read once, and each term's postings (row, and the term's share of the BM25 sum for
 * that row) the first time a question uses the term, within a byte bound. Postings are decoded
 * from FTS5's own leaf pages (backends/embedded/fts5-doclist.ts); an index that is not one segment
 * without deletions is read through `fts5vocab`, about ten times slower.
 *
 * The scores are FTS5's to the last bit, and so is the order: the same formula in the same
 * order of floating-point operations (fts5_aux.c, `fts5Bm25Function`), the logarithm taken by
 * SQLite's own `ln()` (the C library's `log`, as FTS5 uses), the row and token totals read from
 * FTS5's own records, each term tokenised by an FTS5 table with the same tokenizer, and ties
 * broken by ascending rowid as SQLite's sorter breaks them. test/backends/embedded/bm25.test.ts holds it to FTS5.
 */

/** FTS5's constants (fts5_aux.c). */
const K1 = 1.2;
const B = 0.75;
/** FTS5's floor for the IDF of a term in more than half of the rows. */
const MIN_IDF = 1e-6;
/** Postings kept per index version: 12 bytes per (term, row) pair, least recently used dropped. */
const DEFAULT_POSTINGS_BYTES = 48 * 1024 * 1024;
/** How query terms tokenise, remembered per ranker: question vocabularies are small. */
const TOKEN_CACHE = 50_000;

export interface Bm25Options {
  /** The FTS5 table, e.g. `chunks_fts`. */
  table: string;
  /** Its columns in declaration order. */
  columns: readonly string[];
  /** Per-column weights as the SQL literals passed to `bm25()` ("0.6"). */
  weights: readonly string[];
  /** Its tokenizer option, e.g. `porter unicode61 remove_diacritics 2`. */
  tokenize: string;
  postingsBytes?: number;
}

export interface Bm25Hit {
  label: number;
  /** `-bm25()`: higher is better. */
  score: number;
}

interface Postings {
  labels: Int32Array;
  /** `(f·(k1+1)) / (f + k1·(1−b+b·D/avgdl))` of each row, the factor FTS5 multiplies the IDF by. */
  parts: Float64Array;
  idf: number;
}

/** BM25 over one FTS5 table of a read-only database, as FTS5 ranks `"t1" OR "t2" …`. */
export class Bm25Ranker {
  private readonly postings = new Map<string, Postings>();
  private postingsBytes = 0;
  private readonly tokenCache = new Map<string, string[]>();
  private readonly scores: Float64Array;
  private readonly maxBytes: number;
  /** How each term's postings were read: from the leaf pages, or through `fts5vocab`. */
  readonly reads = { pages: 0, vocab: 0 };

  private constructor(
    private readonly rowCount: number,
    /** `k1·(1−b+b·D/avgdl)` by rowid; NaN where there is no row. */
    private readonly norms: Float64Array,
    private readonly weights: readonly number[],
    private readonly columnIndex: ReadonlyMap<string, number>,
    private readonly vocab: Database.Statement,
    private readonly ln: Database.Statement,
    private readonly tokenizer: Tokenizer,
    private readonly doclists: Fts5Doclists | undefined,
    maxBytes: number,
  ) {
    this.scores = new Float64Array(norms.length);
    this.maxBytes = maxBytes;
  }

  /** Reads the table's row sizes and totals (a few MiB at 100k rows); postings load per term. */
  static open(db: Database.Database, opts: Bm25Options): Bm25Ranker {
    const nCol = opts.columns.length;
    const averages = db.prepare(`SELECT block FROM "${opts.table}_data" WHERE id = 1`).pluck().get() as
      | Buffer
      | undefined;
    // The averages record: total rows, then total tokens per column (fts5_index.c).
    const totals = averages ? readVarints(averages, 1 + nCol) : [0];
    const rowCount = totals[0] ?? 0;
    let tokenCount = 0;
    for (let i = 1; i <= nCol; i++) tokenCount += totals[i] ?? 0;
    const avgdl = tokenCount / rowCount;
    const maxRow = db
      .prepare(`SELECT COALESCE(MAX(id), -1) FROM "${opts.table}_docsize"`)
      .pluck()
      .get() as number;
    const norms = new Float64Array(maxRow + 1).fill(Number.NaN);
    const sizes = db.prepare(`SELECT id, sz FROM "${opts.table}_docsize"`).raw().iterate() as Iterable<
      [number, Buffer]
    >;
    for (const [id, sz] of sizes) {
      let d = 0;
      for (const n of readVarints(sz, nCol)) d += n;
      norms[id] = K1 * (1 - B + (B * d) / avgdl);
    }
    // The weights as SQLite reads them from the SQL text, so f sums the same doubles.
    const weights = opts.weights.map((w) => Number(db.prepare(`SELECT ${w}`).pluck().get()));
    db.exec(
      `CREATE VIRTUAL TABLE IF NOT EXISTS temp."${opts.table}_bm25vocab" USING fts5vocab(main, "${opts.table}", 'instance')`,
    );
    const vocab = db
      .prepare(
        `SELECT doc, col, COUNT(*) FROM temp."${opts.table}_bm25vocab" WHERE term = ? GROUP BY doc, col ORDER BY doc`,
      )
      .raw();
    const ln = db.prepare("SELECT ln(?)").pluck();
    return new Bm25Ranker(
      rowCount,
      norms,
      weights,
      new Map(opts.columns.map((c, i) => [c, i])),
      vocab,
      ln,
      new Tokenizer(opts.tokenize),
      Fts5Doclists.open(db, opts.table, nCol),
      opts.postingsBytes ?? DEFAULT_POSTINGS_BYTES,
    );
  }

  /**
   * The best `limit` rows for the query `"t1" OR "t2" …`, best first, as
   * `ORDER BY bm25(table, …weights) LIMIT limit` returns them; `accept` leaves rows out before
   * the limit applies. Undefined when a term is a phrase of several tokens ("o'brien"): the
   * caller asks FTS5.
   */
  search(
    terms: readonly string[],
    limit: number,
    accept?: (label: number) => boolean,
  ): Bm25Hit[] | undefined {
    const phrases: Postings[] = [];
    for (const term of terms) {
      const tokens = this.tokens(term);
      if (tokens.length !== 1) return undefined;
      phrases.push(this.postingsOf(tokens[0] as string));
    }
    if (limit <= 0 || this.rowCount === 0) return [];
    const scores = this.scores;
    const touched: number[] = [];
    // Row by row FTS5 adds the phrases' terms in query order; adding phrase by phrase keeps that
    // order for every row (a phrase absent from a row adds nothing there).
    for (const p of phrases) {
      const { labels, parts, idf } = p;
      for (let i = 0; i < labels.length; i++) {
        const label = labels[i] as number;
        if (scores[label] === 0) touched.push(label);
        scores[label] = (scores[label] as number) + idf * (parts[i] as number);
      }
    }
    const best = new TopK(limit, scores);
    for (const label of touched) if (!accept || accept(label)) best.offer(label);
    const hits = best.sorted().map((label) => ({ label, score: scores[label] as number }));
    for (const label of touched) scores[label] = 0;
    return hits;
  }

  /** Rows that hold a term (one token once tokenised), or undefined if that would need a query. */
  cachedDocFreq(term: string): number | undefined {
    const tokens = this.tokenCache.get(term);
    if (tokens?.length !== 1) return undefined;
    return this.postings.get(tokens[0] as string)?.labels.length;
  }

  private tokens(term: string): string[] {
    let tokens = this.tokenCache.get(term);
    if (!tokens) {
      tokens = this.tokenizer.tokens(term);
      if (this.tokenCache.size >= TOKEN_CACHE)
        this.tokenCache.delete(this.tokenCache.keys().next().value as string);
      this.tokenCache.set(term, tokens);
    }
    return tokens;
  }

  private postingsOf(token: string): Postings {
    const known = this.postings.get(token);
    if (known) {
      this.postings.delete(token);
      this.postings.set(token, known);
      return known;
    }
    const nCol = this.weights.length;
    const { labels, counts } = this.readPostings(token, nCol);
    const parts = new Float64Array(labels.length);
    for (let r = 0; r < labels.length; r++) {
      // FTS5 sums the weight of every instance in position order: columns in declaration order.
      let f = 0;
      for (let c = 0; c < nCol; c++) {
        const w = this.weights[c] as number;
        for (let k = counts[r * nCol + c] as number; k > 0; k--) f += w;
      }
      parts[r] = (f * (K1 + 1.0)) / (f + (this.norms[labels[r] as number] as number));
    }
    const hits = labels.length;
    let idf = this.ln.get((this.rowCount - hits + 0.5) / (hits + 0.5)) as number;
    if (idf <= 0.0) idf = MIN_IDF;
    const p: Postings = { labels: Int32Array.from(labels), parts, idf };
    this.postings.set(token, p);
    this.postingsBytes += bytesOf(p);
    for (const [old, q] of this.postings) {
      if (this.postingsBytes <= this.maxBytes || old === token) break;
      this.postings.delete(old);
      this.postingsBytes -= bytesOf(q);
    }
    return p;
  }

  /** Rows that hold a token, ascending, and its occurrences in each of the `nCol` columns. */
  private readPostings(token: string, nCol: number): { labels: number[]; counts: number[] } {
    const read = this.doclists?.postings(token);
    if (read) {
      this.reads.pages++;
      return read;
    }
    this.reads.vocab++;
    const rows = this.vocab.all(token) as [number, string, number][];
    const labels: number[] = [];
    const counts: number[] = [];
    for (const [doc, col, n] of rows) {
      const c = this.columnIndex.get(col);
      if (c === undefined) continue;
      if (labels[labels.length - 1] !== doc) {
        labels.push(doc);
        for (let i = 0; i < nCol; i++) counts.push(0);
      }
      counts[counts.length - nCol + c] = n;
    }
    return { labels, counts };
  }

  /** Bytes held: row norms, score buffer and postings. */
  bytes(): number {
    return this.norms.byteLength + this.scores.byteLength + this.postingsBytes;
  }

  close(): void {
    this.tokenizer.close();
  }
}

const bytesOf = (p: Postings) => p.labels.byteLength + p.parts.byteLength;

/** Tokenises text as an FTS5 table with the given tokenizer does, through SQLite itself. */
class Tokenizer {
  private readonly db = new Database(":memory:");
  private readonly insert;
  private readonly read;
  private readonly clear;

  constructor(tokenize: string) {
    this.db.exec(
      `CREATE VIRTUAL TABLE t USING fts5(x, tokenize='${tokenize.replaceAll("'", "''")}');
       CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');`,
    );
    this.insert = this.db.prepare("INSERT INTO t (rowid, x) VALUES (1, ?)");
    this.read = this.db.prepare("SELECT term FROM v ORDER BY offset").pluck();
    this.clear = this.db.prepare("DELETE FROM t");
  }

  tokens(text: string): string[] {
    this.insert.run(text);
    const tokens = this.read.all() as string[];
    this.clear.run();
    return tokens;
  }

  close(): void {
    this.db.close();
  }
}

/** The best `limit` rows by score, ties to the lower rowid, kept in a heap with the worst on top. */
class TopK {
  private readonly heap: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly scores: Float64Array,
  ) {}

  /** True when row a ranks below row b. */
  private worse(a: number, b: number): boolean {
    const sa = this.scores[a] as number;
    const sb = this.scores[b] as number;
    return sa < sb || (sa === sb && a > b);
  }

  offer(label: number): void {
    const h = this.heap;
    if (h.length < this.limit) {
      h.push(label);
      let i = h.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(h[i] as number, h[parent] as number)) break;
        [h[i], h[parent]] = [h[parent] as number, h[i] as number];
        i = parent;
      }
      return;
    }
    if (!this.worse(h[0] as number, label)) return;
    h[0] = label;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.worse(h[l] as number, h[m] as number)) m = l;
      if (r < h.length && this.worse(h[r] as number, h[m] as number)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as number, h[i] as number];
      i = m;
    }
  }

  sorted(): number[] {
    return [...this.heap].sort((a, b) => (this.worse(a, b) ? 1 : this.worse(b, a) ? -1 : 0));
  }
}
