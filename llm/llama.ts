/**
 * Adapter: a GGUF model run in-process by node-llama-cpp. The runtime lives in its own package
 * (llm/, installed by `npm run llm:install`) so the default install neither downloads nor loads it.
 */
import { access } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../core/config.ts";
import { AppError } from "../core/errors.ts";
import type { ChatMessage, LlmProvider, StreamOptions } from "../core/generate/provider.ts";

/** Where `npm run llm:install` puts the runtime. */
export const LLAMA_RUNTIME = path.join(
  PROJECT_ROOT,
  "llm",
  "node_modules",
  "node-llama-cpp",
  "dist",
  "index.js",
);

/** The slice of node-llama-cpp 3.21 this adapter uses; its own types live in the side package. */
interface Runtime {
  getLlama(opts: { build: "never"; gpu: false }): Promise<Llama>;
  LlamaChatSession: new (opts: { contextSequence: Sequence; autoDisposeSequence: boolean }) => Session;
}
interface Llama {
  loadModel(opts: { modelPath: string }): Promise<Model>;
  dispose(): Promise<void>;
}
interface Model {
  createContext(opts: { contextSize: number; threads: number; flashAttention: boolean }): Promise<Context>;
  dispose(): Promise<void>;
}
interface Context {
  getSequence(): Sequence;
  dispose(): Promise<void>;
}
interface Sequence {
  clearHistory(): Promise<void>;
}
type HistoryItem = { type: "system" | "user"; text: string } | { type: "model"; response: string[] };
interface Session {
  setChatHistory(history: HistoryItem[]): void;
  prompt(
    text: string,
    opts: { maxTokens: number; temperature: number; signal: AbortSignal; onTextChunk: (t: string) => void },
  ): Promise<string>;
  dispose(): void;
}

export interface LlamaOptions {
  modelPath: string;
  threads: number;
  contextSize: number;
}

async function loadRuntime(): Promise<Runtime> {
  try {
    await access(LLAMA_RUNTIME);
  } catch {
    throw new AppError(
      "LLM_UNAVAILABLE",
      "CITELINE_LLM_GGUF is set but the embedded runtime is not installed; run npm run llm:install",
    );
  }
  return (await import(pathToFileURL(LLAMA_RUNTIME).href)) as Runtime;
}

/** Waits for `p`, or rejects as soon as `signal` aborts: a cancelled or timed-out answer stops queueing. */
function abortable(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}

/** Loads the model once; answers take turns on its one context. */
export async function createLlamaProvider(opts: LlamaOptions): Promise<LlmProvider> {
  try {
    await access(opts.modelPath);
  } catch {
    throw new AppError("LLM_UNAVAILABLE", `CITELINE_LLM_GGUF is "${opts.modelPath}"; no such file`);
  }
  const rt = await loadRuntime();
  // Prebuilt CPU binaries only: never compile or probe GPUs at start; the defaults hung here.
  const llama = await rt.getLlama({ build: "never", gpu: false });
  const model = await llama.loadModel({ modelPath: opts.modelPath });
  const context = await model.createContext({
    contextSize: opts.contextSize,
    threads: opts.threads,
    flashAttention: false,
  });
  const sequence = context.getSequence();
  let turn: Promise<void> = Promise.resolve();

  async function* stream(messages: readonly ChatMessage[], { maxTokens, signal }: StreamOptions) {
    let release!: () => void;
    const previous = turn;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    // The next answer waits for this one and for everything before it, even if this one gives up early.
    turn = previous.then(() => mine);
    try {
      await abortable(previous, signal);
    } catch (err) {
      release();
      throw err;
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const session = new rt.LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
    let running: Promise<unknown> = Promise.resolve();
    try {
      signal.throwIfAborted();
      await sequence.clearHistory();
      const last = messages.at(-1);
      if (last?.role !== "user") throw new Error("the last message must be the user's");
      session.setChatHistory(
        messages
          .slice(0, -1)
          .map(
            (m): HistoryItem =>
              m.role === "assistant"
                ? { type: "model", response: [m.content] }
                : { type: m.role, text: m.content },
          ),
      );
      const pieces: string[] = [];
      let finished = false;
      let failure: unknown;
      let wake: (() => void) | undefined;
      running = session
        .prompt(last.content, {
          maxTokens,
          temperature: 0,
          signal: stop.signal,
          onTextChunk: (t) => {
            pieces.push(t);
            wake?.();
          },
        })
        .then(
          () => {
            finished = true;
            wake?.();
          },
          (err: unknown) => {
            failure = err;
            finished = true;
            wake?.();
          },
        );
      while (true) {
        const piece = pieces.shift();
        if (piece !== undefined) {
          yield piece;
          continue;
        }
        if (finished) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
      if (failure !== undefined) throw failure;
      signal.throwIfAborted();
    } finally {
      // The reader may leave early (a rejected answer, a cancel): stop the model before the next turn.
      stop.abort();
      signal.removeEventListener("abort", onAbort);
      await running;
      session.dispose();
      release();
    }
  }

  return {
    kind: "llama",
    model: path.basename(opts.modelPath).replace(/\.gguf$/i, ""),
    stream,
    async close() {
      await turn;
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
}
