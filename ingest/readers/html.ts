/**
 * HTML (`.html`, `.htm`): the main content's text (Mozilla's Readability, the engine of Firefox's
 * reader view, over a linkedom DOM), the title, the publication date and canonical URL. A page
 * Readability does not take for an article keeps its visible text without navigation, header,
 * footer and aside elements, so "Home | Visit | Shop" never opens a passage.
 */
import { isProbablyReaderable, Readability } from "@mozilla/readability";
import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";
import { DOMParser } from "linkedom";
import { normaliseDate } from "./dates.ts";
import type { FormatReader } from "./reader.ts";
import { cleanTitle, type Fields, finishBody, fromText, single } from "./shared.ts";

/** Elements whose content is never visible text. */
const HIDDEN = new Set("script style noscript template head svg iframe object canvas".split(" "));
/** Elements around a page's content rather than in it. */
const CHROME = ["nav", "header", "footer", "aside"];
/** Pages larger than this skip Readability (its DOM costs several times the page in memory). */
const READABILITY_MAX_CHARS = 2 * 1024 * 1024;
/** Nor does a page of more tags than this: Readability walks its DOM recursively, so depth costs. */
const READABILITY_MAX_TAGS = 20_000;
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

/** Title from `<title>`, else the first `<h1>`, else the file name; body is the main content's text. */
function parseHtml(src: string): Fields {
  const page = extractHtml(src);
  const date = [...page.metaDates, ...page.timeDates].map(normaliseDate).find((d) => d !== undefined);
  const main = mainContent(src);
  const text = finishBody(main !== undefined ? extractHtml(main).text : extractHtml(src, CHROME).text, 0);
  return { title: page.title || page.h1, date, url: page.url, text };
}

/** The article's HTML as Readability finds it, or undefined when the page is not an article. */
function mainContent(src: string): string | undefined {
  if (src.length > READABILITY_MAX_CHARS || tagCount(src, READABILITY_MAX_TAGS) > READABILITY_MAX_TAGS) {
    return undefined;
  }
  try {
    const doc = new DOMParser().parseFromString(src, "text/html") as unknown as Document;
    if (!isProbablyReaderable(doc, { minContentLength: 100, minScore: 20 })) return undefined;
    const article = new Readability(doc, { charThreshold: 200 }).parse();
    return article?.content && (article.textContent ?? "").trim() !== "" ? article.content : undefined;
  } catch {
    // A page Readability cannot handle keeps its visible text.
    return undefined;
  }
}

/** The number of `<` in `src`, counted up to `limit` + 1. */
function tagCount(src: string, limit: number): number {
  let n = 0;
  for (let i = src.indexOf("<"); i !== -1 && n <= limit; i = src.indexOf("<", i + 1)) n++;
  return n;
}

export interface HtmlPage {
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
export function extractHtml(html: string, hide: readonly string[] = []): HtmlPage {
  const hiddenTags = hide.length === 0 ? HIDDEN : new Set([...HIDDEN, ...hide]);
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
    if (hiddenTags.has(tag) && !selfClosing) {
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

export const htmlReader: FormatReader = {
  extensions: [".html", ".htm"],
  parse: (rel, bytes) => fromText(rel, bytes, (src) => single(rel, parseHtml(src))),
};
