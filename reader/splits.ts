/**
 * The split of squad-train's slice by article: split A trains the reader and the selector's
 * trees; split B (every third article by sorted id, as reader/train.py's split_of) is held out of
 * both, so the reader's scores there are out of sample and the thresholds fitted on them honest.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { TrainRow } from "../eval/train.ts";
import type { CandidateRow } from "./extract.ts";

export async function readCandidates(file: string): Promise<CandidateRow[]> {
  const rows: CandidateRow[] = [];
  for await (const line of createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity })) {
    if (line.trim()) rows.push(JSON.parse(line) as CandidateRow);
  }
  return rows;
}

/** "A" or "B" for each row's group, as reader/train.py splits them. */
export function splitOf(rows: readonly CandidateRow[]): (row: CandidateRow) => "A" | "B" {
  const groups = [...new Set(rows.map((r) => r.group))].sort();
  const index = new Map(groups.map((g, i) => [g, i]));
  return (row) => ((index.get(row.group) ?? 0) % 3 === 2 ? "B" : "A");
}

/** The rows `npm run train -- --features` reads: the selector's features and labels. */
export function trainRows(rows: readonly CandidateRow[]): TrainRow[] {
  return rows
    .filter((r) => !r.expectNotFound && r.answers.length > 0)
    .map((r) => ({
      id: r.id,
      article: r.group,
      question: r.question,
      answers: r.answers,
      x: r.candidates.map((c) => c.features),
      y: r.candidates.map((c) => c.y),
      texts: r.candidates.map((c) => c.text),
    }));
}
