import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "./errors.ts";
import type { FusionMethod } from "./fusion.ts";
import retrievalModel from "./retrieval-model.json" with { type: "json" };

/** The folder that holds package.json; relative settings resolve against it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export type ModelName = "bge-small-en-v1.5" | "all-MiniLM-L6-v2";
/** The search backends this build knows; "embedded" needs nothing but this package. */
export const BACKENDS = ["embedded", "weaviate"] as const;
export type BackendName = (typeof BACKENDS)[number];
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** What the index is built from and with: the corpus, its limits, the chunker, the embedding model and how it runs. */
export interface IndexConfig {
  corpusDir: string;
  /** Largest corpus file read whole (all formats but JSONL, which is read record by record). */
  maxFileBytes: number;
  /** Largest JSONL record (one line). */
  maxRecordBytes: number;
  modelsDir: string;
  modelCacheDir: string;
  model: ModelName;
  /** Largest chunk, in model tokens, including the title/date context given to the embedder. */
  chunkMaxTokens: number;
  /** Tokens of trailing context repeated at the start of the next chunk (whole sentences). */
  chunkOverlapTokens: number;
  embedBatchSize: number;
  /** Embedding worker threads, each with its own ONNX session. */
  embedWorkers: number;
  /** ONNX Runtime intra-op threads per embedding worker. */
  embedThreads: number;
  /** Distinct questions whose query vectors are kept, so a repeated question skips the model (0: none). */
  queryCacheSize: number;
  /** Whether answers are read by the committed reader model (reader/model) when it is there. */
  reader: boolean;
}

/** Where the index is stored and searched. */
export interface BackendConfig {
  /** The search backend that stores the index and answers queries (see core/backend.ts). */
  backend: BackendName;
  indexDir: string;
  /** Weaviate nodes (HTTP base URLs); a query fails over to the next when one is down. */
  weaviateUrls: string[];
  /** gRPC host:port of each node, in the same order; default: the node's host, port 50051. */
  weaviateGrpc: string[];
  weaviateApiKey: string | undefined;
  /** Collection-name prefix, so several indexes can share one cluster. */
  weaviatePrefix: string;
  /** Copies of each shard; 0 means 2 on a cluster of two or more nodes, else 1. */
  weaviateReplication: number;
  /** Shards per collection; 0 means one per node. */
  weaviateShards: number;
}

/** How passages are retrieved and fused, and how an answer is composed from them. */
export interface RetrievalConfig {
  /** Default number of passages retrieved for an answer. */
  k: number;
  maxK: number;
  /** Candidates each retriever contributes before fusion. */
  candidates: number;
  /** How the dense and lexical rankings are fused. */
  fusion: FusionMethod;
  /** Reciprocal-rank-fusion constant. */
  rrfK: number;
  /** Weight of the dense ranking under "score" and "rrf" fusion (lexical gets 1 - this). */
  denseWeight: number;
  /** Most passages one document may place in the top k. */
  perDocCap: number;
  /**
   * Strength of the recency prior: a document dated on the question's as-of day gains this much
   * fused score (in units of one retriever's best hit), halving every `recencyHalfLifeDays`.
   */
  recencyPrior: number;
  recencyHalfLifeDays: number;
  /** Without `asOf`, questions are asked as of today unless the newest document is older than this. */
  staleCorpusDays: number;
  /** Evidence score under which the answer is "not found". */
  notFoundThreshold: number;
  /** Most sentences in a composed answer. */
  answerSentences: number;
}

/** The transports: where they listen, the limits they enforce on clients, access, and logging. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Pause between streamed answer pieces; 0 streams as fast as the answer is composed. */
  streamDelayMs: number;
  maxBodyBytes: number;
  maxQuestionChars: number;
  maxHistoryTurns: number;
  maxHistoryChars: number;
  /**
   * Questions computed at once; more wait in the queue. Most of an answer's time is its query
   * embedding, which the engine batches across questions (two batches of 32 at a time): fewer
   * answers in flight leave the batches small and the cores idle between them.
   */
  maxInFlight: number;
  /** Questions waiting beyond maxInFlight before new ones get BUSY. */
  maxQueue: number;
  /** Requests per client per minute on the answer endpoints and messages. */
  rateLimitPerMinute: number;
  accessToken: string | undefined;
  /**
   * Serve an address other than the loopback without a token. Off: such an address is refused at
   * start, so the page never reaches the network unprotected by accident.
   */
  allowNoToken: boolean;
  allowedOrigins: string[];
  shutdownGraceMs: number;
  heartbeatMs: number;
  /** A WebSocket whose unsent data exceeds this many bytes is treated as a slow reader. */
  wsMaxBufferedBytes: number;
  logLevel: LogLevel;
  /** Largest file `POST /api/documents` accepts. */
  uploadMaxBytes: number;
  /** Files the corpus folder may hold for an upload of a new file to be accepted. */
  uploadMaxFiles: number;
}

