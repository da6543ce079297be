/**
 * The bind promise: without an access token the server listens on the loopback only, unless the
 * operator allows it explicitly (CITELINE_ALLOW_NO_TOKEN=1). And the address it reports is the one
 * it actually bound.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { AppError } from "../core/errors.ts";

/** True for an address only this machine can reach: 127.0.0.0/8, ::1 and their mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, "").toLowerCase();
  if (isIP(a) === 4) return a.startsWith("127.");
  if (isIP(a) === 6) return a === "::1" || /^::ffff:127\./.test(a) || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(a);
  return false;
}

/**
 * True when every address `host` stands for is a loopback one. A name is resolved the way
 * `listen` resolves it; one that does not resolve is not loopback (listen reports it).
 */
export async function isLoopbackHost(host: string): Promise<boolean> {
  const h = host.replace(/^\[|\]$/g, "");
  if (isIP(h)) return isLoopbackAddress(h);
  if (h.toLowerCase() === "localhost") return true;
  try {
    const all = await lookup(h, { all: true });
    return all.length > 0 && all.every((a) => isLoopbackAddress(a.address));
  } catch {
    return false;
  }
}

/**
 * Refuses to serve a non-loopback address without a token unless `allowNoToken` is set.
 * @throws AppError NO_TOKEN_FOR_NETWORK naming both ways out.
 */
export async function checkBind(opts: {
  host: string;
  token: string | undefined;
  allowNoToken: boolean;
}): Promise<void> {
  if (opts.token !== undefined || opts.allowNoToken) return;
  if (await isLoopbackHost(opts.host)) return;
  throw new AppError(
    "NO_TOKEN_FOR_NETWORK",
    `refusing to listen on ${opts.host} without an access token: anyone who can reach it could use it. Set CITELINE_TOKEN (16 characters or more), or CITELINE_ALLOW_NO_TOKEN=1 to serve it open, or listen on 127.0.0.1`,
  );
}

/** How to reach a bound address from this machine, and how to describe it. */
export function describeBound(address: string, port: number): { url: string; bound: string } {
  const bracket = (a: string) => (a.includes(":") ? `[${a}]` : a);
  const bound = `${bracket(address)}:${port}`;
  const any = address === "0.0.0.0" || address === "::";
  return { url: `http://${any ? "127.0.0.1" : bracket(address)}:${port}`, bound };
}
