import type Database from "better-sqlite3";

/** A chunk's place, as the chunk table stores it (its text is cut from the document). */
export interface ChunkRow {
  label: number;
  id: string;
  docId: string;
  ordinal: number;
  start: number;
  end: number;
}

/**
 * Every chunk row of a read-only index version in typed arrays, read once: an answer reads
 * dozens of chunks, and one SQLite lookup each was a tenth of its time. About 20 bytes per chunk
 * (2 MiB per 100k), against ~150 bytes as one object per row.
 */
export class ChunkTable {
  private constructor(
    /** Row of each label, -1 for none. */
    private readonly rowOf: Int32Array,
    private readonly docOf: Int32Array,
    private readonly ordinals: Int32Array,
    private readonly starts: Int32Array,
    private readonly ends: Int32Array,
    private readonly docIds: string[],
    /** Chunk ids other than `<doc id>#<ordinal>` (the chunker's form), by label. */
    private readonly otherIds: Map<number, string>,
  ) {}

  static read(db: Database.Database): ChunkTable {
    const n = db.prepare("SELECT COUNT(*) FROM chunks").pluck().get() as number;
    const maxLabel = db.prepare("SELECT COALESCE(MAX(label), -1) FROM chunks").pluck().get() as number;
    const rowOf = new Int32Array(maxLabel + 1).fill(-1);
    const docOf = new Int32Array(n);
    const ordinals = new Int32Array(n);
    const starts = new Int32Array(n);
    const ends = new Int32Array(n);
    const docIds: string[] = [];
    const docIndex = new Map<string, number>();
    const otherIds = new Map<number, string>();
    const rows = db
      .prepare("SELECT label, id, doc_id, ordinal, start, end FROM chunks ORDER BY label")
      .raw()
      .iterate() as Iterable<[number, string, string, number, number, number]>;
    let i = 0;
    for (const [label, id, docId, ordinal, start, end] of rows) {
      let d = docIndex.get(docId);
      if (d === undefined) {
        d = docIds.push(docId) - 1;
        docIndex.set(docId, d);
      }
      rowOf[label] = i;
      docOf[i] = d;
      ordinals[i] = ordinal;
      starts[i] = start;
      ends[i] = end;
      if (id !== `${docId}#${ordinal}`) otherIds.set(label, id);
      i++;
    }
    return new ChunkTable(rowOf, docOf, ordinals, starts, ends, docIds, otherIds);
  }

  get(label: number): ChunkRow | undefined {
    const i = Number.isInteger(label) && label >= 0 ? this.rowOf[label] : undefined;
    if (i === undefined || i < 0) return undefined;
    const docId = this.docIds[this.docOf[i]!]!;
    const ordinal = this.ordinals[i]!;
    return {
      label,
      id: this.otherIds.get(label) ?? `${docId}#${ordinal}`,
      docId,
      ordinal,
      start: this.starts[i]!,
      end: this.ends[i]!,
    };
  }
}
