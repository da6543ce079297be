import { describe, expect, it } from "vitest";
import { SizedLru } from "../../core/lru.ts";

describe("SizedLru", () => {
  const lru = () => new SizedLru<string>(6, (v) => v.length);

  it("drops the least recently used entries once their sizes pass the budget", () => {
    const c = lru();
    c.set("a", "aa");
    c.set("b", "bb");
    c.set("c", "cc");
    c.set("d", "dd");
    expect(["a", "b", "c", "d"].map((k) => c.get(k))).toEqual([undefined, "bb", "cc", "dd"]);
  });

  it("counts a read as a use", () => {
    const c = lru();
    c.set("a", "aa");
    c.set("b", "bb");
    c.set("c", "cc");
    c.get("a");
    c.set("d", "dd");
    expect(["a", "b"].map((k) => c.get(k))).toEqual(["aa", undefined]);
  });

  it("keeps the entry just added even when it alone passes the budget", () => {
    const c = lru();
    c.set("a", "aa");
    c.set("big", "bbbbbbbbbb");
    expect([c.get("a"), c.get("big")]).toEqual([undefined, "bbbbbbbbbb"]);
  });

  it("counts a replaced entry's size once", () => {
    const c = lru();
    c.set("a", "aa");
    c.set("a", "aaaa");
    c.set("b", "bb");
    expect([c.get("a"), c.get("b")]).toEqual(["aaaa", "bb"]);
  });
});
