import type Database from "better-sqlite3";

/**
 * One term's postings read straight from an FTS5 table's leaf pages: for each row that holds the
 * term, how often it occurs in each column.
 *
 * `fts5vocab` returns the same thing one row per occurrence, through SQLite's virtual-table
 * interface, at about 1.8 µs per row: 30 ms for a word in 15k chunks of a 100k-chunk index, on
 * every question that first uses it. Here the term's doclist is decoded from the `%_data` blobs
 * that FTS5 itself reads (the format is documented at the top of SQLite's fts5_index.c): that
 * word took 2.3 ms, and a sample of 3,258 terms about an eighth of the time.
 *
 * Only the layout a published index has is read: one segment (the writer runs `optimize`), no
 * tombstones and no delete markers. Anything else, or anything unexpected on a page, makes
 * `postings` return undefined, and the caller asks `fts5vocab`. test/backends/embedded/bm25.test.ts holds both
 * paths to FTS5's own ranking, on pages small enough that doclists and position lists span pages.
 */
export class Fts5Doclists {
  private constructor(
    private readonly segid: number,
    private readonly lastPage: number,
    private readonly nCol: number,
    private readonly seek: Database.Statement,
    private readonly page: Database.Statement,
  ) {}

  /** A reader for `table`, or undefined when its index is not one segment without deletions. */
  static open(db: Database.Database, table: string, nCol: number): Fts5Doclists | undefined {
    const record = db.prepare(`SELECT block FROM "${table}_data" WHERE id = 10`).pluck().get() as
      | Buffer
      | undefined;
    const segment = record ? onlySegment(record) : undefined;
    if (!segment) return undefined;
    return new Fts5Doclists(
      segment.segid,
      segment.lastPage,
      nCol,
      db
        .prepare(`SELECT pgno FROM "${table}_idx" WHERE segid = ? AND term <= ? ORDER BY term DESC LIMIT 1`)
        .pluck(),
      db.prepare(`SELECT block FROM "${table}_data" WHERE id = ?`).pluck().safeIntegers(),
    );
  }

  /**
   * The rows that hold `token` (one token, as the table's tokenizer writes it), ascending, and
   * its occurrences per column, `nCol` numbers a row. Undefined when the pages do not read as
   * expected, or the term is not there (the caller confirms absence with `fts5vocab`).
   */
  postings(token: string): { labels: number[]; counts: number[] } | undefined {
    // Terms of the main index are stored after the byte '0' (prefix indexes use others).
    const key = Buffer.concat([Buffer.from("0"), Buffer.from(token, "utf8")]);
    const found = this.seek.get(this.segid, key) as number | bigint | undefined;
    if (found === undefined) return undefined;
    let pgno = Number(found) >> 1;
    let leaf = this.leaf(pgno);
    if (!leaf) return undefined;
    const start = findTerm(leaf, key);
    if (!start) return undefined;

    const labels: number[] = [];
    const counts: number[] = [];
    let { pos, end } = start;
    let rowid = 0;
    let absolute = true;
    for (;;) {
      if (pos >= end) {
        // The doclist ends at the next term on the page, or runs on to the next page when the
        // page ends first. There, a doclist that goes on starts with a literal rowid.
        if (end < leaf.size || pgno >= this.lastPage) break;
        const next = this.leaf(++pgno);
        if (!next) return undefined;
        leaf = next;
        const first = leaf.firstRowid;
        if (first === 0) break;
        if (first !== 4) return undefined;
        pos = first;
        end = leaf.leadEnd;
        absolute = true;
      }
      const delta = varint(leaf.bytes, pos);
      pos = after;
      rowid = absolute ? delta : rowid + delta;
      absolute = false;
      const size = varint(leaf.bytes, pos);
      pos = after;
      // An entry marked deleted is never in a merged segment; if one is, FTS5 knows best.
      if (size % 2 === 1) return undefined;
      let remaining = size / 2;
      const base = counts.length;
      for (let c = 0; c < this.nCol; c++) counts.push(0);
      let column = 0;
      let columnNext = false;
      let crossed = false;
      for (;;) {
        const stop = Math.min(end, pos + remaining);
        while (pos < stop) {
          const v = varint(leaf.bytes, pos);
          if (after > stop) return undefined;
          remaining -= after - pos;
          pos = after;
          if (columnNext) {
            column = v;
            columnNext = false;
          } else if (v === 1) columnNext = true;
          else if (column < this.nCol) counts[base + column] = (counts[base + column] as number) + 1;
          else return undefined;
        }
        if (remaining === 0) break;
        // The position list goes on at the start of the next page, up to its first rowid or term.
        if (end < leaf.size || pgno >= this.lastPage) return undefined;
        const next = this.leaf(++pgno);
        if (!next) return undefined;
        leaf = next;
        pos = 4;
        end = leaf.firstRowid === 0 ? leaf.leadEnd : leaf.firstRowid;
        crossed = true;
      }
      if (columnNext) return undefined;
      labels.push(rowid);
      if (crossed) {
        // On the page the list ended on, the next rowid (if the doclist goes on) is literal.
        if (pos === leaf.firstRowid) absolute = true;
        else if (pos !== leaf.leadEnd) return undefined;
        end = leaf.leadEnd;
      }
    }
    return { labels, counts };
  }