/** Generated answers (off unless a model is configured). */
export interface LlmConfig {
  /** Base URL of an OpenAI-compatible server for generated answers (off when unset). */
  llmUrl: string | undefined;
  llmModel: string | undefined;
  llmApiKey: string | undefined;
  /** A GGUF file run in-process for generated answers (off when unset). */
  llmGguf: string | undefined;
  /** Longest a generated answer may take before the extractive answer is used. */
  llmTimeoutMs: number;
  llmMaxTokens: number;
  /** CPU threads of the in-process model. */
  llmThreads: number;
  /** Context window of the in-process model, in tokens. */
  llmContextSize: number;
  /** Top passages the model is given. */
  llmPassages: number;
}

/**
 * Every setting, as loadConfig returns it: the slices of each part together. A module takes the
 * slice it reads (a backend its BackendConfig, retrieval its RetrievalConfig), not the whole.
 */
export interface Config extends IndexConfig, BackendConfig, RetrievalConfig, ServerConfig, LlmConfig {}

/** Retrieval's tuned constants: fitted on the evaluation sets, not settings an operator meets. */
export type TunedRetrieval = Pick<
  RetrievalConfig,
  | "candidates"
  | "fusion"
  | "rrfK"
  | "denseWeight"
  | "perDocCap"
  | "recencyPrior"
  | "recencyHalfLifeDays"
  | "notFoundThreshold"
>;

/**
 * The variables that set tuned constants before they moved to core/retrieval-model.json. One still
 * set is refused, so a value an operator relied on is not dropped without a word.
 */
const RETIRED: Readonly<Record<string, keyof TunedRetrieval>> = {
  CITELINE_CANDIDATES: "candidates",
  CITELINE_FUSION: "fusion",
  CITELINE_RRF_K: "rrfK",
  CITELINE_DENSE_WEIGHT: "denseWeight",
  CITELINE_PER_DOC_CAP: "perDocCap",
  CITELINE_RECENCY_PRIOR: "recencyPrior",
  CITELINE_RECENCY_HALFLIFE: "recencyHalfLifeDays",
  CITELINE_NOT_FOUND_THRESHOLD: "notFoundThreshold",
};

/** Reads and checks the tuned constants, naming the file and field of a value out of range. */
function readTuned(model: Readonly<Record<string, unknown>>): TunedRetrieval {
  const field = <T>(key: keyof TunedRetrieval, parse: (raw: string, name: string) => T): T =>
    parse(String(model[key]), `core/retrieval-model.json's ${key}`);
  return {
    candidates: field("candidates", int(1, 1000)),
    fusion: field("fusion", oneOf(["adaptive", "score", "rrf"] as const)),
    rrfK: field("rrfK", num(1, 1000)),
    denseWeight: field("denseWeight", num(0, 1)),
    perDocCap: field("perDocCap", int(1, 50)),
    recencyPrior: field("recencyPrior", num(0, 1)),
    recencyHalfLifeDays: field("recencyHalfLifeDays", num(0.1, 3650)),
    notFoundThreshold: field("notFoundThreshold", num(0, 1)),
  };
}

/**
 * Fusion, ranking depth, the recency prior and the not-found threshold, kept beside the code
 * that uses them (as the selector's weights are in core/selector-model.json) and changed by
 * re-fitting them (docs/evaluation.md), not through the environment.
 */
export const TUNED: Readonly<TunedRetrieval> = Object.freeze(readTuned(retrievalModel));

