/**
 * Both retrievers' raw candidate lists for every question of a dataset, written once as JSONL so
 * fusion rules can be compared (and learned) offline without touching the model again.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { finished } from "node:stream/promises";
import type { Config } from "../core/config.ts";
import { loadConfig } from "../core/config.ts";
import type { DateIntent } from "../core/dates.ts";
import { gatherCandidates } from "../core/retrieval.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { answerOccurs } from "./answer-match.ts";
import { loadDataset } from "./dataset.ts";
import { memoQueries } from "./query-memo.ts";
import { openSession } from "./session.ts";

export interface Hit {
  label: number;
  score: number;
}

/** One question's candidates: each retriever's list, and facts about every candidate. */
export interface CandidateRecord {
  id: string;
  question: string;
  /** The day the question was asked, when the dataset says. */
  date: string | undefined;
  /** Fold group: the first gold document, or the question's ISO week for dated questions. */
  group: string;
  goldDocIds: string[];
  /** Cosine: the dense hits and the lexical hits they missed (what hybrid fuses). */
  dense: Hit[];
  /** Cosine: the dense search's own hits (dense mode). */
  denseAlone: Hit[];
  lexical: Hit[];
  /** Words in the lexical query. */
  terms: number;
  /** The period the question names, read against `asOf`. */
  intent: DateIntent;
  asOf: string;
  /** The corpus's oldest document day ("latest" measures age from it). */
  oldest: string | undefined;
  /** The recency prior applies (the corpus has dated documents). */
  prior: boolean;
  /** label → [docId, holds a gold answer (0/1), document date or ""] */
  chunks: Record<string, [string, 0 | 1, string]>;
}

export interface DumpOptions {
  datasetDir: string;
  out: string;
  cacheRoot: string;
  overrides?: Partial<Config>;
}

/** ISO year-week of a YYYY-MM-DD day. */
export function isoWeek(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - dow + 3);
  const firstThursday = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
  const week = 1 + Math.round((d.getTime() - firstThursday.getTime()) / 86_400_000 / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** Writes one CandidateRecord per answerable question to `opts.out`. */
export async function dumpCandidates(opts: DumpOptions): Promise<number> {
  const dataset = await loadDataset(opts.datasetDir);
  const overrides = opts.overrides ?? {};
  const embedder = await createEmbedder(loadConfig(overrides));
  const memo = memoQueries(embedder);
  const session = await openSession(dataset.corpusFile, {
    overrides,
    cacheRoot: opts.cacheRoot,
    embedder: memo,
    expectDocuments: dataset.docIds.length,
  });
  await mkdir(path.dirname(opts.out), { recursive: true });
  const out = createWriteStream(opts.out, "utf8");
  let n = 0;
  try {
    const { index } = session.deps;
    for (const q of dataset.questions) {
      if (q.expectNotFound || q.goldDocIds.length === 0) continue;
      memo.forget();
      const ask = { k: session.config.k, asOf: q.date };
      const c = await gatherCandidates(session.deps, q.question, ask);
      const alone = await gatherCandidates(session.deps, q.question, { ...ask, mode: "dense" });
      const labels = [...new Set([...c.dense, ...c.lexical].map((h) => h.label))];
      const records = await index.chunks(labels);
      const chunks: CandidateRecord["chunks"] = {};
      labels.forEach((label, i) => {
        const r = records[i];
        if (r)
          chunks[label] = [r.chunk.docId, answerOccurs(r.chunk.text, q.answers) ? 1 : 0, r.doc.date ?? ""];
      });
      const rec: CandidateRecord = {
        id: q.id,
        question: q.question,
        date: q.date,
        group: q.date ? isoWeek(q.date) : q.goldDocIds[0]!,
        goldDocIds: q.goldDocIds,
        terms: c.terms.length,
        intent: c.intent,
        asOf: c.asOf,
        oldest: c.oldest,
        prior: c.newest !== undefined,
        dense: c.dense.map((h) => ({ label: h.label, score: round(h.score) })),
        denseAlone: alone.dense.map((h) => ({ label: h.label, score: round(h.score) })),
        lexical: c.lexical.map((h) => ({ label: h.label, score: round(h.score) })),
        chunks,
      };
      if (!out.write(`${JSON.stringify(rec)}\n`)) await once(out, "drain");
      n++;
    }
  } finally {
    out.end();
    await finished(out);
    session.close();
    await embedder.dispose();
  }
  return n;
}

const round = (x: number) => Math.round(x * 1e5) / 1e5;

/** Reads a candidates file. */
export async function readCandidates(file: string): Promise<CandidateRecord[]> {
  const recs: CandidateRecord[] = [];
  const lines = createInterface({
    input: createReadStream(file, "utf8"),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) if (line.trim()) recs.push(JSON.parse(line) as CandidateRecord);
  return recs;
}