  private leaf(pgno: number): Leaf | undefined {
    // A leaf's %_data id is the segment id above 37 bits, then the page number.
    const id = (BigInt(this.segid) << 37n) + BigInt(pgno);
    const bytes = this.page.get(id) as Buffer | undefined;
    if (!bytes || bytes.length < 4) return undefined;
    const firstRowid = bytes.readUInt16BE(0);
    const size = bytes.readUInt16BE(2);
    if (size < 4 || size > bytes.length || (firstRowid !== 0 && (firstRowid < 4 || firstRowid > size)))
      return undefined;
    // The footer: each term's offset on the page, delta-encoded.
    const terms: number[] = [];
    for (let p = size, at = 0; p < bytes.length; ) {
      at += varint(bytes, p);
      p = after;
      if (at < 4 || at >= size) return undefined;
      terms.push(at);
    }
    return { bytes, firstRowid, size, terms, leadEnd: terms[0] ?? size };
  }
}

interface Leaf {
  bytes: Buffer;
  /** Offset of the first rowid on the page when it comes before any term, else 0. */
  firstRowid: number;
  /** Bytes of term and doclist data; the footer follows. */
  size: number;
  /** Offsets of the terms that start on the page. */
  terms: number[];
  /** Where the page's first term starts (the size when none does). */
  leadEnd: number;
}

/** Where `key`'s doclist starts and where the page's part of it ends, if the term is on the page. */
function findTerm(leaf: Leaf, key: Buffer): { pos: number; end: number } | undefined {
  let previous: Buffer = Buffer.alloc(0);
  for (const [i, at] of leaf.terms.entries()) {
    let pos = at;
    let term: Buffer;
    if (i === 0) {
      // The first term on a page is written whole; later ones share a prefix with the one before.
      const n = varint(leaf.bytes, pos);
      term = leaf.bytes.subarray(after, after + n);
      pos = after + n;
    } else {
      const shared = varint(leaf.bytes, pos);
      const fresh = varint(leaf.bytes, after);
      if (shared > previous.length) return undefined;
      term = Buffer.concat([previous.subarray(0, shared), leaf.bytes.subarray(after, after + fresh)]);
      pos = after + fresh;
    }
    const order = Buffer.compare(term, key);
    if (order === 0) return { pos, end: leaf.terms[i + 1] ?? leaf.size };
    if (order > 0) return undefined;
    previous = term;
  }
  return undefined;
}

/**
 * The index's only segment from its structure record, or undefined if there are several, or
 * any tombstones (the second format, of contentless_delete tables, counts them per segment).
 */
function onlySegment(record: Buffer): { segid: number; lastPage: number } | undefined {
  let pos = 4;
  const v2 = record.length >= 8 && record.readUInt32BE(4) === 0xff000001;
  if (v2) pos = 8;
  const read = () => {
    const v = varint(record, pos);
    pos = after;
    return v;
  };
  const levels = read();
  const segments = read();
  read(); // write counter
  if (segments !== 1) return undefined;
  let only: { segid: number; lastPage: number } | undefined;
  for (let l = 0; l < levels; l++) {
    read(); // segments being merged
    const n = read();
    for (let s = 0; s < n; s++) {
      const segid = read();
      read(); // first page
      const lastPage = read();
      if (v2) {
        read(); // origins
        read();
        const tombstonePages = read();
        read(); // tombstone entries
        read(); // entries
        if (tombstonePages !== 0) return undefined;
      }
      only = { segid, lastPage };
    }
  }
  return pos <= record.length ? only : undefined;
}

/** Where the varint {@link varint} read last ended (no object per varint on the hot path). */
let after = 0;

/** An SQLite varint (as FTS5 writes them) at `pos`; sets {@link after} to the offset after it. */
function varint(buf: Uint8Array, pos: number): number {
  let value = 0;
  for (let j = 0; j < 8; j++) {
    const byte = buf[pos++];
    if (byte === undefined) {
      after = Number.POSITIVE_INFINITY;
      return value;
    }
    value = value * 128 + (byte & 0x7f);
    if (byte < 0x80) {
      after = pos;
      return value;
    }
  }
  // The ninth byte contributes all eight bits.
  const ninth = buf[pos];
  if (ninth === undefined) {
    after = Number.POSITIVE_INFINITY;
    return value;
  }
  after = pos + 1;
  return value * 256 + ninth;
}

/** `n` varints from the start of `buf` (fewer if it ends first), as FTS5's records hold them. */
export function readVarints(buf: Uint8Array, n: number): number[] {
  const out: number[] = [];
  for (let pos = 0; out.length < n && pos < buf.length; pos = after) out.push(varint(buf, pos));
  return out;
}
