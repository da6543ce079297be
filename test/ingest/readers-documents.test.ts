import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pageOf } from "../../core/pages.ts";
import { loadCorpus, parseFile } from "../../ingest/corpus.ts";
import { layoutPages, type TextRun } from "../../ingest/readers/pdf-layout.ts";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "documents");
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

/** A line of runs at height y: one run per string, laid left to right. */
function line(y: number, strs: string[], size = 12): TextRun[] {
  let x = 50;
  return strs.map((str, i) => {
    const run = { str, x, y, size, width: str.length * size * 0.5, eol: i === strs.length - 1 };
    x += run.width;
    return run;
  });
}

const LONG = "The harbour master said the quay would reopen in the spring after the work";

describe("PDF layout", () => {
  it.each<[string, TextRun[][], string]>([
    [
      "joins the lines of a paragraph with a space",
      [[...line(700, [LONG]), ...line(686, ["on the breakwater is finished."])]],
      `${LONG} on the breakwater is finished.`,
    ],
    [
      "joins a word hyphenated across a line break",
      [[...line(700, ["The inter-"]), ...line(686, ["national ferry sails at noon."])]],
      "The international ferry sails at noon.",
    ],
    [
      "keeps a hyphen before a capital (a compound, not a split word)",
      [[...line(700, ["The Anglo-"]), ...line(686, ["French treaty."])]],
      "The Anglo-French treaty.",
    ],
    [
      "starts a paragraph after a short line that ends a sentence",
      [[...line(700, [LONG]), ...line(686, ["Short."]), ...line(672, ["Next one."])]],
      `${LONG} Short.\n\nNext one.`,
    ],
    [
      "starts a paragraph at a change of font size (a heading)",
      [[...line(720, ["Ferries"], 16), ...line(704, ["They sail."])]],
      "Ferries\n\nThey sail.",
    ],
    [
      "starts a paragraph at a wide gap between lines",
      [[...line(700, [LONG]), ...line(660, ["Far below."])]],
      `${LONG}\n\nFar below.`,
    ],
    [
      "joins runs of one line, adding the space a PDF leaves out",
      [
        [
          { str: "Gull", x: 50, y: 700, size: 12, width: 24, eol: false },
          { str: "Island", x: 78, y: 700, size: 12, width: 36, eol: true },
        ],
      ],
      "Gull Island",
    ],
  ])("%s", (_name, pages, text) => {
    expect(layoutPages(pages).text).toBe(text);
  });

  it("drops header and footer lines that recur on the pages, page numbers included", () => {
    const page = (n: number, body: string): TextRun[] => [
      ...line(780, ["Annual Report"]),
      ...line(700, [body]),
      ...line(60, [`Page ${n} of 3`]),
    ];
    const { text, pages } = layoutPages([page(1, "One."), page(2, "Two."), page(3, "Three.")]);
    expect(text).toBe("One.\n\nTwo.\n\nThree.");
    expect(pages).toEqual([0, 6, 12]);
  });

  it("keeps a single page's first and last lines", () => {
    const { text } = layoutPages([
      [...line(780, ["Annual Report"]), ...line(700, ["Body."]), ...line(60, ["Page 1"])],
    ]);
    expect(text).toBe("Annual Report\n\nBody.\n\nPage 1");
  });

  it("records an empty page at the offset where the next page starts", () => {
    const { text, pages } = layoutPages([line(700, ["One."]), [], line(700, ["Three."])]);
    expect(text).toBe("One.\n\nThree.");
    expect(pages).toEqual([0, 4, 6]);
    expect(pageOf(pages, 6)).toBe(3);
    expect(pageOf(pages, 0)).toBe(1);
  });
});

