/**
 * A scripted language model for ordering and protocol tests: it writes a fixed text a few
 * characters at a time once the test opens its gate, and until then waits, as a slow model waits
 * before its first token. It says nothing about what a real model writes; test/llm/ and
 * test/browser/generated.test.ts run the real one.
 */
import type { LlmProvider } from "../../core/generate/provider.ts";

export interface ScriptedModel {
  provider: LlmProvider;
  /** Lets the model write (every answer from now on). */
  open(): void;
}

export function scriptedModel(script: string, name = "scripted"): ScriptedModel {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const provider: LlmProvider = {
    kind: "llama",
    model: name,
    async *stream(_messages, { signal }) {
      await Promise.race([
        gate,
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      ]);
      for (const piece of script.match(/.{1,4}/gs) ?? []) {
        signal.throwIfAborted();
        await new Promise((r) => setImmediate(r));
        yield piece;
      }
    },
    async close() {},
  };
  return { provider, open };
}
