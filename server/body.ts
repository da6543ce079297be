/** The JSON body of a POST, read the same way for every endpoint that takes one. */
import type { Request } from "express";
import type { ServerConfig } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import { checkCharset, parseJson } from "./validate.ts";

/**
 * The parsed JSON of a request whose raw body express has read: refused when the server is
 * draining, empty, not JSON (a form or text/plain post is what another site's page can send
 * without a CORS preflight), declared in a charset other than UTF-8, too large or malformed.
 */
export function jsonBody(
  req: Request,
  config: Pick<ServerConfig, "maxBodyBytes">,
  draining: boolean,
  what: { name: string; example: string },
): unknown {
  if (draining) throw new AppError("SHUTTING_DOWN", "the server is shutting down; retry shortly");
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  // Checked first: with no body, express cannot tell what type it would have had.
  if (body.length === 0) {
    throw new AppError("BODY_EMPTY", `the request body is empty; send JSON such as ${what.example}`);
  }
  if (!req.is("application/json")) {
    throw new AppError(
      "UNSUPPORTED_MEDIA_TYPE",
      `send the ${what.name} as JSON with Content-Type: application/json`,
    );
  }
  checkCharset(req.headers["content-type"]);
  return parseJson(body, config);
}
