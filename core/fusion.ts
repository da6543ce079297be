/**
 * Fusion of the dense and lexical rankings into one. Pure: two scored lists in, one score per
 * candidate out, on a 0–1 scale (1 for a candidate first in both lists) so that the date boosts
 * applied after it mean the same under every method.
 *
 * The default, "adaptive", scales each list to [0, 1] over its own candidates and weighs the two
 * per question. Two things decide the weight, both measured on the question and its lists:
 * - how long the question is: BM25 scores a passage by the query words it shares, so a long,
 *   paraphrased question (a news quiz, a conversational question) spreads its score over many
 *   common words and matches the wrong passages, while a short question of rare words is what
 *   BM25 does best;
 * - how sure each retriever is of its first hit: how far its top score stands above the rest of
 *   its list, in that list's standard deviations.
 * The weight's three constants were chosen on squad-dev and news-2023 together, out of fold
 * (docs/evaluation.md, "Fusion").
 */

export type FusionMethod = "adaptive" | "score" | "rrf";

export interface Hit {
  label: number;
  score: number;
}

export interface FusionOptions {
  method: FusionMethod;
  /** Dense share under "score" and "rrf" (lexical gets 1 − this); unused by "adaptive". */
  denseWeight: number;
  rrfK: number;
  /** The adaptive weight's constants (default {@link ADAPTIVE}); the fitting script varies them. */
  adaptive?: Readonly<AdaptiveParams>;
}

export interface FusedHit {
  label: number;
  /** 0–1: the weighted sum of the two lists' scaled scores. */
  score: number;
  dense?: { rank: number; score: number };
  lexical?: { rank: number; score: number };
}

/** The adaptive weight: dense share = σ(BIAS + PER_TERM·(terms − PIVOT) + CONFIDENCE·tanh(Δ/3)). */
export const ADAPTIVE: Readonly<AdaptiveParams> = Object.freeze({
  bias: 2.5,
  perTerm: 0.5,
  pivot: 8,
  confidence: 0.5,
});

export interface AdaptiveParams {
  bias: number;
  perTerm: number;
  pivot: number;
  confidence: number;
}

/** Candidates after the first that a list's confidence is measured against. */
const CONFIDENCE_TAIL = 20;

/**
 * How far a list's first score stands above the next ones, in their standard deviations; 0 for a
 * list too short to tell.
 */
export function confidence(list: readonly Hit[]): number {
  const tail = list.slice(1, CONFIDENCE_TAIL);
  if (tail.length < 2) return 0;
  const mean = tail.reduce((a, h) => a + h.score, 0) / tail.length;
  const sd = Math.sqrt(tail.reduce((a, h) => a + (h.score - mean) ** 2, 0) / tail.length);
  return sd > 0 ? Math.max(0, (list[0]!.score - mean) / sd) : 0;
}

/** The dense share for one question under the adaptive method; `terms` counts its query words. */
export function adaptiveWeight(
  dense: readonly Hit[],
  lexical: readonly Hit[],
  terms: number,
  p: Readonly<AdaptiveParams> = ADAPTIVE,
): number {
  const margin = Math.tanh((confidence(dense) - confidence(lexical)) / 3);
  const z = p.bias + p.perTerm * (terms - p.pivot) + p.confidence * margin;
  return 1 / (1 + Math.exp(-z));
}

/** Min–max scaling over a list's own scores (a one-score list scales to 1). */
function rescale(list: readonly Hit[]): (score: number, rank: number) => number {
  const top = list[0]?.score ?? 0;
  const bottom = list[list.length - 1]?.score ?? 0;
  const span = top - bottom;
  return span > 0 ? (s) => (s - bottom) / span : () => 1;
}

/**
 * Fuses two rankings, each best first. `terms` is the number of words the lexical query was made
 * of (the adaptive method reads it). A list that is empty gives the other all the weight.
 */
export function fuse(
  dense: readonly Hit[],
  lexical: readonly Hit[],
  opts: FusionOptions,
  terms: number,
): FusedHit[] {
  let w =
    opts.method === "adaptive" ? adaptiveWeight(dense, lexical, terms, opts.adaptive) : opts.denseWeight;
  if (dense.length === 0) w = 0;
  if (lexical.length === 0) w = 1;
  // Reciprocal rank, scaled so that a first place is worth 1 as under the score methods.
  const byRank = (_s: number, i: number) => (opts.rrfK + 1) / (opts.rrfK + i + 1);
  const scaleD = opts.method === "rrf" ? byRank : rescale(dense);
  const scaleL = opts.method === "rrf" ? byRank : rescale(lexical);

  const fused = new Map<number, FusedHit>();
  dense.forEach((h, i) => {
    fused.set(h.label, {
      label: h.label,
      score: w * scaleD(h.score, i),
      dense: { rank: i + 1, score: h.score },
    });
  });
  lexical.forEach((h, i) => {
    const f = fused.get(h.label) ?? { label: h.label, score: 0 };
    f.score += (1 - w) * scaleL(h.score, i);
    f.lexical = { rank: i + 1, score: h.score };
    fused.set(h.label, f);
  });
  return [...fused.values()];
}
