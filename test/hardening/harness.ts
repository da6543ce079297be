/**
 * Shared pieces for the hardening suite: a temp corpus indexed once per file with the real model,
 * real servers on port 0, a `ws` client that records frames, raw HTTP over a keep-alive agent,
 * the server as a child process, and checks for "a documented error" and "a complete answer".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { openBackendWriter } from "../../backends/select.ts";
import { type Config, type LogLevel, loadConfig, PROJECT_ROOT } from "../../core/config.ts";
import { AppError, ERROR_CODES, type ErrorCode } from "../../core/errors.ts";
import type { Embedder } from "../../core/types.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { buildIndex } from "../../ingest/indexer.ts";
import { httpStatus } from "../../server/errors.ts";
import { createLogger, type Logger } from "../../server/log.ts";
import { type RunningServer, type StartOptions, startServer } from "../../server/start.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

export const SEED_FILE = sharedPath(...SEED_DOC);

/** Topics for the generated documents; each becomes one dated article of a few paragraphs. */
const TOPICS = [
  ["solar", "Solar farms expand across the northern plains", "panels", "megawatts"],
  ["wheat", "Wheat harvest beats forecasts after late rains", "farmers", "tonnes"],
  ["rail", "High-speed rail line opens between two coastal cities", "trains", "passengers"],
  ["coral", "Marine scientists survey bleached coral reefs", "divers", "reef sites"],
  ["vaccine", "Regional clinics begin a measles vaccination drive", "nurses", "doses"],
  ["port", "Container port doubles its crane capacity", "dock workers", "containers"],
  ["library", "City library lends laptops to students", "librarians", "devices"],
  ["glacier", "Glacier retreat measured by mountain researchers", "surveyors", "metres"],
  ["chess", "Junior chess championship draws record entries", "players", "games"],
  ["bridge", "Suspension bridge reopens after cable repairs", "engineers", "vehicles"],
  ["honey", "Beekeepers report a strong honey season", "beekeepers", "hives"],
  ["wind", "Offshore wind turbines connected to the grid", "technicians", "turbines"],
  ["museum", "Museum returns ancient bronze statues", "curators", "artefacts"],
  ["fishing", "Fishing quotas revised for the winter season", "fishers", "boats"],
  ["satellite", "Weather satellite launched into polar orbit", "controllers", "orbits"],
  ["water", "Desalination plant supplies a growing town", "operators", "litres"],
  ["forest", "Reforestation project plants native saplings", "volunteers", "saplings"],
  ["marathon", "Marathon route changed for road works", "runners", "kilometres"],
  ["tea", "Tea growers adopt drip irrigation", "growers", "hectares"],
  ["robot", "Hospital trials robots that deliver medicine", "pharmacists", "deliveries"],
  ["airport", "Airport terminal adds automated gates", "travellers", "flights"],
  ["theatre", "Open-air theatre festival returns to the old town", "actors", "performances"],
] as const;

/** A dated article in the seed format (` date YYYY-MM-DD Title`), about 1.5 kB of varied text. */
export function generatedDoc(i: number): { name: string; text: string } {
  const [key, title, people, unit] = TOPICS[i % TOPICS.length]!;
  const day = String((i % 27) + 1).padStart(2, "0");
  const n = 100 + i * 37;
  const paragraphs = [
    `Officials said on Tuesday that the ${key} programme reached ${n} ${unit} this year, the highest figure since records began.`,
    `${people[0]!.toUpperCase()}${people.slice(1)} interviewed for this report described long shifts and careful planning. One of them said the ${key} work had changed how the district thinks about the future.`,
    `The regional council approved a budget of ${n * 3} thousand for the next phase. Critics argued that the money should go to schools, while supporters pointed to ${n * 2} new jobs.`,
    `A review published in the spring found that ${unit} grew by ${i + 4} percent compared with the previous season. The authors warned that weather and prices remain uncertain.`,
    `Local ${people} plan an open day next month so that residents can see the ${key} project for themselves. Visitors will be asked to register in advance.`,
    `The ministry expects a final report on the ${key} effort before the end of the year, and a second phase will be decided after that.`,
  ];
  return {
    name: `doc_${String(i).padStart(2, "0")}_${key}.txt`,
    text: ` date 2024-${String((i % 12) + 1).padStart(2, "0")}-${day} ${title}\n\n${paragraphs.join("\n\n")}\n`,
  };
}

let sharedEmbedder: Promise<Embedder> | undefined;

/** The real model, loaded once per test file (vitest gives each file its own module graph). */
export function realEmbedder(): Promise<Embedder> {
  sharedEmbedder ??= createEmbedder(loadConfig());
  return sharedEmbedder;
}