describe("PDF files", () => {
  it("reads a three-page PDF made by LibreOffice: title, text in order, pages, no header or footer", async () => {
    const { docs, issues } = await parseFile("reports/harbour-report.pdf", fixture("harbour-report.pdf"));
    expect(issues).toEqual([]);
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    expect(doc).toMatchObject({
      id: "reports/harbour-report",
      title: "Harbour Report 2024",
      source: "reports/harbour-report.pdf",
    });
    expect(doc.text).not.toContain("Annual Report");
    expect(doc.text).not.toMatch(/Page \d/);
    expect(
      doc.text.startsWith(
        "Harbour Report 2024\n\nThe lighthouse\n\nThe Northport lighthouse was first lit in 1887",
      ),
    ).toBe(true);
    expect(doc.pages).toHaveLength(3);
    const at = (s: string) => pageOf(doc.pages, doc.text.indexOf(s));
    expect(at("Agnes Mallory")).toBe(1);
    expect(at("48,000 cubic metres")).toBe(2);
    expect(at("Petrel entered service")).toBe(3);
    expect(doc.text.slice(doc.pages![1]!).startsWith("Dredging of the east basin\n\n")).toBe(true);
    // Lines of a paragraph are one sentence again.
    expect(doc.text).toContain(
      "The basin now admits vessels with a draught of up to nine metres at low tide.",
    );
  });

  it("reports a PDF without a text layer by name", async () => {
    expect(await parseFile("scan.pdf", fixture("scanned-page.pdf"))).toEqual({
      docs: [],
      issues: [
        {
          source: "scan.pdf",
          code: "FILE_NO_TEXT",
          message: "scan.pdf: no text layer; OCR is not supported",
        },
      ],
    });
  });

  it("reports a password-protected PDF", async () => {
    expect(await parseFile("locked.pdf", fixture("locked.pdf"))).toEqual({
      docs: [],
      issues: [
        {
          source: "locked.pdf",
          code: "FILE_ENCRYPTED",
          message: "locked.pdf: the PDF is password-protected; not read",
        },
      ],
    });
  });

  it.each<[string, Buffer]>([
    ["a truncated PDF", fixture("harbour-report.pdf").subarray(0, 900)],
    ["a file that is not a PDF at all", Buffer.from("just words, no PDF here")],
  ])("reports %s with its reason", async (_name, bytes) => {
    const { docs, issues } = await parseFile("broken.pdf", bytes);
    expect(docs).toEqual([]);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe("FILE_MALFORMED");
    expect(issues[0]!.message).toMatch(/^broken\.pdf: not a readable PDF \(.+\)$/);
  });
});

describe("Word files", () => {
  it("reads a DOCX made by LibreOffice with its headings as section titles", async () => {
    const { docs, issues } = await parseFile("harbour-report.docx", fixture("harbour-report.docx"));
    expect(issues).toEqual([]);
    const doc = docs[0]!;
    expect(doc.title).toBe("Harbour Report 2024");
    expect(doc.pages).toBeUndefined();
    expect(doc.text).toContain("\n\nDredging of the east basin\n\nDredging of the east basin began in March");
    expect(doc.text).toContain("\n\nFerry services\n\nThe ferry to Gull Island");
  });

  it("reports a file that is not a Word document", async () => {
    const { docs, issues } = await parseFile("notes.docx", Buffer.from("plain words"));
    expect(docs).toEqual([]);
    expect(issues[0]!.code).toBe("FILE_MALFORMED");
    expect(issues[0]!.message).toMatch(/^notes\.docx: not a readable Word document \(.+\)$/);
  });
});

describe("a corpus of documents", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "citeline-docs-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loads the PDF and the DOCX of one report as two documents and names the files it cannot read", async () => {
    for (const name of ["harbour-report.pdf", "harbour-report.docx", "scanned-page.pdf", "locked.pdf"]) {
      await copyFile(path.join(FIXTURES, name), path.join(dir, name));
    }
    await copyFile(path.join(FIXTURES, "harbour-report.fodt"), path.join(dir, "harbour-report.odt"));
    const { docs, issues, files } = await loadCorpus(dir);
    expect(files).toBe(4);
    expect(docs.map((d) => [d.id, d.source])).toEqual([
      ["harbour-report.docx", "harbour-report.docx"],
      ["harbour-report.pdf", "harbour-report.pdf"],
    ]);
    expect(issues.map((i) => [i.source, i.code])).toEqual([
      ["harbour-report.odt", "FILE_UNSUPPORTED"],
      ["locked.pdf", "FILE_ENCRYPTED"],
      ["scanned-page.pdf", "FILE_NO_TEXT"],
    ]);
  });
});

describe("HTML main content", () => {
  const chrome = (article: string) =>
    `<!doctype html><html><head><title>Harbour reopens</title></head><body>
<header><div>Northport Gazette</div><nav><a href="/">Home</a> | <a href="/visit">Visit</a> | <a href="/shop">Shop</a></nav></header>
<main>${article}</main>
<footer><p>© 2024 Northport Gazette. Sign up for our newsletter!</p></footer></body></html>`;

  it.each<[string, string, string]>([
    [
      "an article: Readability's main content",
      chrome(
        "<article><h1>Harbour reopens</h1><p>The harbour reopened on Monday after the storm closed it for four days. Ferries to Gull Island resumed at noon, and the fish market opened an hour later than usual.</p><p>The harbour master, Ines Calder, said the breakwater had held and that divers found no damage to the north quay.</p></article>",
      ),
      "The harbour reopened on Monday after the storm closed it for four days. Ferries to Gull Island resumed at noon, and the fish market opened an hour later than usual.\n\nThe harbour master, Ines Calder, said the breakwater had held and that divers found no damage to the north quay.",
    ],
    [
      "a short page: its text without navigation, header or footer",
      chrome("<p>Ferries run again.</p>"),
      "Ferries run again.",
    ],
  ])("keeps %s", async (_name, html, text) => {
    const { docs } = await parseFile("news.html", Buffer.from(html));
    expect(docs[0]!.title).toBe("Harbour reopens");
    expect(docs[0]!.text).toBe(text);
  });
});
