/** The embedded backend (hnswlib + SQLite in versioned folders) against the port's conformance suite. */
import path from "node:path";
import { embeddedBackend } from "../backends/embedded/index.ts";
import { describeBackendConformance } from "./helpers/backend-conformance.ts";

describeBackendConformance("embedded", async (root) => ({
  adapter: embeddedBackend,
  overrides: { backend: "embedded", indexDir: path.join(root, "index") },
}));
