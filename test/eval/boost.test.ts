import { describe, expect, it } from "vitest";
import { probability } from "../../core/selector.ts";
import { treeScore } from "../../core/trees.ts";
import { BOOST_DEFAULTS, fitBoosted } from "../../eval/boost.ts";
import { fitLogistic } from "../../eval/train.ts";

// Rows on a grid where the label is an interaction no weighted sum can draw: positive when both
// features are high or both are low.
const xs: number[][] = [];
const ys: number[] = [];
for (let i = 0; i < 40; i++) {
  for (let j = 0; j < 40; j++) {
    xs.push([i / 40, j / 40, ((i * 7 + j * 13) % 17) / 17]);
    ys.push(i < 20 === j < 20 ? 1 : 0);
  }
}
const NAMES = ["a", "b", "noise"];
const OPTS = { ...BOOST_DEFAULTS, rounds: 60, depth: 2, learningRate: 0.3, minLeaf: 20, bins: 32 };

const accuracy = (p: (x: number[]) => number) =>
  xs.filter((x, i) => (p(x) >= 0.5 ? 1 : 0) === ys[i]).length / xs.length;

describe("boosted trees", () => {
  it("learn an interaction a logistic model cannot", () => {
    const trees = fitBoosted(xs, ys, NAMES, OPTS);
    const logistic = fitLogistic(xs, ys, 1, NAMES);
    expect(accuracy((x) => probability(trees, x))).toBeGreaterThan(0.97);
    expect(accuracy((x) => probability(logistic, x))).toBeLessThan(0.6);
  });

  it("score at inference exactly as they were fitted, and fit the same trees every time", () => {
    const a = fitBoosted(xs, ys, NAMES, OPTS);
    const b = fitBoosted(xs, ys, NAMES, OPTS);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // A value at a cut goes right (x < threshold goes left), as the bins were split.
    const root = a.trees[0]!;
    const f = root.feature[0]!;
    expect(f).toBeGreaterThanOrEqual(0);
    const at = [0.5, 0.5, 0.5];
    at[f] = root.threshold[0]!;
    const below = [...at];
    below[f] = root.threshold[0]! - 1e-9;
    const leafOf = (x: number[]) => {
      let i = 0;
      while (root.feature[i]! >= 0)
        i = x[root.feature[i]!]! < root.threshold[i]! ? root.left[i]! : root.right[i]!;
      return i;
    };
    expect(leafOf(at)).not.toBe(leafOf(below));
    expect(treeScore({ ...a, trees: [] }, at)).toBe(a.base);
  });

  it("predict the base rate with no split worth making", () => {
    const flat = fitBoosted(
      xs.map(() => [1, 1, 1]),
      ys,
      NAMES,
      OPTS,
    );
    const share = ys.filter((y) => y === 1).length / ys.length;
    expect(probability(flat, [1, 1, 1])).toBeCloseTo(share, 2);
  });
});
