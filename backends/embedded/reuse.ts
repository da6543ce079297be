/**
 * Chunk vectors an earlier index already holds, found by the hash of the exact embedder input
 * (see `ehash` in ingest/indexer.ts). The indexer takes them instead of running the model again:
 * for the unchanged text of an edited document, and for a whole index of an older format, which
 * is rebuilt in the current one without embedding anything. The sentence vectors formats 2 and 3
 * kept are never read: sentences are no longer embedded.
 */
import path from "node:path";
import Database from "better-sqlite3";
import { ChunkStore } from "./store.ts";
import { VectorIndex } from "./vector-index.ts";
import { DB_FILE, HNSW_FILE, type Manifest } from "./versions.ts";

export interface VectorSource {
  chunk(ehash: string): Float32Array | undefined;
  close(): void;
}

/**
 * An index of format 3 or 4: chunk vectors from its graph by the label the store names. `graph`
 * may be a copy of the index's graph (the writer's staged one), as long as the labels the store
 * names are still in it.
 */
export function storeSource(store: ChunkStore, graph: VectorIndex): VectorSource {
  return {
    chunk(h) {
      const label = store.chunkLabelOf(h);
      if (label === undefined) return undefined;
      try {
        return graph.vector(label);
      } catch {
        // Not in the graph (hnswlib refuses a label it does not hold): the model computes it.
        return undefined;
      }
    },
    close: () => store.close(),
  };
}

/** Format 2 kept a float32 copy of every chunk vector in SQLite (`chunks.vector`). */
function format2Source(dbFile: string): VectorSource {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  const chunk = db.prepare("SELECT vector FROM chunks WHERE ehash = ? LIMIT 1").pluck();
  return {
    chunk(h) {
      const blob = chunk.get(h) as Buffer | undefined;
      if (!blob) return undefined;
      // Copied: SQLite's buffer may not be 4-byte aligned.
      const out = new Float32Array(blob.byteLength / 4);
      new Uint8Array(out.buffer).set(blob);
      return out;
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}

/**
 * Opens the vectors of a published version folder, of the current format or of an upgradable
 * older one (the manifest says which; its files should have been verified).
 */
export function openVectorSource(dir: string, manifest: Manifest): VectorSource {
  if (manifest.format === 2) return format2Source(path.join(dir, DB_FILE));
  const store = new ChunkStore(path.join(dir, DB_FILE), { readonly: true });
  try {
    const graph = VectorIndex.load(path.join(dir, HNSW_FILE), manifest.model.dim, { readonly: true });
    const source = storeSource(store, graph);
    return {
      ...source,
      close: () => {
        source.close();
        graph.close();
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
