/**
 * The page's link to the server: a WebSocket at `/ws` that reconnects with exponential backoff and
 * jitter, and, when WebSockets cannot be opened at all while the server answers HTTP, the
 * `POST /api/answer` event stream instead. Either way the page sees the same answer messages.
 */
import type { AskRequest, ClientMessage, ServerMessage } from "../../core/protocol.ts";
import { authHeaders, errorFrom } from "./api.ts";
import type { AnswerMessage } from "./conversation.ts";
import { createSseParser } from "./sse.ts";

export type ConnState = "connecting" | "connected" | "reconnecting" | "offline";
export type TransportKind = "websocket" | "http";

export interface AskInput extends Pick<AskRequest, "question" | "history" | "filters"> {
  id: string;
}

export interface ConnectionOptions {
  getToken(): string | undefined;
  onState(state: ConnState, transport: TransportKind): void;
  onAnswer(msg: AnswerMessage): void;
  /** The server wants a token; `rejected` when the one it was given was refused. */
  onAuthNeeded(rejected: boolean): void;
  /** An error frame that belongs to no question. */
  onServerError?(code: string, message: string): void;
  backoff?: { baseMs: number; maxMs: number };
  /** Failed attempts in a row after which the state reads "offline" (retries go on). */
  offlineAfter?: number;
  random?: () => number;
}

export interface Connection {
  readonly state: ConnState;
  readonly transport: TransportKind;
  /** Sends the question now, or as soon as the connection is back. */
  ask(input: AskInput): void;
  cancel(id: string): void;
  /** Call after the user entered a token. */
  authenticate(): void;
  /** Skips the backoff wait. */
  retryNow(): void;
}

/** Full-jitter-ish backoff: half the exponential delay fixed, half random. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The event stream's events that belong to an answer (the same as the WebSocket's frames). */
const ANSWER_EVENTS = new Set(["sources", "delta", "extractive", "generated", "withheld", "done", "error"]);

/** WebSocket failures, while HTTP answers, after which the page streams over HTTP instead. */
const BLOCKED_STRIKES = 2;
/**
 * After falling back to HTTP, the WebSocket is tried again in the background, first after this
 * long and then at doubling intervals up to the maximum: what blocked it (a captive portal, a
 * proxy restart) is often gone a minute later.
 */
const WS_RETRY = { firstMs: 5_000, maxMs: 300_000 };

