/**
 * Pieces every reader shares: text decoding, the document record, titles, lines and issues.
 *
 * `doc.text` is fixed once by the readers: decoded, newlines made `\n`, leading blank lines and
 * trailing whitespace removed, nothing else. Citations are offsets into it, so no later step may
 * touch it. Every scan is a single pass or an anchored regex without nested quantifiers, so a
 * 10 MB line costs linear time.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import type { Doc, IngestIssue } from "../../core/types.ts";
import { normaliseDate } from "./dates.ts";
import type { Parsed } from "./reader.ts";

export const BINARY_SNIFF_BYTES = 8 * 1024;
/** Share of U+FFFD after decoding above which a file is taken for binary, not mis-encoded text. */
export const MAX_INVALID_UTF8_SHARE = 0.1;
const MAX_LINE_TITLE = 200;
const WHITESPACE = /\s+/g;

/** The fields a single-document format gives. */
export interface Fields {
  title?: string | undefined;
  date?: string | undefined;
  url?: string | undefined;
  text: string;
}

/** Decodes a text file and normalises its newlines to `\n`, or says why it is not text. */
export function decodeText(rel: string, content: Buffer): string | IngestIssue {
  const text = decode(rel, content);
  return typeof text === "string" ? text.replace(/\r\n?/g, "\n") : text;
}

/** Runs `parse` on the decoded text, or gives the issue that kept the file from being text. */
export function fromText(rel: string, content: Buffer, parse: (src: string) => Parsed): Parsed {
  const src = decodeText(rel, content);
  return typeof src === "string" ? parse(src) : { docs: [], issues: [src] };
}

/**
 * The issue of a file whose first 8 KiB hold a NUL byte, read a piece at a time: `sniffed` bytes
 * came before `piece`.
 */
export function nulIssue(rel: string, piece: Buffer, sniffed: number): IngestIssue | undefined {
  if (sniffed >= BINARY_SNIFF_BYTES || !piece.subarray(0, BINARY_SNIFF_BYTES - sniffed).includes(0))
    return undefined;
  return issue(rel, "FILE_BINARY", `${rel}: not text (NUL bytes in the first 8 KiB)`);
}

function decode(rel: string, content: Buffer): string | IngestIssue {
  const nul = nulIssue(rel, content, 0);
  if (nul) {
    return nul;
  }
  // The default decoder strips a UTF-8 BOM and turns invalid bytes into U+FFFD.
  const text = new TextDecoder("utf-8").decode(content);
  let invalid = 0;
  for (let i = text.indexOf("\uFFFD"); i !== -1; i = text.indexOf("\uFFFD", i + 1)) invalid++;
  if (invalid > 0 && invalid > text.length * MAX_INVALID_UTF8_SHARE) {
    const pct = Math.round((invalid / text.length) * 100);
    return issue(rel, "FILE_BINARY", `${rel}: not text (${pct}% of it is not valid UTF-8)`);
  }
  return text;
}

/** The first non-blank line as a title, when it is short and more text follows it. */
export function lineTitle(text: string): string | undefined {
  const { line, next } = lineAt(text, 0);
  if (line.length > MAX_LINE_TITLE || next >= text.length) return undefined;
  return cleanTitle(line) || undefined;
}

export function collect(out: Parsed, result: Doc | IngestIssue): void {
  if ("hash" in result) out.docs.push(result);
  else out.issues.push(result);
}

/** Validates one `{id?, title?, date?, url?, text}` record; `where` names it in messages. */
export function recordToDoc(
  rel: string,
  value: unknown,
  where: string,
  fallbackId: string,
  source: string,
): Doc | IngestIssue {
  const bad = (reason: string) => issue(rel, "FILE_MALFORMED", `${where}: ${reason}`);
  if (!isObject(value)) return bad("a record must be a JSON object");
  const { id, title, date, url, text } = value;
  if (typeof text !== "string") return bad(`"text" must be a string`);
  const idOk =
    id == null ||
    (typeof id === "string" && id.trim() !== "") ||
    (typeof id === "number" && Number.isFinite(id));
  if (!idOk) return bad(`"id" must be a non-empty string or a number`);
  // null counts as absent: exporters write it for missing fields.
  if (title != null && typeof title !== "string") return bad(`"title" must be a string`);
  if (date != null && typeof date !== "string") return bad(`"date" must be a string`);
  if (url != null && typeof url !== "string") return bad(`"url" must be a string`);
  const body = finishBody(text.replace(/\r\n?/g, "\n"), 0);
  if (body === "") return issue(rel, "FILE_EMPTY", `${where}: "text" is empty`);
  const docId = id == null ? fallbackId : String(id);
  return makeDoc({
    id: docId,
    source,
    title: cleanTitle(title ?? "") || lineTitle(body) || docId,
    date: date ?? undefined,
    url: url?.trim() || undefined,
    text: body,
  });
}

export function single(rel: string, fields: Fields): Parsed {
  if (fields.text === "") return { docs: [], issues: [issue(rel, "FILE_EMPTY", `${rel}: no text`)] };
  const doc = makeDoc({
    ...fields,
    id: stripExt(rel),
    source: rel,
    title: fields.title || titleFromName(rel),
  });
  return { docs: [doc], issues: [] };
}

export function makeDoc(d: {
  id: string;
  source: string;
  title: string;
  date?: string | undefined;
  url?: string | undefined;
  text: string;
}): Doc {
  const date = d.date === undefined ? undefined : normaliseDate(d.date);
  const hash = createHash("sha256")
    .update(JSON.stringify([d.title, date ?? null, d.url ?? null, d.text]))
    .digest("hex");
  return {
    id: d.id,
    title: d.title,
    ...(date === undefined ? {} : { date }),
    ...(d.url === undefined ? {} : { url: d.url }),
    source: d.source,
    text: d.text,
    hash,
  };
}

/** The body from `from`: leading blank lines dropped, trailing whitespace trimmed. */
export function finishBody(src: string, from: number): string {
  let pos = from;
  while (pos < src.length) {
    const { line, next } = lineAt(src, pos);
    if (!isBlank(line)) break;
    pos = next;
  }
  return src.slice(pos).trimEnd();
}

/** The line starting at `pos` (without its `\n`) and where the next one starts. */
export function lineAt(src: string, pos: number): { line: string; next: number } {
  const nl = src.indexOf("\n", pos);
  return nl === -1 ? { line: src.slice(pos), next: src.length } : { line: src.slice(pos, nl), next: nl + 1 };
}

export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0xfeff) {
      return false;
    }
  }
  return true;
}

export function cleanTitle(s: string): string {
  return s.replace(WHITESPACE, " ").trim();
}

export function titleFromName(rel: string): string {
  const name = stripExt(rel.slice(rel.lastIndexOf("/") + 1));
  return cleanTitle(name.replace(/[_-]+/g, " ")) || name;
}

export function unquote(s: string): string {
  const q = s[0];
  return s.length >= 2 && (q === '"' || q === "'") && s.at(-1) === q ? s.slice(1, -1) : s;
}

export function stripExt(rel: string): string {
  const ext = path.posix.extname(rel);
  return ext === "" ? rel : rel.slice(0, -ext.length);
}

export function issue(source: string, code: IngestIssue["code"], message: string): IngestIssue {
  return { source, code, message };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function errCode(err: unknown): string {
  return (isObject(err) && typeof err.code === "string" && err.code) || errMessage(err);
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
