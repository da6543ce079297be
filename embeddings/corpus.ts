/**
 * Reads the corpus folder into documents. `parseFile` is pure (bytes in, docs and issues out);
 * `loadCorpus` adds the file-system walk. One bad file becomes an `IngestIssue`, never a throw.
 *
 * `doc.text` is fixed once here: decoded, newlines made `\n`, leading blank lines and trailing
 * whitespace removed, nothing else. Citations are offsets into it, so no later step may touch it.
 * Every scan is a single pass or an anchored regex without nested quantifiers, so a 10 MB line
 * costs linear time.
 */
import { createHash } from "node:crypto";
import { createReadStream, type Dirent, type Stats } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";
import { AppError, fmtCount } from "../core/errors.ts";
import type { Doc, IngestIssue } from "../core/types.ts";
import { inline, markdownToText } from "./markdown.ts";

export interface LoadOptions {
  /**
   * Files larger than this are reported as FILE_TOO_LARGE without being read. Default 50 MiB.
   * JSONL files are read as a stream, record by record, and have no file limit.
   */
  maxFileBytes?: number;
  /** JSONL records (lines) larger than this are reported by file and line and skipped. Default 16 MiB. */
  maxRecordBytes?: number;
}

export interface CorpusLoad {
  docs: Doc[];
  issues: IngestIssue[];
  /** Regular files with a corpus extension that were read or tried, whether or not they loaded. */
  files: number;
}

interface Parsed {
  docs: Doc[];
  issues: IngestIssue[];
}

type Format = "text" | "markdown" | "html" | "jsonl" | "json";

const FORMATS: Readonly<Record<string, Format>> = {
  ".txt": "text",
  ".md": "markdown",
  ".html": "html",
  ".htm": "html",
  ".jsonl": "jsonl",
  ".json": "json",
};

const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;
const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const BINARY_SNIFF_BYTES = 8 * 1024;
/** Share of U+FFFD after decoding above which a file is taken for binary, not mis-encoded text. */
const MAX_INVALID_UTF8_SHARE = 0.1;
const MAX_LINE_TITLE = 200;
const READ_CONCURRENCY = 8;

/**
 * Loads every document under `dir`, in sorted path order.
 *
 * Hidden entries and unknown extensions are skipped. Symbolic links are followed only when they
 * resolve inside `dir`; targets already reached through real paths are not loaded twice. Later
 * documents whose id was already taken are reported, not loaded.
 *
 * @throws AppError CORPUS_MISSING when `dir` does not exist or is not a folder.
 */
export async function loadCorpus(dir: string, opts: LoadOptions = {}): Promise<CorpusLoad> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  for (const [name, v] of [
    ["maxFileBytes", maxFileBytes],
    ["maxRecordBytes", maxRecordBytes],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new AppError("CONFIG_INVALID", `${name} must be a positive integer; got ${v}`);
    }
  }
  const limits = { maxFileBytes, maxRecordBytes };
  const root = path.resolve(dir);
  const rootReal = await openRoot(root);
  const entries = await walk(root, rootReal);

  const loaded = await mapInOrder(entries, READ_CONCURRENCY, (entry) =>
    "issue" in entry ? Promise.resolve({ docs: [], issues: [entry.issue] }) : loadFile(entry, limits),
  );

  const docs: Doc[] = [];
  const issues: IngestIssue[] = [];
  const firstSource = new Map<string, string>();
  for (const [i, result] of loaded.entries()) {
    const entry = entries[i]!;
    issues.push(...result.issues);
    for (const doc of result.docs) {
      const first = firstSource.get(doc.id);
      if (first !== undefined) {
        issues.push({
          source: "issue" in entry ? entry.issue.source : entry.rel,
          code: "FILE_MALFORMED",
          message: `${doc.source}: duplicate document id "${doc.id}" (first used by ${first}); skipped`,
        });
        continue;
      }
      firstSource.set(doc.id, doc.source);
      docs.push(doc);
    }
  }
  return { docs, issues, files: entries.filter((e) => !("issue" in e)).length };
}

/**
 * Parses one corpus file. `relPath` uses `/` separators and decides the format by extension;
 * an unknown extension yields nothing. Pure: the same bytes always give the same docs.
 */
