/**
 * The Weaviate backend (CITELINE_BACKEND=weaviate): the index in a Weaviate node or cluster,
 * with HNSW and BM25 run by Weaviate, sharded and replicated as configured. Loaded only when
 * chosen (see backends/select.ts), so the embedded default never imports the client.
 */
import type { BackendAdapter } from "../../core/backend.ts";
import { openWeaviateSearch } from "./search.ts";
import { openWeaviateWriter } from "./writer.ts";

export const backend: BackendAdapter = {
  name: "weaviate",
  openSearch: openWeaviateSearch,
  openWriter: openWeaviateWriter,
};
