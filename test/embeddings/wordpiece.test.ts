import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, PROJECT_ROOT } from "../../core/config.ts";
import { MODEL_SPECS, modelFolder } from "../../embeddings/models.ts";
import { WordPiece } from "../../embeddings/wordpiece.ts";

interface Case {
  text: string;
  ids: number[];
  offsets: [number, number][];
}

// bge-small-en-v1.5's tokenizer as the product's embedding model ships it (npm run model:fetch):
// the same vocabulary as the reader's base weights.
const config = loadConfig();
const tokenizer = new WordPiece(
  JSON.parse(
    readFileSync(
      path.join(modelFolder(config.modelsDir, MODEL_SPECS["bge-small-en-v1.5"]), "tokenizer.json"),
      "utf8",
    ),
  ),
);
// Made by the `tokenizers` library (the trainer's tokenizer) from the same tokenizer.json, with
// its code-point offsets converted to UTF-16: squad-dev paragraphs and hard cases (accents, CJK,
// control characters, a word over 100 characters, an emoji).
const cases = JSON.parse(
  readFileSync(path.join(PROJECT_ROOT, "test", "fixtures", "wordpiece-cases.json"), "utf8"),
) as Case[];

describe("WordPiece", () => {
  it.each(cases.map((c) => [c.text.slice(0, 40), c] as const))(
    "matches the trainer's tokenizer on %j",
    (_, c) => {
      const pieces = tokenizer.tokenize(c.text);
      expect(pieces.map((p) => p.id)).toEqual(c.ids);
      expect(pieces.map((p) => [p.start, p.end])).toEqual(c.offsets);
    },
  );

  it("gives offsets that slice the original text", () => {
    const text = "Café owner Zoë paid €3.50 in Zürich.";
    const pieces = tokenizer.tokenize(text);
    expect(pieces.map((p) => text.slice(p.start, p.end)).join("|")).toBe(
      "Café|owner|Zoë|paid|€|3|.|50|in|Zürich|.",
    );
  });
});
