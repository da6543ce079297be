/** The corpus formats, one reader each; the extension of a file picks its reader. */
import path from "node:path";
import { docxReader } from "./docx.ts";
import { htmlReader } from "./html.ts";
import { jsonReader } from "./json.ts";
import { jsonlReader } from "./jsonl.ts";
import { markdownReader } from "./markdown.ts";
import { pdfReader } from "./pdf.ts";
import type { FormatReader } from "./reader.ts";
import { textReader } from "./text.ts";

export type { CorpusFile, FormatReader, Parsed, ReadLimits } from "./reader.ts";

/** Every format the corpus may hold. A new format is a new reader added here. */
export const READERS: readonly FormatReader[] = [
  textReader,
  markdownReader,
  htmlReader,
  jsonlReader,
  jsonReader,
  pdfReader,
  docxReader,
];

/** The extensions read, for messages: ".txt, .md, …". */
export const SUPPORTED_EXTENSIONS: readonly string[] = READERS.flatMap((r) => r.extensions);

const byExtension = new Map(READERS.flatMap((r) => r.extensions.map((ext) => [ext, r] as const)));

/** The reader for a file, by its extension (case-insensitive); undefined for any other file. */
export function readerFor(rel: string): FormatReader | undefined {
  return byExtension.get(path.posix.extname(rel).toLowerCase());
}
