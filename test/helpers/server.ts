/**
 * A real server for tests: a temp corpus (the seed article plus whatever a test adds), an index
 * built with the real model, `startServer` on port 0, and a small WebSocket client that keeps
 * every frame and sorts them by question id.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { openBackendWriter } from "../../backends/select.ts";
import { type Config, loadConfig } from "../../core/config.ts";
import type { Answerer } from "../../core/generate/answerer.ts";
import type { ServerMessage } from "../../core/protocol.ts";
import type { Embedder } from "../../core/types.ts";
import { type BuildSummary, buildIndex } from "../../ingest/indexer.ts";
import type { Logger } from "../../server/log.ts";
import { type RunningServer, startServer } from "../../server/start.ts";
import { getEmbedder } from "./model.ts";
import { SEED_DOC, sharedPath } from "./shared.ts";

export const SEED_FILE = sharedPath(...SEED_DOC);
export const SEED_ID = "000_1819b03cfa5cc3af";
export const SEED_TITLE = "China ready to work with all parties to advance human rights cause: FM";

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  event: string;
  fields: Record<string, unknown>;
}

/** A temp corpus and index folder; `build` indexes whatever the corpus holds now. */
export interface Workspace {
  root: string;
  corpusDir: string;
  indexDir: string;
  embedder: Embedder;
  /** A config on port 0, silent, pointing at this workspace; `overrides` win. */
  config(overrides?: Partial<Config>): Config;
  /** Writes a document into the corpus folder (name relative to it, e.g. `zorblax.txt`). */
  addDoc(name: string, text: string): Promise<void>;
  build(): Promise<BuildSummary>;
  remove(): Promise<void>;
}

/**
 * Makes a workspace holding the seed article plus `docs` (file name → text), without building.
 * The real model is loaded once per test file.
 */
export async function createWorkspace(docs: Record<string, string> = {}): Promise<Workspace> {
  const embedder = await getEmbedder();
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-server-"));
  const corpusDir = path.join(root, "corpus");
  const indexDir = path.join(root, "index");
  await mkdir(corpusDir);
  await copyFile(SEED_FILE, path.join(corpusDir, path.basename(SEED_FILE)));
  const ws: Workspace = {
    root,
    corpusDir,
    indexDir,
    embedder,
    config: (overrides = {}) =>
      loadConfig({ port: 0, host: "127.0.0.1", corpusDir, indexDir, logLevel: "silent", ...overrides }),
    addDoc: (name, text) => writeFile(path.join(corpusDir, name), text),
    build: () => buildIndex({ openWriter: openBackendWriter, config: ws.config(), embedder }),
    remove: () => rm(root, { recursive: true, force: true }),
  };
  for (const [name, text] of Object.entries(docs)) await ws.addDoc(name, text);
  return ws;
}

export interface TestServer {
  server: RunningServer;
  url: string;
  wsUrl: string;
  config: Config;
  /** Everything the server logged, in order. */
  logs: LogEntry[];
  close(): Promise<void>;
}

/**
 * Starts the server on a built workspace with the shared embedder (or `opts.embedder`); logs are
 * kept, not printed.
 */
export async function startTestServer(
  workspace: Workspace,
  overrides: Partial<Config> = {},
  opts: {
    reloadIntervalMs?: number;
    embedder?: Embedder;
    generator?: Answerer;
    watch?: { debounceMs: number };
  } = {},
): Promise<TestServer> {
  const config = workspace.config(overrides);
  const logs: LogEntry[] = [];
  const log: Logger = (level, event, fields = {}) => {
    logs.push({ level, event, fields });
  };
  const server = await startServer(config, {
    embedder: opts.embedder ?? workspace.embedder,
    log,
    reloadIntervalMs: opts.reloadIntervalMs ?? 60_000,
    ...(opts.generator ? { generator: opts.generator } : {}),
    ...(opts.watch ? { watch: opts.watch } : {}),
  });
  return {
    server,
    url: server.url,
    wsUrl: `${server.url.replace(/^http/, "ws")}/ws`,
    config,
    logs,
    close: () => server.close(500),
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** POSTs a value as JSON to /api/answer and returns status and parsed body. */
export async function postAnswer(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/answer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Parses a complete Server-Sent Events text into its events. */
export function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "{}";
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

type Frame = ServerMessage & Record<string, unknown>;

/** A real `ws` client that records every frame; frames carrying an id are also filed by id. */
export class ChatClient {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  /** Set once the socket closes: the close code and reason. */
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on("message", (data, isBinary) => {
      if (isBinary) throw new Error("the server sent a binary frame");
      this.frames.push(JSON.parse(String(data)) as Frame);
      this.notify();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    // A refused or oversized frame surfaces as an error and then a close; `closed` records it.
    socket.on("error", () => {});
  }

  /** Connects and waits for the `ready` frame. */
  static async connect(wsUrl: string): Promise<ChatClient> {
    const socket = new WebSocket(wsUrl);
    const client = new ChatClient(socket);
    await client.next((f) => f.type === "ready");
    return client;
  }

  /** Frames for one question id, in arrival order. */
  framesFor(id: string): Frame[] {
    return this.frames.filter((f) => f.id === id);
  }

  /** Waits for the first frame (from index `from` on) that matches. */
  async next(match: (f: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<Frame> {
    return this.until(`a matching frame`, () => this.frames.slice(from).find(match), timeoutMs);
  }

  /** Sends an ask and waits for its done or error frame; returns that frame. */
  async ask(id: string, question: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    this.sendJson({ type: "ask", id, question, ...extra });
    return this.settled(id);
  }

  /** Waits for the done or error frame of `id`. */
  settled(id: string, timeoutMs = 15_000): Promise<Frame> {
    return this.next((f) => f.id === id && (f.type === "done" || f.type === "error"), 0, timeoutMs);
  }

  /** Waits until the server closes the connection. */
  async whenClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.until("the connection to close", () => this.closed, timeoutMs);
  }

  sendJson(msg: unknown): void {
    this.socket.send(JSON.stringify(msg));
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.terminate();
    }
  }

  private until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const poll = () => {
        const value = check();
        if (value === undefined) return false;
        clearTimeout(timer);
        this.waiters.delete(onChange);
        resolve(value);
        return true;
      };
      const onChange = () => void poll();
      const timer = setTimeout(() => {
        this.waiters.delete(onChange);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.describe()}`));
      }, timeoutMs);
      if (!poll()) this.waiters.add(onChange);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private describe(): string {
    return JSON.stringify(this.frames.map((f) => [f.type, f.id, f.code]));
  }
}
