/**
 * Extractive answers: the sentences of the retrieved passages that best answer the question,
 * each followed by markers naming every passage that contains it verbatim. No text is written
 * that is not in the corpus.
 */
import type { ChunkStore } from "../embeddings/store.ts";
import type { Config } from "./config.ts";
import { sentenceKey } from "./conversation.ts";
import type { SentenceSet } from "./exclusions.ts";
import type { Citation, SourceRef } from "./protocol.ts";
import type { Passage, Retrieval } from "./retrieval.ts";
import { contentTerms, stem, stemSet } from "./text.ts";
import { dot } from "./vectors.ts";

export interface ComposeOptions {
  maxSentences: number;
  /** Evidence under which the answer is "not found". */
  threshold: number;
  /** A further sentence joins the answer only when it scores at least this share of the best. */
  followerRatio?: number;
  /** Sentences (tested by `sentenceKey`) the answer must not give: said before, boilerplate, headings. */
  excluded?: SentenceSet;
}

export interface ScoredSentence {
  docId: string;
  start: number;
  end: number;
  text: string;
  /** Index into the passages of the first passage holding the sentence. */
  passage: number;
  dense: number;
  lexical: number;
  score: number;
}

export interface Composed {
  notFound: boolean;
  /** Score of the best sentence: how well the corpus answers the question. */
  evidence: number;
  sentences: ScoredSentence[];
  /** The answer as pieces, in order: sentence text, then its markers. Joined, they are `answer`. */
  pieces: string[];
  answer: string;
  citations: Citation[];
}

export const NOT_FOUND_TEXT =
  "I could not find the answer in the indexed documents. The closest passages are listed as sources.";

export const SENTENCE_DENSE_WEIGHT = 0.6;
/** A further sentence joins the answer only when it scores close to the best one. */
export const FOLLOWER_RATIO = 0.9;

/** Numbered sources for the passages, in rank order. */
export function toSources(passages: readonly Passage[]): SourceRef[] {
  return passages.map((p, i) => {
    const s: SourceRef = {
      n: i + 1,
      docId: p.doc.id,
      chunkId: p.chunk.id,
      title: p.doc.title,
      source: p.doc.source,
      start: p.chunk.start,
      end: p.chunk.end,
      snippet: p.chunk.text,
      score: Number(p.score.toFixed(6)),
    };
    if (p.doc.date) s.date = p.doc.date;
    if (p.doc.url) s.url = p.doc.url;
    return s;
  });
}

/** Inverse document frequency of each question term over the chunks. */
export function termWeights(store: ChunkStore, question: string): Map<string, number> {
  const total = Math.max(1, store.counts().chunks);
  const weights = new Map<string, number>();
  for (const term of contentTerms(question).slice(0, 32)) {
    const df = store.docFreq(term);
    weights.set(stem(term), Math.log(1 + (total - df + 0.5) / (df + 0.5)));
  }
  return weights;
}

/**
 * Scores every sentence of the top passages against the question: cosine similarity of the
 * sentence vector to the query vector, and the IDF-weighted share of question terms it holds.
 */
