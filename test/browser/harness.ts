/**
 * Browser tests drive the real page in headless Chromium against a real server: a temp corpus
 * (the seed article plus whatever a test adds), an index built with the real model, the client
 * built into client/dist, and `startServer` on a free port that can be stopped and restarted.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page, type WebSocket } from "playwright-core";
import { openBackendWriter } from "../../backends/select.ts";
import { type Config, loadConfig, PROJECT_ROOT } from "../../core/config.ts";
import type { Answerer } from "../../core/generate/answerer.ts";
import type { ClientMessage, ServerMessage } from "../../core/protocol.ts";
import type { Embedder } from "../../core/types.ts";
import { createEmbedder } from "../../embeddings/embedder.ts";
import { buildIndex } from "../../ingest/indexer.ts";
import { buildClient } from "../../scripts/build-client.ts";
import { type RunningServer, startServer } from "../../server/start.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

export const SEED_FILE = sharedPath(...SEED_DOC);
export const SEED_TITLE = "China ready to work with all parties to advance human rights cause: FM";
export const ARTIFACTS = path.join(PROJECT_ROOT, "test-artifacts");
/** Browser tests start Chromium, a model and a server; give them room. */
export const TIMEOUT = 120_000;

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

export interface AppOptions {
  /** Extra corpus files, name → text (or bytes, for a PDF). */
  docs?: Record<string, string | Buffer>;
  /** False: the corpus starts without the seed article (default true). */
  seed?: boolean;
  config?: Partial<Config>;
  /** A generator to answer with (a scripted model, for ordering tests); default: as configured. */
  generator?: Answerer;
}

export interface App {
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  /** Stops the server at once (answers in flight are cut off). */
  stop(): Promise<void>;
  /** Starts the server again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes the temp folders. */
  dispose(): Promise<void>;
}

let embedder: Promise<Embedder> | undefined;
/** The real model, loaded once per test file. */
function getEmbedder(): Promise<Embedder> {
  embedder ??= createEmbedder(loadConfig());
  return embedder;
}

/** Builds a corpus and its index in temp folders and starts the server on a free port. */
export async function startApp(opts: AppOptions = {}): Promise<App> {
  await buildClient();
  const root = await mkdtemp(path.join(os.tmpdir(), "citeline-browser-"));
  const corpusDir = path.join(root, "corpus");
  const indexDir = path.join(root, "index");
  await mkdir(corpusDir);
  if (opts.seed !== false) await copyFile(SEED_FILE, path.join(corpusDir, path.basename(SEED_FILE)));
  for (const [name, text] of Object.entries(opts.docs ?? {}))
    await writeFile(path.join(corpusDir, name), text);
  const model = await getEmbedder();
  const base: Partial<Config> = {
    host: "127.0.0.1",
    corpusDir,
    indexDir,
    logLevel: "silent",
    ...opts.config,
  };
  await buildIndex({
    openWriter: openBackendWriter,
    config: loadConfig({ ...base, port: 0 }),
    embedder: model,
  });

  let config = loadConfig({ ...base, port: 0 });
  const shared = { embedder: model, ...(opts.generator ? { generator: opts.generator } : {}) };
  let server: RunningServer | undefined = await startServer(config, shared);
  const port = server.port;
  config = loadConfig({ ...base, port });
  const url = server.url;
  const stop = async () => {
    const s = server;
    server = undefined;
    await s?.close(0);
  };
  return {
    url,
    port,
    config,
    stop,
    async start() {
      if (server) return;
      server = await startServer(config, shared);
    },
    async dispose() {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Everything a page did that a test may want to assert on. */
export interface PageLog {
  /** Client → server WebSocket messages, parsed. */
  sent: ClientMessage[];
  /** Server → client WebSocket messages, parsed. */
  received: ServerMessage[];
  requests: string[];
  dialogs: string[];
  errors: string[];
}

export interface OpenPage {
  context: BrowserContext;
  page: Page;
  log: PageLog;
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  colorScheme?: "light" | "dark";
  /** Runs in the page before its scripts (e.g. to take WebSocket away). */
  initScript?: () => void;
  /** Prepares the context before the page opens (e.g. routes that refuse WebSockets). */
  setup?: (context: BrowserContext) => Promise<void>;
}

/** A fresh browser context (empty localStorage) with the app open and its traffic recorded. */
export async function openPage(browser: Browser, app: App, opts: PageOptions = {}): Promise<OpenPage> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    colorScheme: opts.colorScheme ?? "light",
    reducedMotion: "reduce",
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
  await opts.setup?.(context);
  const page = await context.newPage();
  const log: PageLog = { sent: [], received: [], requests: [], dialogs: [], errors: [] };
  if (opts.initScript) await page.addInitScript(opts.initScript);
  // CSP violations (an inline style or script slipping in) are failures.
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on("websocket", (ws: WebSocket) => {
    ws.on("framesent", (f) => log.sent.push(JSON.parse(String(f.payload)) as ClientMessage));
    ws.on("framereceived", (f) => log.received.push(JSON.parse(String(f.payload)) as ServerMessage));
  });
  page.on("request", (r) => log.requests.push(r.url()));
  page.on("dialog", (d) => {
    log.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on("pageerror", (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") log.errors.push(`console: ${m.text()}`);
  });
  await page.goto(app.url);
  return { context, page, log };
}

/** Types a question into the composer and sends it with Enter. */
export async function ask(page: Page, question: string): Promise<void> {
  await page.locator("#question").fill(question);
  await page.locator("#question").press("Enter");
}

/** The last turn on the page. */
export const lastTurn = (page: Page) => page.locator(".turn").last();

/** Waits until the last turn has settled with `status` (done by default). */
export async function waitForStatus(page: Page, status = "done", timeout = 30_000): Promise<void> {
  await page.locator(`.turn:last-child[data-status="${status}"]`).waitFor({ timeout });
}

export async function waitForConnected(page: Page, timeout = 20_000): Promise<void> {
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout });
}

/** The `done` frame the server sent for the question asked in `ask` frame number `nth` (0-based). */
export function doneFrame(log: PageLog, nth = 0): Extract<ServerMessage, { type: "done" }> {
  const asks = log.sent.filter((m): m is Extract<ClientMessage, { type: "ask" }> => m.type === "ask");
  const id = asks[nth]?.id;
  const done = log.received.find(
    (m): m is Extract<ServerMessage, { type: "done" }> => m.type === "done" && m.id === id,
  );
  if (!done) throw new Error(`no done frame for ask #${nth} (${id})`);
  return done;
}

/** Writes a screenshot under test-artifacts/ (gitignored) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
