/** BM25 search with a "nothing after day X" filter, on a real SQLite store in a temp dir. */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkStore } from "../../../backends/embedded/store.ts";

describe("lexical search not after a day", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "citeline-lexical-"));
  const file = path.join(dir, "index.db");
  let store: ChunkStore;
  let label = 0;
  const add = (w: ChunkStore, id: string, date: string | undefined, text: string) => {
    w.insertDoc({ id, title: id, source: `${id}.txt`, text, hash: id, ...(date ? { date } : {}) });
    w.insertChunk(
      { label, id: `${id}#0`, docId: id, ordinal: 0, start: 0, end: text.length, text },
      id,
      `e${label}`,
    );
    label++;
  };

  beforeAll(() => {
    const w = new ChunkStore(file);
    // Seventy later documents match "harbour" best; three earlier ones match it too, more weakly.
    for (let i = 0; i < 70; i++) add(w, `later-${i}`, "2023-03-01", "harbour harbour harbour");
    add(w, "early-a", "2023-01-02", "the harbour opened and the ferry ran all winter long");
    add(w, "early-b", "2023-01-03", "a harbour master spoke about tides, boats, nets and the weather");
    add(w, "undated", undefined, "harbour");
    w.close();
    store = new ChunkStore(file, { readonly: true });
  });
  afterAll(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns the best earlier hits even when every top hit of the plain search is later", () => {
    const hits = store.lexicalSearch(["harbour"], 2, { notAfter: "2023-02-01" });
    expect(hits.map((h) => h.label).sort()).toEqual([70, 72]);
  });
  it("returns all earlier hits, best first, when fewer than asked pass", () => {
    const hits = store.lexicalSearch(["harbour"], 10, { notAfter: "2023-02-01" });
    expect(hits.map((h) => h.label)).toEqual([72, 70, 71]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });
  it("keeps later documents when the day allows them", () => {
    expect(store.lexicalSearch(["harbour"], 5, { notAfter: "2023-03-01" })).toHaveLength(5);
  });
});
