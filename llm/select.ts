/**
 * Picks the text-generation provider the configuration names. Each adapter is imported only when
 * configured, so the default install never loads it (node-llama-cpp lives in llm/node_modules,
 * installed by `npm run llm:install`).
 */

import type { LlmConfig } from "../core/config.ts";
import { type Answerer, type AnswererConfig, createAnswerer, type Log } from "../core/generate/answerer.ts";
import type { LlmProvider } from "../core/generate/provider.ts";

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

/** The configured answerer, or undefined when no model is configured (the default). */
export async function createGenerator(
  config: AnswererConfig & LlmConfig,
  log?: Log,
): Promise<Answerer | undefined> {
  const provider = await createProvider(config);
  if (!provider) return undefined;
  log?.("info", "generation_enabled", { provider: provider.kind, model: provider.model });
  return createAnswerer(config, provider, log);
}