export function createConnection(opts: ConnectionOptions): Connection {
  const { baseMs, maxMs } = opts.backoff ?? { baseMs: 500, maxMs: 10_000 };
  const offlineAfter = opts.offlineAfter ?? 6;
  const random = opts.random ?? Math.random;
  const wsUrl = new URL("/ws", location.href);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";

  let state: ConnState = "connecting";
  let transport: TransportKind = "websocket";
  let ws: WebSocket | undefined;
  /** The socket finished its handshake (`ready`, and the token sent when one is needed). */
  let usable = false;
  let authPending = false;
  let attempt = 0;
  let blockedStrikes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wsRetryMs = WS_RETRY.firstMs;
  let wsRetryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Questions not sent yet. */
  let queue: AskInput[] = [];
  /** Questions sent and not finished; for HTTP, with the controller that cancels them. */
  const inFlight = new Map<string, AbortController | undefined>();

  const setState = (next: ConnState) => {
    if (next === state) return;
    state = next;
    opts.onState(state, transport);
  };

  const interruptAll = () => {
    for (const [id, ctrl] of inFlight) {
      ctrl?.abort();
      opts.onAnswer({ type: "interrupted", id });
    }
    inFlight.clear();
  };

  const scheduleRetry = () => {
    attempt += 1;
    const offline =
      attempt > offlineAfter || (typeof navigator !== "undefined" && navigator.onLine === false);
    setState(offline ? "offline" : "reconnecting");
    clearTimeout(timer);
    timer = setTimeout(connect, backoffDelay(attempt, baseMs, maxMs, random));
  };

  const connected = () => {
    attempt = 0;
    setState("connected");
    flush();
  };

  // ---- WebSocket -----------------------------------------------------------------------------

  const send = (msg: ClientMessage) => ws?.send(JSON.stringify(msg));

  const openSocket = () => {
    let sock: WebSocket;
    try {
      sock = new WebSocket(wsUrl.href);
    } catch {
      // Refused outright (a policy, an extension): no point retrying.
      useHttp();
      return;
    }
    ws = sock;
    usable = false;
    authPending = false;
    let opened = false;
    sock.addEventListener("open", () => {
      opened = true;
      blockedStrikes = 0;
    });
    sock.addEventListener("message", (ev) => {
      if (sock !== ws || typeof ev.data !== "string") return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      onServerMessage(msg);
    });
    sock.addEventListener("close", () => {
      if (sock !== ws) return;
      ws = undefined;
      usable = false;
      interruptAll();
      if (!opened) void checkBlocked();
      scheduleRetry();
    });
  };

  /** A socket that never opened while HTTP works means something in between blocks WebSockets. */
  const checkBlocked = async () => {
    const reachable = await fetch("/api/health", { cache: "no-store" }).then(
      () => true,
      () => false,
    );
    blockedStrikes = reachable ? blockedStrikes + 1 : 0;
    if (blockedStrikes >= BLOCKED_STRIKES && transport === "websocket" && !ws) useHttp();
  };

  const onServerMessage = (msg: ServerMessage) => {
    if (msg.type === "ready") {
      if (msg.auth === "ok") {
        authPending = false;
        usable = true;
        return connected();
      }
      return sendAuth(false);
    }
    if (msg.type === "error" && msg.code === "UNAUTHORIZED") {
      usable = false;
      authPending = true;
      opts.onAuthNeeded(true);
    }
    const id = msg.id;
    if (id === undefined) {
      if (msg.type === "error" && msg.code !== "UNAUTHORIZED") opts.onServerError?.(msg.code, msg.message);
      return;
    }
    if (!inFlight.has(id)) return; // cancelled, or from before a reconnect
    if (msg.type === "done" || msg.type === "error") inFlight.delete(id);
    opts.onAnswer({ ...msg, id } as AnswerMessage);
  };

  const sendAuth = (rejected: boolean) => {
    authPending = true;
    setState("connected");
    const token = opts.getToken();
    if (!token) {
      opts.onAuthNeeded(rejected);
      return;
    }
    // The server answers a good token with `ready` (auth ok), a bad one with UNAUTHORIZED.
    send({ type: "auth", token });
  };

  // ---- HTTP event stream ---------------------------------------------------------------------

  const useHttp = () => {
    if (transport === "http") return;
    transport = "http";
    ws?.close();
    ws = undefined;
    opts.onState(state, transport);
    clearTimeout(timer);
    connect();
    if (typeof WebSocket !== "undefined") scheduleWsRetry();
  };

  const scheduleWsRetry = () => {
    clearTimeout(wsRetryTimer);
    wsRetryTimer = setTimeout(probeWebSocket, wsRetryMs);
    wsRetryMs = Math.min(wsRetryMs * 2, WS_RETRY.maxMs);
  };

  /** A background WebSocket: once the server speaks on it, the page goes back to WebSockets. */
  const probeWebSocket = () => {
    if (transport !== "http") return;
    let probe: WebSocket;
    try {
      probe = new WebSocket(wsUrl.href);
    } catch {
      scheduleWsRetry();
      return;
    }
    let works = false;
    probe.addEventListener("message", () => {
      if (works) return;
      works = true;
      probe.close();
      useWebSocket();
    });
    probe.addEventListener("close", () => {
      if (!works) scheduleWsRetry();
    });
  };

  const useWebSocket = () => {
    if (transport === "websocket") return;
    transport = "websocket";
    blockedStrikes = 0;
    attempt = 0;
    usable = false;
    wsRetryMs = WS_RETRY.firstMs;
    opts.onState(state, transport);
    clearTimeout(timer);
    connect();
  };

  const probeHttp = async () => {
    try {
      const res = await fetch("/api/health", { cache: "no-store" });
      if (res.status >= 500) throw new Error(`health ${res.status}`);
      const health = res.ok ? ((await res.json()) as { authRequired?: boolean }) : {};
      usable = true;
      connected();
      if (health.authRequired && !opts.getToken()) opts.onAuthNeeded(false);
    } catch {
      usable = false;
      scheduleRetry();
    }
  };

  const askHttp = async (input: AskInput) => {
    const ctrl = new AbortController();
    inFlight.set(input.id, ctrl);
    const { id, ...body } = input;
    let finished = false;
    const emit = (msg: AnswerMessage) => {
      if (!inFlight.has(id)) return;
      if (msg.type === "done" || msg.type === "error") {
        finished = true;
        inFlight.delete(id);
      }
      opts.onAnswer(msg);
    };
    try {
      const res = await fetch("/api/answer", {
        method: "POST",
        headers: {
          Accept: "text/event-stream",
          "Content-Type": "application/json",
          ...authHeaders(opts.getToken()),
        },
        body: JSON.stringify(body),
        signal: ctrl.signal,
      });
      if (!res.ok || !res.body) {
        const err = await errorFrom(res);
        if (err.code === "UNAUTHORIZED") opts.onAuthNeeded(opts.getToken() !== undefined);
        const msg: AnswerMessage = { type: "error", id, code: err.code, message: err.message };
        if (err.retryAfterS !== undefined) msg.retryAfterS = err.retryAfterS;
        return emit(msg);
      }
      const parser = createSseParser(({ event, data }) => {
        let payload: Record<string, unknown>;
        try {
          payload = JSON.parse(data) as Record<string, unknown>;
        } catch {
          return;
        }
        if (ANSWER_EVENTS.has(event)) emit({ ...payload, type: event, id } as AnswerMessage);
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) parser.push(r.value);
      parser.end();
      if (!finished) emit({ type: "interrupted", id });
    } catch {
      if (ctrl.signal.aborted || !inFlight.has(id)) return;
      inFlight.delete(id);
      opts.onAnswer({ type: "interrupted", id });
      usable = false;
      scheduleRetry();
    }
  };

  // ---- both ----------------------------------------------------------------------------------

  function connect() {
    clearTimeout(timer);
    timer = undefined;
    if (transport === "http") void probeHttp();
    else if (!ws) openSocket();
  }

  function flush() {
    if (!usable || authPending) return;
    const pending = queue;
    queue = [];
    for (const input of pending) dispatch(input);
  }

  function dispatch(input: AskInput) {
    if (transport === "http") {
      void askHttp(input);
      return;
    }
    inFlight.set(input.id, undefined);
    const msg: ClientMessage = { type: "ask", id: input.id, question: input.question };
    if (input.history && input.history.length > 0) msg.history = input.history;
    if (input.filters) msg.filters = input.filters;
    send(msg);
  }

  const retryNow = () => {
    if (state === "connected" && (transport === "http" || ws)) return;
    connect();
  };

  if (typeof window !== "undefined") {
    window.addEventListener("online", retryNow);
    window.addEventListener("offline", () => {
      if (state !== "connected") setState("offline");
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && state !== "connected") retryNow();
    });
  }

  opts.onState(state, transport);
  if (typeof WebSocket === "undefined") useHttp();
  else connect();

  return {
    get state() {
      return state;
    },
    get transport() {
      return transport;
    },
    ask(input) {
      queue.push(input);
      flush();
    },
    cancel(id) {
      queue = queue.filter((q) => q.id !== id);
      if (!inFlight.has(id)) return;
      const ctrl = inFlight.get(id);
      inFlight.delete(id);
      if (ctrl) ctrl.abort();
      else if (usable) send({ type: "cancel", id });
    },
    authenticate() {
      if (transport === "http") {
        authPending = false;
        flush();
      } else if (ws && authPending) {
        sendAuth(false);
      } else {
        retryNow();
      }
    },
    retryNow,
  };
}
