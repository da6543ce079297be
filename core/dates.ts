/** Finding the period a question is about, for a news corpus. Pure. */
import type { DateFilter } from "./types.ts";

export interface DateIntent {
  /** The period the question names, inclusive. */
  range?: { from: string; to: string };
  /** The question asks for the latest news. */
  recency: boolean;
  /** The words that named the period, for explanations. */
  matched?: string;
}

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const MONTH_RE =
  "(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?";

function monthIndex(word: string): number {
  const w = word.toLowerCase().replace(/\.$/, "");
  return MONTHS.findIndex((m) => m.startsWith(w.slice(0, 3)));
}

const pad = (n: number) => String(n).padStart(2, "0");
export const isoDay = (d: Date) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;

function parseIso(s: string): Date {
  return new Date(`${s}T00:00:00Z`);
}

function addDays(d: Date, n: number): Date {
  return new Date(d.getTime() + n * 86_400_000);
}

function monthRange(year: number, month: number): { from: string; to: string } {
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return { from: `${year}-${pad(month + 1)}-01`, to: `${year}-${pad(month + 1)}-${pad(last)}` };
}

function validDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month && d.getUTCDate() === day;
}

/** True for a real calendar date written YYYY-MM-DD. */
export function isIsoDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m !== null && validDay(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/**
 * Reads the period a question names. Relative words ("last week", "yesterday", a day without a
 * year) are read against `asOf`, the day the question is asked as of (see {@link resolveAsOf}).
 */
export function dateIntent(question: string, asOf: string | undefined): DateIntent {
  const q = question.toLowerCase();
  const recency = /\b(latest|most recent|newest|recently|recent|last time)\b/.test(q);
  const anchor = asOf && isIsoDate(asOf) ? parseIso(asOf) : new Date();
  const anchorYear = anchor.getUTCFullYear();
  const day = (from: Date, to: Date, matched: string): DateIntent => ({
    range: { from: isoDay(from), to: isoDay(to) },
    recency,
    matched,
  });

  let m = /\b(\d{4})-(\d{2})-(\d{2})\b/.exec(q);
  if (m && validDay(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) {
    const d = parseIso(m[0]);
    return day(d, d, m[0]);
  }
  // "Dec. 9, 2024", "December 9 2024", "Dec. 9"
  m = new RegExp(`\\b${MONTH_RE}\\s+(\\d{1,2})(?:st|nd|rd|th)?\\b(?:,?\\s+(\\d{4}))?`).exec(q);
  if (m) {
    const month = monthIndex(m[1]!);
    const dd = Number(m[2]);
    let year = m[3] ? Number(m[3]) : anchorYear;
    if (!m[3] && validDay(year, month, dd) && Date.UTC(year, month, dd) > anchor.getTime()) year--;
    if (validDay(year, month, dd)) {
      const d = new Date(Date.UTC(year, month, dd));
      return day(d, d, m[0]);
    }
  }
  // "9 December 2024"
  m = new RegExp(`\\b(\\d{1,2})\\s+${MONTH_RE}(?:,?\\s+(\\d{4}))?\\b`).exec(q);
  if (m) {
    const month = monthIndex(m[2]!);
    const dd = Number(m[1]);
    const year = m[3] ? Number(m[3]) : anchorYear;
    if (validDay(year, month, dd)) {
      const d = new Date(Date.UTC(year, month, dd));
      return day(d, d, m[0]);
    }
  }
  // "December 2024", "in December"
  m =
    new RegExp(`\\b${MONTH_RE}\\s+(\\d{4})\\b`).exec(q) ??
    new RegExp(`\\b(?:in|during|since)\\s+${MONTH_RE}\\b`).exec(q);
  if (m) {
    const month = monthIndex(m[1]!);
    let year = m[2] ? Number(m[2]) : anchorYear;
    if (!m[2] && Date.UTC(year, month, 1) > anchor.getTime()) year--;
    return { range: monthRange(year, month), recency, matched: m[0] };
  }
  m = /\b(?:in|during|of|since|throughout)\s+((?:19|20)\d{2})\b/.exec(q);
  if (m) {
    const year = Number(m[1]);
    return { range: { from: `${year}-01-01`, to: `${year}-12-31` }, recency, matched: m[0] };
  }
  if (/\byesterday\b/.test(q)) {
    const d = addDays(anchor, -1);
    return day(d, d, "yesterday");
  }
  if (/\btoday\b/.test(q)) return day(anchor, anchor, "today");
  if (/\b(last|past|previous)\s+week\b/.test(q)) return day(addDays(anchor, -7), anchor, "last week");
  if (/\bthis\s+week\b/.test(q)) return day(addDays(anchor, -6), anchor, "this week");
  if (/\b(last|past)\s+month\b/.test(q)) return day(addDays(anchor, -31), anchor, "last month");
  if (/\bthis\s+month\b/.test(q)) {
    return { range: monthRange(anchorYear, anchor.getUTCMonth()), recency, matched: "this month" };
  }
  if (/\b(last|past)\s+year\b/.test(q)) return day(addDays(anchor, -365), anchor, "last year");
  if (/\bthis\s+year\b/.test(q))
    return { range: { from: `${anchorYear}-01-01`, to: `${anchorYear}-12-31` }, recency };
  return { recency };
}

/**
 * The day a question is asked as of: `asOf` when the client gives one; otherwise today, unless
 * the newest document is more than `staleDays` older than today (an archive, or a corpus not
 * updated for a while), in which case the newest document's day, so that "this week" still
 * finds something.
 */
export function resolveAsOf(
  asOf: string | undefined,
  newest: string | undefined,
  today: Date,
  staleDays: number,
): string {
  if (asOf !== undefined && isIsoDate(asOf)) return asOf;
  const now = isoDay(today);
  if (newest && isIsoDate(newest) && daysBetween(newest, now) > staleDays) return newest;
  return now;
}

/** Whole days from `from` to `to` (both YYYY-MM-DD); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((parseIso(to).getTime() - parseIso(from).getTime()) / 86_400_000);
}

/**
 * How near a document's day is to the day the question is asked: 1 on that day, halving every
 * `halfLifeDays` before it; 0 for undated documents and for documents after it (which retrieval
 * leaves out).
 */
export function recencyWeight(date: string | undefined, asOf: string, halfLifeDays: number): number {
  if (!date || date > asOf) return 0;
  return 0.5 ** (daysBetween(date, asOf) / halfLifeDays);
}

/** True when `date` (YYYY-MM-DD) lies within the filter; undated documents never do. */
export function inRange(date: string | undefined, filter: DateFilter): boolean {
  if (!date) return false;
  if (filter.from !== undefined && date < filter.from) return false;
  if (filter.to !== undefined && date > filter.to) return false;
  return true;
}

export interface DatePriorContext {
  intent: DateIntent;
  /** The day the question is asked as of. */
  asOf: string;
  /** The corpus's oldest document day, which "latest" measures age from. */
  oldest: string | undefined;
  /** Strength of the prior for documents near `asOf` (0: none). */
  prior: number;
  halfLifeDays: number;
}

/**
 * Adds the date evidence to fused scores (0–1 scale), in place. The period a question names lifts
 * documents of that period above the rest; "latest" lifts newer documents in proportion to their
 * age within the corpus up to the as-of day; every question also carries a mild prior for
 * documents near the day it is asked.
 */
export function addDatePriors(
  scored: readonly { label: number; score: number }[],
  dateOf: (label: number) => string | undefined,
  ctx: DatePriorContext,
): void {
  const { intent, asOf, prior } = ctx;
  if (!intent.range && !intent.recency && prior <= 0) return;
  const oldest = ctx.oldest ? Date.parse(ctx.oldest) : 0;
  const span = ctx.oldest ? Date.parse(asOf) - oldest : 0;
  for (const p of scored) {
    const date = dateOf(p.label);
    if (intent.range && inRange(date, intent.range)) p.score += 1;
    if (intent.recency && date && span > 0)
      p.score += Math.min(1, Math.max(0, (Date.parse(date) - oldest) / span));
    if (prior > 0) p.score += prior * recencyWeight(date, asOf, ctx.halfLifeDays);
  }
}