export function parseFile(relPath: string, content: Buffer): Parsed {
  const format = formatOf(relPath);
  if (format === undefined) return { docs: [], issues: [] };
  const decoded = decode(relPath, content);
  if (typeof decoded !== "string") return { docs: [], issues: [decoded] };
  const src = decoded.replace(/\r\n?/g, "\n");
  switch (format) {
    case "text":
    case "markdown":
      return single(relPath, parseText(src, format));
    case "html":
      return single(relPath, parseHtml(src));
    case "jsonl":
      return parseJsonl(relPath, src);
    case "json":
      return parseJson(relPath, src);
  }
}

// ---------------------------------------------------------------------------------------------
// Walking the folder

type Entry = { rel: string; abs: string } | { issue: IngestIssue };

async function openRoot(root: string): Promise<string> {
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw new AppError("CORPUS_MISSING", `corpus path ${root} is not a folder`);
    return await realpath(root);
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = errCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new AppError("CORPUS_MISSING", `corpus folder ${root} does not exist`, { path: root });
    }
    throw new AppError("FILE_UNREADABLE", `corpus folder ${root} cannot be read (${code})`, { path: root });
  }
}

/**
 * Lists corpus files in sorted depth-first order. Symbolic links are resolved after the real
 * tree, so a file reached both ways keeps its real path as id; links already reached are skipped,
 * which also ends link cycles.
 */
async function walk(root: string, rootReal: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();
  const links: { rel: string; abs: string }[] = [];
  const unreadable = (rel: string, message: string): void => {
    out.push({ issue: issue(rel, "FILE_UNREADABLE", `${rel}${message}`) });
  };
  const inside = (real: string): boolean => {
    const r = path.relative(rootReal, real);
    return r === "" || (!r.startsWith("..") && !path.isAbsolute(r));
  };

  const visitDir = async (abs: string, rel: string, real: string): Promise<void> => {
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    let dirents: Dirent[];
    try {
      dirents = await readdir(abs, { withFileTypes: true });
    } catch (err) {
      return unreadable(rel, `/: the folder cannot be read (${errCode(err)})`);
    }
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of dirents) {
      if (d.name.startsWith(".")) continue;
      const childAbs = path.join(abs, d.name);
      const childRel = rel === "" ? d.name : `${rel}/${d.name}`;
      const childReal = path.join(real, d.name);
      if (d.isSymbolicLink()) links.push({ rel: childRel, abs: childAbs });
      else if (d.isDirectory()) await visitDir(childAbs, childRel, childReal);
      else if (formatOf(d.name) !== undefined && !seenFiles.has(childReal)) {
        seenFiles.add(childReal);
        if (d.isFile()) out.push({ rel: childRel, abs: childAbs });
        else unreadable(childRel, ": not a regular file");
      }
    }
  };

  await visitDir(root, "", rootReal);
  // Following a linked folder may find more links; the loop picks them up.
  for (let i = 0; i < links.length; i++) {
    const { rel, abs } = links[i]!;
    const known = formatOf(rel) !== undefined;
    let real: string;
    let info: Stats;
    try {
      real = await realpath(abs);
      info = await stat(real);
    } catch (err) {
      if (known) unreadable(rel, `: broken symbolic link (${errCode(err)})`);
      continue;
    }
    if (!info.isDirectory() && !known) continue;
    if (!inside(real)) unreadable(rel, ": symbolic link points outside the corpus folder; not followed");
    else if (info.isDirectory()) await visitDir(abs, rel, real);
    else if (!seenFiles.has(real)) {
      seenFiles.add(real);
      if (info.isFile()) out.push({ rel, abs });
      else unreadable(rel, ": not a regular file");
    }
  }
  return out;
}

async function loadFile(
  entry: { rel: string; abs: string },
  limits: { maxFileBytes: number; maxRecordBytes: number },
): Promise<Parsed> {
  const { rel, abs } = entry;
  const { maxFileBytes } = limits;
  try {
    if (formatOf(rel) === "jsonl") return await streamJsonl(rel, abs, limits.maxRecordBytes);
    // Size first, so an oversized file is never pulled into memory.
    const { size } = await stat(abs);
    if (size > maxFileBytes && formatOf(rel) === "json" && (await startsWithArray(abs))) {
      return await streamJsonArray(rel, abs, limits.maxRecordBytes);
    }
    if (size > maxFileBytes) {
      const message = `${rel} is ${fmtCount(size)} bytes; the limit is ${fmtCount(maxFileBytes)} bytes`;
      return { docs: [], issues: [issue(rel, "FILE_TOO_LARGE", message)] };
    }
    return parseFile(rel, await readFile(abs));
  } catch (err) {
    return { docs: [], issues: [issue(rel, "FILE_UNREADABLE", `${rel}: cannot be read (${errCode(err)})`)] };
  }
}

