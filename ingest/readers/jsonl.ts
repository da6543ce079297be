/**
 * JSON Lines (`.jsonl`): one `{id?, title?, date?, url?, text}` record per line, read as a stream
 * so the size limit is per record, not per file. A bad line is reported by number; the rest load.
 */
import { createReadStream } from "node:fs";
import { fmtCount } from "../../core/errors.ts";
import type { FormatReader, Parsed } from "./reader.ts";
import {
  collect,
  errMessage,
  fromText,
  isBlank,
  issue,
  lineAt,
  MAX_INVALID_UTF8_SHARE,
  nulIssue,
  recordToDoc,
  stripExt,
} from "./shared.ts";

/** One JSONL line, numbered `lineNo`, into `out`: a document, an issue, or nothing when blank. */
function jsonlRecord(out: Parsed, rel: string, base: string, line: string, lineNo: number): void {
  if (isBlank(line)) return;
  const where = `${rel} line ${lineNo}`;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    out.issues.push(issue(rel, "FILE_MALFORMED", `${where}: invalid JSON (${errMessage(err)})`));
    return;
  }
  collect(out, recordToDoc(rel, value, where, `${base}:${lineNo}`, where));
}

function parseJsonl(rel: string, src: string): Parsed {
  const out: Parsed = { docs: [], issues: [] };
  const base = stripExt(rel);
  let lineNo = 0;
  for (let pos = 0; pos < src.length; ) {
    const { line, next } = lineAt(src, pos);
    pos = next;
    lineNo++;
    jsonlRecord(out, rel, base, line, lineNo);
  }
  if (out.docs.length === 0 && out.issues.length === 0) {
    out.issues.push(issue(rel, "FILE_EMPTY", `${rel}: no records`));
  }
  return out;
}

/**
 * A JSONL file read as a stream, line by line, so its size is bounded per record, not per file.
 * Gives exactly the documents `parseJsonl` gives for the whole file (same lines, same numbers:
 * lines end at LF, CRLF or a lone CR, as after the whole-file newline normalization).
 */
async function streamJsonl(rel: string, abs: string, maxRecordBytes: number): Promise<Parsed> {
  const out: Parsed = { docs: [], issues: [] };
  const base = stripExt(rel);
  // Per line, so a BOM is stripped by hand at the start of the file only, as whole-file decoding does.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let lineNo = 0;
  let chars = 0;
  let invalid = 0;
  let sniffed = 0;
  let first = true;

  const record = (line: string) => {
    lineNo++;
    jsonlRecord(out, rel, base, line, lineNo);
  };
  const line = (bytes: Buffer | number) => {
    if (typeof bytes === "number") {
      lineNo++;
      const message = `${rel} line ${lineNo} is ${fmtCount(bytes)} bytes; the limit for one record is ${fmtCount(maxRecordBytes)} bytes (CITELINE_MAX_RECORD_BYTES)`;
      out.issues.push(issue(rel, "FILE_TOO_LARGE", message));
      first = false;
      return;
    }
    let raw = bytes;
    if (first && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) raw = raw.subarray(3);
    first = false;
    if (raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, -1);
    const text = decoder.decode(raw);
    chars += text.length + 1;
    for (let i = text.indexOf("\uFFFD"); i !== -1; i = text.indexOf("\uFFFD", i + 1)) invalid++;
    for (const part of text.split("\r")) record(part);
  };

  let pieces: Buffer[] = [];
  let size = 0;
  let oversized = false;
  const end = () => {
    line(oversized ? size : Buffer.concat(pieces, size));
    pieces = [];
    size = 0;
    oversized = false;
  };
  const add = (piece: Buffer) => {
    size += piece.length;
    if (oversized) return;
    if (size > maxRecordBytes) {
      oversized = true;
      pieces = [];
    } else pieces.push(piece);
  };
  for await (const chunk of createReadStream(abs, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const nul = nulIssue(rel, chunk, sniffed);
    if (nul) return { docs: [], issues: [nul] };
    sniffed += chunk.length;
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      add(chunk.subarray(from, nl));
      end();
      from = nl + 1;
    }
    if (from < chunk.length) add(Buffer.from(chunk.subarray(from)));
  }
  if (size > 0 || oversized) end();
  if (invalid > 0 && invalid > chars * MAX_INVALID_UTF8_SHARE) {
    const pct = Math.round((invalid / chars) * 100);
    return {
      docs: [],
      issues: [issue(rel, "FILE_BINARY", `${rel}: not text (${pct}% of it is not valid UTF-8)`)],
    };
  }
  if (out.docs.length === 0 && out.issues.length === 0) {
    out.issues.push(issue(rel, "FILE_EMPTY", `${rel}: no records`));
  }
  return out;
}

export const jsonlReader: FormatReader = {
  extensions: [".jsonl"],
  parse: (rel, bytes) => fromText(rel, bytes, (src) => parseJsonl(rel, src)),
  stream: (file, limits) => streamJsonl(file.rel, file.abs, limits.maxRecordBytes),
};