export interface Fixture {
  root: string;
  corpusDir: string;
  indexDir: string;
  embedder: Embedder;
  /** Port 0, loopback, silent, this fixture's corpus and index; `overrides` win. */
  config(overrides?: Partial<Config>): Config;
  /** Starts a server with the shared model; it is closed by `closeServers`. */
  start(overrides?: Partial<Config>, opts?: StartOptions): Promise<RunningServer>;
  closeServers(): Promise<void>;
  remove(): Promise<void>;
}

/** A temp corpus (the seed article plus `docs` generated articles) indexed with the real model. */
export async function createFixture(docs = 6): Promise<Fixture> {
  const embedder = await realEmbedder();
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-hardening-"));
  const corpusDir = path.join(root, "corpus");
  const indexDir = path.join(root, "index");
  await mkdir(corpusDir);
  await copyFile(SEED_FILE, path.join(corpusDir, path.basename(SEED_FILE)));
  for (let i = 0; i < docs; i++) {
    const d = generatedDoc(i);
    await writeFile(path.join(corpusDir, d.name), d.text);
  }
  const config = (overrides: Partial<Config> = {}) =>
    loadConfig({ port: 0, host: "127.0.0.1", corpusDir, indexDir, logLevel: "silent", ...overrides });
  await buildIndex({ openWriter: openBackendWriter, config: config(), embedder });
  const servers: RunningServer[] = [];
  return {
    root,
    corpusDir,
    indexDir,
    embedder,
    config,
    async start(overrides = {}, opts = {}) {
      const server = await startServer(config(overrides), {
        embedder,
        reloadIntervalMs: 60_000,
        log: () => {},
        ...opts,
      });
      servers.push(server);
      return server;
    },
    async closeServers() {
      await Promise.all(servers.splice(0).map((s) => s.close(0)));
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

export const wsUrl = (server: { url: string }) => `${server.url.replace(/^http/, "ws")}/ws`;

export interface CapturedLog {
  log: Logger;
  /** Every line exactly as the logger wrote it. */
  lines: string[];
  /** The lines parsed. */
  entries(): Record<string, unknown>[];
}

/** The real structured logger writing into memory. */
export function captureLog(level: LogLevel = "debug"): CapturedLog {
  const lines: string[] = [];
  return {
    log: createLogger(level, (line) => lines.push(line)),
    lines,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export type Frame = { type: string; id?: string; code?: string; [k: string]: unknown };

/** A real `ws` client that records every frame and the close. */
export class Client {
  readonly frames: Frame[] = [];
  /** The close code and reason, and how many frames had arrived before it. */
  closed: { code: number; reason: string; afterFrames: number } | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data, isBinary) => {
      this.frames.push(isBinary ? { type: "<binary>" } : (JSON.parse(String(data)) as Frame));
      this.notify();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString(), afterFrames: this.frames.length };
      this.notify();
    });
    socket.on("error", () => {});
  }

  /** Connects and waits for the `ready` frame. */
  static async connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<Client> {
    const client = new Client(new WebSocket(url, opts));
    await client.until("ready", () => client.frames.find((f) => f.type === "ready"), 10_000);
    return client;
  }

  send(msg: unknown): void {
    this.socket.send(typeof msg === "string" || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  framesFor(id: string): Frame[] {
    return this.frames.filter((f) => f.id === id);
  }

  /** Waits for the done or error frame of `id`; returns every frame of `id`. */
  async settled(id: string, timeoutMs = 30_000): Promise<Frame[]> {
    await this.until(
      `the end of answer ${id}`,
      () => this.frames.find((f) => f.id === id && (f.type === "done" || f.type === "error")),
      timeoutMs,
    );
    return this.framesFor(id);
  }

  async ask(id: string, question: string, extra: Record<string, unknown> = {}): Promise<Frame[]> {
    this.send({ type: "ask", id, question, ...extra });
    return this.settled(id);
  }

  next(what: string, match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return this.until(what, () => this.frames.find(match), timeoutMs);
  }

  whenClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string; afterFrames: number }> {
    return this.until("the close", () => this.closed, timeoutMs);
  }

  terminate(): void {
    this.socket.terminate();
  }

  until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const poll = () => {
        const v = check();
        if (v === undefined) return false;
        clearTimeout(timer);
        this.waiters.delete(poll);
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(poll);
        const seen = JSON.stringify(this.frames.slice(-8).map((f) => [f.type, f.id, f.code]));
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last frames ${seen}`));
      }, timeoutMs);
      if (!poll()) this.waiters.add(poll);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * What is wrong with one answer's events, or undefined when it is complete: sources, then deltas,
 * then done, with the deltas concatenating to done.answer and well-formed sources and citations.
 */
export function answerProblem(events: readonly Frame[]): string | undefined {
  const types = events.map((e) => e.type);
  if (types[0] !== "sources") return `starts with ${types[0]}`;
  if (types.at(-1) !== "done") return `ends with ${types.at(-1)}`;
  if (!types.slice(1, -1).every((t) => t === "delta")) return `unexpected events ${types.join(",")}`;
  const sources = events[0]!.sources;
  if (!Array.isArray(sources)) return "sources is not an array";
  for (const s of sources as Record<string, unknown>[]) {
    if (typeof s.snippet !== "string" || typeof s.docId !== "string" || typeof s.n !== "number")
      return "a source is malformed";
  }
  const done = events.at(-1)!;
  const text = events
    .slice(1, -1)
    .map((e) => e.text)
    .join("");
  if (typeof done.answer !== "string" || text !== done.answer) return "deltas do not make the answer";
  if (!Array.isArray(done.citations)) return "citations is not an array";
  for (const c of done.citations as Record<string, unknown>[]) {
    if (typeof c.n !== "number" || c.n < 1 || c.n > sources.length) return `citation [${c.n}] has no source`;
    if (done.answer.slice(c.answerStart as number, c.answerEnd as number) !== c.text)
      return "a citation does not slice the answer";
  }
  const t = done.timings as Record<string, unknown> | undefined;
  if (typeof t?.totalMs !== "number") return "done has no timings";
  return undefined;
}

/** What is wrong with an error reply, or undefined when it is a documented one. */
export function errorProblem(status: number, body: unknown): string | undefined {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== "string" || !Object.hasOwn(ERROR_CODES, error.code))
    return `status ${status} with an undocumented body ${JSON.stringify(body)?.slice(0, 200)}`;
  if (typeof error.message !== "string" || error.message === "") return `${error.code} has no message`;
  const want = httpStatus(new AppError(error.code as ErrorCode, ""));
  if (status !== want) return `${error.code} came with status ${status}, not ${want}`;
  return undefined;
}

/** An error frame's problem, or undefined when its code is in the catalogue. */
export function errorFrameProblem(f: Frame): string | undefined {
  if (f.type !== "error") return `a ${f.type} frame where an error was expected`;
  if (typeof f.code !== "string" || !Object.hasOwn(ERROR_CODES, f.code)) return `undocumented code ${f.code}`;
  if (typeof f.message !== "string" || f.message === "") return `${f.code} has no message`;
  return undefined;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): unknown;
}

/**
 * One HTTP request with node:http, so paths reach the server as written (fetch would normalise
 * `..`) and a keep-alive agent can be shared by many requests.
 */
export function request(
  base: string,
  opts: {
    method?: string;
    path: string;
    headers?: http.OutgoingHttpHeaders;
    body?: Buffer | string;
    agent?: http.Agent;
    localAddress?: string;
  },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: opts.method ?? "GET",
        path: opts.path,
        headers: opts.headers ?? {},
        ...(opts.agent ? { agent: opts.agent } : {}),
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body.toString("utf8")),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/**
 * The events of a complete SSE response. Lines end at CR or LF only, as the SSE spec says (not
 * at U+2028, which a JavaScript `.` or `$` would stop at).
 */
export function parseSse(text: string): Frame[] {
  return text
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((block) => {
      const lines = block.split(/\r?\n/);
      const type = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message";
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      return { ...(JSON.parse(data || "{}") as Record<string, unknown>), type };
    });
}

export function rssMB(): number {
  return Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
}

export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ServerProcess {
  child: ChildProcess;
  /** Empty until the server has printed where it answers. */
  url: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `scripts/serve.ts` as its own process, the way `npm run serve` does, and waits for it to say
 * where it answers (or to exit). Signals go straight to it: no npm or tsx wrapper in between.
 */
export async function spawnServer(
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const proc = startProcess(env);
  let gone = false;
  void proc.exited.then(() => {
    gone = true;
  });
  proc.url = await waitUntil(
    "the server to say where it answers",
    () => {
      const m = /citeline is answering at (\S+)/.exec(proc.stderr());
      if (m) return m[1];
      if (gone) throw new Error(`the server exited before listening:\n${proc.stderr()}`);
      return undefined;
    },
    timeoutMs,
    50,
  );
  return proc;
}

/** Runs `scripts/serve.ts` with `env` over this process's environment (undefined removes a variable). */
export function startProcess(env: Record<string, string | undefined>): ServerProcess {
  const merged: Record<string, string | undefined> = { ...process.env, CITELINE_PORT: "0", ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "scripts", "serve.ts")], {
    cwd: PROJECT_ROOT,
    env: merged,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, url: "", stdout: () => out, stderr: () => err, exited };
}

/** Runs `fn` over `items` with at most `limit` at once, in order of start. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
