/**
 * The port every text-generation backend implements, and the factory that picks one from the
 * configuration. Backends are imported only when configured, so the default install never loads
 * them.
 */
import type { Config } from "../config.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface StreamOptions {
  maxTokens: number;
  /** Aborting stops generation on the backend, not only the reading of its output. */
  signal: AbortSignal;
}

/** A chat model that streams its reply as text pieces. */
export interface LlmProvider {
  /** "openai" (any OpenAI-compatible server) or "llama" (a GGUF file run in-process). */
  readonly kind: "openai" | "llama";
  /** The model's name as shown to the user. */
  readonly model: string;
  stream(messages: readonly ChatMessage[], opts: StreamOptions): AsyncIterable<string>;
  close(): Promise<void>;
}

export type LlmConfig = Pick<
  Config,
  "llmUrl" | "llmModel" | "llmApiKey" | "llmGguf" | "llmThreads" | "llmContextSize" | "llmTimeoutMs"
>;

/** The configured provider, or undefined when generation is off (the default). */
export async function createProvider(config: LlmConfig): Promise<LlmProvider | undefined> {
  if (config.llmGguf !== undefined) {
    const { createLlamaProvider } = await import("./llama.ts");
    return createLlamaProvider({
      modelPath: config.llmGguf,
      threads: config.llmThreads,
      contextSize: config.llmContextSize,
    });
  }
  if (config.llmUrl !== undefined) {
    const { createOpenAiProvider } = await import("./openai.ts");
    return createOpenAiProvider({
      baseURL: config.llmUrl,
      model: config.llmModel ?? "default",
      apiKey: config.llmApiKey,
      timeoutMs: config.llmTimeoutMs,
    });
  }
  return undefined;
}
