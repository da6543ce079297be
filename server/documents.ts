/**
 * `GET/POST/DELETE /api/documents`: the corpus folder's files, adding one, removing one. The
 * transport only: what a file's status is and how it is saved live in ingest/library.ts.
 *
 * An upload is the file's bytes as the body (`Content-Type: application/octet-stream`) and its
 * name in `?name=`. That content type is not one a form of another site can send without a CORS
 * preflight, so a page elsewhere cannot add files to a server on this machine.
 */
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import { AppError } from "../core/errors.ts";
import type { RemoveResult } from "../core/protocol.ts";
import { type Library, tooLarge } from "../ingest/library.ts";
import type { TransportDeps } from "./deps.ts";
import { check } from "./schema-check.ts";

interface FileQuery {
  name: string;
  wait: boolean;
}

export function attachDocuments(
  app: Express,
  deps: TransportDeps & { library: Library },
  guards: { requireAuth: RequestHandler; rateLimit: RequestHandler },
): void {
  const { config, library } = deps;
  const fileQuery = (query: unknown): FileQuery => {
    const q = check(deps.schemas.documentsFile, query, "the query string", "");
    return { name: q.name, wait: q.wait === "true" };
  };
  const refuseDraining = (_req: Request, _res: Response, next: NextFunction) =>
    next(
      deps.draining()
        ? new AppError("SHUTTING_DOWN", "the server is shutting down; retry shortly")
        : undefined,
    );

  app.get("/api/documents", guards.requireAuth, async (req, res, next) => {
    try {
      check(deps.schemas.documentsList, req.query, "the query string", "");
      res.json(await library.list());
    } catch (err) {
      next(err);
    }
  });

  // Everything about the request is checked before its body is read.
  const checkUpload = (req: Request, res: Response, next: NextFunction) => {
    try {
      res.locals.upload = fileQuery(req.query);
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > config.uploadMaxBytes) {
        throw tooLarge(declared, config.uploadMaxBytes);
      }
      if (req.headers["content-length"] === "0") {
        throw new AppError("BODY_EMPTY", "the request body is empty; send the file's bytes as the body");
      }
      if (!req.is("application/octet-stream")) {
        throw new AppError(
          "UNSUPPORTED_MEDIA_TYPE",
          "send the file's bytes as the body with Content-Type: application/octet-stream, and its name as ?name=",
        );
      }
      next();
    } catch (err) {
      next(err);
    }
  };
  const fileBody = express.raw({ type: () => true, limit: config.uploadMaxBytes });
  const readBody: RequestHandler = (req, res, next) => {
    fileBody(req, res, (err?: unknown) => {
      const e = err as { type?: string } | undefined;
      if (e?.type === "entity.too.large") return next(tooLarge(undefined, config.uploadMaxBytes));
      next(err);
    });
  };

  app.post(
    "/api/documents",
    guards.requireAuth,
    guards.rateLimit,
    refuseDraining,
    checkUpload,
    readBody,
    async (req, res, next) => {
      try {
        const { name, wait } = res.locals.upload as FileQuery;
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (body.length === 0) {
          throw new AppError("BODY_EMPTY", "the request body is empty; send the file's bytes as the body");
        }
        const result = await library.add(name, body, { wait });
        res.status(wait ? 201 : 202).json(result);
      } catch (err) {
        next(err);
      }
    },
  );

  app.delete(
    "/api/documents",
    guards.requireAuth,
    guards.rateLimit,
    refuseDraining,
    async (req, res, next) => {
      try {
        const { name, wait } = fileQuery(req.query);
        await library.remove(name, { wait });
        const body: RemoveResult = { name, removed: true };
        res.status(wait ? 200 : 202).json(body);
      } catch (err) {
        next(err);
      }
    },
  );
}
