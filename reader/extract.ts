/**
 * Stage 1 of `npm run train:reader`: the candidates the engine itself offers for each question.
 *
 * A dataset (squad-train's slice, squad-dev, squad2-unanswerable, news-2023…) is indexed with the
 * product pipeline and every question goes through the same `retrieve()` and `candidates()` the
 * server uses. Each question's prefiltered candidates are written with their text, the title of
 * their document, their selector features and whether they hold a gold answer: the reader learns
 * to tell apart exactly the sentences the engine will ask it about (hard negatives), and the trees
 * are retrained on the same rows with the reader's out-of-fold score beside them.
 */

import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import { retrieve } from "../core/retrieval.ts";
import { annotationsFor, candidates, passageSentences, termWeights } from "../core/selector.ts";
import type { Embedder } from "../core/types.ts";
import { isoWeek } from "../eval/candidates.ts";
import { loadDataset } from "../eval/dataset.ts";
import { hasAnyAnswer } from "../eval/metrics.ts";
import { memoQueries } from "../eval/query-memo.ts";
import { openSession } from "../eval/session.ts";
import { PASSAGES, PREFILTER } from "../eval/train.ts";

/** One question and the candidates the engine offers for it, best first by the prefilter. */
export interface CandidateRow {
  id: string;
  /** Fold group: the gold (or near) article, or the question's ISO week for dated questions. */
  group: string;
  question: string;
  answers: string[];
  expectNotFound: boolean;
  date?: string;
  candidates: {
    docId: string;
    start: number;
    end: number;
    title: string;
    text: string;
    passage: number;
    features: number[];
    /** Holds a gold answer (SQuAD normalisation, whole words). */
    y: 0 | 1;
  }[];
}

export interface ExtractCandidatesOptions {
  datasetDir: string;
  out: string;
  cacheRoot: string;
  embedder: Embedder;
  /** Only questions whose group passes (e.g. the articles of one split). */
  keep?: (q: { group: string }) => boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Writes one JSON line per question to `out` (atomically: a `.partial` file renamed at the end). */
export async function extractCandidates(opts: ExtractCandidatesOptions): Promise<number> {
  const dataset = await loadDataset(opts.datasetDir);
  const memo = memoQueries(opts.embedder);
  const session = await openSession(dataset.corpusFile, {
    overrides: {},
    cacheRoot: opts.cacheRoot,
    embedder: memo,
    expectDocuments: dataset.docIds.length,
  });
  await mkdir(path.dirname(opts.out), { recursive: true });
  const partial = `${opts.out}.partial`;
  const sink = createWriteStream(partial);
  try {
    const qs = dataset.questions
      .map((q) => ({
        q,
        group: q.date ? isoWeek(q.date) : (q.goldDocIds[0] ?? q.nearDocId ?? ""),
      }))
      .filter(({ group }) => opts.keep?.({ group }) ?? true);
    for (const [i, { q, group }] of qs.entries()) {
      memo.forget();
      const asOf = q.date ? { asOf: q.date } : {};
      const r = await retrieve(session.deps, q.question, { k: session.config.k, ...asOf });
      const index = session.deps.index;
      const cs = candidates(await passageSentences(index, r.passages), r.passages, q.question, {
        weights: await termWeights(index, q.question),
        annotations: annotationsFor(index),
        passages: PASSAGES,
        prefilter: PREFILTER,
      });
      const row: CandidateRow = {
        id: q.id,
        group,
        question: q.question,
        answers: q.answers,
        expectNotFound: q.expectNotFound,
        ...(q.date ? { date: q.date } : {}),
        candidates: cs.map((c) => ({
          docId: c.docId,
          start: c.start,
          end: c.end,
          title: r.passages[c.passage]?.doc.title ?? "",
          text: c.text,
          passage: c.passage,
          features: c.features.map((v) => Number(v.toFixed(6))),
          y: q.answers.length > 0 && hasAnyAnswer(c.text, q.answers) ? 1 : 0,
        })),
      };
      if (!sink.write(`${JSON.stringify(row)}\n`)) await once(sink, "drain");
      opts.onProgress?.(i + 1, qs.length);
    }
    sink.end();
    await finished(sink);
    await rename(partial, opts.out);
    return qs.length;
  } finally {
    if (!sink.closed) sink.destroy();
    await session.close();
  }
}

export function haveCandidates(out: string): boolean {
  return existsSync(out);
}
