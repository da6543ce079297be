/** The HTTP transport: JSON and Server-Sent Events over express. No answer logic lives here. */
import { randomUUID } from "node:crypto";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type NextFunction, type Request, type Response } from "express";
import { PROJECT_ROOT } from "../core/config.ts";
import { AppError, isAppError } from "../core/errors.ts";
import {
  type AnswerEvent,
  type AskRequest,
  collectAnswer,
  type Health,
  type HealthLocked,
  type Timings,
} from "../core/protocol.ts";
import type { Library } from "../ingest/library.ts";
import { jsonBody } from "./body.ts";
import type { TransportDeps } from "./deps.ts";
import { attachDocuments } from "./documents.ts";
import { eager } from "./eager.ts";
import { errorBody, httpStatus, publicError } from "./errors.ts";
import { attachOpenAi } from "./openai.ts";
import { openApiDocument } from "./openapi.ts";
import { check } from "./schema-check.ts";
import { bearerToken, requestId, SECURITY_HEADERS, tokenMatches } from "./security.ts";
import { parseSearch } from "./validate.ts";

export interface AppDeps extends TransportDeps {
  /** The corpus folder's files, for /api/documents. */
  library: Library;
  /** The built page (default client/dist). */
  clientDir?: string;
}

declare module "express-serve-static-core" {
  interface Request {
    id: string;
  }
}

/** Rate limits are per address, not per token: every client of a server presents the same token. */
function clientKey(req: Request): string {
  return req.socket.remoteAddress ?? "unknown";
}

export function createApp(deps: AppDeps): express.Express {
  const { config, engine, log, schemas } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  app.use((req, res, next) => {
    req.id = requestId(req.headers["x-request-id"], randomUUID);
    res.setHeader("X-Request-Id", req.id);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const t0 = performance.now();
    res.on("finish", () => {
      if (!req.path.startsWith("/api/")) return;
      log("info", "request", {
        requestId: req.id,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round((performance.now() - t0) * 10) / 10,
      });
    });
    next();
  });

  const requireAuth = (req: Request, _res: Response, next: NextFunction) => {
    if (config.accessToken === undefined || tokenMatches(bearerToken(req.headers), config.accessToken))
      return next();
    next(
      new AppError(
        "UNAUTHORIZED",
        "this server requires an access token: send Authorization: Bearer <token>",
      ),
    );
  };
  const rateLimit = (req: Request, _res: Response, next: NextFunction) => {
    try {
      deps.rateLimiter.take(clientKey(req));
      next();
    } catch (err) {
      next(err);
    }
  };
  const rawBody = express.raw({ type: () => true, limit: config.maxBodyBytes });

  app.get("/api/health", async (req, res) => {
    const authed =
      config.accessToken === undefined || tokenMatches(bearerToken(req.headers), config.accessToken);
    // Just after startup the starter questions may still be being checked: wait a little for them.
    if (authed) await Promise.race([engine.prepareExamples(), sleep(2000, undefined, { ref: false })]);
    if (!authed) {
      res.json({ status: "ok", authRequired: true } satisfies HealthLocked);
      return;
    }
    const health: Health = {
      ...(await engine.health()),
      authRequired: config.accessToken !== undefined,
      limits: {
        maxQuestionChars: config.maxQuestionChars,
        maxHistoryTurns: config.maxHistoryTurns,
        maxHistoryChars: config.maxHistoryChars,
        maxK: config.maxK,
      },
    };
    res.json(health);
  });

  app.get("/api/openapi.json", (_req, res) => {
    res.json(openApiDocument(schemas));
  });

  app.get("/api/search", requireAuth, rateLimit, async (req, res, next) => {
    try {
      const { q, k, mode, filters, asOf } = parseSearch(req.query, schemas, config.k);
      res.json(await engine.search(q, { k, filters, mode, asOf }));
    } catch (err) {
      next(err);
    }
  });

  app.get("/api/documents/:id", requireAuth, async (req, res, next) => {
    try {
      const id = req.params.id;
      const doc = typeof id === "string" && id.length <= 1024 ? await engine.document(id) : undefined;
      if (!doc) throw new AppError("NOT_FOUND", "no document has this id");
      res.json(doc);
    } catch (err) {
      next(err);
    }
  });

  app.post("/api/answer", requireAuth, rateLimit, rawBody, async (req, res, next) => {
    let ask: AskRequest;
    try {
      const body = jsonBody(req, config, deps.draining(), {
        name: "question",
        example: '{"question": "…"}',
      });
      ask = check(schemas.answer, body, "the request body", "");
    } catch (err) {
      return next(err);
    }
    const controller = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) controller.abort(new AppError("CANCELLED", "the client went away"));
    });
    const t0 = performance.now();
    const sse = (req.headers.accept ?? "").includes("text/event-stream");
    let outcome = "done";
    const work = sse
      ? streamSse(res, eager(engine.answer(ask, controller.signal)), req.id)
      : answerJson(res, engine.answer(ask, controller.signal));
    const tracked = work.catch((err): undefined => {
      if (controller.signal.aborted) {
        outcome = "cancelled";
        return;
      }
      outcome = isAppError(err) ? err.code : "INTERNAL";
      if (res.headersSent) {
        const e = publicError(err, log, { requestId: req.id });
        if (sse && !res.writableEnded) {
          res.end(`event: error\ndata: ${JSON.stringify(errorBody(e, req.id).error)}\n\n`);
        } else if (!res.writableEnded) res.end();
        return;
      }
      next(err);
    });
    deps.inflight.add(tracked);
    const timings = await tracked;
    deps.inflight.delete(tracked);
    log("info", "answer", {
      requestId: req.id,
      transport: sse ? "sse" : "json",
      outcome,
      aborted: controller.signal.aborted,
      ms: Math.round((performance.now() - t0) * 10) / 10,
      ...(timings ? { timings } : {}),
    });
    log("debug", "answer_question", { requestId: req.id, question: ask.question });
  });

  attachOpenAi(app, deps, { requireAuth, rateLimit, rawBody });
  attachDocuments(app, deps, { requireAuth, rateLimit });

  const clientDir = deps.clientDir ?? path.join(PROJECT_ROOT, "client", "dist");
  const methods: Record<string, string> = {
    "/api/health": "GET",
    "/api/openapi.json": "GET",
    "/api/search": "GET",
    "/api/answer": "POST",
    "/api/documents": "GET, POST, DELETE",
    "/v1/models": "GET",
    "/v1/chat/completions": "POST",
  };
  app.all(["/api", "/api/{*rest}", "/v1", "/v1/{*rest}"], (req, res, next) => {
    const allowed = methods[req.path] ?? (req.path.startsWith("/api/documents/") ? "GET" : undefined);
    // The right method reaching here means the path did not match (e.g. an id with '/' not encoded).
    const taken = allowed?.split(", ") ?? [];
    if (!allowed || taken.includes(req.method) || (req.method === "HEAD" && taken.includes("GET"))) {
      return next(new AppError("NOT_FOUND", "no such endpoint"));
    }
    res.setHeader("Allow", allowed);
    next(new AppError("METHOD_NOT_ALLOWED", `${req.path} takes ${allowed}`));
  });
  // Mounted even before the page is built, so a build while the server runs is served.
  app.use(express.static(clientDir, { index: "index.html", maxAge: 0 }));
  // Any other path is a page that does not exist: a small page back to the chat, not an API error.
  app.use((_req, res) => {
    res.status(404).type("html").send(NOT_FOUND_PAGE);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = mapExpressError(err) ?? publicError(err, log, { requestId: req.id, path: req.path });
    const retry = e.details.retryAfterS;
    if (typeof retry === "number") res.setHeader("Retry-After", String(retry));
    if (res.headersSent) return res.end();
    res.status(httpStatus(e)).json(errorBody(e, req.id));
  });
  return app;
}

