import { describe, expect, it } from "vitest";
import { notFoundBar } from "../../core/answer.ts";

describe("the not-found bar", () => {
  it.each([
    [1, 0.45],
    [5, 0.45],
    [6, 0.43],
    [10, 0.35],
    [16, 0.23],
    [17, 0.225],
    [32, 0.225],
  ])("for a question of %i content words is %f", (terms, bar) => {
    expect(notFoundBar(0.45, terms)).toBeCloseTo(bar, 10);
  });
  it("scales with a stricter threshold", () => {
    expect(notFoundBar(0.6, 3)).toBe(0.6);
    expect(notFoundBar(0.6, 9)).toBeCloseTo(0.52, 10);
  });
});
