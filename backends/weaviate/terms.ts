/**
 * Words as the lexical search sees them, the way the embedded index's FTS5 tokenizer
 * (`porter unicode61 remove_diacritics 2`) does: split on anything that is not a letter or a
 * digit, lower-cased, accents removed, each word reduced to its Porter stem. Weaviate has no
 * stemming tokenizer, so the adapter stores these stems in their own properties (tokenised on
 * whitespace) and searches and counts over them; "founded" then finds "founding" on both backends.
 */
import { stemmer } from "stemmer";

/** The stems of a text, in order, separated by single spaces. */
export function stems(text: string): string {
  return words(text).join(" ");
}

/** The stems of a text, in order. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const w of text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)) {
    if (w) out.push(stemmer(w));
  }
  return out;
}
