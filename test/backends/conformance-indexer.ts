/**
 * The conformance cases that go through the product indexer: a small real corpus in a folder,
 * indexed with the real model by `buildIndex`, read through the search port. Part of the one
 * conformance suite (conformance.ts), which runs them for every adapter.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectationFor } from "../../backends/select.ts";
import type { IndexSnapshot, ScoredChunk, SearchBackend } from "../../core/backend.ts";
import { type Config, loadConfig } from "../../core/config.ts";
import type { Embedder } from "../../core/types.ts";
import { type BuildSummary, buildIndex } from "../../ingest/indexer.ts";
import { getEmbedder } from "../helpers/model.ts";
import type { Subject } from "./conformance.ts";

const BOILER = "Subscribe to the Daily Quill for more stories.";
const COMET = "The comet 𝒳-17 passed close to Earth 🌍 in spring.";
const DOCS: Record<string, string> = {
  "harbour.txt": ` date 2024-03-05 Harbour ferry timetable\n\nThe harbour ferry leaves at seven in the morning. Zorblax tickets cost four euros at the pier. ${BOILER}\n`,
  "orchard.md": `---\ntitle: Orchard frost\ndate: 2024-06-10\n---\nLate frost damaged the apple orchard in Kelsey valley. Growers expect a small harvest. ${BOILER}\n`,
  "comet.txt": `Notes on the sky\n\n${COMET} Observers in the north saw its tail. ${BOILER}\n`,
  "bridge.txt": ` date 2023-11-20 Bridge opening\n\nMayor Lena Ortiz opened the river bridge on Tuesday. Cyclists crossed it first. ${BOILER}\n`,
};

/** The documents of hits, in order. */
async function docsOf(index: IndexSnapshot, hits: readonly ScoredChunk[]): Promise<string[]> {
  const records = await index.chunks(hits.map((h) => h.label));
  return records.map((r) => r?.doc.id ?? "missing");
}

