import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Doc, IngestIssue } from "../../core/types.ts";
import { loadCorpus } from "../../ingest/corpus.ts";
import { type Parsed, readerFor } from "../../ingest/readers/index.ts";
import { SEED_DOC, sharedPath } from "../helpers/shared.ts";

const SEED = sharedPath(...SEED_DOC);

/** A text format's reader answers at once; these tests read only text formats. */
const parse = (rel: string, content: string | Buffer): Parsed => {
  const out = readerFor(rel)?.parse(rel, typeof content === "string" ? Buffer.from(content) : content);
  if (out instanceof Promise) throw new Error(`${rel} is not a text format`);
  return out ?? { docs: [], issues: [] };
};

/** The one doc a file must give, with no issues. */
function onlyDoc(rel: string, content: string | Buffer): Doc {
  const { docs, issues } = parse(rel, content);
  expect(issues).toEqual([]);
  expect(docs).toHaveLength(1);
  return docs[0]!;
}

const fields = (d: Doc) => ({
  id: d.id,
  title: d.title,
  date: d.date,
  url: d.url,
  source: d.source,
  text: d.text,
});

describe("parseFile", () => {
  it.each<[string, string, string, Partial<Doc>]>([
    [
      "reads a seed header with extra leading whitespace",
      "story.txt",
      "   \t date 2024-01-05   Talks resume in Geneva\n\n\nGENEVA, Jan. 5 -- Talks resumed.\n",
      {
        id: "story",
        title: "Talks resume in Geneva",
        date: "2024-01-05",
        text: "GENEVA, Jan. 5 -- Talks resumed.",
      },
    ],
    [
      "takes a short first line of plain text as the title and keeps it in the body",
      "plain.txt",
      "\n\nMarkets rally\nStocks rose on Monday.\n",
      { id: "plain", title: "Markets rally", text: "Markets rally\nStocks rose on Monday." },
    ],
    [
      "falls back to the file name when plain text is a single line",
      "world/late_night-update.txt",
      "Only one line here.",
      { id: "world/late_night-update", title: "late night update", text: "Only one line here." },
    ],
    [
      "takes a leading Markdown heading as the title and drops its line from the body",
      "notes.md",
      "# Budget passes ##\n\nThe bill passed.\n\n## Reaction\nMixed.\n",
      { title: "Budget passes", text: "The bill passed.\n\nReaction\nMixed." },
    ],
    [
      "takes a later Markdown heading as the title but keeps the body whole",
      "later.md",
      "Intro para that is long enough.\n\n```\n# not a heading\n```\n\n# Real heading\nText.",
      {
        title: "Real heading",
        text: "Intro para that is long enough.\n\n# not a heading\n\nReal heading\nText.",
      },
    ],
    [
      "reads title, date and url from Markdown front matter",
      "fm.md",
      '---\ntitle: "Front title"\ndate: Dec 9, 2024\nurl: https://example.com/a\n---\n\nBody text.\n',
      { title: "Front title", date: "2024-12-09", url: "https://example.com/a", text: "Body text." },
    ],
    [
      "strips a BOM and normalises CRLF and CR newlines",
      "crlf.txt",
      "\uFEFF date 2024-02-03 Title\r\n\r\nLine one\r\nLine two\rLine three\r\n",
      { title: "Title", date: "2024-02-03", text: "Line one\nLine two\nLine three" },
    ],
    [
      "keeps leading indentation and inner spacing of the body exactly",
      "indent.txt",
      " date 2024-02-03 T\n\n   Indented  first line\n\n\n\nlast \t \n",
      { text: "   Indented  first line\n\n\n\nlast" },
    ],
  ])("%s", (_name, rel, content, expected) => {
    expect(fields(onlyDoc(rel, content))).toMatchObject(expected);
  });

  describe("HTML", () => {
    const page = `<!DOCTYPE html>
<html><head>
  <title>Rates &amp; bonds: what&#39;s next</title>
  <meta name="date" content="2024-12-09T23:10:00-05:00">
  <link rel="canonical" href="https://example.com/rates">
  <style>p { color: red }</style>
  <script>var s = "<p>not text</p>";</script>
</head>
<body>
  <h1>Rates&nbsp;hold</h1>
  <p>The bank held   rates.</p><p>Markets
     shrugged.<br>Bonds &lt;rose&gt;.</p>
  <ul><li>One</li><li>Two</li></ul>
  <table><tr><td>a</td><td>b</td></tr></table>
  <noscript>Enable JS</noscript><template><p>hidden</p></template>
  <div>Tail <b>bold</b>word</div>
</body></html>`;

    it("uses <title>, drops script, style and head, decodes entities and breaks blocks", () => {
      expect(fields(onlyDoc("news/rates.html", page))).toEqual({
        id: "news/rates",
        title: "Rates & bonds: what's next",
        date: "2024-12-09",
        url: "https://example.com/rates",
        source: "news/rates.html",
        text: "Rates hold\n\nThe bank held rates.\n\nMarkets shrugged.\nBonds <rose>.\n\nOne\nTwo\n\na b\n\nTail boldword",
      });
    });

    it.each<[string, string, Partial<Doc>]>([
      [
        "falls back to the first <h1> for the title",
        "<body><h1>Main <i>story</i></h1><p>Body.</p>",
        { title: "Main story" },
      ],
      ["falls back to the file name without a <title> or <h1>", "<p>Body.</p>", { title: "my page" }],
      [
        "takes the date from <time datetime>",
        '<p>Posted <time datetime="2023-07-01T08:00Z">July 1</time>.</p>',
        { date: "2023-07-01", text: "Posted July 1." },
      ],
      [
        "takes the date from article:published_time",
        '<meta property="article:published_time" content="2022-03-04"><p>x</p>',
        { date: "2022-03-04" },
      ],
      [
        "ignores the <title> of an inline SVG",
        "<svg><title>Icon</title></svg><p>Text.</p>",
        { title: "my page" },
      ],
      [
        "ends an unclosed <head> at the first body element",
        "<html><head><title>T</title><body><p>Visible.</p>",
        { title: "T", text: "Visible." },
      ],
    ])("%s", (_name, html, expected) => {
      expect(fields(onlyDoc("my_page.htm", html))).toMatchObject(expected);
    });

    it("handles 100,000 levels of nesting", () => {
      const n = 100_000;
      const html = `${"<div>".repeat(n)}deep &amp; down${"</div>".repeat(n)}${"<span>".repeat(n)}x`;
      expect(onlyDoc("deep.html", html).text).toBe("deep & down\n\nx");
    });
  });

  describe("JSON and JSONL", () => {
    it("loads the good lines of a JSONL file and names the file and line of each bad one", () => {
      const lines = [
        JSON.stringify({
          id: "a1",
          title: "First",
          date: "2024-05-06T10:00:00Z",
          url: "https://x/1",
          text: "One.",
        }),
        "",
        "{not json",
        JSON.stringify({ id: "a2", text: 42 }),
        JSON.stringify({ id: 7, text: "Seven." }),
        JSON.stringify({ id: [1], text: "bad id" }),
        JSON.stringify({ title: 3, text: "bad title" }),
        "[1, 2]",
        JSON.stringify({ text: "No id.\nSecond line." }),
        JSON.stringify({ text: "  \n  " }),
      ];
      const { docs, issues } = parse("feeds/bad.jsonl", `${lines.join("\n")}\n`);
      expect(docs.map(fields)).toEqual([
        {
          id: "a1",
          title: "First",
          date: "2024-05-06",
          url: "https://x/1",
          source: "feeds/bad.jsonl line 1",
          text: "One.",
        },
        {
          id: "7",
          title: "7",
          date: undefined,
          url: undefined,
          source: "feeds/bad.jsonl line 5",
          text: "Seven.",
        },
        {
          id: "feeds/bad:9",
          title: "No id.",
          date: undefined,
          url: undefined,
          source: "feeds/bad.jsonl line 9",
          text: "No id.\nSecond line.",
        },
      ]);
      expect(issues.map((i) => [i.code, i.message])).toEqual([
        ["FILE_MALFORMED", expect.stringMatching(/^feeds\/bad\.jsonl line 3: invalid JSON \(.+\)$/)],
        ["FILE_MALFORMED", 'feeds/bad.jsonl line 4: "text" must be a string'],
        ["FILE_MALFORMED", 'feeds/bad.jsonl line 6: "id" must be a non-empty string or a number'],
        ["FILE_MALFORMED", 'feeds/bad.jsonl line 7: "title" must be a string'],
        ["FILE_MALFORMED", "feeds/bad.jsonl line 8: a record must be a JSON object"],
        ["FILE_EMPTY", 'feeds/bad.jsonl line 10: "text" is empty'],
      ]);
      expect(issues.every((i) => i.source === "feeds/bad.jsonl")).toBe(true);
    });

    it.each<[string, unknown, string[]]>([
      ["an array of records", [{ id: "x", text: "X." }, { text: "Y." }], ["x", "arr:2"]],
      ["a documents wrapper", { documents: [{ text: "A." }, { id: "b", text: "B." }] }, ["arr:1", "b"]],
      ["a single record", { title: "Solo", text: "S." }, ["arr"]],
    ])("reads a JSON file holding %s", (_name, value, ids) => {
      const { docs, issues } = parse("arr.json", JSON.stringify(value));
      expect(issues).toEqual([]);
      expect(docs.map((d) => d.id)).toEqual(ids);
      expect(docs.every((d) => d.source === "arr.json")).toBe(true);
    });

    it("reports a bad record of a JSON array by its number and keeps the rest", () => {
      const { docs, issues } = parse("arr.json", JSON.stringify([{ text: "ok" }, { text: null }]));
      expect(docs.map((d) => d.id)).toEqual(["arr:1"]);
      expect(issues).toEqual([
        { source: "arr.json", code: "FILE_MALFORMED", message: 'arr.json record 2: "text" must be a string' },
      ]);
    });

    it("reports invalid JSON as malformed", () => {
      expect(parse("broken.json", '{"text": ').issues).toEqual([
        {
          source: "broken.json",
          code: "FILE_MALFORMED",
          message: expect.stringMatching(/^broken\.json: invalid JSON/),
        },
      ]);
    });
  });

  describe("dates", () => {
    it.each<[string, string | undefined]>([
      ["2024-12-09", "2024-12-09"],
      ["2024-12-09T23:59:59+14:00", "2024-12-09"],
      ["2024/2/3", "2024-02-03"],
      ["Dec 9, 2024", "2024-12-09"],
      ["Monday, December 9th 2024", "2024-12-09"],
      ["9 Sept. 2024", "2024-09-09"],
      ["2024-13-45", undefined],
      ["2023-02-29", undefined],
      ["garbage", undefined],
      ["Decem 9, 2024", undefined],
      ["", undefined],
    ])("reads %j as %s and still indexes the document", (input, expected) => {
      const doc = onlyDoc("d.jsonl", JSON.stringify({ text: "Body.", date: input }));
      expect(doc.date).toBe(expected);
      expect("date" in doc).toBe(expected !== undefined);
    });

    it("drops an invalid date in a seed header but keeps the title and body", () => {
      expect(fields(onlyDoc("bad-date.txt", " date 2024-13-45 Odd date\n\nBody."))).toMatchObject({
        title: "Odd date",
        date: undefined,
        text: "Body.",
      });
    });
  });

  it.each<[string, string, string | Buffer, IngestIssue["code"], string]>([
    ["an empty file", "empty.txt", "", "FILE_EMPTY", "empty.txt: no text"],
    ["a whitespace-only file", "blank.md", " \n\t\n  \r\n", "FILE_EMPTY", "blank.md: no text"],
    ["an HTML page without visible text", "s.html", "<script>x()</script>", "FILE_EMPTY", "s.html: no text"],
    ["a JSONL file without records", "e.jsonl", "\n\n", "FILE_EMPTY", "e.jsonl: no records"],
    ["a JSON file with an empty array", "e.json", "[]", "FILE_EMPTY", "e.json: no records"],
    [
      "a binary file with a .txt extension",
      "image.txt",
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]),
      "FILE_BINARY",
      "image.txt: not text (NUL bytes in the first 8 KiB)",
    ],
    [
      "bytes that are control characters in UTF-8 and Windows-1252 alike",
      "controls.txt",
      Buffer.from(Array.from({ length: 100 }, (_, i) => (i % 2 ? 0x81 : 0x41))),
      "FILE_BINARY",
      "controls.txt: not text (50% of it is control characters, as UTF-8 or Windows-1252)",
    ],
  ])("reports %s", (_name, rel, content, code, message) => {
    expect(parse(rel, content)).toEqual({ docs: [], issues: [{ source: rel, code, message }] });
  });

  it.each<[string, Buffer]>([
    ["Latin-1", Buffer.from("Caf\xe9 notes\nCr\xe8me br\xfbl\xe9e and na\xefve r\xe9sum\xe9s.", "latin1")],
    [
      "Windows-1252",
      Buffer.from([...Buffer.from("Caf\xe9 notes\n", "latin1"), 0x93, 0x68, 0x69, 0x94, 0x80]),
    ],
    ["UTF-16LE with a BOM", Buffer.from(`\ufeffCaf\u00e9 notes\nMore.`, "utf16le")],
    ["UTF-8 with a BOM", Buffer.from(`\ufeffCaf\u00e9 notes\nMore.`, "utf8")],
  ])("decodes %s text instead of mangling it", (_name, content) => {
    const doc = onlyDoc("cafe.txt", content);
    expect(doc.title).toBe("Café notes");
    expect(doc.text).not.toContain("\uFFFD");
    expect(doc.text.startsWith("Café notes\n")).toBe(true);
  });

  it("decodes Windows-1252 punctuation to the characters it stands for", () => {
    const content = Buffer.from([
      ...Buffer.from("Title\n", "latin1"),
      0x93,
      0x68,
      0x69,
      0x94,
      0x20,
      0x80,
      0x35,
    ]);
    expect(onlyDoc("q.txt", content).text).toBe("Title\n\u201chi\u201d \u20ac5");
  });

  it.each<[string, string, string]>([
    ["a short first line", "Harbour notes\nThe harbour reopened.", "Harbour notes"],
    ["not a first line that is a sentence", "The harbour reopened on Monday.\nFerries run.", "harbour log"],
    ["not a first line over 100 characters", `${"word ".repeat(30)}\nmore`, "harbour log"],
    ["not the only line", "Just one line", "harbour log"],
  ])("takes %s as a plain text file's title", (_name, content, title) => {
    expect(onlyDoc("harbour_log.txt", content).title).toBe(title);
  });

  it("ignores unknown extensions", () => {
    expect(parse("photo.jpg", "anything")).toEqual({ docs: [], issues: [] });
  });

  it("parses a 10 MB single line", () => {
    const line = "word ".repeat(2_000_000).trimEnd();
    expect(onlyDoc("long.txt", line).text).toHaveLength(line.length);
    expect(onlyDoc("long.jsonl", JSON.stringify({ text: line })).text).toBe(line);
    expect(onlyDoc("long.html", `<p>${line}</p>`).text).toBe(line);
  });

  it("hashes title, date, url and text: equal input gives an equal hash, any change a new one", () => {
    const base = { id: "h", title: "T", date: "2024-01-01", url: "https://e/x", text: "Body." };
    const hash = (over: object) => onlyDoc("h.json", JSON.stringify({ ...base, ...over })).hash;
    const original = hash({});
    expect(original).toMatch(/^[0-9a-f]{64}$/);
    expect(hash({})).toBe(original);
    expect(hash({ id: "other" })).toBe(original);
    for (const change of [
      { text: "Body!" },
      { title: "U" },
      { date: "2024-01-02" },
      { url: "https://e/y" },
    ]) {
      expect(hash(change)).not.toBe(original);
    }
  });
});

