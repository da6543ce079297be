import { describe, expect, it } from "vitest";
import { parts } from "../../embeddings/reader.ts";

const rows = (...lengths: number[]) => lengths.map((n) => ({ ids: Array.from({ length: n }, () => 1) }));

describe("the reader's rows split between workers", () => {
  it("puts like lengths together, each part about the same number of tokens, every row once", () => {
    const split = parts(rows(90, 20, 25, 85, 30, 80), 2);
    expect(split).toEqual([
      [1, 2, 4, 5],
      [3, 0],
    ]);
    expect(split.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("never makes more parts than rows or workers", () => {
    expect(parts(rows(40), 4)).toEqual([[0]]);
    expect(parts(rows(40, 50, 60), 1)).toEqual([[0, 1, 2]]);
    expect(parts(rows(40, 50), 4)).toEqual([[0], [1]]);
  });
});
