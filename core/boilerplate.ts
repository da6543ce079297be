/**
 * Boilerplate: sentences that recur word for word across many unrelated documents of the corpus
 * (newsletter sign-ups, "Read more", cookie notices, bylines, navigation). Found from the index
 * itself, with no list of phrases: a sentence is boilerplate when documents with at least
 * `minDocs(corpus size)` distinct titles hold it. Such sentences never become answer sentences,
 * and passages made mostly of them lose fused score, so they do not win retrieval.
 */
import type { IndexSnapshot } from "./backend.ts";
import { sentenceKey } from "./text.ts";

export interface Boilerplate {
  /** The boilerplate sentences, as `sentenceKey`s. */
  sentences: ReadonlySet<string>;
  /** Share of a chunk's characters (by label) that boilerplate sentences cover; 0 for most. */
  share(label: number): number;
}

/**
 * Fewest distinct documents a sentence must recur in to be boilerplate: three, or one in 500 of
 * a large corpus. Distinct titles, so that syndicated copies of one story (same headline, same
 * sentences) do not turn the story into boilerplate.
 */
export function minDocs(docCount: number): number {
  return Math.max(3, Math.ceil(docCount / 500));
}

/**
 * How much of its fused score a passage keeps: `1 - share²`, so a passage that is all
 * boilerplate keeps nothing while one with a newsletter line at its end keeps nearly all.
 */
export function boilerplateFactor(share: number): number {
  return 1 - share * share;
}

const cache = new WeakMap<IndexSnapshot, Promise<Boilerplate>>();

/** The boilerplate of an index, computed on first use and kept while the index is loaded. */
export function boilerplateOf(index: IndexSnapshot): Promise<Boilerplate> {
  let b = cache.get(index);
  if (!b) {
    b = findBoilerplate(index);
    // A failed read (an unreachable backend) is not remembered: the next question tries again.
    b.catch(() => cache.delete(index));
    cache.set(index, b);
  }
  return b;
}

async function findBoilerplate(index: IndexSnapshot): Promise<Boilerplate> {
  const recurring = await index.recurringSentences(minDocs(index.facts.counts.docs));
  const sentences = new Set<string>();
  const shares = new Map<number, number>();
  if (recurring.length === 0) return { sentences, share: () => 0 };

  const spansByDoc = new Map<string, { start: number; end: number }[]>();
  for (const { text, spans } of recurring) {
    for (const s of spans) {
      const list = spansByDoc.get(s.docId) ?? [];
      list.push(s);
      spansByDoc.set(s.docId, list);
    }
    if (text) sentences.add(sentenceKey(text));
  }
  for (const c of await index.chunkSpans([...spansByDoc.keys()])) {
    const spans = spansByDoc.get(c.docId) ?? [];
    let covered = 0;
    for (const s of spans) covered += Math.max(0, Math.min(s.end, c.end) - Math.max(s.start, c.start));
    if (covered > 0) shares.set(c.label, Math.min(1, covered / Math.max(1, c.end - c.start)));
  }
  return { sentences, share: (label) => shares.get(label) ?? 0 };
}
