/** The Weaviate backend against the port's conformance suite, on a node of its own. */
import { backend } from "../backends/weaviate/index.ts";
import { describeBackendConformance } from "./helpers/backend-conformance.ts";
import { startWeaviate, uniquePrefix } from "./helpers/weaviate.ts";

describeBackendConformance("weaviate", async () => {
  const node = await startWeaviate(1);
  return {
    adapter: backend,
    overrides: {
      backend: "weaviate",
      weaviateUrls: node.urls,
      weaviateGrpc: node.grpc,
      weaviatePrefix: uniquePrefix(),
    },
    cleanup: () => node.stop(),
  };
});
