/** The WebSocket transport at /ws: several questions per connection, each cancellable. */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type WebSocket, WebSocketServer } from "ws";
import { AppError } from "../core/errors.ts";
import type { ServerMessage } from "../core/protocol.ts";
import type { TransportDeps } from "./deps.ts";
import { eager } from "./eager.ts";
import { publicError, rawErrorResponse } from "./errors.ts";
import { check, isObject } from "./schema-check.ts";
import { bearerToken, originAllowed, tokenMatches } from "./security.ts";
import { parseJson } from "./validate.ts";

export interface ChatDeps extends TransportDeps {
  /** How long an unauthenticated connection may wait to send its `auth` message (default 5 s). */
  authTimeoutMs?: number | undefined;
  /** How long a client may leave more than wsMaxBufferedBytes unread before it is dropped (default 30 s). */
  slowReaderMs?: number | undefined;
}

export interface Chat {
  wss: WebSocketServer;
  /** Closes every connection with `code` (1001 on shutdown). */
  closeAll(code: number, reason: string): void;
}

/** Questions one connection may have in flight at once. */
const MAX_PER_CONNECTION = 16;

export function attachChat(server: Server, deps: ChatDeps): Chat {
  const { config, engine, log, schemas } = deps;
  const authTimeoutMs = deps.authTimeoutMs ?? 5000;
  const slowReaderMs = deps.slowReaderMs ?? 30_000;
  // Frames up to 4x the limit are read and answered with PAYLOAD_TOO_LARGE; larger ones close
  // the connection (1009) before they are buffered.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxBodyBytes * 4,
    skipUTF8Validation: true,
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/ws") return reject(socket, new AppError("NOT_FOUND", "no such endpoint"));
    if (!originAllowed(req.headers, config.allowedOrigins)) {
      log("warn", "ws_origin_refused", { origin: req.headers.origin ?? null });
      return reject(
        socket,
        new AppError("FORBIDDEN_ORIGIN", "this origin may not connect; see CITELINE_ALLOWED_ORIGINS"),
      );
    }
    if (deps.draining())
      return reject(socket, new AppError("SHUTTING_DOWN", "the server is shutting down; retry shortly"));
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  wss.on("connection", (ws: WebSocket, req: IncomingMessage) => {
    const connId = randomUUID();
    // Per address, not per token: every client of a server presents the same token.
    const key = req.socket.remoteAddress ?? connId;
    const inflight = new Map<string, AbortController>();
    let authed =
      config.accessToken === undefined || tokenMatches(bearerToken(req.headers), config.accessToken);
    let alive = true;
    ws.on("pong", () => {
      alive = true;
    });
    const heartbeat = setInterval(() => {
      if (!alive) {
        log("info", "ws_dead_peer", { connId });
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, config.heartbeatMs);
    heartbeat.unref();
    const authTimer = authed
      ? undefined
      : setTimeout(() => {
          if (!authed) ws.close(4401, "authentication required");
        }, authTimeoutMs);

    /**
     * While the client leaves more than wsMaxBufferedBytes unread, its messages are not read
     * either, so it cannot make the server queue replies without bound; a client that stays stuck
     * for slowReaderMs is dropped.
     */
    let throttled = false;
    const throttle = () => {
      if (throttled) return;
      throttled = true;
      ws.pause();
      const since = performance.now();
      const check = setInterval(() => {
        if (ws.readyState !== ws.OPEN) {
          clearInterval(check);
        } else if (ws.bufferedAmount <= config.wsMaxBufferedBytes) {
          clearInterval(check);
          throttled = false;
          ws.resume();
        } else if (performance.now() - since > slowReaderMs) {
          clearInterval(check);
          log("warn", "ws_slow_reader", { connId, bufferedAmount: ws.bufferedAmount });
          ws.terminate();
        }
      }, 25);
      check.unref();
    };

    // Frames sent in one turn of the event loop (an unpaced answer's sources, delta and done, or
    // answers that finish together) leave in one socket write instead of one write each: the
    // socket is corked at the first and uncorked once the turn's promise callbacks have run.
    // A paced answer's frames come in turns of their own, so they still go out one by one.
    const socket = req.socket;
    let corked = false;
    const uncork = () => {
      corked = false;
      socket.uncork();
    };
    const send = (msg: ServerMessage) => {
      if (ws.readyState !== ws.OPEN) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      ws.send(JSON.stringify(msg));
      if (ws.bufferedAmount > config.wsMaxBufferedBytes) throttle();
    };
    const sendError = (err: unknown, id?: string) => {
      const e = publicError(err, log, { connId, id });
      const frame: ServerMessage = { type: "error", code: e.code, message: e.message };
      if (id !== undefined) frame.id = id;
      if (typeof e.details.retryAfterS === "number") frame.retryAfterS = e.details.retryAfterS;
      send(frame);
    };

    /** Waits while the client is not reading (`throttle` drops one that stays stuck). */
    const backpressure = async (signal: AbortSignal) => {
      while (ws.readyState === ws.OPEN && ws.bufferedAmount > config.wsMaxBufferedBytes) {
        await sleep(25, undefined, { signal });
      }
    };

    const ask = async (msg: Record<string, unknown>) => {
      // The id first: the refusals below name it.
      const id = check(schemas.askMessage.properties.id, msg.id, "id");
      if (inflight.has(id))
        throw new AppError("DUPLICATE_ID", `a question with id "${id}" is already in flight`);
      if (inflight.size >= MAX_PER_CONNECTION) {
        throw new AppError("BUSY", `this connection already has ${MAX_PER_CONNECTION} questions in flight`, {
          retryAfterS: 1,
        });
      }
      if (deps.draining()) throw new AppError("SHUTTING_DOWN", "the server is shutting down; retry shortly");
      const { type: _type, id: _id, ...req } = check(schemas.askMessage, msg, "the ask message", "");
      deps.rateLimiter.take(key);
      const controller = new AbortController();
      inflight.set(id, controller);
      const requestId = randomUUID();
      const t0 = performance.now();
      const work = (async () => {
        let outcome = "done";
        try {
          // The engine's slot is released once the answer is computed, whether or not the
          // client reads; sending then waits for the client.
          for await (const ev of eager(engine.answer(req, controller.signal))) {
            await backpressure(controller.signal);
            if (ws.readyState !== ws.OPEN) controller.abort();
            controller.signal.throwIfAborted();
            send({ ...ev, id });
          }
        } catch (err) {
          if (controller.signal.aborted) {
            outcome = "cancelled";
            // The acknowledgement of a `cancel`: the question ends here (no-op once closed).
            send({ type: "cancelled", id });
          } else {
            outcome = "error";
            sendError(err, id);
          }
        } finally {
          inflight.delete(id);
          log("info", "answer", {
            requestId,
            connId,
            id,
            transport: "ws",
            outcome,
            ms: Math.round(performance.now() - t0),
          });
          log("debug", "answer_question", { requestId, connId, id, question: req.question });
        }
      })();
      deps.inflight.add(work);
      void work.finally(() => deps.inflight.delete(work));
    };

    const onMessage = async (data: Buffer, isBinary: boolean) => {
      let id: string | undefined;
      try {
        if (isBinary) throw new AppError("BINARY_FRAME", "send questions as JSON text frames");
        const msg = parseJson(data, config, "the message");
        if (!isObject(msg)) throw new AppError("BAD_REQUEST", "a message must be a JSON object with a type");
        if (typeof msg.id === "string" && /^[\w.:-]{1,128}$/.test(msg.id)) id = msg.id;
        if (msg.type === "auth") {
          if (
            config.accessToken === undefined ||
            tokenMatches(typeof msg.token === "string" ? msg.token : undefined, config.accessToken)
          ) {
            authed = true;
            if (authTimer) clearTimeout(authTimer);
            send({ type: "ready", auth: "ok" });
            return;
          }
          throw new AppError("UNAUTHORIZED", "the access token is not valid");
        }
        if (!authed) throw new AppError("UNAUTHORIZED", 'send {type:"auth", token} first');
        switch (msg.type) {
          case "ask":
            await ask(msg);
            return;
          case "cancel": {
            const target = check(schemas.cancelMessage, msg, "the cancel message", "").id;
            const controller = inflight.get(target);
            if (!controller) {
              throw new AppError(
                "UNKNOWN_ID",
                `no question with id "${target}" is in flight on this connection (it may have finished already)`,
              );
            }
            controller.abort();
            return;
          }
          default:
            throw new AppError(
              "UNKNOWN_MESSAGE",
              typeof msg.type === "string"
                ? "message type is not ask, cancel or auth"
                : "a message needs a string type",
            );
        }
      } catch (err) {
        sendError(err, id);
        if (err instanceof AppError && err.code === "UNAUTHORIZED" && !authed)
          ws.close(4401, "authentication failed");
      }
    };
    ws.on("message", (data, isBinary) => {
      void onMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary);
    });
    ws.on("error", (err) => log("info", "ws_error", { connId, error: err.message }));
    ws.on("close", () => {
      clearInterval(heartbeat);
      if (authTimer) clearTimeout(authTimer);
      for (const c of inflight.values()) c.abort();
      inflight.clear();
    });
    send({ type: "ready", auth: authed ? "ok" : "required" });
  });

  return {
    wss,
    closeAll(code, reason) {
      for (const ws of wss.clients) ws.close(code, reason);
    },
  };
}

/** Refuses a handshake with the same JSON error body and headers as any other HTTP error. */
function reject(socket: Duplex, err: AppError): void {
  socket.end(rawErrorResponse(err));
}
