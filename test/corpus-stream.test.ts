/**
 * JSONL files are read as a stream, record by record: the bound is per record, not per file, and
 * the documents are exactly those the whole-file parser gives (the eval index cache keys on them).
 */
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCorpus, parseFile } from "../embeddings/corpus.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "citeline-stream-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = (id: string, text: string) => JSON.stringify({ id, title: `Title ${id}`, text });

describe("JSONL read as a stream", () => {
  it("loads a JSONL file larger than the per-file limit, record by record", async () => {
    const lines = Array.from({ length: 40 }, (_, i) =>
      record(`n${i}`, `Ferry ${i} leaves at dawn. `.repeat(5)),
    );
    await writeFile(path.join(dir, "archive.jsonl"), `${lines.join("\n")}\n`);
    const { docs, issues } = await loadCorpus(dir, { maxFileBytes: 1024 });
    expect(issues).toEqual([]);
    expect(docs.map((d) => d.id)).toEqual(lines.map((_, i) => `n${i}`));
  });

  it("reports an oversized record by file and line and loads the rest", async () => {
    const big = record("big", "word ".repeat(2000));
    await writeFile(
      path.join(dir, "feed.jsonl"),
      [record("a", "First."), big, record("c", "Third.")].join("\r\n"),
    );
    const { docs, issues } = await loadCorpus(dir, { maxRecordBytes: 2048 });
    expect(docs.map((d) => [d.id, d.source])).toEqual([
      ["a", "feed.jsonl#L1"],
      ["c", "feed.jsonl#L3"],
    ]);
    expect(issues).toEqual([
      {
        source: "feed.jsonl",
        code: "FILE_TOO_LARGE",
        message: `feed.jsonl line 2 is ${(big.length + 1).toLocaleString("en-US")} bytes; the limit for one record is 2,048 bytes (CITELINE_MAX_RECORD_BYTES)`,
      },
    ]);
  });

  it("still refuses other formats over the per-file limit", async () => {
    await writeFile(path.join(dir, "big.json"), JSON.stringify([{ text: "x".repeat(3000) }]));
    const { issues } = await loadCorpus(dir, { maxFileBytes: 1024 });
    expect(issues.map((i) => i.code)).toEqual(["FILE_TOO_LARGE"]);
  });

  it("gives the whole-file parser's documents and issues for any line layout", async () => {
    const piece = fc.oneof(
      fc.constantFrom("\n", "\r\n", "\r", "\n\n", " \t", "\uFEFF", "{", "[]", "null", "é", "💡"),
      fc.record({ id: fc.oneof(fc.string(), fc.integer()), text: fc.string() }).map((r) => JSON.stringify(r)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 12 }), fc.boolean(), async (pieces, bom) => {
        const bytes = Buffer.from(`${bom ? "\uFEFF" : ""}${pieces.join("")}`, "utf8");
        await writeFile(path.join(dir, "p.jsonl"), bytes);
        const streamed = await loadCorpus(dir);
        const whole = parseFile("p.jsonl", bytes);
        // loadCorpus also drops later duplicates of an id; compare on the whole-file result doing the same.
        const seen = new Set<string>();
        const wholeDocs = whole.docs.filter((d) => !seen.has(d.id) && seen.add(d.id));
        expect(streamed.docs).toEqual(wholeDocs);
        expect(streamed.issues.filter((i) => !i.message.includes("duplicate document id"))).toEqual(
          whole.issues,
        );
      }),
      { numRuns: 150 },
    );
  });

  it.each(["squad-dev", "news-2023"])(
    "gives byte-identical documents for the shared %s corpus.jsonl",
    async (name) => {
      const file = `/work/shared/eval/${name}/corpus.jsonl`;
      await copyFile(file, path.join(dir, "corpus.jsonl"));
      const streamed = await loadCorpus(dir);
      const whole = parseFile("corpus.jsonl", readFileSync(file));
      expect(streamed.issues).toEqual(whole.issues);
      expect(streamed.docs.length).toBe(whole.docs.length);
      expect(streamed.docs).toEqual(whole.docs);
    },
    60_000,
  );
});
