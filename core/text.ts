/** Word-level text helpers for lexical matching. Pure. */

const STOPWORDS = new Set(
  (
    "a an and are as at be been being but by can could did do does doing done for from had has have having he her " +
    "here hers him his how i if in into is it its itself me more most my no nor not of off on once only or other " +
    "our ours out over own same she should so some such than that the their theirs them then there these they this " +
    "those through to too under until up very was we were what when where which while who whom whose why will with " +
    "would you your yours about above after again against all any because before below between both during each few " +
    "further just now also say said says tell told name named called many much one ones per via s t"
  ).split(" "),
);

/** Lower-cased words (letters and digits, Unicode-aware), in order. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];
}

/** A deliberately light stemmer: enough to match "minister"/"ministers" and "held"/"holds" is left alone. */
export function stem(word: string): string {
  let w = word.replace(/['’]s$/, "");
  if (w.length > 4 && w.endsWith("ies")) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us") && !w.endsWith("is"))
    w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
  return w;
}

export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}

/** Content words of a text: lower-cased, stopwords removed, de-duplicated, in order. */
export function contentTerms(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const w of words(text)) {
    const plain = w.replace(/['’]s$/, "");
    if (isStopword(plain) || seen.has(plain)) continue;
    seen.add(plain);
    out.push(plain);
  }
  return out;
}

/** Stemmed content-word set, for overlap scoring. */
export function stemSet(text: string): Set<string> {
  return new Set(contentTerms(text).map(stem));
}

/** How a sentence is compared with what was said: whitespace runs collapse, case is kept. */
export function sentenceKey(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
