/**
 * Stage 3 of `npm run train:reader`: how the engine uses the reader, fitted on split B of
 * squad-train's slice (articles neither the reader nor the selector's trees saw).
 *
 * For each question the engine reads the selector's top `read` candidates. Here the same is done
 * with the committed trees and the int8 reader running in the product's own embedding workers,
 * and then fitted:
 *   - the combination: boosted trees over the reader's logit and the trees' logit, each also as
 *     its gap to the question's best and its rank (core/answer.ts combinationFeatures), which
 *     order the read sentences. Every choice below is made on out-of-fold probabilities (split B
 *     dealt into COMBINATION_FOLDS by article); the model shipped is then fitted on all of B;
 *   - the follower: the probability a second sentence needs;
 *   - the not-found bar: the lowest reader probability of the first sentence that refuses at
 *     most `FALSE_REFUSAL` of split B's answerable questions;
 *   - the short answer: the reader's span probability from which a span is given, the lowest
 *     whose exact match on split B reaches `SHORT_EM`.
 * squad2-unanswerable, squad-dev and news-2023 are only measured here, never fitted on.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import {
  COMBINATION_FEATURES,
  combinationFeatures,
  DEFAULT_NOT_FOUND,
  matchStrength,
  notFoundBar,
  type ReaderSettings,
} from "../core/answer.ts";
import { FEATURES, type ProbabilityModel, probability, type SelectorModel } from "../core/selector.ts";
import { contentTerms } from "../core/text.ts";
import type { Reader, ReadScore } from "../core/types.ts";
import { BOOST_DEFAULTS, type BoostOptions, describeBoost, fitBoosted } from "../eval/boost.ts";
import { hasAnyAnswer, normalizeAnswer } from "../eval/metrics.ts";
import { articleFolds } from "../eval/train.ts";
import type { CandidateRow } from "./extract.ts";

/**
 * The combination's trees: fewer rounds and smaller leaves than the selector's, for a few
 * thousand rows of six features (set once, not tuned on any figure reported).
 */
export const COMBINATION_FIT: BoostOptions = { ...BOOST_DEFAULTS, rounds: 200, minLeaf: 30 };
/** Folds of split B's articles for the out-of-fold probabilities every threshold is chosen on. */
const COMBINATION_FOLDS = 3;
/**
 * Sentences read per question while fitting, unless told otherwise: the selector's best; the
 * engine reads at most as many (policy).
 */
export const READ = 6;
/**
 * How much split B's top-1 may lose against reading all `READ` sentences, when the fit chooses
 * how few to read (8 questions in 8,000).
 */
const POLICY_LOSS = 0.001;
const SURE_GRID = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const FALSE_REFUSAL = 0.01;
/**
 * The bar is EM ≥ 0.60 on questions of articles nobody trained on; fitted on split B with a
 * margin, since squad-dev (measured, never fitted) is not the same mix of articles.
 */
const SHORT_EM = 0.62;
const DENSE = FEATURES.indexOf("passageDense");
const LEXICAL = FEATURES.indexOf("lexical");

/**
 * Whether the match-strength rule, which the engine applies with or without the reader, refuses
 * the question: on the trees' best sentence, whichever the reader puts first (core/answer.ts
 * compose, `evidenceFrom`).
 */
function evidenceRefuses(r: ReadRow): boolean {
  const f = r.row.candidates[r.read[0]!]!.features;
  const strength = matchStrength({ dense: f[DENSE]!, lexical: f[LEXICAL]! });
  return strength < notFoundBar(DEFAULT_NOT_FOUND, contentTerms(r.row.question).length);
}

const logit = (p: number) => Math.log(Math.max(1e-9, p) / Math.max(1e-9, 1 - p));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export interface ReadRow {
  row: CandidateRow;
  /** Candidate indices read, best first by the trees. */
  read: number[];
  trees: number[];
  scores: ReadScore[];
}

