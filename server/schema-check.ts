/**
 * Checks client input against the schemas of core/protocol.ts and server/schemas.ts: the first
 * failure becomes an AppError whose code and message the schema's `x-` keywords choose (see
 * `Reporting` in core/protocol.ts), so the published schema says which code each constraint
 * yields. Walks the JSON Schema subset TypeBox writes for those shapes; a keyword it does not know
 * is a bug in a schema, and throws.
 *
 * Only the fields a schema names are copied out, so keys such as `__proto__` never reach the
 * engine; strings marked `x-trim` come out trimmed; `null` in an optional field is dropped.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { isIsoDate } from "../core/dates.ts";
import { AppError, type ErrorCode, fmtCount } from "../core/errors.ts";
import type { Reporting } from "../core/protocol.ts";

/** A schema as JSON: TypeBox's output, read as plain data. */
type Node = Reporting & {
  type?: string;
  const?: unknown;
  anyOf?: Node[];
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: boolean;
  items?: Node;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
};

/**
 * `value` checked against `schema`, as the schema's static type. `name` is what messages call the
 * value (`history`, or `the request body`); `path` prefixes its members' names (`history[0]`), and
 * is empty for a whole body, whose fields are named bare (`question`).
 */
export function check<T extends TSchema>(schema: T, value: unknown, name: string, path = name): Static<T> {
  return walk(schema as unknown as Node, value, name, path) as Static<T>;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const absent = (v: unknown) => v === undefined || v === null;
const member = (path: string, key: string) => (path ? `${path}.${key}` : key);

function walk(node: Node, value: unknown, name: string, path: string): unknown {
  if (node.anyOf) return walkUnion(node, node.anyOf, value, name, path);
  if ("const" in node) {
    if (value !== node.const) fail(node, "const", name, value, { value: JSON.stringify(node.const) });
    return value;
  }
  switch (node.type) {
    case undefined:
      return value;
    case "string":
      return walkString(node, value, name);
    case "integer":
    case "number":
      return walkNumber(node, value, name);
    case "boolean":
      if (typeof value !== "boolean") fail(node, "type", name, value);
      return value;
    case "array":
      return walkArray(node, value, name, path);
    case "object":
      return walkObject(node, value, name, path);
    default:
      throw new Error(`schema-check does not know the type ${node.type}`);
  }
}

/** A union of literals is an enum; otherwise the branch of the value's JSON type (or `type` tag). */
function walkUnion(node: Node, branches: Node[], value: unknown, name: string, path: string): unknown {
  if (branches.every((b) => "const" in b)) {
    if (!branches.some((b) => b.const === value)) {
      fail(node, "enum", name, value, { values: spell(branches.map((b) => String(b.const))) });
    }
    return value;
  }
  const tag = isObject(value) ? value.type : undefined;
  const branch = branches.find((b) => {
    if (b.type !== jsonType(value)) return false;
    const discriminator = b.properties?.type;
    return discriminator === undefined || !("const" in discriminator) || discriminator.const === tag;
  });
  if (!branch) fail(node, "type", name, value);
  return walk(branch, value, name, path);
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function walkString(node: Node, value: unknown, name: string): string {
  if (typeof value !== "string") fail(node, "type", name, value);
  const s = node["x-trim"] ? value.trim() : value;
  const count = fmtCount(s.length);
  if (node.minLength !== undefined && s.length < node.minLength) {
    fail(node, "minLength", name, s, { count, limit: fmtCount(node.minLength) });
  }
  if (node.maxLength !== undefined && s.length > node.maxLength) {
    fail(node, "maxLength", name, s, { count, limit: fmtCount(node.maxLength) }, { limit: node.maxLength });
  }
  if (node.pattern !== undefined && !new RegExp(node.pattern).test(s)) fail(node, "pattern", name, s);
  if (node.format === "date" && !isIsoDate(s)) fail(node, "format", name, s);
  return s;
}

function walkNumber(node: Node, value: unknown, name: string): number {
  if (typeof value !== "number" || (node.type === "integer" && !Number.isInteger(value))) {
    fail(node, "type", name, value);
  }
  const range = {
    ...(node.minimum !== undefined ? { min: node.minimum } : {}),
    ...(node.maximum !== undefined ? { max: node.maximum } : {}),
  };
  const vars = { value: String(value), min: String(node.minimum), max: String(node.maximum) };
  if (node.minimum !== undefined && value < node.minimum) fail(node, "minimum", name, value, vars, range);
  if (node.maximum !== undefined && value > node.maximum) fail(node, "maximum", name, value, vars, range);
  return value;
}

function walkArray(node: Node, value: unknown, name: string, path: string): unknown[] {
  if (!Array.isArray(value)) fail(node, "type", name, value);
  const count = String(value.length);
  if (node.minItems !== undefined && value.length < node.minItems) {
    fail(node, "minItems", name, value, { count, limit: String(node.minItems) });
  }
  if (node.maxItems !== undefined && value.length > node.maxItems) {
    fail(node, "maxItems", name, value, { count, limit: String(node.maxItems) }, { limit: node.maxItems });
  }
  const items = node.items;
  const out = items ? value.map((v, i) => walk(items, v, `${path}[${i}]`, `${path}[${i}]`)) : [...value];
  const total = node["x-max-total-length"];
  if (total) {
    const chars = out.reduce<number>((n, item) => {
      const v = isObject(item) ? item[total.property] : undefined;
      return n + (typeof v === "string" ? v.length : 0);
    }, 0);
    if (chars > total.limit) {
      const vars = { count: fmtCount(chars), limit: fmtCount(total.limit) };
      fail(node, "x-max-total-length", name, value, vars, { limit: total.limit });
    }
  }
  return out;
}

function walkObject(node: Node, value: unknown, name: string, path: string): Record<string, unknown> {
  if (!isObject(value)) fail(node, "type", name, value);
  const properties = node.properties ?? {};
  const known = Object.keys(properties);
  if (node.additionalProperties === false) {
    const kind = node["x-member"] ?? "field";
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const field = key.slice(0, 64);
      throw new AppError(
        "UNKNOWN_FIELD",
        `${name} has an unknown ${kind} "${field}"; the known ${kind}s are ${known.join(", ")}`,
        { field },
      );
    }
  }
  const out: Record<string, unknown> = {};
  try {
    for (const [key, child] of Object.entries(properties)) {
      const v = Object.hasOwn(value, key) ? value[key] : undefined;
      const at = member(path, key);
      if (absent(v)) {
        if (node.required?.includes(key)) fail(child, "required", at, v);
        continue;
      }
      out[key] = walk(child, v, at, at);
    }
  } catch (err) {
    // A node that reports any failure inside it as its own (a history turn's shape).
    if (node["x-message"]?.["*"] !== undefined && err instanceof AppError) fail(node, "*", name, value);
    throw err;
  }
  const ordered = node["x-ordered"];
  if (ordered) {
    const [a, b] = ordered;
    const va = out[a];
    const vb = out[b];
    if (typeof va === "string" && typeof vb === "string" && va > vb) {
      fail(node, "x-ordered", name, value, {
        a: member(path, a),
        b: member(path, b),
        va,
        vb,
      });
    }
  }
  return out;
}

/** A value as text without walking into it: a client's array may be nested thousands deep. */
function plain(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return Array.isArray(v) ? "[…]" : "{…}";
  return String(v);
}

/** `a, b or c` */
function spell(words: readonly string[]): string {
  return words.length < 2 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** How a value of this schema is described: `a whole number`, `an object {from?, to?}`. */
function describe(node: Node): string {
  if (node.anyOf) return node.anyOf.map(describe).join(" or ");
  switch (node.type) {
    case "string":
      return node.format === "date" ? "a date written YYYY-MM-DD" : "a string";
    case "integer":
      return "a whole number";
    case "number":
      return "a number";
    case "boolean":
      return "true or false";
    case "array":
      return node.items ? `an array of ${shape(node.items)}` : "an array";
    case "object":
      return `an object ${shape(node)}`;
    default:
      return "a value";
  }
}

/** An object as `{a, b?}`; anything else as `describe` says it. */
function shape(node: Node): string {
  if (node.type !== "object") return describe(node);
  const required = node.required ?? [];
  const keys = Object.keys(node.properties ?? {}).map((k) => (required.includes(k) ? k : `${k}?`));
  return `{${keys.join(", ")}}`;
}

/** The sentence a failed keyword gets when its schema does not choose one. */
function defaultMessage(node: Node, keyword: string, value: unknown, vars: Record<string, string>): string {
  switch (keyword) {
    case "required":
      return "{name} is required";
    case "type":
      if (typeof value === "string" && (node.type === "integer" || node.type === "number")) {
        return "{name} must be a number, not the string {string}";
      }
      return "{name} must be {describe}";
    case "const":
      return "{name} must be {value}";
    case "enum":
      return "{name} must be {values}";
    case "minLength":
      return vars.limit === "1" ? "{name} is empty" : "{name} is {count} characters; the minimum is {limit}";
    case "maxLength":
      return "{name} is {count} characters; the limit is {limit}";
    case "minItems":
      return "{name} has {count} items; the minimum is {limit}";
    case "maxItems":
      return "{name} has {count} items; the limit is {limit}";
    case "minimum":
    case "maximum":
      if (node.minimum !== undefined && node.maximum !== undefined) {
        return "{name} is {value}; it must be from {min} to {max}";
      }
      return keyword === "minimum"
        ? "{name} is {value}; it must be at least {min}"
        : "{name} is {value}; it must be at most {max}";
    case "pattern":
    case "format":
      return "{name} must be {describe}";
    case "x-ordered":
      return "{a} ({va}) is after {b} ({vb})";
    case "x-max-total-length":
      return "{name} is {count} characters long in all; the limit is {limit}";
    default:
      return "{name} is not valid";
  }
}

function fail(
  node: Node,
  keyword: string,
  name: string,
  value: unknown,
  vars: Record<string, string> = {},
  details: Record<string, unknown> = {},
): never {
  const code: ErrorCode = node["x-codes"]?.[keyword] ?? node["x-codes"]?.["*"] ?? "BAD_REQUEST";
  const template =
    node["x-message"]?.[keyword] ?? node["x-message"]?.["*"] ?? defaultMessage(node, keyword, value, vars);
  const all: Record<string, string> = { name, ...vars };
  // Computed only when a message asks for them: the value may be anything a client sent.
  const lazy: Record<string, () => string> = {
    describe: () => describe(node),
    string: () => JSON.stringify(String(value).slice(0, 20)),
    // The value as a client would write it, bounded: it is echoed back.
    quoted: () => JSON.stringify(plain(value)).slice(0, 80),
  };
  const message = template.replace(/\{(\w+)\}/g, (m, key: string) => all[key] ?? lazy[key]?.() ?? m);
  throw new AppError(code, message, details);
}
