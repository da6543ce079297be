import { afterAll } from "vitest";
import { backend } from "../../../backends/weaviate/adapter.ts";
import { loadConfig } from "../../../core/config.ts";
import { startWeaviate, type TestCluster, uniquePrefix } from "../../helpers/weaviate.ts";
import { conformance } from "../conformance.ts";

let cluster: Promise<TestCluster> | undefined;
const node = () => {
  cluster ??= startWeaviate(1);
  return cluster;
};
afterAll(async () => {
  await (await cluster)?.stop();
});

conformance("weaviate", {
  adapter: backend,
  async config() {
    const c = await node();
    return {
      ...loadConfig({}),
      backend: "weaviate",
      weaviateUrls: c.urls,
      weaviateGrpc: c.grpc,
      weaviatePrefix: uniquePrefix(),
    };
  },
  async breakIt() {
    await (await node()).stop();
  },
  brokenCode: "BACKEND_UNAVAILABLE",
});