/** The trees' order and the reader's scores of the top `maxRead` candidates of every row. */
export async function readTopCandidates(
  rows: readonly CandidateRow[],
  model: SelectorModel,
  reader: Reader,
  onProgress?: (done: number) => void,
  maxRead = READ,
): Promise<ReadRow[]> {
  const out: ReadRow[] = new Array(rows.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < rows.length) {
      const i = next++;
      const row = rows[i]!;
      const trees = row.candidates.map((c) => probability(model, c.features));
      const order = trees.map((_, j) => j).sort((a, b) => trees[b]! - trees[a]! || a - b);
      const read = order.slice(0, maxRead);
      const scores = await reader.read(
        row.question,
        read.map((j) => ({ title: row.candidates[j]!.title, text: row.candidates[j]!.text })),
      );
      out[i] = { row, read, trees, scores };
      done++;
      if (done % 500 === 0) onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}

/** The combination's features of each read candidate. */
export function readFeatures(r: ReadRow): number[][] {
  return combinationFeatures(
    r.scores,
    r.read.map((j) => logit(r.trees[j]!)),
  );
}

function em(a: string, answers: readonly string[]): boolean {
  const n = normalizeAnswer(a);
  return answers.some((g) => normalizeAnswer(g) === n);
}

interface Outcome {
  order: number[];
  probs: number[];
  first: number;
}

/** Which combination model scores a row: the shipped one, or its fold's while fitting. */
type ModelOf = (r: ReadRow) => ProbabilityModel;

function outcome(r: ReadRow, modelOf: ModelOf): Outcome {
  const m = modelOf(r);
  const probs = readFeatures(r).map((x) => probability(m, x));
  const order = probs.map((_, k) => k).sort((a, b) => probs[b]! - probs[a]! || a - b);
  return { order, probs, first: order[0] ?? -1 };
}

interface Policy {
  read: number;
  sure: number;
  /** Split B's top-1 with it, and with every `READ` sentence read. */
  top1: number;
  top1ReadAll: number;
  /** Sentences read per question on average. */
  meanRead: number;
}

/** A row as the engine reads it under a policy: the trees' best only, when they are sure of it. */
function asRead(r: ReadRow, p: Pick<Policy, "read" | "sure">): ReadRow {
  const n = r.trees[r.read[0]!]! >= p.sure ? 1 : p.read;
  return { ...r, read: r.read.slice(0, n), scores: r.scores.slice(0, n) };
}

/**
 * The cheapest reading (fewest sentences read on average) whose top-1 on split B is within
 * POLICY_LOSS of reading all that were read: how many to read, and from what probability of the
 * trees' best only that one.
 */
function choosePolicy(rows: readonly ReadRow[], s: ModelOf): Policy {
  const most = Math.max(1, ...rows.map((r) => r.read.length));
  const top1 = (p: Pick<Policy, "read" | "sure">) => {
    let hits = 0;
    let reads = 0;
    for (const r of rows) {
      const t = asRead(r, p);
      hits += t.row.candidates[t.read[outcome(t, s).first]!]!.y;
      reads += t.read.length;
    }
    return { top1: hits / rows.length, meanRead: reads / rows.length };
  };
  const all = top1({ read: most, sure: 2 }).top1;
  let best: Policy = { read: most, sure: 2, top1: all, top1ReadAll: all, meanRead: most };
  for (let read = 1; read <= most; read++) {
    for (const sure of [...SURE_GRID, 2]) {
      const m = top1({ read, sure });
      if (m.top1 >= all - POLICY_LOSS && m.meanRead < best.meanRead) {
        best = { read, sure, top1: round(m.top1), top1ReadAll: round(all), meanRead: round(m.meanRead) };
      }
    }
  }
  return best;
}

/** Fits the combination and the thresholds on split B's read rows. */
export function fitSettings(b: readonly ReadRow[]): {
  settings: ReaderSettings;
  figures: Record<string, unknown>;
} {
  const answerable = b.filter((r) => r.row.answers.length > 0 && r.read.length > 0);
  const fitCombination = (rows: readonly ReadRow[]) =>
    fitBoosted(
      rows.flatMap(readFeatures),
      rows.flatMap((r) => r.read.map((j) => r.row.candidates[j]!.y)),
      COMBINATION_FEATURES,
      COMBINATION_FIT,
    );
  // Out-of-fold models: every choice below is made on probabilities of articles the model did not see.
  const folds = articleFolds(
    answerable.map((r) => r.row.group),
    COMBINATION_FOLDS,
  );
  const foldModels = Array.from({ length: COMBINATION_FOLDS }, (_, f) =>
    fitCombination(answerable.filter((r) => folds.get(r.row.group) !== f)),
  );
  const oof: ModelOf = (r) => foldModels[folds.get(r.row.group)!]!;
  const policy = choosePolicy(answerable, oof);
  // The thresholds are fitted on what the engine will read.
  const read = answerable.map((r) => asRead(r, policy));
  const outs = read.map((r) => outcome(r, oof));
  // Not found: the match-strength rule refuses as it always did; the reader's own probability of
  // the first sentence refuses more, as far as both together refuse at most FALSE_REFUSAL of
  // split B's answerable questions.
  const refusedByEvidence = read.map(evidenceRefuses);
  const byEvidence = refusedByEvidence.filter(Boolean).length;
  const room = Math.floor(FALSE_REFUSAL * outs.length) - byEvidence;
  const firstProb = outs
    .flatMap((o, i) => (refusedByEvidence[i] ? [] : [sigmoid(read[i]!.scores[o.first]!.logit)]))
    .sort((x, y) => x - y);
  const notFound = room > 0 ? (firstProb[room] ?? 0) : 0;
  // Follower: the most accurate threshold whose cited sentences stay within 0.02 of the first's precision.
  const top1 = outs.filter((o, i) => read[i]!.row.candidates[read[i]!.read[o.first]!]!.y === 1).length;
  const curve = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01].map((t) => {
    let correct = 0;
    let cited = 0;
    let bearing = 0;
    outs.forEach((o, i) => {
      const r = read[i]!;
      const chosen = [o.order[0]!];
      if (o.order[1] !== undefined && o.probs[o.order[1]]! >= t) chosen.push(o.order[1]);
      const hits = chosen.filter((k) => r.row.candidates[r.read[k]!]!.y === 1).length;
      cited += chosen.length;
      bearing += hits;
      if (hits > 0) correct++;
    });
    return { threshold: t, accuracy: correct / outs.length, citedPrecision: bearing / cited };
  });
  const allowed = curve.filter((c) => c.citedPrecision >= top1 / outs.length - 0.02);
  const follower = (allowed.length > 0 ? allowed : curve.slice(-1)).reduce((a, c) =>
    c.accuracy > a.accuracy ? c : a,
  ).threshold;
  // Short answers: spans of the first sentence when it holds an answer or not, as the product sees them.
  const spans = outs
    .map((o, i) => {
      const r = read[i]!;
      const s = r.scores[o.first]!;
      const c = r.row.candidates[r.read[o.first]!]!;
      if (!s.span) return undefined;
      return { p: s.span.probability, right: em(c.text.slice(s.span.start, s.span.end), r.row.answers) };
    })
    .filter((x) => x !== undefined)
    .sort((x, y) => y.p - x.p);
  let shortAnswer = 1.01;
  let hits = 0;
  const shortCurve: { threshold: number; given: number; em: number }[] = [];
  spans.forEach((s, k) => {
    if (s.right) hits++;
    if (hits / (k + 1) >= SHORT_EM) shortAnswer = s.p;
    if ((k + 1) % Math.max(1, Math.floor(spans.length / 10)) === 0) {
      shortCurve.push({
        threshold: round(s.p),
        given: round((k + 1) / outs.length),
        em: round(hits / (k + 1)),
      });
    }
  });
  const settings: ReaderSettings = {
    read: policy.read,
    sure: policy.sure,
    ...fitCombination(answerable),
    follower,
    notFound,
    shortAnswer,
  };
  return {
    settings,
    figures: {
      combination: `${describeBoost(COMBINATION_FIT)} over ${COMBINATION_FEATURES.join(", ")}; figures out of fold (${COMBINATION_FOLDS} folds of split B's articles)`,
      questions: outs.length,
      top1Trees: round(
        answerable.filter((r) => r.row.candidates[r.read[0]!]!.y === 1).length / answerable.length,
      ),
      top1Read: round(top1 / outs.length),
      policy,
      refusedByEvidence: round(byEvidence / outs.length),
      ceilingRead: round(
        answerable.filter((r) => r.read.some((j) => r.row.candidates[j]!.y === 1)).length / answerable.length,
      ),
      followers: curve.map((c) => ({
        ...c,
        accuracy: round(c.accuracy),
        citedPrecision: round(c.citedPrecision),
      })),
      shortAnswers: shortCurve,
    },
  };
}

