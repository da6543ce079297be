/** The page's HTTP calls: health, documents, and the error shape they share. */
import type { DocumentBody, ErrorBody, Health } from "../../core/protocol.ts";

/** A failed request: the server's error code and message, or NETWORK when nothing answered. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The ApiError a non-2xx response stands for, read from its JSON error body when it has one. */
export async function errorFrom(res: Response): Promise<ApiError> {
  let code = res.status === 401 ? "UNAUTHORIZED" : `HTTP_${res.status}`;
  let message = res.statusText || `the server answered ${res.status}`;
  let retryAfterS: number | undefined;
  try {
    const body = (await res.json()) as Partial<ErrorBody>;
    if (body.error && typeof body.error.code === "string") {
      code = body.error.code;
      message = String(body.error.message ?? message);
      if (typeof body.error.retryAfterS === "number") retryAfterS = body.error.retryAfterS;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  const header = Number(res.headers.get("Retry-After"));
  if (retryAfterS === undefined && Number.isFinite(header) && header > 0) retryAfterS = header;
  return new ApiError(res.status, code, message, retryAfterS);
}

async function getJson<T>(path: string, token: string | undefined): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      headers: { Accept: "application/json", ...authHeaders(token) },
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "the server could not be reached");
  }
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

export const fetchHealth = (token: string | undefined): Promise<Health> =>
  getJson<Health>("/api/health", token);

export const fetchDocument = (id: string, token: string | undefined): Promise<DocumentBody> =>
  getJson<DocumentBody>(`/api/documents/${encodeURIComponent(id)}`, token);
