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
/** Longest first line taken for a record's title. */
const MAX_LINE_TITLE = 200;
/** Longest first line taken for a plain text file's title. */
const MAX_PLAIN_TITLE = 100;
const WHITESPACE = /\s+/g;

/** The fields a single-document format gives. */
export interface Fields {
  title?: string | undefined;
  date?: string | undefined;
  url?: string | undefined;
  text: string;
  /** Where each page starts in `text` (paginated formats). */
  pages?: number[] | undefined;
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

/**
 * UTF-16 with a byte-order mark, else UTF-8 (a BOM is dropped), else Windows-1252: a file that is
 * not valid UTF-8 is almost always in a legacy Western encoding (Latin-1 is its subset), and
 * decoding it as UTF-8 would turn every accented letter into U+FFFD. What decodes to mostly
 * control characters either way is binary.
 */
export function decode(rel: string, content: Buffer): string | IngestIssue {
  if (content[0] === 0xff && content[1] === 0xfe) return new TextDecoder("utf-16le").decode(content);
  if (content[0] === 0xfe && content[1] === 0xff) return new TextDecoder("utf-16be").decode(content);
  const nul = nulIssue(rel, content, 0);
  if (nul) return nul;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    // Not UTF-8; see below.
  }
  const text = windows1252(content);
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) || (c >= 0x7f && c < 0xa0))
      control++;
  }
  if (control > text.length * MAX_INVALID_UTF8_SHARE) {
    const pct = Math.round((control / text.length) * 100);
    return issue(
      rel,
      "FILE_BINARY",
      `${rel}: not text (${pct}% of it is control characters, as UTF-8 or Windows-1252)`,
    );
  }
  return text;
}

/**
 * Windows-1252's characters for bytes 0x80–0x9F; the rest of the code page is Latin-1. (Node 20's
 * TextDecoder gives C1 controls for these, as Latin-1 does, so the table is ours.) Undefined bytes
 * stay the C1 control of the same number.
 */
const CP1252_HIGH =
  "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f" +
  "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

function windows1252(content: Buffer): string {
  const latin1 = content.toString("latin1");
  return latin1.replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!);
}

/** The first non-blank line as a title, when it is short and more text follows it. */
export function lineTitle(text: string): string | undefined {
  const { line, next } = lineAt(text, 0);
  if (line.length > MAX_LINE_TITLE || next >= text.length) return undefined;
  return cleanTitle(line) || undefined;
}

/**
 * A plain text file's first line as its title when it reads like one: at most 100 characters,
 * not ending a sentence, and followed by more text. Otherwise the caller falls back to the file
 * name, so a paragraph never becomes a title.
 */
export function plainTitle(text: string): string | undefined {
  const { line, next } = lineAt(text, 0);
  const title = cleanTitle(line);
  if (title.length > MAX_PLAIN_TITLE || next >= text.length) return undefined;
  if (/[.,;]$/.test(title) && !title.endsWith("...")) return undefined;
  return title || undefined;
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
  pages?: number[] | undefined;
}): Doc {
  const date = d.date === undefined ? undefined : normaliseDate(d.date);
  // Pages join the hash only when there are any, so the hashes of other documents stay as they were.
  const hashed: unknown[] = [d.title, date ?? null, d.url ?? null, d.text];
  if (d.pages !== undefined) hashed.push(d.pages);
  const hash = createHash("sha256").update(JSON.stringify(hashed)).digest("hex");
  return {
    id: d.id,
    title: d.title,
    ...(date === undefined ? {} : { date }),
    ...(d.url === undefined ? {} : { url: d.url }),
    source: d.source,
    text: d.text,
    ...(d.pages === undefined ? {} : { pages: d.pages }),
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
