/**
 * The walker that checks client input against the request schemas: it accepts exactly what the
 * schemas say (TypeBox's own checker is the reference), plus the two rules JSON Schema cannot say,
 * and reports each failure with the code and message the schema names.
 */
import { FormatRegistry, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isIsoDate } from "../../core/dates.ts";
import { AppError } from "../../core/errors.ts";
import { check } from "../../server/schema-check.ts";
import { requestSchemas } from "../../server/schemas.ts";

FormatRegistry.Set("date", isIsoDate);

const schemas = requestSchemas({
  maxQuestionChars: 20,
  maxHistoryTurns: 2,
  maxHistoryChars: 30,
  maxK: 5,
  staleCorpusDays: 30,
});

/** The value with every null-valued object property removed: null is the same as absent. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, withoutNulls(x)]),
  );
}

/** What JSON Schema cannot say: each date range in order, and a history's characters in all. */
function extraRules(v: unknown): boolean {
  type Range = { from?: unknown; to?: unknown };
  const o = v as Range & { filters?: Range; citeline?: { filters?: Range }; history?: { text?: unknown }[] };
  const ranges = [o, o?.filters, o?.citeline?.filters];
  for (const r of ranges) {
    if (typeof r?.from === "string" && typeof r.to === "string" && r.from > r.to) return false;
  }
  if (Array.isArray(o?.history)) {
    const chars = o.history.reduce((n, t) => n + (typeof t?.text === "string" ? t.text.length : 0), 0);
    if (chars > 30) return false;
  }
  return true;
}

// Strings with no outer whitespace: a question is trimmed before it is measured, which TypeBox does not do.
const leaf = fc.oneof(
  fc.constantFrom("", "Who?", "x".repeat(21), "a b", "2024-01-01", "2024-02-30", "2023-12-31", "user"),
  fc.constantFrom("assistant", "system", "developer", "citeline", "text", "hybrid", "ask", "cancel", "v1"),
  fc.integer({ min: -2, max: 8 }),
  fc.constantFrom(1.5, true, false),
);
const value = fc.letrec((tie) => ({
  any: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("object"), tie("array")),
  array: fc.array(tie("any"), { maxLength: 3 }),
  object: fc.dictionary(
    fc.constantFrom(
      "question",
      "history",
      "k",
      "filters",
      "asOf",
      "from",
      "to",
      "role",
      "text",
      "type",
      "id",
      "model",
    ),
    tie("any"),
    { maxKeys: 4 },
  ),
})).any;

