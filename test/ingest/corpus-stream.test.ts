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
import { loadCorpus, parseFile } from "../../ingest/corpus.ts";
import { sharedPath } from "../helpers/shared.ts";

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
      ["a", "feed.jsonl line 1"],
      ["c", "feed.jsonl line 3"],
    ]);
    expect(issues).toEqual([
      {
        source: "feed.jsonl",
        code: "FILE_TOO_LARGE",
        message: `feed.jsonl line 2 is ${(big.length + 1).toLocaleString("en-US")} bytes; the limit for one record is 2,048 bytes (CITELINE_MAX_RECORD_BYTES)`,
      },
    ]);
  });

  it("still refuses other formats, and a JSON object, over the per-file limit", async () => {
    await writeFile(path.join(dir, "big.md"), `# Big\n\n${"x".repeat(3000)}`);
    await writeFile(path.join(dir, "one.json"), JSON.stringify({ text: "x".repeat(3000) }));
    const { issues } = await loadCorpus(dir, { maxFileBytes: 1024 });
    expect(issues.map((i) => [i.source, i.code])).toEqual([
      ["big.md", "FILE_TOO_LARGE"],
      ["one.json", "FILE_TOO_LARGE"],
    ]);
  });

  it("reads a JSON array over the per-file limit element by element, as the whole-file parser does", async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({
      id: i % 7 === 0 ? undefined : `r${i}`,
      title: `Brackets [${i}], {braces} and "quotes" \\ too`,
      text: `Record ${i}, with a comma, a ] and a } inside the string.`,
      tags: [{ nested: [i, { deeper: "]" }] }],
    }));
    const bytes = Buffer.from(`\uFEFF \n${JSON.stringify(records, null, 2)}\n`, "utf8");
    await writeFile(path.join(dir, "export.json"), bytes);
    const streamed = await loadCorpus(dir, { maxFileBytes: 1024 });
    const whole = await parseFile("export.json", bytes);
    expect(streamed.issues).toEqual([]);
    expect(streamed.docs).toEqual(whole.docs);
    expect(streamed.docs).toHaveLength(30);
  });

  it("reports an oversized JSON array element by its record number", async () => {
    const records = [{ text: "One." }, { text: "word ".repeat(1000) }, { text: "Three." }];
    await writeFile(path.join(dir, "export.json"), JSON.stringify(records));
    const { docs, issues } = await loadCorpus(dir, { maxFileBytes: 1024, maxRecordBytes: 2048 });
    expect(docs.map((d) => d.id)).toEqual(["export:1", "export:3"]);
    expect(issues.map((i) => [i.code, i.message.replace(/ is [\d,]+ bytes/, " is N bytes")])).toEqual([
      [
        "FILE_TOO_LARGE",
        "export.json record 2 is N bytes; the limit for one record is 2,048 bytes (CITELINE_MAX_RECORD_BYTES)",
      ],
    ]);
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
        const whole = await parseFile("p.jsonl", bytes);
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
      const file = sharedPath("eval", name, "corpus.jsonl");
      await copyFile(file, path.join(dir, "corpus.jsonl"));
      const streamed = await loadCorpus(dir);
      const whole = await parseFile("corpus.jsonl", readFileSync(file));
      expect(streamed.issues).toEqual(whole.issues);
      expect(streamed.docs.length).toBe(whole.docs.length);
      expect(streamed.docs).toEqual(whole.docs);
    },
    60_000,
  );
});
