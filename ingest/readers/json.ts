/**
 * JSON (`.json`): one record, an array of records, or `{ "documents": [...] }`. An array too large
 * to read whole is read element by element.
 */
import { createReadStream } from "node:fs";
import { fmtCount } from "../../core/errors.ts";
import type { IngestIssue } from "../../core/types.ts";
import type { FormatReader, Parsed } from "./reader.ts";
import {
  collect,
  errMessage,
  fromText,
  isBlank,
  isObject,
  issue,
  nulIssue,
  recordToDoc,
  stripExt,
} from "./shared.ts";

/** True when the file's first non-blank character (after a BOM) opens a JSON array. */
async function startsWithArray(abs: string): Promise<boolean> {
  for await (const chunk of createReadStream(abs, { start: 0, end: 4095 }) as AsyncIterable<Buffer>) {
    const text = chunk.toString("utf8").replace(/^\uFEFF/, "");
    return text.trimStart().startsWith("[");
  }
  return false;
}

/**
 * A `.json` array too large to read whole, read element by element: the elements are found by a
 * byte scan that tracks strings and nesting, and each is parsed on its own, so the bound is per
 * record. Ids and messages are those the whole-file parser gives (`name:N`, `record N`).
 */
async function streamJsonArray(rel: string, abs: string, maxRecordBytes: number): Promise<Parsed> {
  const out: Parsed = { docs: [], issues: [] };
  const base = stripExt(rel);
  const decoder = new TextDecoder("utf-8");
  let depth = 0;
  let inString = false;
  let escaped = false;
  let closed = false;
  let n = 0;
  let pieces: Buffer[] = [];
  let size = 0;
  let oversized = false;

  const element = () => {
    const bytes = oversized ? undefined : Buffer.concat(pieces, size);
    const text = bytes ? decoder.decode(bytes) : "";
    const count = size;
    pieces = [];
    size = 0;
    oversized = false;
    if (bytes && isBlank(text)) return;
    n++;
    const where = `${rel} record ${n}`;
    if (!bytes) {
      const message = `${where} is ${fmtCount(count)} bytes; the limit for one record is ${fmtCount(maxRecordBytes)} bytes (CITELINE_MAX_RECORD_BYTES)`;
      out.issues.push(issue(rel, "FILE_TOO_LARGE", message));
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      out.issues.push(issue(rel, "FILE_MALFORMED", `${where}: invalid JSON (${errMessage(err)})`));
      return;
    }
    collect(out, recordToDoc(rel, value, where, `${base}:${n}`, rel));
  };
  const add = (piece: Buffer) => {
    if (piece.length === 0) return;
    size += piece.length;
    if (oversized) return;
    if (size > maxRecordBytes) {
      oversized = true;
      pieces = [];
    } else pieces.push(Buffer.from(piece));
  };

  let sniffed = 0;
  for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const nul = nulIssue(rel, chunk, sniffed);
    if (nul) return { docs: [], issues: [nul] };
    sniffed += chunk.length;
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (closed) continue;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
        continue;
      }
      if (c === 0x22) inString = true;
      else if (c === 0x5b || c === 0x7b) {
        depth++;
        if (depth === 1) from = i + 1; // the array itself opens: elements start after it
      } else if (c === 0x5d || c === 0x7d) {
        depth--;
        if (depth === 0) {
          add(chunk.subarray(from, i));
          element();
          closed = true;
        }
      } else if (c === 0x2c && depth === 1) {
        add(chunk.subarray(from, i));
        element();
        from = i + 1;
      }
    }
    if (!closed && depth >= 1) add(chunk.subarray(from));
  }
  if (!closed)
    out.issues.push(issue(rel, "FILE_MALFORMED", `${rel}: the array is not closed (is the file cut short?)`));
  if (out.docs.length === 0 && out.issues.length === 0)
    out.issues.push(issue(rel, "FILE_EMPTY", `${rel}: no records`));
  return out;
}

/** One record, an array of records, or `{ "documents": [...] }`. */
function parseJson(rel: string, src: string): Parsed {
  const fail = (code: IngestIssue["code"], reason: string): Parsed => ({
    docs: [],
    issues: [issue(rel, code, `${rel}: ${reason}`)],
  });
  if (isBlank(src)) return fail("FILE_EMPTY", "no text");
  let value: unknown;
  try {
    value = JSON.parse(src);
  } catch (err) {
    return fail("FILE_MALFORMED", `invalid JSON (${errMessage(err)})`);
  }
  if (isObject(value) && "documents" in value && !("text" in value)) {
    if (!Array.isArray(value.documents)) return fail("FILE_MALFORMED", `"documents" must be an array`);
    value = value.documents;
  }
  const out: Parsed = { docs: [], issues: [] };
  if (!Array.isArray(value)) {
    collect(out, recordToDoc(rel, value, rel, stripExt(rel), rel));
    return out;
  }
  if (value.length === 0) return fail("FILE_EMPTY", "no records");
  const base = stripExt(rel);
  for (const [i, record] of value.entries()) {
    collect(out, recordToDoc(rel, record, `${rel} record ${i + 1}`, `${base}:${i + 1}`, rel));
  }
  return out;
}

export const jsonReader: FormatReader = {
  extensions: [".json"],
  parse: (rel, bytes) => fromText(rel, bytes, (src) => parseJson(rel, src)),
  async stream(file, limits) {
    if (file.size <= limits.maxFileBytes || !(await startsWithArray(file.abs))) return undefined;
    return streamJsonArray(file.rel, file.abs, limits.maxRecordBytes);
  },
};
