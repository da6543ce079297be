/**
 * Many WebSocket clients asking at once against a running server: each client asks its
 * questions one after another and checks that every answer arrives whole (sources, deltas, done,
 * the deltas adding up to the answer). Used by `npm run bench`, scripts/load-test.ts and the
 * hardening tests.
 */
import WebSocket from "ws";
import { percentiles } from "./stats.ts";

export interface LoadTestOptions {
  /** The server's base URL (http://host:port); the WebSocket is at /ws. */
  url: string;
  clients: number;
  questionsEach: number;
  /** Questions asked in turn. */
  questions: readonly string[];
  /** Access token, when the server requires one. */
  token?: string;
  /** Gives up on one answer after this long (default 120 s). */
  answerTimeoutMs?: number;
}

export interface Spread {
  p50: number;
  p99: number;
  max: number;
}

export interface LoadTestResult {
  clients: number;
  asked: number;
  /** Answers that arrived complete: sources, deltas, done, deltas adding up to the answer. */
  complete: number;
  /** Answers that ended without an error frame but were malformed or cut off. */
  incomplete: number;
  /** Error frames by code, plus CONNECTION for sockets that failed or closed early. */
  errors: Record<string, number>;
  firstDeltaMs: Spread;
  doneMs: Spread;
  wallS: number;
  answersPerS: number;
}

type Frame = { type: string; id?: string; code?: string; text?: string; answer?: string };

function spread(values: number[]): Spread {
  const { p50, p99 } = percentiles(values);
  return { p50, p99, max: Math.round(values.reduce((m, v) => Math.max(m, v), 0) * 10) / 10 };
}

/** True when one answer's frames are sources, deltas, done, and the deltas make the answer. */
function isComplete(frames: Frame[]): boolean {
  const types = frames.map((f) => f.type);
  if (types[0] !== "sources" || types.at(-1) !== "done") return false;
  if (!types.slice(1, -1).every((t) => t === "delta")) return false;
  const text = frames
    .slice(1, -1)
    .map((f) => f.text)
    .join("");
  return text === frames.at(-1)?.answer;
}

/** Runs `clients` WebSocket clients, each asking `questionsEach` questions one after another. */
export async function runLoadTest(opts: LoadTestOptions): Promise<LoadTestResult> {
  const wsUrl = `${opts.url.replace(/^http/, "ws")}/ws`;
  const answerTimeoutMs = opts.answerTimeoutMs ?? 120_000;
  const firstDelta: number[] = [];
  const done: number[] = [];
  const errors: Record<string, number> = {};
  let asked = 0;
  let complete = 0;
  let incomplete = 0;
  const count = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1;
  };

  const client = async (c: number) => {
    const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    const ws = new WebSocket(wsUrl, { headers });
    const frames = new Map<string, Frame[]>();
    let onFrame: ((f: Frame) => void) | undefined;
    let onClose: (() => void) | undefined;
    ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as Frame;
      if (f.id !== undefined) frames.get(f.id)?.push(f);
      onFrame?.(f);
    });
    ws.on("close", () => onClose?.());
    ws.on("error", () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        onFrame = (f) => f.type === "ready" && resolve();
        onClose = () => reject(new Error("closed before ready"));
      });
    } catch {
      count("CONNECTION");
      return;
    }
    for (let q = 0; q < opts.questionsEach; q++) {
      const id = `c${c}-q${q}`;
      const question = opts.questions[(c * opts.questionsEach + q) % opts.questions.length]!;
      frames.set(id, []);
      const t0 = performance.now();
      let first = 0;
      const end = await new Promise<Frame | "closed" | "timeout">((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), answerTimeoutMs);
        onFrame = (f) => {
          if (f.id !== id) return;
          if (f.type === "delta" && first === 0) first = performance.now() - t0;
          if (f.type === "done" || f.type === "error") {
            clearTimeout(timer);
            resolve(f);
          }
        };
        onClose = () => {
          clearTimeout(timer);
          resolve("closed");
        };
        ws.send(JSON.stringify({ type: "ask", id, question }));
        asked++;
      });
      if (end === "closed") {
        count("CONNECTION");
        return;
      }
      if (end === "timeout") count("TIMEOUT");
      else if (end.type === "error") count(end.code ?? "UNKNOWN");
      else if (isComplete(frames.get(id) ?? [])) {
        complete++;
        firstDelta.push(first);
        done.push(performance.now() - t0);
      } else incomplete++;
      frames.delete(id);
    }
    ws.close(1000);
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => client(c)));
  const wallS = (performance.now() - t0) / 1000;
  return {
    clients: opts.clients,
    asked,
    complete,
    incomplete,
    errors,
    firstDeltaMs: spread(firstDelta),
    doneMs: spread(done),
    wallS: Math.round(wallS * 10) / 10,
    answersPerS: Math.round((complete / wallS) * 10) / 10,
  };
}

