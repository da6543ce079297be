/**
 * Fits gradient-boosted regression trees for a binary label (logistic loss, second-order steps as
 * in XGBoost) on features cut into quantile bins. Deterministic: no sampling, ties go to the
 * first feature and the lowest cut. Small trees, a small step, a floor on rows per leaf.
 */
import type { Tree, TreeModel } from "../core/trees.ts";

export interface BoostOptions {
  rounds: number;
  /** Splits from the root to a leaf, at most. */
  depth: number;
  learningRate: number;
  /** L2 penalty on leaf values. */
  lambda: number;
  /** Fewest rows in a leaf. */
  minLeaf: number;
  /** Most cut points per feature, plus one. */
  bins: number;
}

export const BOOST_DEFAULTS: BoostOptions = {
  rounds: 300,
  depth: 4,
  learningRate: 0.05,
  lambda: 1,
  minLeaf: 50,
  bins: 64,
};

/** Cut points of one feature: distinct values at its quantiles, above its smallest value. */
function cutsOf(values: Float64Array, bins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  const cuts: number[] = [];
  for (let k = 1; k < bins; k++) {
    const v = sorted[Math.floor((k * sorted.length) / bins)]!;
    if (v > sorted[0]! && (cuts.length === 0 || v > cuts[cuts.length - 1]!)) cuts.push(v);
  }
  return cuts;
}

/** The bin of a value: how many cuts it reaches (so `x < cuts[b]` exactly when its bin is ≤ b). */
function binOf(cuts: readonly number[], x: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x >= cuts[mid]!) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const round = (v: number) => Number(v.toPrecision(7));

/** Fits the trees to rows `xs` with labels `ys` (0 or 1). */
export function fitBoosted(
  xs: readonly (readonly number[])[],
  ys: readonly number[],
  names: readonly string[],
  opts: BoostOptions = BOOST_DEFAULTS,
): TreeModel {
  const n = xs.length;
  const d = names.length;
  const cuts: number[][] = [];
  const bins: Uint8Array[] = [];
  for (let j = 0; j < d; j++) {
    const col = Float64Array.from(xs, (x) => x[j]!);
    const c = cutsOf(col, Math.min(opts.bins, 256));
    cuts.push(c);
    bins.push(Uint8Array.from(col, (v) => binOf(c, v)));
  }
  const positives = ys.reduce((a, b) => a + b, 0);
  const prior = Math.min(1 - 1e-6, Math.max(1e-6, positives / Math.max(1, n)));
  const base = Math.log(prior / (1 - prior));
  const score = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const trees: Tree[] = [];
  const all = Int32Array.from({ length: n }, (_, i) => i);

  for (let round_ = 0; round_ < opts.rounds; round_++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-score[i]!));
      g[i] = p - ys[i]!;
      h[i] = p * (1 - p);
    }
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    const grow = (rows: Int32Array, depth: number): number => {
      const node = tree.feature.length;
      tree.feature.push(-1);
      tree.threshold.push(0);
      tree.left.push(-1);
      tree.right.push(-1);
      tree.value.push(0);
      let G = 0;
      let H = 0;
      for (const i of rows) {
        G += g[i]!;
        H += h[i]!;
      }
      const parent = (G * G) / (H + opts.lambda);
      let best = { gain: 1e-9, feature: -1, bin: -1 };
      if (depth < opts.depth && rows.length >= 2 * opts.minLeaf) {
        for (let j = 0; j < d; j++) {
          const nb = cuts[j]!.length + 1;
          if (nb < 2) continue;
          const hg = new Float64Array(nb);
          const hh = new Float64Array(nb);
          const hc = new Int32Array(nb);
          const bj = bins[j]!;
          for (const i of rows) {
            const b = bj[i]!;
            hg[b]! += g[i]!;
            hh[b]! += h[i]!;
            hc[b]!++;
          }
          let gl = 0;
          let hl = 0;
          let cl = 0;
          for (let b = 0; b < nb - 1; b++) {
            gl += hg[b]!;
            hl += hh[b]!;
            cl += hc[b]!;
            if (cl < opts.minLeaf) continue;
            if (rows.length - cl < opts.minLeaf) break;
            const gr = G - gl;
            const hr = H - hl;
            const gain = (gl * gl) / (hl + opts.lambda) + (gr * gr) / (hr + opts.lambda) - parent;
            if (gain > best.gain) best = { gain, feature: j, bin: b };
          }
        }
      }
      if (best.feature < 0) {
        tree.value[node] = round((-G / (H + opts.lambda)) * opts.learningRate);
        for (const i of rows) score[i]! += tree.value[node]!;
        return node;
      }
      const bj = bins[best.feature]!;
      const leftRows = rows.filter((i) => bj[i]! <= best.bin);
      const rightRows = rows.filter((i) => bj[i]! > best.bin);
      tree.feature[node] = best.feature;
      tree.threshold[node] = cuts[best.feature]![best.bin]!;
      tree.left[node] = grow(leftRows, depth + 1);
      tree.right[node] = grow(rightRows, depth + 1);
      return node;
    };
    grow(all, 0);
    trees.push(tree);
  }
  return { features: [...names], base: round(base), trees };
}

/** The fit in words, for a model's provenance. */
export function describeBoost(b: BoostOptions): string {
  return `gradient-boosted trees (logistic loss, second-order steps): ${b.rounds} trees of depth ${b.depth}, learning rate ${b.learningRate}, L2 ${b.lambda} on leaves, at least ${b.minLeaf} rows per leaf, ${b.bins} quantile bins per feature`;
}

/** A model as JSON, one tree to a line so the file stays readable. */
export function modelJson(model: object): string {
  const forests: unknown[][] = [];
  const text = JSON.stringify(
    model,
    (key, value: unknown) => {
      if (key !== "trees" || !Array.isArray(value)) return value;
      forests.push(value);
      return `TREES ${forests.length - 1}`;
    },
    2,
  );
  const inlined = text.replace(/^( *)"trees": "TREES (\d+)"/gm, (_, indent: string, i: string) => {
    const trees = forests[Number(i)]!.map((t) => `${indent}  ${JSON.stringify(t)}`).join(",\n");
    return `${indent}"trees": [\n${trees}\n${indent}]`;
  });
  return `${inlined}\n`;
}
