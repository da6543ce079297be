/** Adapter: any OpenAI-compatible chat-completions server (llama.cpp, Ollama, vLLM, LM Studio). */
import OpenAI from "openai";
import type { ChatMessage, LlmProvider, StreamOptions } from "../core/generate/provider.ts";

export interface OpenAiOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080/v1. */
  baseURL: string;
  model: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

export function createOpenAiProvider(opts: OpenAiOptions): LlmProvider {
  // Local servers need no key; the client insists on one, so a placeholder stands in.
  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey ?? "none",
    timeout: opts.timeoutMs,
    // A retry would restart the answer from its first token; the fallback is better.
    maxRetries: 0,
  });
  return {
    kind: "openai",
    model: opts.model,
    async *stream(messages: readonly ChatMessage[], { maxTokens, signal }: StreamOptions) {
      const stream = await client.chat.completions.create(
        {
          model: opts.model,
          messages: messages.map((m) => ({ role: m.role, content: m.content })),
          max_tokens: maxTokens,
          temperature: 0,
          stream: true,
        },
        { signal },
      );
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (text) yield text;
      }
    },
    async close() {},
  };
}