export const DEFAULTS: Readonly<Config> = Object.freeze({
  ...TUNED,
  corpusDir: path.join(PROJECT_ROOT, "corpus"),
  backend: "embedded",
  indexDir: path.join(PROJECT_ROOT, "data", "index"),
  weaviateUrls: ["http://127.0.0.1:8080"],
  weaviateGrpc: [],
  weaviateApiKey: undefined,
  weaviatePrefix: "Citeline",
  weaviateReplication: 0,
  weaviateShards: 0,
  modelsDir: path.join(PROJECT_ROOT, "models"),
  modelCacheDir: path.join(os.homedir(), ".cache", "citeline", "models"),
  maxFileBytes: 50 * 1024 * 1024,
  maxRecordBytes: 16 * 1024 * 1024,
  model: "bge-small-en-v1.5",
  chunkMaxTokens: 192,
  chunkOverlapTokens: 32,
  embedBatchSize: 16,
  embedWorkers: Math.max(1, Math.min(4, os.availableParallelism())),
  embedThreads: 1,
  queryCacheSize: 2048,
  reader: true,
  host: "127.0.0.1",
  port: 8787,
  k: 8,
  maxK: 50,
  staleCorpusDays: 30,
  answerSentences: 2,
  streamDelayMs: 0,
  maxBodyBytes: 64 * 1024,
  maxQuestionChars: 2000,
  maxHistoryTurns: 20,
  maxHistoryChars: 20_000,
  maxInFlight: 64,
  maxQueue: 256,
  rateLimitPerMinute: 600,
  accessToken: undefined,
  allowNoToken: false,
  allowedOrigins: [],
  shutdownGraceMs: 10_000,
  heartbeatMs: 30_000,
  wsMaxBufferedBytes: 1024 * 1024,
  logLevel: "info",
  uploadMaxBytes: 50 * 1024 * 1024,
  uploadMaxFiles: 10_000,
  llmUrl: undefined,
  llmModel: undefined,
  llmApiKey: undefined,
  llmGguf: undefined,
  llmTimeoutMs: 60_000,
  llmMaxTokens: 160,
  llmThreads: Math.max(1, Math.min(4, os.availableParallelism())),
  llmContextSize: 4096,
  llmPassages: 3,
});

type Env = Record<string, string | undefined>;

interface Setting {
  key: keyof Config;
  env: string;
  parse: (raw: string, name: string) => unknown;
  doc: string;
  /** Conventional names read when the CITELINE_ variable is unset (it wins over them). */
  aliases?: readonly string[];
}

const MODELS: readonly ModelName[] = ["bge-small-en-v1.5", "all-MiniLM-L6-v2"];
const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

