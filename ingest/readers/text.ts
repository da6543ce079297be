/**
 * Plain text (`.txt`): with a seed header (` date 2024-12-09 Title`) the title and date come from
 * it; otherwise the title is the first Markdown-style heading, else a short first line, else the
 * file name. The Markdown reader shares this parser.
 */
import { inline, markdownToText } from "../markdown.ts";
import type { FormatReader } from "./reader.ts";
import {
  cleanTitle,
  type Fields,
  finishBody,
  fromText,
  isBlank,
  lineAt,
  lineTitle,
  plainTitle,
  single,
  unquote,
} from "./shared.ts";

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
export function parseText(src: string, format: "text" | "markdown"): Fields {
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
  return { ...meta, title: title || (format === "text" ? plainTitle(text) : lineTitle(text)), text };
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

export const textReader: FormatReader = {
  extensions: [".txt"],
  parse: (rel, bytes) => fromText(rel, bytes, (src) => single(rel, parseText(src, "text"))),
};