/** Now and then a value, mostly nothing. */
const rarely = (arb: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 14, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/**
 * Requests near a valid one: each part kept, dropped, or replaced by a random value, and now and
 * then an extra field, so both sides of every constraint are reached.
 */
function near(base: unknown): fc.Arbitrary<unknown> {
  // null only where the schema names the field: there it is the same as absent, elsewhere unknown.
  const part = (v: unknown) =>
    fc.oneof(
      { weight: 14, arbitrary: near(v) },
      { weight: 2, arbitrary: value },
      { weight: 1, arbitrary: fc.constant(null) },
    );
  if (Array.isArray(base)) {
    return fc
      .tuple(fc.tuple(...base.map(part)), rarely(value))
      .map(([items, more]) => (more === undefined ? items : [...items, more]));
  }
  if (typeof base !== "object" || base === null) return fc.constant(base);
  const entries = Object.entries(base);
  return fc
    .tuple(
      fc.tuple(...entries.map(([, v]) => fc.option(part(v), { freq: 14, nil: undefined }))),
      rarely(value),
    )
    .map(([values, extra]) => {
      const out: Record<string, unknown> = {};
      entries.forEach(([k], i) => {
        if (values[i] !== undefined) out[k] = values[i];
      });
      if (extra !== undefined) out.extra = extra;
      return out;
    });
}

const VALID = {
  answer: {
    question: "Who?",
    history: [{ role: "user", text: "hi" }],
    k: 3,
    filters: { from: "2024-01-01", to: "2024-02-01" },
    asOf: "2024-03-01",
  },
  search: { q: "Who?", k: 3, mode: "dense", from: "2024-01-01", to: "2024-02-01", asOf: "2024-03-01" },
  askMessage: {
    type: "ask",
    id: "q1",
    question: "Who?",
    k: 2,
    history: [{ role: "assistant", text: "a b" }],
  },
  cancelMessage: { type: "cancel", id: "q1" },
  chat: {
    model: "citeline",
    messages: [
      { role: "system", content: "Be brief" },
      { role: "user", content: [{ type: "text", text: "Who?" }] },
    ],
    stream: true,
    n: 1,
    citeline: { k: 2, filters: { from: "2024-01-01" } },
    seed: 7,
  },
} as const;

describe("schema-check", () => {
  it.each(Object.keys(VALID) as (keyof typeof VALID)[])(
    "accepts %s exactly when TypeBox's checker and the two extra rules do, and passes on the known fields",
    (name) => {
      const schema: TSchema = schemas[name];
      const seen = { accepted: 0, refused: 0 };
      fc.assert(
        fc.property(near(VALID[name]), (v) => {
          const reference = withoutNulls(v);
          const expected = Value.Check(schema, reference) && extraRules(reference);
          let accepted: unknown;
          let error: unknown;
          try {
            accepted = check(schema, v, "the body", "");
          } catch (err) {
            error = err;
          }
          if ((error === undefined) !== expected) {
            const walker = error === undefined ? "accepted" : `refused (${(error as Error).message})`;
            throw new Error(`the walker ${walker} what TypeBox ${expected ? "accepts" : "refuses"}`);
          }
          if (error !== undefined) {
            expect(error).toBeInstanceOf(AppError);
            seen.refused++;
          } else {
            // Only the fields the schema names are passed on (a text part's extra keys are not).
            expect(accepted).toEqual(Value.Clean(schema, structuredClone(reference)));
            seen.accepted++;
          }
        }),
        { numRuns: 1500 },
      );
      // Both sides were reached, so the agreement says something.
      expect(seen.accepted).toBeGreaterThan(10);
      expect(seen.refused).toBeGreaterThan(10);
    },
  );

  it.each([
    [{ question: "  Who?  " }, { question: "Who?" }],
    [{ question: "Who?", k: null, filters: null }, { question: "Who?" }],
    [
      { question: "Who?", filters: { from: "2024-01-01", to: null } },
      { question: "Who?", filters: { from: "2024-01-01" } },
    ],
  ])("passes %j on as %j", (input, output) => {
    expect(check(schemas.answer, input, "the request body", "")).toEqual(output);
  });

  it.each([
    [{ question: "Who?", k: 9 }, "K_OUT_OF_RANGE", "k is 9; it must be from 1 to 5", { min: 1, max: 5 }],
    [
      { question: "x".repeat(21) },
      "QUESTION_TOO_LONG",
      "question is 21 characters; the limit is 20",
      { limit: 20 },
    ],
    [
      { question: "Who?", history: [{ role: "user", text: "x".repeat(31) }] },
      "HISTORY_TOO_LONG",
      "history is 31 characters; the limit is 30",
      { limit: 30 },
    ],
    [
      { question: "Who?", filters: { from: "2024-02-02", to: "2024-02-01" } },
      "BAD_FILTER",
      "filters.from (2024-02-02) is after filters.to (2024-02-01)",
      {},
    ],
    [
      { question: "Who?", __proto__x: 1 },
      "UNKNOWN_FIELD",
      'the request body has an unknown field "__proto__x"; the known fields are question, history, k, filters, asOf',
      { field: "__proto__x" },
    ],
  ])("refuses %j with %s: %s", (input, code, message, details) => {
    let error: unknown;
    try {
      check(schemas.answer, input, "the request body", "");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code, message, details });
  });

  it("never copies a key it does not know, __proto__ included", () => {
    const input = JSON.parse('{"question": "Who?", "filters": {"__proto__": {"polluted": 1}}}');
    expect(() => check(schemas.answer, input, "the request body", "")).toThrow(
      'filters has an unknown key "__proto__"; the known keys are from, to',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