function int(min: number, max: number) {
  return (raw: string, name: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new AppError(
        "CONFIG_INVALID",
        `${name} is "${raw}"; it must be a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

function num(min: number, max: number) {
  return (raw: string, name: string): number => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new AppError("CONFIG_INVALID", `${name} is "${raw}"; it must be a number from ${min} to ${max}`);
    }
    return n;
  };
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, name: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new AppError("CONFIG_INVALID", `${name} is "${raw}"; it must be one of ${values.join(", ")}`);
    }
    return raw as T;
  };
}

function bool(raw: string, name: string): boolean {
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw new AppError("CONFIG_INVALID", `${name} is "${raw}"; it must be 1 or 0`);
}

const dir = (raw: string) => path.resolve(PROJECT_ROOT, raw);
const text = (raw: string) => raw;
function httpUrl(raw: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {}
  if (url?.protocol !== "http:" && url?.protocol !== "https:") {
    throw new AppError("CONFIG_INVALID", `${name} is "${raw}"; it must be an http:// or https:// URL`);
  }
  return raw;
}
function hostPort(raw: string, name: string): string {
  const m = /^([\w.-]+|\[[\da-f:]+\]):(\d{1,5})$/i.exec(raw);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65_535)
    throw new AppError("CONFIG_INVALID", `${name} has "${raw}"; each entry must be host:port`);
  return raw;
}
function collectionPrefix(raw: string, name: string): string {
  if (!/^[A-Z][A-Za-z0-9]{0,40}$/.test(raw))
    throw new AppError(
      "CONFIG_INVALID",
      `${name} is "${raw}"; it must start with a capital letter and hold only letters and digits (at most 41)`,
    );
  return raw;
}
const list = (raw: string) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** Every setting an operator can change, with its variable; the README's table is made from this. */
export const SETTINGS: readonly Setting[] = [
  { key: "corpusDir", env: "CITELINE_CORPUS_DIR", parse: dir, doc: "folder of documents to index" },
  {
    key: "backend",
    env: "CITELINE_BACKEND",
    parse: oneOf(BACKENDS),
    doc: "search backend: `embedded` (hnswlib + SQLite, the default) or `weaviate`",
  },
  { key: "indexDir", env: "CITELINE_INDEX_DIR", parse: dir, doc: "where the index is built and read" },
  {
    key: "weaviateUrls",
    env: "CITELINE_WEAVIATE_URL",
    parse: (raw, name) => list(raw).map((u) => httpUrl(u, name)),
    doc: "weaviate backend: HTTP URL of each node, comma-separated (queries fail over in order)",
  },
  {
    key: "weaviateGrpc",
    env: "CITELINE_WEAVIATE_GRPC",
    parse: (raw, name) => list(raw).map((h) => hostPort(h, name)),
    doc: "weaviate backend: gRPC host:port of each node, in the same order (default: port 50051)",
  },
  {
    key: "weaviateApiKey",
    env: "CITELINE_WEAVIATE_API_KEY",
    parse: text,
    doc: "weaviate backend: API key of a secured cluster",
  },
  {
    key: "weaviatePrefix",
    env: "CITELINE_WEAVIATE_PREFIX",
    parse: collectionPrefix,
    doc: "weaviate backend: prefix of the collection names (one index per prefix)",
  },
  {
    key: "weaviateReplication",
    env: "CITELINE_WEAVIATE_REPLICATION",
    parse: int(0, 9),
    doc: "weaviate backend: copies of each shard; 0 = 3, or as many as there are nodes when fewer",
  },
  {
    key: "weaviateShards",
    env: "CITELINE_WEAVIATE_SHARDS",
    parse: int(0, 1024),
    doc: "weaviate backend: shards per collection; 0 = one per node",
  },
  { key: "modelsDir", env: "CITELINE_MODELS_DIR", parse: dir, doc: "local model folder, searched first" },
  {
    key: "modelCacheDir",
    env: "CITELINE_MODEL_CACHE_DIR",
    parse: dir,
    doc: "download cache for models fetched from the hub",
  },
  {
    key: "maxFileBytes",
    env: "CITELINE_MAX_FILE_BYTES",
    parse: int(1024, 2 ** 31 - 1),
    doc: "largest corpus file read whole; JSONL is read record by record",
  },
  {
    key: "maxRecordBytes",
    env: "CITELINE_MAX_RECORD_BYTES",
    parse: int(1024, 2 ** 31 - 1),
    doc: "largest JSONL record (one line); larger ones are reported and skipped",
  },
  { key: "model", env: "CITELINE_MODEL", parse: oneOf(MODELS), doc: "embedding model" },
  {
    key: "chunkMaxTokens",
    env: "CITELINE_CHUNK_MAX_TOKENS",
    parse: int(32, 510),
    doc: "chunk size in tokens",
  },
  {
    key: "chunkOverlapTokens",
    env: "CITELINE_CHUNK_OVERLAP_TOKENS",
    parse: int(0, 256),
    doc: "overlap between chunks in tokens",
  },
  { key: "embedBatchSize", env: "CITELINE_EMBED_BATCH", parse: int(1, 512), doc: "texts per model call" },
  {
    key: "embedWorkers",
    env: "CITELINE_EMBED_WORKERS",
    parse: int(1, 64),
    doc: "embedding worker threads, each with its own ONNX session (default: cores, at most 4)",
  },
  {
    key: "embedThreads",
    env: "CITELINE_EMBED_THREADS",
    parse: int(1, 64),
    doc: "ONNX Runtime threads per embedding worker (default 1)",
  },
  {
    key: "queryCacheSize",
    env: "CITELINE_QUERY_CACHE",
    parse: int(0, 1_000_000),
    doc: "distinct questions whose query vectors are kept, so a repeated question skips the model (0 turns it off)",
  },
  {
    key: "reader",
    env: "CITELINE_READER",
    parse: bool,
    doc: "`0` answers without the reader model (reader/model): faster, with fewer right answers and short answers",
  },
  {
    key: "host",
    env: "CITELINE_HOST",
    parse: text,
    doc: "address the server binds to; `HOST` is read when this is unset",
    aliases: ["HOST"],
  },
  {
    key: "port",
    env: "CITELINE_PORT",
    parse: int(0, 65535),
    doc: "port (0 picks a free one); `PORT` is read when this is unset",
    aliases: ["PORT"],
  },
  { key: "k", env: "CITELINE_K", parse: int(1, 50), doc: "passages retrieved per answer" },
  { key: "maxK", env: "CITELINE_MAX_K", parse: int(1, 200), doc: "largest k a client may ask for" },
  {
    key: "staleCorpusDays",
    env: "CITELINE_STALE_CORPUS_DAYS",
    parse: int(0, 36500),
    doc: "without asOf: ask as of the newest document when it is older than this many days",
  },
  {
    key: "answerSentences",
    env: "CITELINE_ANSWER_SENTENCES",
    parse: int(1, 10),
    doc: "most sentences in an answer",
  },
  {
    key: "streamDelayMs",
    env: "CITELINE_STREAM_DELAY_MS",
    parse: int(0, 10_000),
    doc: "pause between streamed answer pieces (a typing effect)",
  },
  {
    key: "maxBodyBytes",
    env: "CITELINE_MAX_BODY_BYTES",
    parse: int(1024, 16 * 1024 * 1024),
    doc: "largest HTTP body or WebSocket frame",
  },
  {
    key: "uploadMaxBytes",
    env: "CITELINE_UPLOAD_MAX_BYTES",
    parse: int(1, 2 ** 31 - 1),
    doc: "largest file the page or `POST /api/documents` may add to the corpus",
  },
  {
    key: "uploadMaxFiles",
    env: "CITELINE_UPLOAD_MAX_FILES",
    parse: int(0, 10_000_000),
    doc: "files the corpus folder may hold for an upload of a new file to be accepted (0: no uploads)",
  },
  {
    key: "maxQuestionChars",
    env: "CITELINE_MAX_QUESTION_CHARS",
    parse: int(1, 100_000),
    doc: "longest question",
  },
  {
    key: "maxHistoryTurns",
    env: "CITELINE_MAX_HISTORY_TURNS",
    parse: int(0, 1000),
    doc: "most history turns",
  },
  {
    key: "maxHistoryChars",
    env: "CITELINE_MAX_HISTORY_CHARS",
    parse: int(0, 1_000_000),
    doc: "most history characters",
  },
  {
    key: "maxInFlight",
    env: "CITELINE_MAX_IN_FLIGHT",
    parse: int(1, 256),
    doc: "questions computed at once",
  },
  {
    key: "maxQueue",
    env: "CITELINE_MAX_QUEUE",
    parse: int(0, 100_000),
    doc: "questions waiting before BUSY",
  },
  {
    key: "rateLimitPerMinute",
    env: "CITELINE_RATE_LIMIT",
    parse: int(0, 1_000_000),
    doc: "questions per client address per minute (0 = off)",
  },
  {
    key: "accessToken",
    env: "CITELINE_TOKEN",
    parse: (raw, name) => {
      if (raw.length < 16) {
        throw new AppError("CONFIG_INVALID", `${name} is ${raw.length} characters; use at least 16`);
      }
      return raw;
    },
    doc: "access token required by HTTP and WebSocket",
  },
  {
    key: "allowNoToken",
    env: "CITELINE_ALLOW_NO_TOKEN",
    parse: bool,
    doc: "`1` lets the server listen on an address other than the loopback without CITELINE_TOKEN (anyone who can reach it can use it); otherwise such a start is refused",
  },
  {
    key: "allowedOrigins",
    env: "CITELINE_ALLOWED_ORIGINS",
    parse: list,
    doc: "extra WebSocket origins, comma-separated",
  },
  {
    key: "shutdownGraceMs",
    env: "CITELINE_SHUTDOWN_GRACE_MS",
    parse: int(0, 600_000),
    doc: "time answers in flight get on SIGTERM",
  },
  {
    key: "heartbeatMs",
    env: "CITELINE_HEARTBEAT_MS",
    parse: int(100, 600_000),
    doc: "WebSocket ping interval",
  },
  {
    key: "wsMaxBufferedBytes",
    env: "CITELINE_WS_MAX_BUFFERED",
    parse: int(1024, 1 << 30),
    doc: "unsent bytes before a client counts as slow",
  },
  { key: "logLevel", env: "CITELINE_LOG_LEVEL", parse: oneOf(LEVELS), doc: "log level" },
  {
    key: "llmUrl",
    env: "CITELINE_LLM_URL",
    parse: httpUrl,
    doc: "OpenAI-compatible API base URL for generated answers, e.g. http://127.0.0.1:8080/v1 (off when unset)",
  },
  { key: "llmModel", env: "CITELINE_LLM_MODEL", parse: text, doc: "model name sent to CITELINE_LLM_URL" },
  {
    key: "llmApiKey",
    env: "CITELINE_LLM_API_KEY",
    parse: text,
    doc: "API key for CITELINE_LLM_URL, if it needs one",
  },
  {
    key: "llmGguf",
    env: "CITELINE_LLM_GGUF",
    parse: dir,
    doc: "GGUF model run in-process for generated answers (needs npm run llm:install; off when unset)",
  },
  {
    key: "llmTimeoutMs",
    env: "CITELINE_LLM_TIMEOUT_MS",
    parse: int(100, 600_000),
    doc: "longest a generated answer may take before the extractive answer is used",
  },
  {
    key: "llmMaxTokens",
    env: "CITELINE_LLM_MAX_TOKENS",
    parse: int(8, 4096),
    doc: "most tokens the model may write per answer",
  },
  {
    key: "llmThreads",
    env: "CITELINE_LLM_THREADS",
    parse: int(1, 64),
    doc: "CPU threads of the in-process model (default: cores, at most 4)",
  },
  {
    key: "llmContextSize",
    env: "CITELINE_LLM_CONTEXT",
    parse: int(512, 131_072),
    doc: "context window of the in-process model, in tokens",
  },
  {
    key: "llmPassages",
    env: "CITELINE_LLM_PASSAGES",
    parse: int(1, 20),
    doc: "top passages given to the model",
  },
];