async function mapInOrder<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bytes to text

function decode(rel: string, content: Buffer): string | IngestIssue {
  if (content.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
    return issue(rel, "FILE_BINARY", `${rel}: not text (NUL bytes in the first 8 KiB)`);
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

// ---------------------------------------------------------------------------------------------
// Plain text and Markdown

interface Fields {
  title?: string | undefined;
  date?: string | undefined;
  url?: string | undefined;
  text: string;
}

/** The seed header: ` date 2024-12-09 Title`. */
const SEED_HEADER = /^[ \t]*date[ \t]+(\d{4}-\d{1,2}-\d{1,2})(?:[ \t]+(.*))?$/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]|$)/;
const FENCE = /^ {0,3}(?:```|~~~)/;

/**
 * `.txt` with a seed header: title and date from it, body after it. Otherwise the title is the
 * first Markdown heading (its line is removed from the body when it opens the file), else the
 * first line when it is short and more text follows (the line stays in the body), else the file
 * name. `.md` may open with `---` front matter giving title, date and url.
 */
function parseText(src: string, format: "text" | "markdown"): Fields {
  const first = lineAt(src, 0);
  if (format === "text") {
    const seed = SEED_HEADER.exec(first.line);
    if (seed) {
      const body = finishBody(src, first.next);
      return { title: cleanTitle(seed[2] ?? ""), date: seed[1], text: body };
    }
  }
  let start = 0;
  let meta: Omit<Fields, "text"> = {};
  if (format === "markdown") {
    const fm = frontMatter(src);
    if (fm) {
      meta = fm.fields;
      start = fm.end;
    }
  }
  const heading = firstHeading(src, start);
  let title = meta.title;
  if (heading && !title) {
    title = format === "markdown" ? cleanTitle(inline(heading.title)) : heading.title;
    if (heading.leading) start = heading.next;
  }
  // Markdown is stored as the text a reader sees, so no syntax reaches an answer or a highlight.
  const body = finishBody(src, start);
  const text = format === "markdown" ? markdownToText(body) : body;
  return { ...meta, title: title || lineTitle(text), text };
}

function frontMatter(src: string): { fields: Omit<Fields, "text">; end: number } | undefined {
  const open = lineAt(src, 0);
  if (open.line.trimEnd() !== "---") return undefined;
  const fields: Omit<Fields, "text"> = {};
  for (let pos = open.next; pos < src.length; ) {
    const { line, next } = lineAt(src, pos);
    if (line.trimEnd() === "---" || line.trimEnd() === "...") return { fields, end: next };
    const m = /^(title|date|url)[ \t]*:[ \t]*(.*)$/i.exec(line);
    if (m) fields[m[1]!.toLowerCase() as "title" | "date" | "url"] = unquote(m[2]!.trim());
    pos = next;
  }
  return undefined;
}

function firstHeading(
  src: string,
  from: number,
): { title: string; leading: boolean; next: number } | undefined {
  let inFence = false;
  let sawText = false;
  for (let pos = from; pos < src.length; ) {
    const { line, next } = lineAt(src, pos);
    if (FENCE.test(line)) inFence = !inFence;
    else if (!inFence) {
      const m = ATX_HEADING.exec(line);
      if (m) {
        const title = headingText(line.slice(m[0].length));
        if (title) return { title, leading: !sawText, next };
      }
    }
    if (!isBlank(line)) sawText = true;
    pos = next;
  }
  return undefined;
}

/** Heading content without the optional closing `#` run. Hand-rolled: `/\s+#+\s*$/` backtracks badly. */
function headingText(rest: string): string {
  let s = rest.trim();
  let end = s.length;
  while (end > 0 && s[end - 1] === "#") end--;
  if (end === 0 || s[end - 1] === " " || s[end - 1] === "\t") s = s.slice(0, end);
  return cleanTitle(s);
}

/** The first non-blank line as a title, when it is short and more text follows it. */
function lineTitle(text: string): string | undefined {
  const { line, next } = lineAt(text, 0);
  if (line.length > MAX_LINE_TITLE || next >= text.length) return undefined;
  return cleanTitle(line) || undefined;
}

// ---------------------------------------------------------------------------------------------
// HTML

/** Elements whose content is never visible text. */
const HIDDEN = new Set("script style noscript template head svg iframe object canvas".split(" "));
/** Elements that may sit in `<head>`; any other start tag closes an unclosed head, as browsers do. */
const HEAD_CONTENT = new Set(["title", "meta", "link", "base", "script", "style", "noscript", "template"]);
const LINE_BREAK = new Set(["br", "li", "tr", "dt", "dd", "option"]);
const CELL = new Set(["td", "th"]);
const PARAGRAPH = new Set([
  ..."address article aside blockquote body caption center details dialog dir div dl fieldset".split(" "),
  ..."figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend main menu nav".split(" "),
  ..."ol p pre section summary table tbody tfoot thead ul".split(" "),
]);
const DATE_META = new Set([
  ..."date pubdate publishdate publish-date datepublished sailthru.date".split(" "),
  ..."article:published_time og:published_time dc.date dc.date.issued".split(" "),
]);
const ATTR_TAGS = new Set(["meta", "link", "time"]);
const WHITESPACE = /\s+/g;

/** Title from `<title>`, else the first `<h1>`, else the file name; body is the visible text. */
function parseHtml(src: string): Fields {
  const page = extractHtml(src);
  const date = [...page.metaDates, ...page.timeDates].map(normaliseDate).find((d) => d !== undefined);
  return { title: page.title || page.h1, date, url: page.url, text: finishBody(page.text, 0) };
}

interface HtmlPage {
  title: string | undefined;
  h1: string | undefined;
  metaDates: string[];
  timeDates: string[];
  url: string | undefined;
  text: string;
}

/**
 * Runs htmlparser2's tokenizer directly: its Parser keeps an open-element stack with `unshift`,
 * quadratic in nesting depth, and we need no tree — only which hidden elements are open.
 */
function extractHtml(html: string): HtmlPage {
  const page: HtmlPage = {
    title: undefined,
    h1: undefined,
    metaDates: [],
    timeDates: [],
    url: undefined,
    text: "",
  };
  const parts: string[] = [];
  let wrote = false;
  let pendingBreak = 0; // 0 none, 1 line, 2 paragraph
  let pendingSpace = false;
  // Open hidden elements, with a count per name so a stray end tag costs no scan of the stack.
  const hidden: string[] = [];
  const hiddenCount = new Map<string, number>();
  const isOpen = (name: string): boolean => (hiddenCount.get(name) ?? 0) > 0;
  const popHiddenTo = (depth: number): void => {
    while (hidden.length > depth) {
      const name = hidden.pop()!;
      hiddenCount.set(name, hiddenCount.get(name)! - 1);
    }
  };
  let titleParts: string[] | undefined;
  let h1Parts: string[] | undefined;
  let tag = "";
  let attrs = new Map<string, string>();
  let attrName = "";
  let attrValue = "";

  const breakAt = (level: number): void => {
    pendingBreak = Math.max(pendingBreak, level);
  };
  const text = (raw: string): void => {
    if (titleParts) {
      titleParts.push(raw);
      return;
    }
    if (hidden.length > 0) return;
    h1Parts?.push(raw);
    const t = raw.replace(WHITESPACE, " ");
    let start = 0;
    let end = t.length;
    if (t[0] === " ") {
      pendingSpace = true;
      start = 1;
    }
    const trailing = end > start && t[end - 1] === " ";
    if (trailing) end--;
    if (end > start) {
      if (wrote && pendingBreak > 0) parts.push(pendingBreak === 2 ? "\n\n" : "\n");
      else if (wrote && pendingSpace) parts.push(" ");
      parts.push(start === 0 && end === t.length ? t : t.slice(start, end));
      wrote = true;
      pendingBreak = 0;
      pendingSpace = false;
    }
    if (trailing) pendingSpace = true;
  };
  const open = (selfClosing: boolean): void => {
    if (hidden.at(-1) === "head" && !HEAD_CONTENT.has(tag)) popHiddenTo(hidden.length - 1);
    if (tag === "meta") {
      const key = (attrs.get("name") ?? attrs.get("property") ?? attrs.get("itemprop") ?? "").toLowerCase();
      const content = attrs.get("content")?.trim();
      if (content && DATE_META.has(key)) page.metaDates.push(content);
      if (content && key === "og:url") page.url ??= content;
    } else if (tag === "link") {
      const href = attrs.get("href")?.trim();
      if (href && attrs.get("rel")?.toLowerCase().split(/\s+/).includes("canonical")) page.url = href;
    } else if (tag === "time") {
      const dt = attrs.get("datetime")?.trim();
      if (dt) page.timeDates.push(dt);
    }
    // The tokenizer ends raw-text mode on `<script/>`, so a self-closed hidden element hides nothing.
    if (HIDDEN.has(tag) && !selfClosing) {
      hidden.push(tag);
      hiddenCount.set(tag, (hiddenCount.get(tag) ?? 0) + 1);
    }
    if (tag === "title" && !selfClosing && page.title === undefined && !isOpen("svg")) titleParts = [];
    if (tag === "h1" && page.h1 === undefined && hidden.length === 0) h1Parts = [];
    if (PARAGRAPH.has(tag)) breakAt(2);
    else if (LINE_BREAK.has(tag)) breakAt(1);
    else if (CELL.has(tag)) pendingSpace = true;
  };
  const close = (name: string): void => {
    if (name === "title" && titleParts) {
      page.title = cleanTitle(titleParts.join(""));
      titleParts = undefined;
    }
    if (name === "h1" && h1Parts) {
      page.h1 = cleanTitle(h1Parts.join("")) || undefined;
      h1Parts = undefined;
    }
    if (isOpen(name)) popHiddenTo(hidden.lastIndexOf(name));
    if (PARAGRAPH.has(name)) breakAt(2);
    else if (name === "br" || LINE_BREAK.has(name)) breakAt(1);
    else if (CELL.has(name)) pendingSpace = true;
  };

  const noop = (): void => {};
  const callbacks: TokenizerCallbacks = {
    ontext: (start, end) => text(html.slice(start, end)),
    ontextentity: (cp) => text(fromCodePoint(cp)),
    onopentagname: (start, end) => {
      tag = html.slice(start, end).toLowerCase();
      if (attrs.size > 0) attrs = new Map();
    },
    onattribname: (start, end) => {
      attrName = html.slice(start, end).toLowerCase();
      attrValue = "";
    },
    onattribdata: (start, end) => {
      if (ATTR_TAGS.has(tag)) attrValue += html.slice(start, end);
    },
    onattribentity: (cp) => {
      if (ATTR_TAGS.has(tag)) attrValue += fromCodePoint(cp);
    },
    onattribend: () => {
      if (ATTR_TAGS.has(tag) && !attrs.has(attrName)) attrs.set(attrName, attrValue);
    },
    onopentagend: () => open(false),
    onselfclosingtag: () => open(true),
    onclosetag: (start, end) => close(html.slice(start, end).toLowerCase()),
    oncdata: noop,
    oncomment: noop,
    ondeclaration: noop,
    onprocessinginstruction: noop,
    onend: noop,
  };
  const tokenizer = new Tokenizer({ decodeEntities: true }, callbacks);
  tokenizer.write(html);
  tokenizer.end();
  // A `<title>` left open runs to the end of the file; keep what it held.
  if (titleParts) page.title = cleanTitle(titleParts.join(""));
  page.text = parts.join("");
  return page;
}

function fromCodePoint(cp: number): string {
  return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : "\uFFFD";
}

// ---------------------------------------------------------------------------------------------
// JSON and JSONL records

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
  collect(out, recordToDoc(rel, value, where, `${base}:${lineNo}`, `${rel}#L${lineNo}`));
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
    if (sniffed < BINARY_SNIFF_BYTES) {
      if (chunk.subarray(0, BINARY_SNIFF_BYTES - sniffed).includes(0)) {
        return {
          docs: [],
          issues: [issue(rel, "FILE_BINARY", `${rel}: not text (NUL bytes in the first 8 KiB)`)],
        };
      }
      sniffed += chunk.length;
    }
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
    if (sniffed < BINARY_SNIFF_BYTES) {
      if (chunk.subarray(0, BINARY_SNIFF_BYTES - sniffed).includes(0)) {
        return {
          docs: [],
          issues: [issue(rel, "FILE_BINARY", `${rel}: not text (NUL bytes in the first 8 KiB)`)],
        };
      }
      sniffed += chunk.length;
    }
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

function collect(out: Parsed, result: Doc | IngestIssue): void {
  if ("hash" in result) out.docs.push(result);
  else out.issues.push(result);
}

/** Validates one `{id?, title?, date?, url?, text}` record; `where` names it in messages. */
function recordToDoc(
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

// ---------------------------------------------------------------------------------------------
// Shared pieces

function single(rel: string, fields: Fields): Parsed {
  if (fields.text === "") return { docs: [], issues: [issue(rel, "FILE_EMPTY", `${rel}: no text`)] };
  const doc = makeDoc({
    ...fields,
    id: stripExt(rel),
    source: rel,
    title: fields.title || titleFromName(rel),
  });
  return { docs: [doc], issues: [] };
}

function makeDoc(d: {
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
function finishBody(src: string, from: number): string {
  let pos = from;
  while (pos < src.length) {
    const { line, next } = lineAt(src, pos);
    if (!isBlank(line)) break;
    pos = next;
  }
  return src.slice(pos).trimEnd();
}

/** The line starting at `pos` (without its `\n`) and where the next one starts. */
function lineAt(src: string, pos: number): { line: string; next: number } {
  const nl = src.indexOf("\n", pos);
  return nl === -1 ? { line: src.slice(pos), next: src.length } : { line: src.slice(pos, nl), next: nl + 1 };
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0b && c !== 0x0c && c !== 0x0d && c !== 0xfeff) {
      return false;
    }
  }
  return true;
}

function cleanTitle(s: string): string {
  return s.replace(WHITESPACE, " ").trim();
}

function titleFromName(rel: string): string {
  const name = stripExt(rel.slice(rel.lastIndexOf("/") + 1));
  return cleanTitle(name.replace(/[_-]+/g, " ")) || name;
}

function unquote(s: string): string {
  const q = s[0];
  return s.length >= 2 && (q === '"' || q === "'") && s.at(-1) === q ? s.slice(1, -1) : s;
}

function formatOf(rel: string): Format | undefined {
  const ext = path.posix.extname(rel).toLowerCase();
  return Object.hasOwn(FORMATS, ext) ? FORMATS[ext] : undefined;
}

function stripExt(rel: string): string {
  const ext = path.posix.extname(rel);
  return ext === "" ? rel : rel.slice(0, -ext.length);
}

function issue(source: string, code: IngestIssue["code"], message: string): IngestIssue {
  return { source, code, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errCode(err: unknown): string {
  return (isObject(err) && typeof err.code === "string" && err.code) || errMessage(err);
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS = [
  ..."january february march april may june".split(" "),
  ..."july august september october november december".split(" "),
];
const ISO_DATE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?=$|[T\s])/;
/** "Dec 9, 2024", "Monday, December 9th 2024". */
const MONTH_FIRST =
  /^(?:[A-Za-z]+,?[ \t]+)?([A-Za-z]{3,9})\.?[ \t]+(\d{1,2})(?:st|nd|rd|th)?,?[ \t]+(\d{4})\b/;
/** "9 December 2024", "9 Dec. 2024". */
const DAY_FIRST = /^(\d{1,2})(?:st|nd|rd|th)?[ \t]+([A-Za-z]{3,9})\.?,?[ \t]+(\d{4})\b/;

/**
 * YYYY-MM-DD for a date the corpus may hold, or undefined. A timestamp keeps the calendar date
 * as written (its own time zone), which is the publication date the source meant.
 */
function normaliseDate(input: string): string | undefined {
  const s = input.trim().slice(0, 80);
  let m = ISO_DATE.exec(s);
  if (m) return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
  m = MONTH_FIRST.exec(s);
  if (m) return ymd(Number(m[3]), monthOf(m[1]!), Number(m[2]));
  m = DAY_FIRST.exec(s);
  if (m) return ymd(Number(m[3]), monthOf(m[2]!), Number(m[1]));
  return undefined;
}

/** 1-12 for a full month name, its three-letter form or "Sept"; 0 otherwise. */
function monthOf(word: string): number {
  const w = word.toLowerCase();
  const i = MONTHS.findIndex((name) => name === w || name.slice(0, 3) === w);
  return i !== -1 ? i + 1 : w === "sept" ? 9 : 0;
}

function ymd(y: number, m: number, d: number): string | undefined {
  if (y < 1000 || m < 1 || m > 12 || d < 1) return undefined;
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}
