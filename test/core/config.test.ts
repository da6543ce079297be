import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULTS, loadConfig, PROJECT_ROOT, SETTINGS } from "../../core/config.ts";

describe("loadConfig", () => {
  it("returns the defaults when no variable is set", () => {
    expect(loadConfig({}, {})).toEqual(DEFAULTS);
  });

  it.each([
    ["CITELINE_PORT", "8080", "port", 8080],
    ["CITELINE_MODEL", "all-MiniLM-L6-v2", "model", "all-MiniLM-L6-v2"],
    ["CITELINE_BACKEND", "weaviate", "backend", "weaviate"],
    ["CITELINE_ANSWER_SENTENCES", "3", "answerSentences", 3],
    ["CITELINE_QUERY_CACHE", "0", "queryCacheSize", 0],
    [
      "CITELINE_ALLOWED_ORIGINS",
      "https://a.example, https://b.example",
      "allowedOrigins",
      ["https://a.example", "https://b.example"],
    ],
    ["CITELINE_CORPUS_DIR", "docs/news", "corpusDir", path.join(PROJECT_ROOT, "docs/news")],
  ])("reads %s", (env, raw, key, value) => {
    expect(loadConfig({}, { [env]: raw })[key as keyof typeof DEFAULTS]).toEqual(value);
  });

  it.each([
    ["CITELINE_PORT", "80a", 'CITELINE_PORT is "80a"; it must be a whole number from 0 to 65535'],
    ["CITELINE_PORT", "70000", 'CITELINE_PORT is "70000"; it must be a whole number from 0 to 65535'],
    [
      "CITELINE_MODEL",
      "gpt",
      'CITELINE_MODEL is "gpt"; it must be one of bge-small-en-v1.5, all-MiniLM-L6-v2',
    ],
    ["CITELINE_BACKEND", "qdrant", 'CITELINE_BACKEND is "qdrant"; it must be one of embedded, weaviate'],
    ["CITELINE_MAX_K", "0", 'CITELINE_MAX_K is "0"; it must be a whole number from 1 to 200'],
    [
      "CITELINE_DENSE_WEIGHT",
      "0.7",
      "CITELINE_DENSE_WEIGHT is no longer read: denseWeight is a tuned constant, fitted on the evaluation sets and kept in core/retrieval-model.json",
    ],
    [
      "CITELINE_NOT_FOUND_THRESHOLD",
      "0.5",
      "CITELINE_NOT_FOUND_THRESHOLD is no longer read: notFoundThreshold is a tuned constant, fitted on the evaluation sets and kept in core/retrieval-model.json",
    ],
    ["CITELINE_TOKEN", "short", "CITELINE_TOKEN is 5 characters; use at least 16"],
    [
      "CITELINE_LOG_LEVEL",
      "loud",
      'CITELINE_LOG_LEVEL is "loud"; it must be one of debug, info, warn, error, silent',
    ],
  ])("refuses %s=%s with a message naming the variable", (env, raw, message) => {
    expect(() => loadConfig({}, { [env]: raw })).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID", message }),
    );
  });

  it.each([
    [{ PORT: "9000" }, 9000, "127.0.0.1"],
    [{ PORT: "9000", CITELINE_PORT: "9001" }, 9001, "127.0.0.1"],
    [{ HOST: "0.0.0.0", PORT: "" }, 8787, "0.0.0.0"],
    [{ HOST: "0.0.0.0", CITELINE_HOST: "::1" }, 8787, "::1"],
  ])("reads the conventional PORT and HOST, with CITELINE_ winning: %j", (env, port, host) => {
    const config = loadConfig({}, env);
    expect([config.port, config.host]).toEqual([port, host]);
  });

  it("names PORT when PORT holds the bad value", () => {
    expect(() => loadConfig({}, { PORT: "http" })).toThrow(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: 'PORT is "http"; it must be a whole number from 0 to 65535',
      }),
    );
  });

  it("refuses an overlap of half the chunk size or more", () => {
    expect(() =>
      loadConfig({}, { CITELINE_CHUNK_MAX_TOKENS: "64", CITELINE_CHUNK_OVERLAP_TOKENS: "32" }),
    ).toThrow(/CITELINE_CHUNK_OVERLAP_TOKENS is 32; it must be under half/);
  });
});

describe("README", () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");

  it("documents every setting", () => {
    const missing = SETTINGS.filter((s) => !readme.includes(`\`${s.env}\``)).map((s) => s.env);
    expect(missing).toEqual([]);
  });

  it("documents every npm script users run", () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    for (const name of ["start", "test", "index", "eval", "bench", "model:fetch"]) {
      expect(pkg.scripts[name]).toBeDefined();
      expect(readme).toContain(name === "start" || name === "test" ? `npm ${name}` : `npm run ${name}`);
    }
  });
});
