import { describe, expect, it } from "vitest";
import { loadConfig } from "../../core/config.ts";
import { createGenerator } from "../../llm/select.ts";

describe("generation settings", () => {
  it("is off by default", async () => {
    const config = loadConfig({}, {});
    expect(config.llmUrl).toBeUndefined();
    expect(config.llmGguf).toBeUndefined();
    await expect(createGenerator(config)).resolves.toBeUndefined();
  });

  it.each([
    [
      { CITELINE_LLM_URL: "localhost:8080" },
      'CITELINE_LLM_URL is "localhost:8080"; it must be an http:// or https:// URL',
    ],
    [
      { CITELINE_LLM_URL: "http://127.0.0.1:8080/v1" },
      "CITELINE_LLM_URL is set but CITELINE_LLM_MODEL is not; name the model the server should run",
    ],
    [
      { CITELINE_LLM_URL: "http://127.0.0.1:8080/v1", CITELINE_LLM_MODEL: "m", CITELINE_LLM_GGUF: "/m.gguf" },
      "CITELINE_LLM_URL and CITELINE_LLM_GGUF are both set; choose one",
    ],
    [
      { CITELINE_LLM_MAX_TOKENS: "0" },
      'CITELINE_LLM_MAX_TOKENS is "0"; it must be a whole number from 8 to 4096',
    ],
    [{ CITELINE_LLM_THREADS: "x" }, 'CITELINE_LLM_THREADS is "x"; it must be a whole number from 1 to 64'],
  ])("refuses %j", (env, message) => {
    expect(() => loadConfig({}, env)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message }));
  });

  it("reads a provider from the environment", () => {
    const config = loadConfig(
      {},
      {
        CITELINE_LLM_URL: "http://127.0.0.1:8080/v1",
        CITELINE_LLM_MODEL: "qwen2.5:3b",
        CITELINE_LLM_API_KEY: "k",
        CITELINE_LLM_TIMEOUT_MS: "5000",
      },
    );
    expect(config).toMatchObject({
      llmUrl: "http://127.0.0.1:8080/v1",
      llmModel: "qwen2.5:3b",
      llmApiKey: "k",
      llmTimeoutMs: 5000,
    });
  });

  it("names the missing file when CITELINE_LLM_GGUF points nowhere", async () => {
    const config = loadConfig({}, { CITELINE_LLM_GGUF: "/nonexistent/model.gguf" });
    await expect(createGenerator(config)).rejects.toThrow(
      expect.objectContaining({
        code: "LLM_UNAVAILABLE",
        message: 'CITELINE_LLM_GGUF is "/nonexistent/model.gguf"; no such file',
      }),
    );
  });
});
