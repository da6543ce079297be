/**
 * Vectors a build computed before it was interrupted, so the next build continues where it
 * stopped instead of starting from zero. Keyed like every reused vector by `ehash`, the hash of
 * the exact text given to the embedder, and tied to the model that computed them: another model
 * (or dimension, or pooling) finds the cache empty.
 *
 * One SQLite file beside the index (`resume-vectors.db`), written a model batch at a time in WAL
 * mode, so what was committed survives a crash or a kill -9. A build that publishes empties it:
 * the published index holds those vectors from then on.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";

export const RESUME_FILE = "resume-vectors.db";

export class ResumeCache {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;
  private readonly file: string;

  private constructor(file: string, key: string) {
    this.file = file;
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT NOT NULL); CREATE TABLE IF NOT EXISTS vectors (ehash TEXT PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID",
    );
    const stored = this.db.prepare("SELECT key FROM meta").pluck().get() as string | undefined;
    if (stored !== key) {
      // Vectors of another model are of no use: start over.
      this.db.exec("DELETE FROM vectors; DELETE FROM meta");
      this.db.prepare("INSERT INTO meta (key) VALUES (?)").run(key);
    }
    this.getStmt = this.db.prepare("SELECT vector FROM vectors WHERE ehash = ?").pluck();
    this.putStmt = this.db.prepare("INSERT OR REPLACE INTO vectors (ehash, vector) VALUES (?, ?)");
  }

  /** Opens (or creates) the cache in `dir` for vectors of the model `key` describes. */
  static async open(dir: string, key: string): Promise<ResumeCache> {
    await mkdir(dir, { recursive: true });
    return new ResumeCache(path.join(dir, RESUME_FILE), key);
  }

  /** How many vectors it holds. */
  size(): number {
    return this.db.prepare("SELECT COUNT(*) FROM vectors").pluck().get() as number;
  }

  /** The vectors it holds for these hashes; a hash without one is absent from the map. */
  get(hashes: readonly string[]): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const h of hashes) {
      const blob = this.getStmt.get(h) as Buffer | undefined;
      if (!blob) continue;
      // Copied: SQLite's buffer may not be 4-byte aligned.
      const v = new Float32Array(blob.byteLength / 4);
      new Uint8Array(v.buffer).set(blob);
      out.set(h, v);
    }
    return out;
  }

  /** Keeps the vectors of one model batch, in one transaction. */
  put(entries: readonly { ehash: string; vector: Float32Array }[]): void {
    this.db.transaction(() => {
      for (const { ehash, vector } of entries) {
        this.putStmt.run(ehash, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
      }
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Closes and deletes the cache: its vectors are in the published index now. */
  discard(): void {
    this.close();
    for (const f of [this.file, `${this.file}-wal`, `${this.file}-shm`]) {
      if (existsSync(f)) rmSync(f, { force: true });
    }
  }
}
