/**
 * Gradient-boosted regression trees over raw feature values, for a probability: the sum of every
 * tree's leaf plus a base, through the logistic function. What `npm run train` fits
 * (eval/boost.ts) and stores as plain arrays, so a model file can be read as it is.
 */

/**
 * One tree as parallel arrays over its nodes (node 0 is the root). An inner node sends a value
 * below `threshold[i]` to `left[i]` and the rest to `right[i]`; a leaf has `feature[i]` = -1 and
 * adds `value[i]`.
 */
export interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface TreeModel {
  features: readonly string[];
  /** Log-odds before any tree. */
  base: number;
  trees: readonly Tree[];
}

/** The log-odds of one feature vector. */
export function treeScore(model: TreeModel, x: readonly number[]): number {
  let z = model.base;
  for (const t of model.trees) {
    let i = 0;
    while (t.feature[i]! >= 0) i = x[t.feature[i]!]! < t.threshold[i]! ? t.left[i]! : t.right[i]!;
    z += t.value[i]!;
  }
  return z;
}
