/**
 * `npm run weaviate -- <install|up|down|status>`: the pinned Weaviate binary and a local node or
 * cluster on loopback for CITELINE_BACKEND=weaviate. Nothing here runs for the embedded backend.
 */
import os from "node:os";
import path from "node:path";
import { parseCommand, positiveInt, runCli, usageError } from "./cli.ts";
import {
  binaryPath,
  clusterSpec,
  downCluster,
  installWeaviate,
  isWeaviate,
  readState,
  upCluster,
  WEAVIATE_VERSION,
} from "./weaviate-local.ts";

const DEFAULT_ROOT = path.join(os.homedir(), ".cache", "citeline", "weaviate-data", "default");
const DEFAULT_PORT = 8080;

const COMMAND = {
  usage: "usage: npm run weaviate -- <install|up|down|status> [--nodes N] [--port P] [--data DIR] [--wipe]",
  summary: `Installs Weaviate ${WEAVIATE_VERSION} (go install, cached in ~/.cache/citeline) and runs one node or an N-node cluster on 127.0.0.1.`,
  options: {
    nodes: { type: "string" },
    port: { type: "string" },
    data: { type: "string" },
    wipe: { type: "boolean" },
  },
  help: [
    "install                build the pinned binary when it is missing",
    "up                     start the node(s), wait until the cluster is healthy",
    "down                   stop the node(s) started from --data, by pid",
    "status                 which nodes run, with their ports",
    "--nodes N              nodes in the cluster (default 1; with 3, three copies of each shard: indexing and answers go on with a node down)",
    `--port P               HTTP port of node1 (default ${DEFAULT_PORT}); node i uses P+8(i-1) .. P+8(i-1)+7`,
    `--data DIR             data folders and pid file (default ${DEFAULT_ROOT})`,
    "--wipe                 with down: delete the data folders too",
  ],
} as const;

await runCli(async () => {
  const argv = process.argv.slice(2);
  const action = argv[0]?.startsWith("-") ? undefined : argv[0];
  const values = parseCommand(COMMAND, action ? argv.slice(1) : argv);
  const root = path.resolve(values.data ?? DEFAULT_ROOT);
  switch (action) {
    case "install": {
      const binary = await installWeaviate(binaryPath(), (l) => console.log(l));
      console.log(`weaviate-server ${WEAVIATE_VERSION}: ${binary}`);
      return;
    }
    case "up": {
      const nodes = positiveInt("--nodes", values.nodes, 9, COMMAND.usage) ?? 1;
      const basePort = positiveInt("--port", values.port, 65_000, COMMAND.usage) ?? DEFAULT_PORT;
      const spec = clusterSpec({
        root,
        nodes,
        basePort,
        binary: await installWeaviate(binaryPath(), console.log),
      });
      const state = await upCluster(spec);
      for (const n of state.nodes)
        console.log(
          `${n.name}: http 127.0.0.1:${n.ports.http}  grpc ${n.ports.grpc}  pid ${state.pids[n.name]}  data ${n.dataDir}`,
        );
      const urls = state.nodes.map((n) => `http://127.0.0.1:${n.ports.http}`).join(",");
      const grpc = state.nodes.map((n) => `127.0.0.1:${n.ports.grpc}`).join(",");
      console.log(
        `export CITELINE_BACKEND=weaviate CITELINE_WEAVIATE_URL=${urls} CITELINE_WEAVIATE_GRPC=${grpc}`,
      );
      return;
    }
    case "down": {
      const stopped = await downCluster(root, { wipe: values.wipe ?? false });
      console.log(stopped.length ? `stopped ${stopped.join(", ")}` : "no node was running");
      return;
    }
    case "status": {
      const state = readState(root);
      if (!state) {
        console.log(`no cluster in ${root}`);
        return;
      }
      for (const n of state.nodes) {
        const pid = state.pids[n.name];
        const up = pid !== undefined && isWeaviate(pid);
        console.log(`${n.name}: ${up ? `running, pid ${pid}` : "stopped"}  http 127.0.0.1:${n.ports.http}`);
      }
      return;
    }
    default:
      throw usageError(action ? `unknown action "${action}"` : "an action is required", COMMAND.usage);
  }
});