/**
 * Reads the configuration: defaults, then environment variables, then explicit overrides.
 * This is the only place that reads `process.env`.
 */
export function loadConfig(overrides: Partial<Config> = {}, env: Env = process.env): Config {
  for (const [name, key] of Object.entries(RETIRED)) {
    if (env[name] !== undefined && env[name] !== "")
      throw new AppError(
        "CONFIG_INVALID",
        `${name} is no longer read: ${key} is a tuned constant, fitted on the evaluation sets and kept in core/retrieval-model.json`,
      );
  }
  const config: Config = { ...DEFAULTS };
  const target = config as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const name = [s.env, ...(s.aliases ?? [])].find((n) => env[n] !== undefined && env[n] !== "");
    if (name !== undefined) target[s.key] = s.parse(env[name] as string, name);
  }
  Object.assign(config, overrides);
  if (config.chunkOverlapTokens >= config.chunkMaxTokens / 2) {
    throw new AppError(
      "CONFIG_INVALID",
      `CITELINE_CHUNK_OVERLAP_TOKENS is ${config.chunkOverlapTokens}; it must be under half of CITELINE_CHUNK_MAX_TOKENS (${config.chunkMaxTokens})`,
    );
  }
  if (config.k > config.maxK) {
    throw new AppError(
      "CONFIG_INVALID",
      `CITELINE_K is ${config.k}; it must not exceed CITELINE_MAX_K (${config.maxK})`,
    );
  }
  if (config.llmUrl !== undefined && config.llmGguf !== undefined) {
    throw new AppError("CONFIG_INVALID", "CITELINE_LLM_URL and CITELINE_LLM_GGUF are both set; choose one");
  }
  if (config.llmUrl !== undefined && config.llmModel === undefined) {
    throw new AppError(
      "CONFIG_INVALID",
      "CITELINE_LLM_URL is set but CITELINE_LLM_MODEL is not; name the model the server should run",
    );
  }
  return config;
}

/** True when this process is an npm script (`npm start`): it should not outlive npm. */
export function launchedByNpm(env: Env = process.env): boolean {
  return env.npm_lifecycle_event !== undefined;
}