export function scoreSentences(
  store: ChunkStore,
  passages: readonly Passage[],
  queryVector: Float32Array | undefined,
  weights: Map<string, number>,
  considered: number,
  denseWeight = SENTENCE_DENSE_WEIGHT,
): ScoredSentence[] {
  const totalWeight = [...weights.values()].reduce((a, b) => a + b, 0);
  const seen = new Set<string>();
  const out: ScoredSentence[] = [];
  passages.slice(0, considered).forEach((p, pi) => {
    const text = p.chunk.text;
    for (const s of store.sentencesIn(p.doc.id, p.chunk.start, p.chunk.end)) {
      const key = `${p.doc.id}:${s.start}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const sentence = text.slice(s.start - p.chunk.start, s.end - p.chunk.start);
      const stems = stemSet(sentence);
      let hit = 0;
      for (const [term, w] of weights) if (stems.has(term)) hit += w;
      const lexical = totalWeight > 0 ? hit / totalWeight : 0;
      const dense = queryVector ? dot(queryVector, s.vector) : lexical;
      out.push({
        docId: p.doc.id,
        start: s.start,
        end: s.end,
        text: sentence,
        passage: pi,
        dense,
        lexical,
        score: denseWeight * dense + (1 - denseWeight) * lexical,
      });
    }
  });
  return out.sort((a, b) => b.score - a.score || a.passage - b.passage || a.start - b.start);
}

/** Source numbers of every passage that holds the sentence verbatim. */
function supporting(sentence: ScoredSentence, passages: readonly Passage[]): number[] {
  const ns: number[] = [];
  passages.forEach((p, i) => {
    const sameSpan =
      p.doc.id === sentence.docId && p.chunk.start <= sentence.start && sentence.end <= p.chunk.end;
    if (sameSpan) ns.push(i + 1);
  });
  return ns;
}

/** Builds the answer from scored sentences; marks it not found when the evidence is weak. */
export function compose(
  candidates: readonly ScoredSentence[],
  passages: readonly Passage[],
  opts: ComposeOptions,
): Composed {
  const excluded = opts.excluded;
  const scored = excluded ? candidates.filter((s) => !excluded.has(sentenceKey(s.text))) : candidates;
  const best = scored[0];
  const evidence = best?.score ?? 0;
  if (!best || evidence < opts.threshold) {
    return {
      notFound: true,
      evidence,
      sentences: [],
      pieces: [NOT_FOUND_TEXT],
      answer: NOT_FOUND_TEXT,
      citations: [],
    };
  }
  const chosen: ScoredSentence[] = [];
  const texts = new Set<string>();
  for (const s of scored) {
    if (chosen.length >= opts.maxSentences) break;
    if (chosen.length > 0 && s.score < best.score * (opts.followerRatio ?? FOLLOWER_RATIO)) break;
    const norm = s.text.replace(/\s+/g, " ");
    if (texts.has(norm)) continue;
    texts.add(norm);
    chosen.push(s);
  }
  const pieces: string[] = [];
  const citations: Citation[] = [];
  let offset = 0;
  chosen.forEach((s, i) => {
    const lead = i === 0 ? "" : " ";
    const answerStart = offset + lead.length;
    pieces.push(lead + s.text);
    offset = answerStart + s.text.length;
    const ns = supporting(s, passages);
    const markers = ns.map((n) => `[${n}]`).join("");
    pieces.push(` ${markers}`);
    offset += markers.length + 1;
    for (const n of ns) {
      const p = passages[n - 1]!;
      citations.push({
        n,
        docId: s.docId,
        chunkId: p.chunk.id,
        start: s.start,
        end: s.end,
        text: s.text,
        answerStart,
        answerEnd: answerStart + s.text.length,
      });
    }
  });
  return { notFound: false, evidence, sentences: chosen, pieces, answer: pieces.join(""), citations };
}

/**
 * The server-side check every citation passes before it is sent: the cited source's passage
 * contains the sentence verbatim at the cited offsets, and the answer holds it at its offsets.
 * Returns the citations that fail (none, unless there is a bug).
 */
export function invalidCitations(
  answer: string,
  citations: readonly Citation[],
  sources: readonly SourceRef[],
): Citation[] {
  return citations.filter((c) => {
    const src = sources[c.n - 1];
    if (!src || src.n !== c.n || src.docId !== c.docId || src.chunkId !== c.chunkId) return true;
    if (c.start < src.start || c.end > src.end) return true;
    if (src.snippet.slice(c.start - src.start, c.end - src.start) !== c.text) return true;
    return answer.slice(c.answerStart, c.answerEnd) !== c.text;
  });
}

/** Sentences the answer may draw from: those of the top passages. */
const PASSAGES_CONSIDERED = 5;

/** The answer to `question` from a retrieval, as the engine composes it. */
export function answerFrom(
  store: ChunkStore,
  r: Retrieval,
  question: string,
  config: Pick<Config, "answerSentences" | "notFoundThreshold">,
  excluded?: SentenceSet,
): Composed {
  // A rewritten follow-up also weighs the terms it borrowed from the conversation.
  const weights = termWeights(store, r.query === question ? question : `${question} ${r.query}`);
  const considered = Math.min(PASSAGES_CONSIDERED, r.passages.length);
  const scored = scoreSentences(store, r.passages, r.queryVector, weights, considered);
  return compose(scored, r.passages, {
    maxSentences: config.answerSentences,
    threshold: config.notFoundThreshold,
    ...(excluded ? { excluded } : {}),
  });
}
