/**
 * PDF (`.pdf`) through Mozilla's pdfjs-dist (the legacy build, which runs in Node without a
 * worker thread of its own): the text layer of every page, laid out by ./pdf-layout.ts, with the
 * offset where each page starts so a citation can name its page. A PDF without a text layer (a
 * scan) is reported by name; OCR is not attempted. Encrypted and broken files get their reason.
 */
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { layoutPages, type TextRun } from "./pdf-layout.ts";
import type { FormatReader, Parsed } from "./reader.ts";
import { cleanTitle, errMessage, issue, plainTitle, single } from "./shared.ts";

/** Titles that PDF producers write when the author gave none. */
const PLACEHOLDER_TITLE =
  /^(untitled|document\d*|microsoft (word|powerpoint) - .*|.*\.(docx?|odt|pdf|rtf|txt))$/i;

export async function parsePdf(rel: string, bytes: Buffer): Promise<Parsed> {
  const fail = (code: "FILE_MALFORMED" | "FILE_ENCRYPTED" | "FILE_NO_TEXT", reason: string): Parsed => ({
    docs: [],
    issues: [issue(rel, code, `${rel}: ${reason}`)],
  });
  // pdfjs may take ownership of the array it is given, so it gets a copy.
  const task = getDocument({
    data: new Uint8Array(bytes),
    verbosity: 0,
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    stopAtErrors: false,
  });
  try {
    let pdf: Awaited<typeof task.promise>;
    try {
      pdf = await task.promise;
    } catch (err) {
      const name = err instanceof Error ? err.name : "";
      if (name === "PasswordException")
        return fail("FILE_ENCRYPTED", "the PDF is password-protected; not read");
      return fail("FILE_MALFORMED", `not a readable PDF (${errMessage(err)})`);
    }
    const pages: TextRun[][] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      const runs: TextRun[] = [];
      for (const item of content.items) {
        if (!("str" in item)) continue;
        const [a, b, , , x, y] = item.transform as number[];
        runs.push({
          str: item.str,
          x: x ?? 0,
          y: y ?? 0,
          size: Math.hypot(a ?? 0, b ?? 0) || item.height,
          width: item.width,
          eol: item.hasEOL,
        });
      }
      pages.push(runs);
      page.cleanup();
    }
    const { text, pages: starts } = layoutPages(pages);
    if (text.trim() === "") {
      return fail("FILE_NO_TEXT", "no text layer; OCR is not supported");
    }
    const { info } = (await pdf.getMetadata().catch(() => ({ info: {} }))) as { info: { Title?: unknown } };
    const meta = typeof info.Title === "string" ? cleanTitle(info.Title) : "";
    const title = meta !== "" && !PLACEHOLDER_TITLE.test(meta) ? meta : plainTitle(text);
    return single(rel, { title, text, pages: starts });
  } catch (err) {
    return fail("FILE_MALFORMED", `not a readable PDF (${errMessage(err)})`);
  } finally {
    await task.destroy();
  }
}

export const pdfReader: FormatReader = {
  extensions: [".pdf"],
  parse: parsePdf,
};
