/**
 * The one conformance suite every search backend passes: the same cases, run by
 * embedded.test.ts and weaviate.test.ts against their adapter, with the real model. Two groups:
 * through the product indexer from a corpus folder (conformance-indexer.ts), then through the
 * writer port directly (below), ending with the backend broken.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { BackendAdapter, BackendExpectation, DocumentWrite, IndexSnapshot } from "../../core/backend.ts";
import { chunkerInfo, modelInfo } from "../../core/backend.ts";
import type { Config } from "../../core/config.ts";
import type { Doc, Embedder } from "../../core/types.ts";
import { prepareDoc } from "../../ingest/indexer.ts";
import { getEmbedder } from "../helpers/model.ts";
import { indexerCases } from "./conformance-indexer.ts";

export interface Subject {
  adapter: BackendAdapter;
  /** A configuration whose index no other test touches (a fresh, empty store on every call). */
  config(): Promise<Config>;
  /** Makes the backend of `config` unusable (stopped, or its files damaged). */
  breakIt(config: Config): Promise<void>;
  /** The code opening a broken backend fails with. */
  brokenCode: string;
}

const DOCS: Omit<Doc, "hash">[] = [
  {
    id: "harbour",
    title: "Harbour dredging finishes early",
    date: "2023-03-14",
    source: "harbour.pdf",
    // A paginated document: pages ride along with the document and each of its chunks.
    pages: [0, 73, 150],
    text: "The harbour authority finished dredging the northern channel on Tuesday. Container ships with a draught of sixteen metres can now dock at the Zorblax terminal. The work cost 41 million euros.",
  },
  {
    id: "orchard",
    title: "Apple growers count frost damage",
    date: "2023-05-02",
    source: "orchard.txt",
    text: "A late frost destroyed about a third of the apple blossom in the valley. Growers said the Quenton variety suffered most. Insurance claims are expected to rise sharply this year.",
  },
  {
    id: "undated",
    title: "A guide to sourdough",
    source: "sourdough.md",
    text: "Sourdough starter needs flour and water fed daily. Keep it at room temperature for the first week. A lively starter doubles within six hours of feeding.",
  },
  {
    id: "unicode",
    title: "Café Ünïcode 😀 naïve façade",
    date: "2024-01-09",
    source: "unicode.txt",
    text: "Le café «Ø» a rouvert 😀 le 9 janvier. 東京の市場では魚の値段が上がった。 The naïve façade was repainted in Ωmega blue; 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 letters stay. Zażółć gęślą jaźń means nothing at all.",
  },
];

function withHash(d: Omit<Doc, "hash">): Doc {
  const hash = createHash("sha256")
    .update(`${d.title}\n${d.date ?? ""}\n${d.text}`)
    .digest("hex");
  return { ...d, hash };
}

async function writesOf(docs: Doc[], config: Config, embedder: Embedder): Promise<DocumentWrite[]> {
  const out: DocumentWrite[] = [];
  for (const doc of docs) {
    const p = prepareDoc(doc, config, embedder);
    const chunkVecs = await embedder.embed(p.chunkInputs, "passage");
    const h = (t: string) => createHash("sha256").update(t).digest("base64url").slice(0, 32);
    out.push({
      doc,
      chunks: p.chunks.map((chunk, i) => ({ chunk, ehash: h(p.chunkInputs[i]!), vector: chunkVecs[i]! })),
      sentences: p.sentences.map((span) => ({ span, ehash: h(span.text) })),
    });
  }
  return out;
}

/** Every chunk of a document, via chunkSpans and chunks. */
async function chunksOf(s: IndexSnapshot, docId: string) {
  const spans = await s.chunkSpans([docId]);
  const records = await s.chunks(spans.map((x) => x.label));
  return records.map((r) => r!);
}

