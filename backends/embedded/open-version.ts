import path from "node:path";
import { AppError } from "../../core/errors.ts";
import { ChunkStore } from "./store.ts";
import { VectorIndex } from "./vector-index.ts";
import {
  type ChunkerInfo,
  checkCompatible,
  currentVersion,
  DB_FILE,
  HNSW_FILE,
  type Manifest,
  type ModelInfo,
  readManifest,
  verifyFiles,
  versionDir,
} from "./versions.ts";

/** A published index, open for reading. */
export interface LoadedIndex {
  version: string;
  dir: string;
  manifest: Manifest;
  store: ChunkStore;
  vectors: VectorIndex;
  close(): void;
}

export interface IndexExpectation {
  model: ModelInfo;
  chunker: ChunkerInfo;
}

/**
 * Opens the published index and checks it: manifest, model and chunker settings, file sizes and
 * checksums. Every refusal names what to run.
 */
export async function openIndex(indexDir: string, expect: IndexExpectation): Promise<LoadedIndex> {
  const version = currentVersion(indexDir);
  if (!version) {
    throw new AppError("INDEX_MISSING", `no index has been built in ${indexDir}; run \`npm run index\``);
  }
  return openVersion(indexDir, version, expect);
}

export async function openVersion(
  indexDir: string,
  version: string,
  expect: IndexExpectation,
): Promise<LoadedIndex> {
  const dir = versionDir(indexDir, version);
  const manifest = readManifest(dir);
  checkCompatible(manifest, expect.model, expect.chunker);
  await verifyFiles(dir, manifest);
  let store: ChunkStore | undefined;
  try {
    store = new ChunkStore(path.join(dir, DB_FILE), { readonly: true });
    const counts = store.counts();
    if (counts.chunks !== manifest.counts.chunks || counts.docs !== manifest.counts.docs) {
      throw new AppError(
        "INDEX_CORRUPT",
        `${dir} holds ${counts.docs} documents and ${counts.chunks} chunks but its manifest says ${manifest.counts.docs} and ${manifest.counts.chunks}; run \`npm run index -- --full\``,
      );
    }
    const vectors = VectorIndex.load(path.join(dir, HNSW_FILE), manifest.model.dim, { readonly: true });
    const opened = store;
    return {
      version,
      dir,
      manifest,
      store: opened,
      vectors,
      close: () => {
        opened.close();
        vectors.close();
      },
    };
  } catch (err) {
    store?.close();
    if (err instanceof AppError) throw err;
    throw new AppError(
      "INDEX_CORRUPT",
      `cannot open the index in ${dir}: ${(err as Error).message}; run \`npm run index -- --full\``,
    );
  }
}