/** What the settings do on a set of read rows (answerable or not): never fitted on. */
export function measure(rows: readonly ReadRow[], s: ReaderSettings) {
  let answerable = 0;
  let right = 0;
  let falseRefused = 0;
  let unanswerable = 0;
  let refused = 0;
  let given = 0;
  let exact = 0;
  for (const row of rows) {
    if (row.read.length === 0) continue;
    const r = asRead(row, { read: s.read, sure: s.sure ?? 2 });
    const o = outcome(r, () => s);
    const first = r.scores[o.first]!;
    const refuse = evidenceRefuses(r) || sigmoid(first.logit) < s.notFound;
    if (r.row.expectNotFound || r.row.answers.length === 0) {
      unanswerable++;
      if (refuse) refused++;
      continue;
    }
    answerable++;
    if (refuse) {
      falseRefused++;
      continue;
    }
    const c = r.row.candidates[r.read[o.first]!]!;
    if (hasAnyAnswer(c.text, r.row.answers)) right++;
    if (first.span && first.span.probability >= s.shortAnswer) {
      given++;
      if (em(c.text.slice(first.span.start, first.span.end), r.row.answers)) exact++;
    }
  }
  return {
    answerable,
    firstHoldsAnswer: answerable ? round(right / answerable) : null,
    falseRefusals: answerable ? round(falseRefused / answerable) : null,
    unanswerable,
    refused: unanswerable ? round(refused / unanswerable) : null,
    shortGiven: answerable ? round(given / answerable) : null,
    shortEm: given ? round(exact / given) : null,
  };
}

const round = (x: number) => Number(x.toFixed(4));

export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(path.resolve(file), `${JSON.stringify(value, null, 2)}\n`);
}