export function conformance(name: string, subject: Subject): void {
  indexerCases(name, subject);
  describe(`${name} backend conformance, through the writer port`, () => {
    let embedder: Embedder;
    let config: Config;
    let expectation: BackendExpectation;
    const docs = DOCS.map(withHash);
    const open = () => subject.adapter.openSearch(config, { expect: expectation });

    beforeAll(async () => {
      embedder = await getEmbedder();
      config = await subject.config();
      expectation = { model: modelInfo(embedder), chunker: chunkerInfo(config) };
    });

    const build = async (
      fn: (w: Awaited<ReturnType<BackendAdapter["openWriter"]>>) => Promise<void>,
      publish = true,
    ) => {
      const w = await subject.adapter.openWriter(config, { expect: expectation });
      try {
        await w.begin();
        await fn(w);
        if (publish) return await w.publish();
        return undefined;
      } finally {
        await w.close();
      }
    };

    it("refuses to open before anything is published, with INDEX_MISSING", async () => {
      await expect(open()).rejects.toMatchObject({ code: "INDEX_MISSING" });
    });

    it("inserts documents whose chunks and sentences slice their text exactly, Unicode included", async () => {
      const published = await build(async (w) => w.write(await writesOf(docs, config, embedder)));
      expect(published?.counts.docs).toBe(4);
      const backend = await open();
      try {
        const s = backend.current();
        expect(s.facts.counts.docs).toBe(4);
        expect(s.facts.dateRange).toEqual({ from: "2023-03-14", to: "2024-01-09" });
        for (const doc of docs) {
          const stored = await s.document(doc.id);
          expect(stored).toEqual(doc);
          const records = await chunksOf(s, doc.id);
          expect(records.length).toBeGreaterThan(0);
          for (const r of records) {
            expect(doc.text.slice(r.chunk.start, r.chunk.end)).toBe(r.chunk.text);
            const { text: _text, ...meta } = doc;
            expect(r.doc).toEqual(meta);
            expect(r.vector.length).toBe(embedder.dim);
          }
          const [sentences] = await s.sentences([{ docId: doc.id, start: 0, end: doc.text.length }]);
          expect(sentences!.length).toBeGreaterThan(1);
          for (const x of sentences!) {
            expect(x.end).toBeGreaterThan(x.start);
            expect(doc.text.slice(x.start, x.end).trim().length).toBeGreaterThan(0);
            // Spans only: a sentence has no vector.
            expect(Object.keys(x).sort()).toEqual(["end", "start"]);
          }
          expect(sentences!.map((x) => x.start)).toEqual(
            [...sentences!.map((x) => x.start)].sort((a, b) => a - b),
          );
        }
        const unicode = docs[3]!;
        const [uni] = await s.sentences([{ docId: "unicode", start: 0, end: unicode.text.length }]);
        const texts = uni!.map((x) => unicode.text.slice(x.start, x.end));
        expect(texts.some((t) => t.includes("😀"))).toBe(true);
        expect(texts.some((t) => t.includes("𝔘𝔫𝔦𝔠𝔬𝔡𝔢"))).toBe(true);
        expect(await s.document("nope")).toBeUndefined();
        expect(await s.chunks([987_654])).toEqual([undefined]);
      } finally {
        await backend.close();
      }
    });

    it("finds by meaning (dense), by words (lexical), and both rank the right document first", async () => {
      const backend = await open();
      try {
        const s = backend.current();
        const [q] = await embedder.embed(
          ["When can deep ships dock at the terminal after dredging?"],
          "query",
        );
        const dense = await s.dense(q!, 5);
        expect(dense.length).toBeGreaterThan(0);
        const [top] = await s.chunks([dense[0]!.label]);
        expect(top!.doc.id).toBe("harbour");
        expect(dense[0]!.score).toBeGreaterThan(0.3);
        expect(dense[0]!.score).toBeLessThanOrEqual(1.0001);
        for (let i = 1; i < dense.length; i++)
          expect(dense[i]!.score).toBeLessThanOrEqual(dense[i - 1]!.score);

        const lexical = await s.lexical(["quenton", "frost"], 5);
        const [lex] = await s.chunks([lexical[0]!.label]);
        expect(lex!.doc.id).toBe("orchard");
        expect(lexical[0]!.date).toBe("2023-05-02");
        // Words match by their stem, as people write them: "dredged" finds "dredging".
        const stemmed = await s.lexical(["dredged"], 5);
        expect((await s.chunks(stemmed.map((h) => h.label))).map((r) => r!.doc.id)).toContain("harbour");
        expect((await s.docFreq(["dredged"]))[0]).toBeGreaterThanOrEqual(1);
        // Query syntax characters are plain text, never an error.
        await expect(s.lexical(['"unbalanced', "OR", "(", "*", "NEAR/2"], 5)).resolves.toBeInstanceOf(Array);
        expect(await s.lexical([], 5)).toEqual([]);
        // Unicode words are found too.
        const uni = await s.lexical(["façade"], 5);
        expect((await s.chunks(uni.map((h) => h.label))).map((r) => r!.doc.id)).toContain("unicode");

        // Fused: the same document wins both rankings for a question that names it both ways.
        const [q2] = await embedder.embed(["Which apple variety did the frost hurt most?"], "query");
        const d2 = await s.dense(q2!, 3);
        const l2 = await s.lexical(["apple", "variety", "frost"], 3);
        const fused = new Map<number, number>();
        for (const [i, h] of d2.entries()) fused.set(h.label, (fused.get(h.label) ?? 0) + 1 / (60 + i));
        for (const [i, h] of l2.entries()) fused.set(h.label, (fused.get(h.label) ?? 0) + 1 / (60 + i));
        const best = [...fused.entries()].sort((a, b) => b[1] - a[1])[0]![0];
        expect((await s.chunks([best]))[0]!.doc.id).toBe("orchard");

        const df = await s.docFreq(["dredging", "zzzunknownzzz"]);
        expect(df[0]).toBeGreaterThanOrEqual(1);
        expect(df[1]).toBe(0);
      } finally {
        await backend.close();
      }
    });

    it("applies date scopes inside the search: ranges leave undated documents out, not-after keeps them", async () => {
      const backend = await open();
      try {
        const s = backend.current();
        const [q] = await embedder.embed(["news about ships, apples, sourdough and a café"], "query");
        const docOf = async (hits: { label: number }[]) =>
          new Set((await s.chunks(hits.map((h) => h.label))).map((r) => r!.doc.id));
        const inMay = await docOf(await s.dense(q!, 10, { range: { from: "2023-05-01", to: "2023-05-31" } }));
        expect([...inMay]).toEqual(["orchard"]);
        const until = await docOf(await s.dense(q!, 10, { notAfter: "2023-04-01" }));
        expect([...until].sort()).toEqual(["harbour", "undated"]);
        const from2024 = await docOf(
          await s.lexical(["café", "harbour", "sourdough"], 10, { range: { from: "2024-01-01" } }),
        );
        expect([...from2024]).toEqual(["unicode"]);
        expect(await s.countInRange({ from: "2023-01-01", to: "2023-12-31" })).toBe(2);
        expect(await s.countInRange({ to: "2030-01-01" })).toBe(3);
        expect((await s.recentDocuments(10)).map((d) => d.id)).toEqual([
          "unicode",
          "orchard",
          "harbour",
          "undated",
        ]);
      } finally {
        await backend.close();
      }
    });

    it("lists every document by source with its pages and passage count, and no text", async () => {
      const backend = await open();
      try {
        const s = backend.current();
        const listed = await s.listDocuments();
        expect(listed.map((d) => d.source)).toEqual([
          "harbour.pdf",
          "orchard.txt",
          "sourdough.md",
          "unicode.txt",
        ]);
        expect(listed[0]).toEqual({
          id: "harbour",
          title: "Harbour dredging finishes early",
          date: "2023-03-14",
          source: "harbour.pdf",
          pages: 3,
          passages: (await chunksOf(s, "harbour")).length,
        });
        expect(listed[2]).toEqual({
          id: "undated",
          title: "A guide to sourdough",
          source: "sourdough.md",
          passages: (await chunksOf(s, "undated")).length,
        });
        expect(listed.every((d) => d.passages >= 1)).toBe(true);
      } finally {
        await backend.close();
      }
    });

    it("updates and deletes in a new version while a leased snapshot keeps reading the old one", async () => {
      const backend = await open();
      try {
        const lease = backend.lease();
        const before = lease.snapshot;
        const changed = withHash({
          ...DOCS[1]!,
          text: `${DOCS[1]!.text} Prices of Quenton apples doubled by June.`,
        });
        await build(async (w) => {
          expect(w.published?.docs.get("orchard")).toBe(docs[1]!.hash);
          await w.deleteDocuments(["harbour"]);
          await w.write(await writesOf([changed], config, embedder));
        });
        // The lease still reads the version it started with, its sentences included.
        expect((await before.document("harbour"))?.text).toBe(docs[0]!.text);
        const [oldSentences] = await before.sentences([
          { docId: "orchard", start: 0, end: docs[1]!.text.length },
        ]);
        expect(oldSentences!.length).toBeGreaterThan(1);
        expect(oldSentences!.at(-1)!.end).toBeLessThanOrEqual(docs[1]!.text.length);
        expect((await before.document("orchard"))?.text).toBe(docs[1]!.text);
        lease.release();
        expect(await backend.refresh()).toBe(true);
        const s = backend.current();
        expect(s.facts.version).not.toBe(before.facts.version);
        expect(await s.document("harbour")).toBeUndefined();
        expect((await s.document("orchard"))?.text).toBe(changed.text);
        expect(s.facts.counts.docs).toBe(3);
        const [q] = await embedder.embed(["ships dock at the Zorblax terminal after dredging"], "query");
        for (const hits of [await s.lexical(["zorblax", "dredging", "quenton"], 10), await s.dense(q!, 10)]) {
          // Every hit is a chunk of this version: none of the deleted document, none of the old text.
          const records = await s.chunks(hits.map((h) => h.label));
          expect(records.every((r) => r !== undefined)).toBe(true);
          expect(records.map((r) => r!.doc.id)).not.toContain("harbour");
          expect(
            records.filter((r) => r!.doc.id === "orchard").every((r) => r!.doc.hash === changed.hash),
          ).toBe(true);
        }
        const orchard = await chunksOf(s, "orchard");
        expect(orchard.map((r) => changed.text.slice(r.chunk.start, r.chunk.end))).toEqual(
          orchard.map((r) => r.chunk.text),
        );
      } finally {
        await backend.close();
      }
    });

    it("reuses stored chunk vectors and, with nothing to write, publishes nothing new", async () => {
      const w = await subject.adapter.openWriter(config, { expect: expectation });
      try {
        expect(w.published).toBeDefined();
        expect([...w.published!.docs.keys()].sort()).toEqual(["orchard", "undated", "unicode"]);
        await w.begin();
        const [write] = await writesOf([docs[2]!], config, embedder);
        const hashes = write!.chunks.map((c) => c.ehash);
        const reused = await w.reusableVectors(hashes);
        expect(reused.size).toBe(new Set(hashes).size);
        // A sentence's text was never embedded: no vector is stored under its hash.
        const sentences = await w.reusableVectors(write!.sentences.map((x) => x.ehash));
        expect(sentences.size).toBe(0);
      } finally {
        await w.close();
      }
      const backend = await open();
      try {
        expect(backend.current().facts.counts.docs).toBe(3);
      } finally {
        await backend.close();
      }
    });

    it("leaves the published version untouched when a build stops before publishing", async () => {
      const backend = await open();
      try {
        const version = backend.current().facts.version;
        const seesOnlyThePublished = async () => {
          const s = backend.current();
          const [q] = await embedder.embed(["ships dock at the Zorblax terminal"], "query");
          for (const hits of [await s.lexical(["zorblax", "quenton"], 10), await s.dense(q!, 10)]) {
            const ids = (await s.chunks(hits.map((h) => h.label))).map((r) => r?.doc.id);
            expect(ids).not.toContain("intruder");
            expect(ids.every((id) => id !== undefined)).toBe(true);
          }
          expect((await s.lexical(["quenton"], 10)).length).toBeGreaterThan(0);
          expect(await s.docFreq(["zorblax"])).toEqual([0]);
          expect(await s.countInRange({ from: "2023-03-01", to: "2023-03-31" })).toBe(0);
        };
        await build(async (w) => {
          await w.deleteDocuments(["orchard"]);
          await w.write(await writesOf([withHash({ ...DOCS[0]!, id: "intruder" })], config, embedder));
          // Mid-build, readers see the published version only.
          await seesOnlyThePublished();
        }, false);
        await seesOnlyThePublished();
        expect(await backend.refresh()).toBe(false);
        const s = backend.current();
        expect(s.facts.version).toBe(version);
        expect(await s.document("intruder")).toBeUndefined();
        expect((await s.document("orchard"))?.id).toBe("orchard");
        const hits = await s.lexical(["zorblax"], 10);
        expect((await s.chunks(hits.map((h) => h.label))).map((r) => r?.doc.id)).not.toContain("intruder");
        const w = await subject.adapter.openWriter(config, { expect: expectation });
        await w.close();
        expect([...w.published!.docs.keys()].sort()).toEqual(["orchard", "undated", "unicode"]);
      } finally {
        await backend.close();
      }
    });

    it(`fails with ${subject.brokenCode} when the backend is broken or unreachable`, async () => {
      await subject.breakIt(config);
      await expect(open()).rejects.toMatchObject({ code: subject.brokenCode });
    });
  });
}