/** The cases through the indexer, for one adapter. */
export function indexerCases(name: string, subject: Subject): void {
  describe(`the ${name} backend behind the search port, indexed from a corpus folder`, () => {
    let root: string;
    let corpusDir: string;
    let config: Config;
    let embedder: Embedder;
    let backend: SearchBackend | undefined;
    let first: BuildSummary;

    const build = () => buildIndex({ config, embedder, openWriter: subject.adapter.openWriter });
    const open = () => subject.adapter.openSearch(config, { expect: expectationFor(embedder, config) });
    const current = () => {
      if (!backend) throw new Error("the backend is not open");
      return backend.current();
    };
    const query = async (text: string) => (await embedder.embed([text], "query"))[0]!;

    beforeAll(async () => {
      embedder = await getEmbedder();
      root = await mkdtemp(path.join(os.tmpdir(), `citeline-${name}-`));
      corpusDir = path.join(root, "corpus");
      await mkdir(corpusDir);
      for (const [file, text] of Object.entries(DOCS)) await writeFile(path.join(corpusDir, file), text);
      config = loadConfig({ ...(await subject.config()), corpusDir, logLevel: "silent" });
      first = await build();
      backend = await open();
    }, 180_000);
    afterAll(async () => {
      await backend?.close();
      await rm(root, { recursive: true, force: true });
    });

    it("publishes a first build whose facts count what was written", () => {
      expect(first).toMatchObject({ published: true, documents: 4, added: 4, issues: [] });
      const facts = current().facts;
      expect(facts.backend).toBe(name);
      expect(facts.version).toBe(first.version);
      expect(facts.model.name).toBe(embedder.modelId);
      expect(facts.counts).toMatchObject({ docs: 4, chunks: first.chunks });
      expect(facts.counts.sentences).toBeGreaterThanOrEqual(12);
      // One embedder input per chunk, none per sentence.
      expect(first.embedded + first.reused).toBe(first.chunks);
      expect(facts.dateRange).toEqual({ from: "2023-11-20", to: "2024-06-10" });
    });

    it("finds a passage by meaning and by its rare word; every chunk slices its document exactly", async () => {
      const index = current();
      const dense = await index.dense(await query("When does the ferry leave the harbour?"), 10);
      expect((await docsOf(index, dense))[0]).toBe("harbour");
      expect(dense.map((h) => h.score)).toEqual([...dense.map((h) => h.score)].sort((a, b) => b - a));
      const lexical = await index.lexical(["zorblax"], 10);
      expect(await docsOf(index, lexical)).toEqual(["harbour"]);
      await expect(index.lexical([], 10)).resolves.toEqual([]);
      // Words that look like query syntax are plain words.
      await expect(index.lexical(['"zorblax', "OR", "NEAR(", "*"], 10)).resolves.toBeInstanceOf(Array);

      const records = await index.chunks(dense.map((h) => h.label));
      for (const [i, r] of records.entries()) {
        if (!r) throw new Error(`no chunk for label ${dense[i]!.label}`);
        const doc = await index.document(r.doc.id);
        expect(doc?.text.slice(r.chunk.start, r.chunk.end)).toBe(r.chunk.text);
        expect(r.chunk.docId).toBe(r.doc.id);
        expect(dense[i]!.date).toBe(doc?.date);
        expect(r.vector).toHaveLength(embedder.dim);
      }
      const [missing] = await index.chunks([987_654_321]);
      expect(missing).toBeUndefined();
      await expect(index.document("no-such-document")).resolves.toBeUndefined();
    });

    it("keeps to a date range and leaves out documents after a given day, in both retrievers", async () => {
      const index = current();
      const vector = await query("news of the day");
      const range = { range: { from: "2024-01-01", to: "2024-12-31" } };
      const sorted = async (hits: Promise<ScoredChunk[]>) =>
        [...new Set(await docsOf(index, await hits))].sort();
      await expect(sorted(index.dense(vector, 10, range))).resolves.toEqual(["harbour", "orchard"]);
      await expect(sorted(index.lexical(["subscribe"], 10, range))).resolves.toEqual(["harbour", "orchard"]);
      const notAfter = { notAfter: "2024-04-01" };
      await expect(sorted(index.dense(vector, 10, notAfter))).resolves.toEqual([
        "bridge",
        "comet",
        "harbour",
      ]);
      await expect(sorted(index.lexical(["subscribe"], 10, notAfter))).resolves.toEqual([
        "bridge",
        "comet",
        "harbour",
      ]);
      const both = { range: { from: "2024-01-01" }, notAfter: "2024-04-01" };
      await expect(sorted(index.lexical(["subscribe"], 10, both))).resolves.toEqual(["harbour"]);
      await expect(index.countInRange({ from: "2024-01-01" })).resolves.toBe(2);
      await expect(index.countInRange({ from: "2025-01-01" })).resolves.toBe(0);
    });

    it("reads the sentences of a span as spans, by UTF-16 offsets", async () => {
      const index = current();
      const doc = await index.document("comet");
      if (!doc) throw new Error("no comet document");
      const [sentences, none] = await index.sentences([
        { docId: "comet", start: 0, end: doc.text.length },
        { docId: "comet", start: 0, end: 3 },
      ]);
      expect(none).toEqual([]);
      const texts = (sentences ?? []).map((s) => doc.text.slice(s.start, s.end));
      expect(texts).toContain(COMET);
      expect(texts).toContain(BOILER);
      expect((sentences ?? []).map((s) => s.start)).toEqual(
        [...(sentences ?? []).map((s) => s.start)].sort((a, b) => a - b),
      );
      for (const s of sentences ?? []) expect(Object.keys(s).sort()).toEqual(["end", "start"]);
    });

    it("counts term frequencies, lists the newest documents and finds sentences recurring under distinct titles", async () => {
      const index = current();
      const [subscribe, zorblax, none] = await index.docFreq(["subscribe", "zorblax", "quiblorffian"]);
      expect(subscribe).toBe(index.facts.counts.chunks);
      expect(zorblax).toBe(1);
      expect(none).toBe(0);
      const recent = await index.recentDocuments(2);
      expect(recent.map((d) => d.id)).toEqual(["orchard", "harbour"]);
      expect(recent[0]?.title).toBe("Orchard frost");
      expect(recent[0]?.lead).toBe((await index.document("orchard"))?.text.slice(0, 600));
      const recurring = await index.recurringSentences(3);
      expect(recurring.map((r) => r.text)).toEqual([BOILER]);
      expect(recurring[0]?.spans.map((s) => s.docId).sort()).toEqual([
        "bridge",
        "comet",
        "harbour",
        "orchard",
      ]);
      for (const s of recurring[0]?.spans ?? [])
        expect((await index.document(s.docId))?.text.slice(s.start, s.end)).toBe(BOILER);
      await expect(index.recurringSentences(5)).resolves.toEqual([]);
      const spans = await index.chunkSpans(["comet"]);
      expect(spans.length).toBeGreaterThan(0);
      expect(spans.every((c) => c.docId === "comet" && c.end > c.start)).toBe(true);
    });

    it("updates incrementally: nothing written without a change; a changed document replaced, a removed one gone", async () => {
      const unchanged = await build();
      expect(unchanged).toMatchObject({ published: false, embedded: 0, unchanged: 4 });

      const before = backend!.lease();
      const oldZorblax = await before.snapshot.lexical(["zorblax"], 10);
      await writeFile(
        path.join(corpusDir, "harbour.txt"),
        DOCS["harbour.txt"]!.replace("Zorblax", "Quexadrine"),
      );
      await unlink(path.join(corpusDir, "bridge.txt"));
      const next = await build();
      expect(next).toMatchObject({ published: true, changed: 1, removed: 1, unchanged: 2, documents: 3 });
      // The changed document's one chunk is new text; its sentences are never embedded.
      expect(next).toMatchObject({ embedded: 1, reused: 0 });

      await expect(backend!.refresh()).resolves.toBe(true);
      const index = current();
      expect(index.facts.version).toBe(next.version);
      expect(index.facts.counts.docs).toBe(3);
      await expect(index.lexical(["zorblax"], 10)).resolves.toEqual([]);
      expect(await docsOf(index, await index.lexical(["quexadrine"], 10))).toEqual(["harbour"]);
      await expect(index.document("bridge")).resolves.toBeUndefined();
      await expect(index.countInRange({ to: "2023-12-31" })).resolves.toBe(0);
      expect(index.facts.dateRange).toEqual({ from: "2024-03-05", to: "2024-06-10" });

      // A request that leased the previous version finishes on it.
      const [old] = await before.snapshot.chunks(oldZorblax.map((h) => h.label));
      expect(old?.chunk.text).toContain("Zorblax");
      before.release();
      await expect(backend!.refresh()).resolves.toBe(false);
    });

    it("refuses an index built with another model, and a store with nothing built, by code", async () => {
      const expect_ = expectationFor(embedder, config);
      await expect(
        subject.adapter.openSearch(config, {
          expect: { ...expect_, model: { ...expect_.model, name: "other-model" } },
        }),
      ).rejects.toMatchObject({ code: "INDEX_MODEL_MISMATCH" });
      const empty = await subject.config();
      await expect(subject.adapter.openSearch(empty, { expect: expect_ })).rejects.toMatchObject({
        code: "INDEX_MISSING",
      });
    });
  });
}
