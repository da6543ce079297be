/** Markdown (`.md`): optional `---` front matter (title, date, url); stored as the text a reader sees. */
import type { FormatReader } from "./reader.ts";
import { fromText, single } from "./shared.ts";
import { parseText } from "./text.ts";

export const markdownReader: FormatReader = {
  extensions: [".md"],
  parse: (rel, bytes) => fromText(rel, bytes, (src) => single(rel, parseText(src, "markdown"))),
};
