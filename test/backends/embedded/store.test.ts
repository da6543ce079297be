import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChunkStore } from "../../../backends/embedded/store.ts";
import type { Doc } from "../../../core/types.ts";

const DOC: Doc = {
  id: "d",
  title: "Fruit",
  source: "d.txt",
  hash: "h",
  text: "apple pear. apple plum. fig.",
};

function addChunk(store: ChunkStore, label: number, text: string): void {
  const start = DOC.text.indexOf(text);
  store.insertChunk(
    { label, id: `d#${label}`, docId: "d", ordinal: label, start, end: start + text.length, text },
    DOC.title,
    `e${label}`,
  );
}

let dir: string;
let file: string;
const open: ChunkStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "citeline-store-"));
  file = path.join(dir, "index.db");
  const w = new ChunkStore(file);
  w.transaction(() => {
    w.insertDoc(DOC);
    addChunk(w, 0, "apple pear.");
    addChunk(w, 1, "apple plum.");
    addChunk(w, 2, "fig.");
  });
  w.close();
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});
const opened = (s: ChunkStore) => {
  open.push(s);
  return s;
};

describe("ChunkStore term statistics", () => {
  it("counts the chunks that contain a term", () => {
    const r = opened(new ChunkStore(file, { readonly: true }));
    expect([r.docFreq("apple"), r.docFreq("plum"), r.docFreq("kiwi")]).toEqual([2, 1, 0]);
    expect(r.counts()).toEqual({ docs: 1, chunks: 3, sentences: 0 });
  });

  it("answers a read-only store's document frequencies and counts from memory after the first question", () => {
    const r = opened(new ChunkStore(file, { readonly: true }));
    expect(r.docFreq("apple")).toBe(2);
    expect(r.counts().chunks).toBe(3);
    // A published index version never changes; writing behind the reader's back shows that the
    // second answers come from memory, not from another FTS5 query.
    const w = new ChunkStore(file);
    addChunk(w, 3, "apple");
    w.close();
    expect(r.docFreq("apple")).toBe(2);
    expect(r.counts().chunks).toBe(3);
    const fresh = opened(new ChunkStore(file, { readonly: true }));
    expect(fresh.docFreq("apple")).toBe(3);
    expect(fresh.counts().chunks).toBe(4);
  });

  it("never serves stale figures from a store being written", () => {
    const w = opened(new ChunkStore(file));
    expect(w.docFreq("apple")).toBe(2);
    addChunk(w, 3, "apple");
    expect(w.docFreq("apple")).toBe(3);
    expect(w.counts().chunks).toBe(4);
  });
});

describe("ChunkStore sentences of a span", () => {
  const span = (text: string) => ({
    start: DOC.text.indexOf(text),
    end: DOC.text.indexOf(text) + text.length,
    text,
  });
  beforeEach(() => {
    const w = new ChunkStore(file);
    w.insertSentence("d", span("apple pear."), "s0");
    w.insertSentence("d", span("apple plum."), "s1");
    w.close();
  });

  it("serves a read-only store's sentences of a span from memory after the first read", () => {
    const r = opened(new ChunkStore(file, { readonly: true }));
    const first = r.sentencesIn("d", 0, 23);
    expect(first).toEqual([
      { start: 0, end: 11 },
      { start: 12, end: 23 },
    ]);
    // A published index version never changes: a sentence written behind the reader's back is
    // not seen by the span read before, only by a fresh reader.
    const w = new ChunkStore(file);
    w.insertSentence("d", span("pear."), "s2");
    w.close();
    expect(r.sentencesIn("d", 0, 23)).toBe(first);
    expect(r.sentencesIn("d", 0, 12)).toHaveLength(2);
    expect(opened(new ChunkStore(file, { readonly: true })).sentencesIn("d", 0, 23)).toHaveLength(3);
  });

  it("reads a store being written afresh every time", () => {
    const w = opened(new ChunkStore(file));
    expect(w.sentencesIn("d", 0, 23)).toHaveLength(2);
    w.insertSentence("d", span("pear."), "s3");
    expect(w.sentencesIn("d", 0, 23)).toHaveLength(3);
  });
});