describe("loadCorpus", () => {
  let tmp: string;
  let dir: string;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "corpus-test-"));
    dir = path.join(tmp, "corpus");
    await mkdir(dir);
  });

  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const write = async (rel: string, content: string | Buffer) => {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  };

  it("loads the seed file", async () => {
    await copyFile(SEED, path.join(dir, "000_1819b03cfa5cc3af.txt"));
    const { docs, issues, files } = await loadCorpus(dir);
    expect(issues).toEqual([]);
    expect(files).toBe(1);
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    expect(doc).toMatchObject({
      id: "000_1819b03cfa5cc3af",
      source: "000_1819b03cfa5cc3af.txt",
      date: "2024-12-09",
      title: "China ready to work with all parties to advance human rights cause: FM",
    });
    expect(doc.text.startsWith("HANGZHOU, Dec. 9 (Xinhua) -- China will continue")).toBe(true);
    expect(doc.text).toBe(doc.text.trimEnd());
  });

  it("walks nested folders in sorted order, gives path ids, skips hidden files and names unsupported ones", async () => {
    await write("world/2024/story.html", "<title>Story</title><p>World story.</p>");
    await write("b.md", "# B\n\nBee.");
    await write("a.txt", "A title\nAy.");
    await write("world/z.jsonl", `${JSON.stringify({ text: "Zed." })}\n`);
    await write(".hidden.txt", "secret\ntext");
    await write(".git/config.txt", "secret\ntext");
    await write("world/.drafts/draft.txt", "secret\ntext");
    await write("photo.png", "not an image");
    await write("README", "no extension");
    const { docs, issues, files } = await loadCorpus(dir);
    const supported = ".txt, .md, .html, .htm, .jsonl, .json, .pdf, .docx";
    expect(issues).toEqual([
      {
        source: "README",
        code: "FILE_UNSUPPORTED",
        message: `README: files without an extension are not read (supported: ${supported})`,
      },
      {
        source: "photo.png",
        code: "FILE_UNSUPPORTED",
        message: `photo.png: .png files are not read (supported: ${supported})`,
      },
    ]);
    expect(files).toBe(4);
    expect(docs.map((d) => [d.id, d.source])).toEqual([
      ["a", "a.txt"],
      ["b", "b.md"],
      ["world/2024/story", "world/2024/story.html"],
      ["world/z:1", "world/z.jsonl line 1"],
    ]);
  });

  it("reports each bad file and still loads the others", async () => {
    await write("1-good.txt", "Good\nfile.");
    await write("2-empty.txt", "");
    await write("3-binary.txt", Buffer.from([1, 2, 0, 3]));
    await write("4-big.md", "x".repeat(2_000));
    await write("5-bad.json", "{");
    await write("6-good.md", "# Fine\n\nText.");
    const { docs, issues, files } = await loadCorpus(dir, { maxFileBytes: 1_000 });
    expect(files).toBe(6);
    expect(docs.map((d) => d.id)).toEqual(["1-good", "6-good"]);
    expect(issues.map((i) => [i.source, i.code])).toEqual([
      ["2-empty.txt", "FILE_EMPTY"],
      ["3-binary.txt", "FILE_BINARY"],
      ["4-big.md", "FILE_TOO_LARGE"],
      ["5-bad.json", "FILE_MALFORMED"],
    ]);
    expect(issues[2]!.message).toBe("4-big.md is 2,000 bytes; the limit is 1,000 bytes");
  });

  it("gives files that share a stem ids with their extension, so neither is dropped", async () => {
    await write("notes.md", "# From md\n\nText.");
    await write("notes.txt", "From txt\nText.");
    await write("sub/notes.txt", "Alone\nText.");
    await write("feed.jsonl", `${JSON.stringify({ text: "one" })}\n`);
    await write("feed.json", JSON.stringify([{ text: "two" }]));
    const { docs, issues } = await loadCorpus(dir);
    expect(issues).toEqual([]);
    expect(docs.map((d) => [d.id, d.source])).toEqual([
      ["feed.json:1", "feed.json"],
      ["feed.jsonl:1", "feed.jsonl line 1"],
      ["notes.md", "notes.md"],
      ["notes.txt", "notes.txt"],
      ["sub/notes", "sub/notes.txt"],
    ]);
  });

  it("keeps the first of two documents with the same id and reports the later one", async () => {
    await write("a.md", "# From md\n\nText.");
    await write("a/b.txt", "From txt\nText.");
    await write("a.json", JSON.stringify([{ id: "a/b", text: "record" }]));
    await write(
      "feed.jsonl",
      [
        { id: "x", text: "first" },
        { id: "x", text: "second" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const { docs, issues } = await loadCorpus(dir);
    expect(docs.map((d) => [d.id, d.source])).toEqual([
      ["a/b", "a/b.txt"],
      ["a.md", "a.md"],
      ["x", "feed.jsonl line 1"],
    ]);
    expect(issues).toEqual([
      {
        source: "a.json",
        code: "FILE_MALFORMED",
        message: 'a.json: duplicate document id "a/b" (first used by a/b.txt); skipped',
      },
      {
        source: "feed.jsonl",
        code: "FILE_MALFORMED",
        message: 'feed.jsonl line 2: duplicate document id "x" (first used by feed.jsonl line 1); skipped',
      },
    ]);
  });

  it("does not follow symbolic links that leave the corpus folder", async () => {
    await writeFile(path.join(tmp, "outside.txt"), "Secret\nOutside text.");
    await mkdir(path.join(tmp, "outside-dir"));
    await writeFile(path.join(tmp, "outside-dir", "o.txt"), "Secret\nOutside text.");
    await write("inside.txt", "Inside\ntext.");
    await symlink(path.join(tmp, "outside.txt"), path.join(dir, "leak.txt"));
    await symlink(path.join(tmp, "outside-dir"), path.join(dir, "leakdir"));
    await symlink("../outside.txt", path.join(dir, "relative-leak.txt"));
    const { docs, issues } = await loadCorpus(dir);
    expect(docs.map((d) => d.id)).toEqual(["inside"]);
    expect(issues).toEqual(
      ["leak.txt", "leakdir", "relative-leak.txt"].map((rel) => ({
        source: rel,
        code: "FILE_UNREADABLE",
        message: `${rel}: symbolic link points outside the corpus folder; not followed`,
      })),
    );
  });

  it("follows links inside the corpus once, prefers real paths, and survives cycles", async () => {
    await write("real/story.txt", "Story\nText.");
    await symlink(path.join(dir, "real", "story.txt"), path.join(dir, "a-alias.txt"));
    await symlink(dir, path.join(dir, "real", "loop"));
    await write("other/note.txt", "Note\nText.");
    await symlink(path.join(dir, "other"), path.join(dir, "linked"));
    await mkdir(path.join(dir, ".private"));
    await writeFile(path.join(dir, ".private", "p.txt"), "Private\nBut linked.");
    await symlink(path.join(dir, ".private"), path.join(dir, "shared"));
    await symlink(path.join(dir, "missing.txt"), path.join(dir, "broken.txt"));
    const { docs, issues } = await loadCorpus(dir);
    expect(docs.map((d) => d.id)).toEqual(["other/note", "real/story", "shared/p"]);
    expect(issues).toEqual([
      { source: "broken.txt", code: "FILE_UNREADABLE", message: "broken.txt: broken symbolic link (ENOENT)" },
    ]);
  });

  it("rejects a missing folder with CORPUS_MISSING naming the path", async () => {
    const missing = path.join(tmp, "nope");
    await expect(loadCorpus(missing)).rejects.toMatchObject({
      code: "CORPUS_MISSING",
      message: `corpus folder ${missing} does not exist`,
    });
  });

  it("rejects a file given as the corpus folder with CORPUS_MISSING", async () => {
    await write("f.txt", "x");
    await expect(loadCorpus(path.join(dir, "f.txt"))).rejects.toMatchObject({ code: "CORPUS_MISSING" });
  });

  it("gives the same hash on a reload and a new one when the text changes", async () => {
    await write("s.txt", " date 2024-12-09 Title\n\nBody one.");
    const first = (await loadCorpus(dir)).docs[0]!.hash;
    expect((await loadCorpus(dir)).docs[0]!.hash).toBe(first);
    await write("s.txt", " date 2024-12-09 Title\n\nBody two.");
    expect((await loadCorpus(dir)).docs[0]!.hash).not.toBe(first);
  });
});
