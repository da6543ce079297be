/**
 * The OpenAI-compatible endpoints, `GET /v1/models` and `POST /v1/chat/completions`, so chat
 * front-ends and the official `openai` client can use citeline as a "model". The same engine
 * answers; the access token is the Bearer API key. The mapping lives in openai-chat.ts.
 */
import type express from "express";
import type { RequestHandler, Response } from "express";
import { AppError, isAppError } from "../core/errors.ts";
import { type AnswerEvent, answerResponse, collectAnswer, type SourcesEvent } from "../core/protocol.ts";
import { jsonBody } from "./body.ts";
import type { TransportDeps } from "./deps.ts";
import { eager } from "./eager.ts";
import { errorBody, publicError } from "./errors.ts";
import {
  type ChatRequest,
  chunk,
  citelineExtra,
  completion,
  generatedHeading,
  modelList,
  parseChatRequest,
  sourceList,
  usageChunk,
} from "./openai-chat.ts";

/** The routes, mounted on `app` behind the same authentication and rate limit as /api. */
export function attachOpenAi(
  app: express.Express,
  deps: TransportDeps,
  guards: { requireAuth: RequestHandler; rateLimit: RequestHandler; rawBody: RequestHandler },
): void {
  const { config, engine, log } = deps;
  // One creation time for the model, as OpenAI lists a model's, in seconds.
  const started = Math.floor(Date.now() / 1000);

  app.get("/v1/models", guards.requireAuth, (_req, res) => {
    res.json(modelList(started));
  });

  app.post(
    "/v1/chat/completions",
    guards.requireAuth,
    guards.rateLimit,
    guards.rawBody,
    async (req, res, next) => {
      let chat: ChatRequest;
      try {
        const body = jsonBody(req, config, deps.draining(), {
          name: "request",
          example: '{"model": "citeline", "messages": [{"role": "user", "content": "…"}]}',
        });
        chat = parseChatRequest(body, deps.schemas);
      } catch (err) {
        return next(err);
      }
      const controller = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) controller.abort(new AppError("CANCELLED", "the client went away"));
      });
      const t0 = performance.now();
      const id = `chatcmpl-${req.id}`;
      const created = Math.floor(Date.now() / 1000);
      const events = eager(engine.answer(chat.ask, controller.signal));
      let outcome = "done";
      const work = chat.stream
        ? streamChunks(res, events, id, created, chat.includeUsage)
        : collectAnswer(events).then((a) => void res.json(completion(id, created, a)));
      const tracked = work.catch((err): void => {
        if (controller.signal.aborted) {
          outcome = "cancelled";
          return;
        }
        outcome = isAppError(err) ? err.code : "INTERNAL";
        if (!res.headersSent) {
          next(err);
          return;
        }
        const e = publicError(err, log, { requestId: req.id });
        if (!res.writableEnded) res.end(`data: ${JSON.stringify(errorBody(e, req.id))}\n\ndata: [DONE]\n\n`);
      });
      deps.inflight.add(tracked);
      await tracked;
      deps.inflight.delete(tracked);
      log("info", "answer", {
        requestId: req.id,
        transport: chat.stream ? "openai-sse" : "openai-json",
        outcome,
        aborted: controller.signal.aborted,
        ms: Math.round((performance.now() - t0) * 10) / 10,
      });
    },
  );
}

/**
 * Streams chat-completion chunks as Server-Sent Events: the role, the answer as the engine writes
 * it, then (with a language model) each verified sentence of the generated answer under its
 * heading, the source list, then a last chunk with `finish_reason` and the `citeline` field, and
 * `[DONE]`. Waits for the socket to drain instead of buffering without bound.
 */
async function streamChunks(
  res: Response,
  events: AsyncIterable<AnswerEvent>,
  id: string,
  created: number,
  includeUsage: boolean,
): Promise<void> {
  const send = async (data: unknown) => {
    if (res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off("drain", done);
        res.off("close", done);
        resolve();
      };
      res.on("drain", done);
      res.on("close", done);
    });
  };
  let sources: SourcesEvent | undefined;
  let model: string | undefined;
  let sentences = 0;
  for await (const ev of events) {
    if (!res.headersSent) {
      res.writeHead(200, {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        Connection: "keep-alive",
        "X-Accel-Buffering": "no",
      });
      await send(chunk(id, created, { role: "assistant", content: "" }, null));
    }
    if (ev.type === "sources") {
      sources = ev;
    } else if (ev.type === "delta") {
      await send(chunk(id, created, { content: ev.text }, null));
    } else if (ev.type === "extractive") {
      model = ev.generator.model;
    } else if (ev.type === "generated") {
      const lead = sentences === 0 ? generatedHeading(model ?? "the language model") : " ";
      sentences += 1;
      await send(chunk(id, created, { content: lead + ev.text }, null));
    } else if (ev.type === "done") {
      const whole = answerResponse(sources, ev);
      const list = sourceList(whole.sources, ev.notFound);
      if (list) await send(chunk(id, created, { content: list }, null));
      await send(chunk(id, created, {}, "stop", citelineExtra(whole)));
      if (includeUsage) await send(usageChunk(id, created));
    }
    if (res.destroyed) return;
  }
  await send("[DONE]");
  res.end();
}