/** Questions about the seed article, and a few it cannot answer. */
export const DEFAULT_QUESTIONS: readonly string[] = [
  "Who is China's foreign minister?",
  "Where was the Hernán Santa Cruz Dialogue held?",
  "What does China say about human rights?",
  "What are economic, social and cultural rights?",
  "What did Wang Yi say about multilateralism?",
  "What is the world undergoing according to Wang?",
  "When did Wang Yi send the written message?",
  "What is the capital of Peru?",
];

export interface OpenLoopOptions {
  url: string;
  /** Questions per second, sent on schedule whether or not earlier answers have finished. */
  rate: number;
  durationS: number;
  questions: readonly string[];
  /** WebSocket connections the questions are spread over (default 64). */
  connections?: number;
  token?: string;
  answerTimeoutMs?: number;
}

export interface OpenLoopResult {
  rate: number;
  sent: number;
  complete: number;
  incomplete: number;
  errors: Record<string, number>;
  /** From each question's scheduled send time, so a stalled sender cannot hide queueing. */
  firstDeltaMs: Spread & { p95: number };
  doneMs: Spread;
  /** Complete answers per second of the run. */
  answersPerS: number;
}

/** A server's per-connection cap on questions in flight (server/ws.ts). */
const PER_CONNECTION = 16;

/**
 * Open loop: questions arrive at a fixed rate (one every 1/rate s), each on the least busy of a
 * set of connections, the way independent users arrive, instead of each client waiting for its
 * previous answer. Latency counts from the scheduled arrival, so queueing shows in full.
 */
export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const wsUrl = `${opts.url.replace(/^http/, "ws")}/ws`;
  const answerTimeoutMs = opts.answerTimeoutMs ?? 60_000;
  const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
  const errors: Record<string, number> = {};
  const count = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const firstDelta: number[] = [];
  const done: number[] = [];
  let complete = 0;
  let incomplete = 0;

  interface Pending {
    scheduled: number;
    first: number;
    frames: Frame[];
    finish: () => void;
    timer: NodeJS.Timeout;
  }
  const conns = await Promise.all(
    Array.from({ length: opts.connections ?? 64 }, async () => {
      const ws = new WebSocket(wsUrl, { headers });
      const pending = new Map<string, Pending>();
      ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as Frame;
        const p = f.id === undefined ? undefined : pending.get(f.id);
        if (!p) return;
        p.frames.push(f);
        if (f.type === "delta" && p.first === 0) p.first = performance.now() - p.scheduled;
        if (f.type === "done" || f.type === "error") {
          pending.delete(f.id!);
          clearTimeout(p.timer);
          if (f.type === "error") count(f.code ?? "UNKNOWN");
          else if (isComplete(p.frames)) {
            complete++;
            firstDelta.push(p.first);
            done.push(performance.now() - p.scheduled);
          } else incomplete++;
          p.finish();
        }
      });
      ws.on("error", () => {});
      await new Promise<void>((resolve, reject) => {
        ws.on("message", function ready(data) {
          if ((JSON.parse(String(data)) as Frame).type !== "ready") return;
          ws.off("message", ready);
          resolve();
        });
        ws.on("close", () => reject(new Error("a load-test connection closed before ready")));
      });
      return { ws, pending };
    }),
  );

  const answers: Promise<void>[] = [];
  const total = Math.round(opts.rate * opts.durationS);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const scheduled = t0 + (i * 1000) / opts.rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const conn = conns.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    if (conn.pending.size >= PER_CONNECTION) {
      count("CLIENT_SATURATED");
      continue;
    }
    const id = `o${i}`;
    answers.push(
      new Promise<void>((finish) => {
        const timer = setTimeout(() => {
          conn.pending.delete(id);
          count("TIMEOUT");
          finish();
        }, answerTimeoutMs);
        conn.pending.set(id, { scheduled, first: 0, frames: [], finish, timer });
      }),
    );
    conn.ws.send(JSON.stringify({ type: "ask", id, question: opts.questions[i % opts.questions.length]! }));
  }
  await Promise.all(answers);
  const wallS = (performance.now() - t0) / 1000;
  for (const c of conns) c.ws.close(1000);
  const first = spread(firstDelta);
  return {
    rate: opts.rate,
    sent: answers.length,
    complete,
    incomplete,
    errors,
    firstDeltaMs: { ...first, p95: percentiles(firstDelta).p95 },
    doneMs: spread(done),
    answersPerS: Math.round((complete / wallS) * 10) / 10,
  };
}
