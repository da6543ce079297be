/**
 * `npx tsx scripts/eval-matcher-diff.ts SUMMARY.json [--examples N]`: re-scores an evaluation's
 * per-question results with the SQuAD-normalised answer check (`hasAnyAnswer`, used before issue
 * 14) and with the current one (`answerOccurs`), and counts the verdicts that differ: answers
 * holding a gold answer, answer-bearing citations, and answer in the top-k chunks per mode. Texts
 * come from the run's cached index, read-only. The answer is read without its [n] markers.
 * It then prints the answer figures the run's results give with the current check, so results
 * from a run made before a change of the check can be re-scored without asking again.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ChunkStore } from "../backends/embedded/store.ts";
import { currentVersion, DB_FILE, versionDir } from "../backends/embedded/versions.ts";
import { AppError } from "../core/errors.ts";
import type { RetrievalMode } from "../core/retrieval.ts";
import { answerOccurs } from "../eval/answer-match.ts";
import { answerInGold, withoutAnswerVerdicts } from "../eval/applicability.ts";
import { hasAnyAnswer } from "../eval/metrics.ts";
import { table } from "../eval/report.ts";
import type { EvalSummary } from "../eval/run.ts";
import { type QuestionResult, summarizeAnswers, summarizeMode } from "../eval/score.ts";
import { runCli } from "./cli.ts";

interface Tally {
  checked: number;
  gained: number;
  lost: number;
}

const tally = (): Tally => ({ checked: 0, gained: 0, lost: 0 });

function count(t: Tally, text: string, answers: readonly string[]): "gained" | "lost" | undefined {
  t.checked++;
  const before = hasAnyAnswer(text, answers);
  const after = answerOccurs(text, answers);
  if (before === after) return undefined;
  const change = after ? "gained" : "lost";
  t[change]++;
  return change;
}

await runCli(async () => {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { examples: { type: "string" } },
  });
  const summaryFile = positionals[0];
  if (!summaryFile)
    throw new AppError("CONFIG_INVALID", "usage: tsx scripts/eval-matcher-diff.ts SUMMARY.json");
  const showExamples = Number(values.examples ?? 8);
  const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as EvalSummary;
  const indexDir = path.join(summary.index.dir, "index");
  const version = currentVersion(indexDir);
  if (!version) throw new AppError("INDEX_MISSING", `${indexDir} holds no published index`);
  const store = new ChunkStore(path.join(versionDir(indexDir, version), DB_FILE), { readonly: true });
  const chunkSpan = store.db.prepare("SELECT doc_id, start, end FROM chunks WHERE id = ?").raw();
  const docs = new Map<string, string>();
  const docText = (id: string) => {
    if (!docs.has(id)) docs.set(id, store.getDoc(id)?.text ?? "");
    return docs.get(id)!;
  };
  // Chunk text is cut from the document (index format 3 stores offsets only).
  const chunkText = (id: string): string => {
    const row = chunkSpan.get(id) as [string, number, number] | undefined;
    return row ? docText(row[0]).slice(row[1], row[2]) : "";
  };

  const answersT = tally();
  const citationsT = tally();
  const contextT = new Map<string, Tally>();
  const examples: string[] = [];
  const lines = readFileSync(summary.files.results, "utf8").split("\n").filter(Boolean);
  const rescored: QuestionResult[] = [];
  try {
    for (const line of lines) {
      const r = JSON.parse(line) as QuestionResult;
      rescored.push(rescore(r, docText, chunkText));
      if (r.expectNotFound || r.answers.length === 0) continue;
      if (r.answer && !r.answer.notFound) {
        const body = r.answer.answer.replace(/\s*\[\d+\]/g, "");
        const change = count(answersT, body, r.answers);
        if (change && examples.length < showExamples) {
          examples.push(`${change}: ${JSON.stringify(r.answers)} in ${JSON.stringify(body.slice(0, 160))}`);
        }
        for (const c of r.answer.citations)
          count(citationsT, docText(c.docId).slice(c.start, c.end), r.answers);
      }
      for (const [mode, m] of Object.entries(r.modes)) {
        if (!m) continue;
        const t = contextT.get(mode) ?? tally();
        contextT.set(mode, t);
        const texts = m.chunks.map(chunkText);
        t.checked++;
        const before = texts.some((x) => hasAnyAnswer(x, r.answers));
        const after = texts.some((x) => answerOccurs(x, r.answers));
        if (before !== after) t[after ? "gained" : "lost"]++;
      }
    }
  } finally {
    store.close();
  }

  const row = (name: string, t: Tally) => [name, String(t.checked), String(t.gained), String(t.lost)];
  console.log(
    table([
      ["verdict", "checked", "now yes (was no)", "now no (was yes)"],
      row("answer holds a gold answer", answersT),
      row("citation is answer-bearing", citationsT),
      ...[...contextT].map(([mode, t]) => row(`answer in top-${summary.k} chunks, ${mode}`, t)),
    ]),
  );
  if (examples.length > 0)
    console.log(`\nchanged answer verdicts (first ${examples.length}):\n${examples.join("\n")}`);

  const a = summarizeAnswers(rescored);
  const inGold = rescored.filter((r) => r.answerInGold === true).length;
  const checked = rescored.filter((r) => r.answerInGold !== null).length;
  console.log(
    `\nwith the current check, over ${rescored.length} results (${inGold} of ${checked} with a gold answer in a gold document):`,
  );
  for (const mode of new Set(rescored.flatMap((r) => Object.keys(r.modes) as RetrievalMode[]))) {
    const ms = rescored.flatMap((r) => r.modes[mode] ?? []);
    const ctx = summarizeMode(ms, summary.k).answerInContext;
    console.log(`answer in top-${summary.k} chunks, ${mode}: ${ctx.rate} of ${ctx.questions}`);
  }
  const c = a.citations;
  console.log(
    `answer accuracy ${a.accuracy} of ${a.checkable}; citation precision ${c.precision} of ${c.sentences} distinct sentences, ${c.precisionPerCitation} of ${c.onAnswerable} citations; answer-bearing ${c.answerBearingRate}`,
  );
});

/** A result with every answer verdict recomputed with the current check. */
function rescore(
  r: QuestionResult,
  docText: (id: string) => string,
  chunkText: (id: string) => string,
): QuestionResult {
  const inGold = answerInGold(r, docText);
  const has = (text: string) => (r.answers.length === 0 ? null : answerOccurs(text, r.answers));
  const modes: QuestionResult["modes"] = {};
  for (const mode of Object.keys(r.modes) as RetrievalMode[]) {
    const m = r.modes[mode];
    if (!m) continue;
    const inContext =
      r.answers.length === 0 ? null : m.chunks.some((id) => answerOccurs(chunkText(id), r.answers));
    modes[mode] = { ...m, answerInContext: inContext };
  }
  const answer = r.answer && {
    ...r.answer,
    correct:
      r.answers.length === 0
        ? null
        : !r.answer.notFound && answerOccurs(r.answer.answer.replace(/\s*\[\d+\]/g, ""), r.answers),
    citations: r.answer.citations.map((c) => ({
      ...c,
      answerBearing: has(docText(c.docId).slice(c.start, c.end)),
    })),
  };
  const out: QuestionResult = { ...r, answerInGold: inGold, modes, answer };
  return inGold === false ? withoutAnswerVerdicts(out) : out;
}
