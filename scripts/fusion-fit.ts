/**
 * How the adaptive fusion's constants were chosen, reproducibly.
 *
 *   tsx scripts/fusion-fit.ts dump DATASET OUT.jsonl [--cache DIR]
 *     both retrievers' top-100 candidates for every answerable question of a dataset
 *   tsx scripts/fusion-fit.ts fit FILE.jsonl... [--table-only]
 *     per dataset: nDCG@10, R@1 and answer-in-top-5 of each retriever alone, of the fixed
 *     fusions and of the adaptive one, ranked as retrieval ranks them (date evidence added after
 *     fusion, five passages per document at most); then the adaptive constants searched on a
 *     grid, four folds by group (article, or week for dated questions), all datasets pooled with
 *     equal weight, scored out of fold.
 *
 * The boilerplate factor is left out of the simulation; `npm run eval` gives the product's figures.
 */
import { DEFAULTS } from "../core/config.ts";
import { addDatePriors } from "../core/dates.ts";
import { ADAPTIVE, type AdaptiveParams, type FusionOptions, fuse } from "../core/fusion.ts";
import { type CandidateRecord, dumpCandidates, readCandidates } from "../eval/candidates.ts";
import { ndcgAt, rankDocs, recallAt } from "../eval/metrics.ts";

interface Scores {
  r1: number;
  ndcg: number;
  ans5: number;
}

/** Which lists a rule fuses: one retriever alone, or both (the dense list covering both's candidates). */
type Lists = "dense" | "lexical" | "both" | "both, by cosine";
type Rule = { name: string; opts: FusionOptions; lists?: Lists };

/** One question ranked as retrieval ranks it; its nDCG@10, R@1 and answer-in-top-5. */
function rankOne(r: CandidateRecord, opts: FusionOptions, lists: Lists = "both"): Scores {
  const dense = lists === "lexical" ? [] : lists === "dense" ? r.denseAlone : r.dense;
  const lexical = lists === "dense" || lists === "both, by cosine" ? [] : r.lexical;
  const fused = fuse(dense, lexical, opts, r.terms);
  addDatePriors(fused, (label) => r.chunks[label]?.[2] || undefined, {
    intent: r.intent,
    asOf: r.asOf,
    oldest: r.oldest,
    prior: r.prior ? DEFAULTS.recencyPrior : 0,
    halfLifeDays: DEFAULTS.recencyHalfLifeDays,
  });
  fused.sort((a, b) => b.score - a.score || a.label - b.label);
  const perDoc = new Map<string, number>();
  const kept: string[] = [];
  let ans5 = 0;
  for (const f of fused) {
    const c = r.chunks[f.label];
    if (!c) continue;
    const n = perDoc.get(c[0]) ?? 0;
    if (n >= DEFAULTS.perDocCap) continue;
    perDoc.set(c[0], n + 1);
    if (kept.length < 5 && c[1] === 1) ans5 = 1;
    kept.push(c[0]);
  }
  const docs = rankDocs(kept);
  return { r1: recallAt(docs, r.goldDocIds, 1), ndcg: ndcgAt(docs, r.goldDocIds, 10), ans5 };
}

function meanOf(rows: readonly Scores[]): Scores {
  const n = rows.length || 1;
  const sum = (k: keyof Scores) => rows.reduce((a, s) => a + s[k], 0) / n;
  return { r1: sum("r1"), ndcg: sum("ndcg"), ans5: sum("ans5") };
}

const base: FusionOptions = { method: "score", denseWeight: 0.5, rrfK: DEFAULTS.rrfK };
const rules: Rule[] = [
  { name: "dense alone", opts: base, lists: "dense" },
  { name: "lexical alone", opts: base, lists: "lexical" },
  { name: "both's candidates, by cosine", opts: base, lists: "both, by cosine" },
  { name: "score, 0.5 (the default before)", opts: base },
  { name: "score, 0.7", opts: { ...base, denseWeight: 0.7 } },
  { name: "rrf, 0.5", opts: { ...base, method: "rrf" } },
  { name: "adaptive (committed)", opts: { ...base, method: "adaptive" } },
];

/** Stable fold of a group name. */
function foldOf(group: string, folds: number): number {
  let h = 0;
  for (const c of group) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % folds;
}

function grid(): AdaptiveParams[] {
  const out: AdaptiveParams[] = [];
  for (const bias of [0.5, 1, 1.5, 2, 2.5, 3])
    for (const perTerm of [0.1, 0.2, 0.3, 0.5, 0.7])
      for (const confidence of [0, 0.5, 1, 1.5, 2, 3])
        out.push({ bias, perTerm, pivot: ADAPTIVE.pivot, confidence });
  return out;
}

function report(sets: { name: string; recs: CandidateRecord[] }[], search: boolean): void {
  const f = (x: number) => x.toFixed(3);
  console.log("| dataset | rule | nDCG@10 | R@1 | answer in top 5 |\n|---|---|---|---|---|");
  for (const { name, recs } of sets) {
    for (const rule of rules) {
      const m = meanOf(recs.map((r) => rankOne(r, rule.opts, rule.lists)));
      console.log(`| ${name} | ${rule.name} | ${f(m.ndcg)} | ${f(m.r1)} | ${f(m.ans5)} |`);
    }
  }
  if (!search) return;
  // Out of fold: each fold's constants are chosen on the other folds of every dataset, the
  // objective being the mean over datasets of mean nDCG@10 (so a large set does not drown a small one).
  const folds = 4;
  const candidates = grid();
  const oof = new Map<string, Scores[]>(sets.map((s) => [s.name, []]));
  for (let k = 0; k < folds; k++) {
    let best: { p: AdaptiveParams; v: number } | undefined;
    for (const p of candidates) {
      const opts: FusionOptions = { ...base, method: "adaptive", adaptive: p };
      let v = 0;
      for (const { recs } of sets) {
        v += meanOf(recs.filter((r) => foldOf(r.group, folds) !== k).map((r) => rankOne(r, opts))).ndcg;
      }
      if (!best || v > best.v) best = { p, v };
    }
    console.error(`fold ${k}: ${JSON.stringify(best!.p)}`);
    const opts: FusionOptions = { ...base, method: "adaptive", adaptive: best!.p };
    for (const { name, recs } of sets) {
      oof.get(name)!.push(...recs.filter((r) => foldOf(r.group, folds) === k).map((r) => rankOne(r, opts)));
    }
  }
  for (const [name, rows] of oof) {
    const m = meanOf(rows);
    console.log(`| ${name} | adaptive, out of fold | ${f(m.ndcg)} | ${f(m.r1)} | ${f(m.ans5)} |`);
  }
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === "dump" && args[0] && args[1]) {
    const cacheAt = args.indexOf("--cache");
    const n = await dumpCandidates({
      datasetDir: args[0],
      out: args[1],
      cacheRoot: cacheAt >= 0 ? args[cacheAt + 1]! : "data/eval-cache",
    });
    console.log(`${n} questions → ${args[1]}`);
    return;
  }
  if (cmd === "fit" && args.length > 0) {
    const files = args.filter((a) => a !== "--table-only");
    const sets = await Promise.all(
      files.map(async (file) => ({
        name: file.replace(/^.*\//, "").replace(/\.jsonl$/, ""),
        recs: await readCandidates(file),
      })),
    );
    report(sets, !args.includes("--table-only"));
    return;
  }
  console.error(
    "usage: tsx scripts/fusion-fit.ts dump DATASET OUT.jsonl [--cache DIR] | fit FILE.jsonl... [--table-only]",
  );
  process.exitCode = 2;
}

await main();
