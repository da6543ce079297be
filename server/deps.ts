/** What both transports (HTTP in app.ts, WebSocket in ws.ts) are given by server/start.ts. */
import type { RetrievalConfig, ServerConfig } from "../core/config.ts";
import type { Engine } from "../core/engine.ts";
import type { Logger } from "./log.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { RequestSchemas } from "./schemas.ts";

/**
 * The settings the transports read: their own (ServerConfig), and of retrieval's, the default and
 * largest k and how stale a corpus may be (which the request schemas publish).
 */
export type TransportConfig = ServerConfig & Pick<RetrievalConfig, "k" | "maxK" | "staleCorpusDays">;

export interface TransportDeps {
  config: TransportConfig;
  engine: Engine;
  log: Logger;
  /** What every request is checked against, and what the OpenAPI document publishes. */
  schemas: RequestSchemas;
  /** Requests per client address; HTTP requests and WebSocket questions share it. */
  rateLimiter: RateLimiter;
  /** True once shutdown has begun: new questions are refused. */
  draining: () => boolean;
  /** Answers in flight on either transport, so shutdown can wait for them. */
  inflight: Set<Promise<unknown>>;
}
