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
import { catalog } from "../core/retrieval.ts";
import { contentTerms } from "../core/text.ts";
import { createEmbedder } from "../embeddings/embedder.ts";
import { loadDataset } from "./dataset.ts";
import { memoEmbedder } from "./memo-embedder.ts";
import { answerOccurs } from "./answer-match.ts";
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
  dense: Hit[];
  lexical: Hit[];
  /** The corpus's oldest document day ("latest" measures age from it). */
  oldest: string | undefined;
  /** label → [docId, holds a gold answer (0/1), document date or ""] */
  chunks: Record<string, [string, 0 | 1, string]>;
}

export interface DumpOptions {
  datasetDir: string;
  out: string;
  cacheRoot: string;
  pool: number;
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
  const memo = memoEmbedder(embedder);
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
    const cat = catalog(index);
    for (const q of dataset.questions) {
      if (q.expectNotFound || q.goldDocIds.length === 0) continue;
      memo.forget();
      const date = q.date;
      // As retrieval does: nothing dated after the day the question was asked; undated documents stay.
      const notAfter = (label: number) => {
        const d = cat.labelDate.get(label);
        return date === undefined || d === undefined || d <= date;
      };
      const vector = (await memo.embed([q.question], "query"))[0]!;
      const dense = index.vectors.search(vector, opts.pool, date === undefined ? undefined : notAfter);
      const lexical = index.store
        .lexicalSearch(contentTerms(q.question).slice(0, 32), opts.pool)
        .filter((h) => notAfter(h.label));
      const chunks: CandidateRecord["chunks"] = {};
      for (const h of [...dense, ...lexical]) {
        if (chunks[h.label]) continue;
        const c = index.store.getChunk(h.label);
        if (!c) continue;
        chunks[h.label] = [c.docId, answerOccurs(c.text, q.answers) ? 1 : 0, cat.labelDate.get(h.label) ?? ""];
      }
      const rec: CandidateRecord = {
        id: q.id,
        question: q.question,
        date,
        group: date ? isoWeek(date) : q.goldDocIds[0]!,
        goldDocIds: q.goldDocIds,
        oldest: cat.oldest,
        dense: dense.map((h) => ({ label: h.label, score: round(h.score) })),
        lexical: lexical.map((h) => ({ label: h.label, score: round(h.score) })),
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
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line.trim()) recs.push(JSON.parse(line) as CandidateRecord);
  return recs;
}
