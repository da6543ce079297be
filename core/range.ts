/**
 * A date range that holds no documents is its own answer: saying "not found" there would blame
 * the question, when the range is what left nothing to search.
 */
import type { IndexSnapshot } from "./backend.ts";
import type { DateFilter } from "./types.ts";

/** Why an answer is "not found" when it is not the evidence: no document falls in the range. */
export const NO_DOCUMENTS_IN_RANGE = "NO_DOCUMENTS_IN_RANGE";

/** Why an answer is "not found": every document is dated after the question's as-of day. */
export const NO_DOCUMENTS_BEFORE_AS_OF = "NO_DOCUMENTS_BEFORE_AS_OF";

/**
 * The message when the day a question is asked as of (`asOf`, given by the client) comes before
 * every document, or undefined when some document may be searched (an undated one always may).
 */
export async function beforeEveryDocumentMessage(
  index: IndexSnapshot,
  asOf: string | undefined,
): Promise<string | undefined> {
  const span = index.facts.dateRange;
  if (asOf === undefined || !span || asOf >= span.from) return undefined;
  // Undated documents are never left out by asOf.
  if ((await index.countInRange({})) < index.facts.counts.docs) return undefined;
  return `Every indexed document is dated after ${asOf}, the day this question is asked as of, so there is nothing to answer from. The indexed documents are dated from ${span.from} to ${span.to}.`;
}

/** The message for a range with no documents, or undefined when the range holds some (or none was set). */
export async function emptyRangeMessage(
  index: IndexSnapshot,
  filters: DateFilter | undefined,
): Promise<string | undefined> {
  if (!filters || (filters.from === undefined && filters.to === undefined)) return undefined;
  if ((await index.countInRange(filters)) > 0) return undefined;
  const range =
    filters.from && filters.to
      ? `between ${filters.from} and ${filters.to}`
      : filters.from
        ? `on or after ${filters.from}`
        : `on or before ${filters.to}`;
  const span = index.facts.dateRange;
  const known = span
    ? `The indexed documents are dated from ${span.from} to ${span.to}.`
    : "None of the indexed documents has a date.";
  return `No documents fall ${range}, so there is nothing to answer from. ${known}`;
}
