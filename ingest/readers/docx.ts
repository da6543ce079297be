/**
 * Word (`.docx`) through mammoth: the document's paragraphs as HTML, then the visible text as the
 * HTML reader takes it. Headings stay in the text as paragraphs of their own, so each section's
 * passages start with its title; the first heading (or a paragraph in Word's Title style) is the
 * document's title.
 */
import mammoth from "mammoth";
import { extractHtml } from "./html.ts";
import type { FormatReader, Parsed } from "./reader.ts";
import { errMessage, finishBody, issue, single } from "./shared.ts";

const STYLE_MAP = ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => h2:fresh"];

export async function parseDocx(rel: string, bytes: Buffer): Promise<Parsed> {
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes }, { styleMap: STYLE_MAP })).value;
  } catch (err) {
    const reason = errMessage(err).split("\n")[0];
    return {
      docs: [],
      issues: [issue(rel, "FILE_MALFORMED", `${rel}: not a readable Word document (${reason})`)],
    };
  }
  const page = extractHtml(html);
  return single(rel, { title: page.h1, text: finishBody(page.text, 0) });
}

export const docxReader: FormatReader = {
  extensions: [".docx"],
  parse: parseDocx,
};
