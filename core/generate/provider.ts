/**
 * The port every text-generation backend implements. The adapters and the factory that picks one
 * from the configuration live in llm/.
 */
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
