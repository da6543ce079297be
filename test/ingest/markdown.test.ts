import { describe, expect, it } from "vitest";
import { isHeadingLike, isQuestion } from "../../core/exclusions.ts";
import { markdownToText } from "../../ingest/markdown.ts";

describe("Markdown as the text a reader sees", () => {
  it.each([
    ["heading marks", "## Festival history ##\nIt began in 1990.", "Festival history\nIt began in 1990."],
    ["setext underlines", "History\n=======\nIt began.", "History\n\nIt began."],
    [
      "emphasis",
      "It was **founded** by _Mara Vell_ and *Ed Stone* in __1990__.",
      "It was founded by Mara Vell and Ed Stone in 1990.",
    ],
    ["strikethrough and code", "Run `npm start` ~~twice~~ once.", "Run npm start twice once."],
    [
      "link targets",
      'See [the site](https://quill.example/about "About") or <https://quill.example>.',
      "See the site or https://quill.example.",
    ],
    ["targets with parentheses", "See [the form](javascript:alert(1)) now.", "See the form now."],
    ["images keep their alt text", "![The Quill dome](dome.png) stands tall.", "The Quill dome stands tall."],
    [
      "reference links and their definitions",
      "Read [the report][r1].\n\n[r1]: https://quill.example/r",
      "Read the report.",
    ],
    [
      "list bullets and numbers",
      "- Mara Vell\n* Ed Stone\n+ Ann Lee\n1. First\n2) Second\n- [x] Done",
      "Mara Vell\nEd Stone\nAnn Lee\nFirst\nSecond\nDone",
    ],
    ["nested lists", "- Founders\n  - Mara Vell", "Founders\nMara Vell"],
    [
      "block quotes",
      '> The dome is called "the Quill".\n>> Nested.',
      'The dome is called "the Quill".\nNested.',
    ],
    [
      "inline HTML tags",
      'The <b>observatory</b> is run by <a href="/x">Dr Ann Lee</a>.<br/>',
      "The observatory is run by Dr Ann Lee.",
    ],
    ["rules", "Above\n\n---\n\nBelow\n\n***", "Above\n\nBelow"],
    ["fences, keeping the code", "```js\nconst a = 1 * 2;\n```\nAfter.", "const a = 1 * 2;\nAfter."],
    ["tables", "| Name | Role |\n| --- | :---: |\n| Mara | Founder |", "Name; Role\n\nMara; Founder"],
    ["escapes", "Use \\*stars\\* and 5 \\# signs.", "Use *stars* and 5 # signs."],
    ["underscores inside words", "snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"],
  ])("drops %s", (_name, md, text) => {
    expect(markdownToText(md)).toBe(text);
  });

  it("leaves no syntax characters of a typical note behind", () => {
    const note = [
      "# The Quill Festival",
      "",
      "## Who founded it?",
      "",
      "The festival was **founded in 1990** by [Mara Vell](https://quill.example/mara).",
      "",
      "- The telescope's nickname is *the Quill*.",
      "- The observatory is directed by __Dr Ann Lee__.",
    ].join("\n");
    const text = markdownToText(note);
    expect(text).not.toMatch(/[#*_[\]()]|https?:/);
    expect(text).toContain("The festival was founded in 1990 by Mara Vell.");
  });
});

describe("heading-like lines", () => {
  it.each([
    ["Festival history", true],
    ["Who we are", true],
    ["The Quill Festival 2024", true],
    ["The festival was founded in 1990 by Mara Vell.", false],
    ["Who founded the festival?", false],
    ['He said it was "the best year."', false],
    [
      "Nearly fifty countries and regions took part in the talks held in the city over three long days",
      false,
    ],
  ])("%s is heading-like: %s", (line, expected) => {
    expect(isHeadingLike(line)).toBe(expected);
  });

  it.each([
    ["Who founded the festival?", true],
    ['She asked: "Who founded it?"', true],
    ['"Why not?" he asked.', false],
  ])("%s is a question, which never answers: %s", (line, expected) => {
    expect(isQuestion(line)).toBe(expected);
  });
});