const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not found · citeline</title>
<meta name="color-scheme" content="light dark"></head>
<body><h1>Page not found</h1><p>There is no page at this address. <a href="/">Back to citeline</a></p>
<p>The HTTP API lives under <code>/api/</code>; its description is at <a href="/api/openapi.json">/api/openapi.json</a>.</p></body></html>
`;

/** Errors raised by express itself (body parser) in our catalogue's terms. */
function mapExpressError(err: unknown): AppError | undefined {
  const e = err as { type?: string; status?: number; limit?: number };
  if (e?.type === "entity.too.large") {
    return new AppError(
      "PAYLOAD_TOO_LARGE",
      `the request body is larger than the limit of ${e.limit} bytes`,
      {
        limit: e.limit,
      },
    );
  }
  if (e?.type === "encoding.unsupported" || e?.type === "charset.unsupported") {
    return new AppError("BAD_ENCODING", "the request body must be UTF-8 JSON");
  }
  if (e?.type === "request.aborted") return new AppError("BAD_REQUEST", "the request body was cut off");
  // Body-parser errors carry a type; a path that is not valid percent-encoding carries only a status.
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500) {
    return new AppError("BAD_REQUEST", "the request could not be read");
  }
  return undefined;
}

async function answerJson(res: Response, events: AsyncGenerator<AnswerEvent>): Promise<Timings> {
  const body = await collectAnswer(events);
  res.json(body);
  return body.timings;
}

/** Writes events as SSE, waiting for the socket to drain instead of buffering without bound. */
async function streamSse(
  res: Response,
  events: AsyncGenerator<AnswerEvent>,
  id: string,
): Promise<Timings | undefined> {
  let started = false;
  let timings: Timings | undefined;
  for await (const ev of events) {
    if (ev.type === "done") timings = ev.timings;
    if (!started) {
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      started = true;
    }
    const { type, ...data } = ev;
    if (!res.write(`event: ${type}\ndata: ${JSON.stringify({ id, ...data })}\n\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
    if (res.destroyed) return timings;
  }
  res.end();
  return timings;
}
