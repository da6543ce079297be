/**
 * The embedded backend, the default: the whole index in one folder on this machine (hnswlib for
 * vectors, SQLite with FTS5 for text, versioned folders published atomically, hot reload).
 */
import type { BackendAdapter } from "../../core/backend.ts";
import { openEmbeddedSearch } from "./search.ts";
import { openEmbeddedWriter } from "./writer.ts";

export const embeddedBackend: BackendAdapter = {
  name: "embedded",
  openSearch: (config, opts) => openEmbeddedSearch(config.indexDir, opts),
  openWriter: (config, opts) => openEmbeddedWriter(config.indexDir, opts),
};
