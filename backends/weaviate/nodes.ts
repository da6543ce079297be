/**
 * The Weaviate nodes a backend talks to, with failover: every call runs against the node that
 * answered last, and moves on to the next one when that node cannot be reached or fails the call
 * (a node killed mid-query, a replica not yet marked down). Only when every node failed does the
 * call reject, with BACKEND_UNAVAILABLE naming each node's reason.
 */
import weaviate, { ApiKey, type WeaviateClient } from "weaviate-client";
import { BackendError } from "../../core/backend.ts";

export interface NodeAddress {
  url: string;
  grpcHost: string;
  grpcPort: number;
}

/** Where a call went: the node's HTTP URL and the API key, for requests made without the client. */
export interface NodeEndpoint {
  url: string;
  apiKey?: string | undefined;
}

export interface NodesOptions {
  urls: readonly string[];
  grpc: readonly string[];
  apiKey?: string | undefined;
  /** Seconds a query may take before it fails over. */
  queryTimeoutS?: number;
}

/**
 * How long one attempt on one node may take before the call moves on. The client retries an
 * unreachable node by itself with growing pauses (five attempts, about 25 s in all, not
 * configurable in 3.12), so a dead node is left behind by this timeout instead.
 */
const READ_ATTEMPT_MS = 4000;
const WRITE_ATTEMPT_MS = 180_000;

/** Pairs each HTTP URL with its gRPC address (default: the same host, port 50051). */
export function nodeAddresses(urls: readonly string[], grpc: readonly string[]): NodeAddress[] {
  if (grpc.length > 0 && grpc.length !== urls.length)
    throw new BackendError(
      "BACKEND_UNAVAILABLE",
      `CITELINE_WEAVIATE_GRPC lists ${grpc.length} nodes but CITELINE_WEAVIATE_URL lists ${urls.length}; give one gRPC host:port per URL`,
    );
  return urls.map((url, i) => {
    const u = new URL(url);
    const g = grpc[i];
    if (!g) return { url, grpcHost: u.hostname, grpcPort: 50051 };
    const at = g.lastIndexOf(":");
    return { url, grpcHost: g.slice(0, at).replace(/^\[|\]$/g, ""), grpcPort: Number(g.slice(at + 1)) };
  });
}

export class Nodes {
  private readonly addresses: NodeAddress[];
  private readonly clients: (Promise<WeaviateClient> | undefined)[];
  private preferred = 0;
  private closed = false;

  constructor(private readonly opts: NodesOptions) {
    this.addresses = nodeAddresses(opts.urls, opts.grpc);
    this.clients = this.addresses.map(() => undefined);
  }

  get size(): number {
    return this.addresses.length;
  }

  /** The URL of the node calls go to first. */
  get current(): string {
    return this.addresses[this.preferred]!.url;
  }

  private client(i: number): Promise<WeaviateClient> {
    let c = this.clients[i];
    if (!c) {
      const a = this.addresses[i]!;
      const u = new URL(a.url);
      const secure = u.protocol === "https:";
      c = weaviate.connectToCustom({
        httpHost: u.hostname,
        httpPort: Number(u.port || (secure ? 443 : 80)),
        httpSecure: secure,
        ...(u.pathname !== "/" ? { httpPath: u.pathname.replace(/\/$/, "") } : {}),
        grpcHost: a.grpcHost,
        grpcPort: a.grpcPort,
        grpcSecure: secure,
        ...(this.opts.apiKey ? { authCredentials: new ApiKey(this.opts.apiKey) } : {}),
        timeout: { init: 5, query: this.opts.queryTimeoutS ?? 30, insert: 120 },
      });
      this.clients[i] = c;
      // A node that could not be reached is connected afresh next time.
      c.catch(() => {
        if (this.clients[i] === c) this.clients[i] = undefined;
      });
    }
    return c;
  }

  /**
   * Runs `fn` against a node, failing over through the others. A BackendError thrown by `fn`
   * (a refusal of ours, not a failure to reach the node) is passed through at once.
   */
  async run<T>(
    what: string,
    fn: (client: WeaviateClient, node: NodeEndpoint) => Promise<T>,
    kind: "read" | "write" = "read",
  ): Promise<T> {
    const limitMs = kind === "read" ? READ_ATTEMPT_MS : WRITE_ATTEMPT_MS;
    if (this.closed) throw new BackendError("BACKEND_UNAVAILABLE", "the Weaviate backend was closed");
    const reasons: string[] = [];
    const n = this.addresses.length;
    // Two rounds: a node that was just killed may fail a call that a replica answers a moment later.
    for (let attempt = 0; attempt < 2 * n; attempt++) {
      const i = (this.preferred + attempt) % n;
      try {
        const out = await withTimeout(
          this.client(i).then((c) => fn(c, { url: this.addresses[i]!.url, apiKey: this.opts.apiKey })),
          limitMs,
        );
        this.preferred = i;
        return out;
      } catch (err) {
        if (err instanceof BackendError) throw err;
        reasons.push(`${this.addresses[i]!.url}: ${firstLine(err)}`);
        if (attempt === n - 1) await new Promise((r) => setTimeout(r, 300));
      }
    }
    throw new BackendError(
      "BACKEND_UNAVAILABLE",
      `Weaviate could not ${what} (${[...new Set(reasons)].slice(0, 4).join("; ")}); check that the cluster runs and CITELINE_WEAVIATE_URL`,
    );
  }

  /** Whether some node answers ready, and which. */
  async ready(): Promise<{ ok: boolean; node?: string; reason?: string }> {
    const reasons: string[] = [];
    for (const a of this.addresses) {
      try {
        const res = await fetch(new URL("v1/.well-known/ready", a.url.endsWith("/") ? a.url : `${a.url}/`), {
          signal: AbortSignal.timeout(2000),
        });
        if (res.ok) return { ok: true, node: a.url };
        reasons.push(`${a.url}: HTTP ${res.status}`);
      } catch (err) {
        reasons.push(`${a.url}: ${firstLine(err)}`);
      }
    }
    return { ok: false, reason: reasons.join("; ") };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.clients.map(async (c) => {
        try {
          await (await c)?.close();
        } catch {
          // a client that never connected has nothing to close
        }
      }),
    );
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split("\n")[0] ?? "").slice(0, 200);
}

/** Rejects when `p` has not settled within `ms`; a late outcome of `p` is dropped. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
