/**
 * Turns the positioned text runs of a PDF's pages into one document text with page boundaries.
 * Pure: runs in, text and page starts out (./pdf.ts feeds it from pdfjs).
 *
 * - Runs are taken in content-stream order, which is reading order for what word processors write;
 *   a run starts a new line when it ends one (`eol`) or when its baseline moves.
 * - Lines of one paragraph are joined with a space; a word split by a hyphen at the end of a line
 *   is joined back ("inter-" + "national" → "international", "Anglo-" + "French" → "Anglo-French"). A paragraph ends at a change of font
 *   size, a wide gap between baselines, or a short line that ends a sentence.
 * - Header and footer lines (the first and last lines of a page, compared with digits ignored) that
 *   recur on at least half the pages of a document of two or more pages are dropped: a running
 *   title or "Page 7" would otherwise open and close every page's passages.
 * - Paragraphs are separated by a blank line, and so are pages; `pages[i]` is where page i + 1
 *   starts in the text, so every offset maps to its page.
 */

/** A run of text on a page, as the extractor gives it. */
export interface TextRun {
  str: string;
  /** Baseline position (PDF units, y grows upwards). */
  x: number;
  y: number;
  /** Font size (PDF units). */
  size: number;
  width: number;
  /** The run ends its line. */
  eol: boolean;
}

export interface PageLayout {
  text: string;
  /** Offset in `text` where each page starts (one per page, non-decreasing). */
  pages: number[];
}

interface Line {
  text: string;
  y: number;
  size: number;
  width: number;
}

/** Baseline moves larger than this share of the font size start a new line. */
const SAME_LINE = 0.5;
/** A gap between baselines larger than this many times the font size ends a paragraph. */
const PARAGRAPH_GAP = 1.45;
/** A line narrower than this share of the page's widest line, ending a sentence, ends a paragraph. */
const SHORT_LINE = 0.8;
const SENTENCE_END = /[.!?:;]["'”’)\]]*$/;
const EDGE_LINES = 2;

/** Lays out the runs of every page (one array per page) as one text with page starts. */
export function layoutPages(pages: readonly (readonly TextRun[])[]): PageLayout {
  const lines = pages.map(pageLines);
  const edges = repeatedEdges(lines);
  let text = "";
  const starts: number[] = [];
  for (const page of lines) {
    const kept = page.filter((line, i) => !(isEdge(i, page.length) && edges.has(edgeKey(line.text))));
    const body = paragraphs(kept).join("\n\n");
    if (body !== "" && text !== "") text += "\n\n";
    starts.push(text.length);
    text += body;
  }
  return { text, pages: starts };
}

/** The lines of one page in stream order, runs of one line joined. */
export function pageLines(runs: readonly TextRun[]): Line[] {
  const out: Line[] = [];
  let cur: (Line & { startX: number; endX: number }) | undefined;
  let ended = true;
  for (const run of runs) {
    const str = run.str.replace(/\s+/g, " ");
    if (str.trim() === "") {
      if (run.eol) ended = true;
      continue;
    }
    const moved = cur !== undefined && Math.abs(run.y - cur.y) > SAME_LINE * Math.max(run.size, cur.size, 1);
    if (cur === undefined || ended || moved) {
      if (cur) out.push(finish(cur));
      cur = { text: str, y: run.y, size: run.size, width: run.width, startX: run.x, endX: run.x + run.width };
    } else {
      // A gap wider than a fifth of the font size between runs is a space the PDF did not write.
      const gap = run.x - cur.endX;
      const space = !cur.text.endsWith(" ") && !str.startsWith(" ") && gap > 0.2 * Math.max(run.size, 1);
      cur.text += (space ? " " : "") + str;
      cur.size = Math.max(cur.size, run.size);
      cur.endX = run.x + run.width;
      cur.width = cur.endX - cur.startX;
    }
    ended = run.eol;
  }
  if (cur) out.push(finish(cur));
  return out.filter((l) => l.text !== "");
}

function finish(l: Line): Line {
  return { text: l.text.trim(), y: l.y, size: l.size, width: l.width };
}

/** Joins lines into paragraphs. */
export function paragraphs(lines: readonly Line[]): string[] {
  const widest = Math.max(0, ...lines.map((l) => l.width));
  const out: string[] = [];
  let para = "";
  for (const [i, line] of lines.entries()) {
    const prev = lines[i - 1];
    if (prev && para !== "" && endsParagraph(prev, line, widest)) {
      out.push(para);
      para = "";
    }
    para = joinLine(para, line.text);
  }
  if (para !== "") out.push(para);
  return out;
}

function endsParagraph(prev: Line, next: Line, widest: number): boolean {
  if (Math.abs(prev.size - next.size) > 0.5) return true;
  const gap = prev.y - next.y;
  if (gap < 0 || gap > PARAGRAPH_GAP * Math.max(prev.size, next.size)) return true;
  return prev.width < SHORT_LINE * widest && SENTENCE_END.test(prev.text);
}

/** Appends a line to a paragraph, joining a word hyphenated across the break. */
export function joinLine(para: string, line: string): string {
  if (para === "") return line;
  if (/\p{L}-$/u.test(para) && /^\p{Ll}/u.test(line)) return para.slice(0, -1) + line;
  // Before a capital the hyphen belongs to a compound ("Anglo-French"): kept, without a space.
  if (/\p{L}-$/u.test(para) && /^\p{Lu}/u.test(line)) return para + line;
  return `${para} ${line}`;
}

function isEdge(i: number, n: number): boolean {
  return i < EDGE_LINES || i >= n - EDGE_LINES;
}

function edgeKey(text: string): string {
  return text.toLowerCase().replace(/\d+/g, "#").replace(/\s+/g, " ").trim();
}

/** Keys of edge lines that recur on at least half the pages (two pages at least). */
function repeatedEdges(pages: readonly Line[][]): Set<string> {
  const out = new Set<string>();
  if (pages.length < 2) return out;
  const counts = new Map<string, number>();
  for (const lines of pages) {
    const keys = new Set(lines.filter((_, i) => isEdge(i, lines.length)).map((l) => edgeKey(l.text)));
    for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const needed = Math.max(2, Math.ceil(pages.length / 2));
  for (const [key, n] of counts) if (n >= needed) out.add(key);
  return out;
}
