/** Publication dates as corpus files write them, normalised to YYYY-MM-DD. */

const MONTHS = [
  ..."january february march april may june".split(" "),
  ..."july august september october november december".split(" "),
];
const ISO_DATE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?=$|[T\s])/;
/** "Dec 9, 2024", "Monday, December 9th 2024". */
const MONTH_FIRST =
  /^(?:[A-Za-z]+,?[ \t]+)?([A-Za-z]{3,9})\.?[ \t]+(\d{1,2})(?:st|nd|rd|th)?,?[ \t]+(\d{4})\b/;
/** "9 December 2024", "9 Dec. 2024". */
const DAY_FIRST = /^(\d{1,2})(?:st|nd|rd|th)?[ \t]+([A-Za-z]{3,9})\.?,?[ \t]+(\d{4})\b/;

/**
 * YYYY-MM-DD for a date the corpus may hold, or undefined. A timestamp keeps the calendar date
 * as written (its own time zone), which is the publication date the source meant.
 */
export function normaliseDate(input: string): string | undefined {
  const s = input.trim().slice(0, 80);
  let m = ISO_DATE.exec(s);
  if (m) return ymd(Number(m[1]), Number(m[2]), Number(m[3]));
  m = MONTH_FIRST.exec(s);
  if (m) return ymd(Number(m[3]), monthOf(m[1]!), Number(m[2]));
  m = DAY_FIRST.exec(s);
  if (m) return ymd(Number(m[3]), monthOf(m[2]!), Number(m[1]));
  return undefined;
}

/** 1-12 for a full month name, its three-letter form or "Sept"; 0 otherwise. */
function monthOf(word: string): number {
  const w = word.toLowerCase();
  const i = MONTHS.findIndex((name) => name === w || name.slice(0, 3) === w);
  return i !== -1 ? i + 1 : w === "sept" ? 9 : 0;
}

function ymd(y: number, m: number, d: number): string | undefined {
  if (y < 1000 || m < 1 || m > 12 || d < 1) return undefined;
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}
