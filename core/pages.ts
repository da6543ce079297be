/**
 * Pages of a paginated document (a PDF): `pages[i]` is the offset in the document's text where
 * page i + 1 starts. Citations carry the page their passage starts on.
 */

/** The 1-based page holding `offset`; undefined for a document without pages. */
export function pageOf(pages: readonly number[] | undefined, offset: number): number | undefined {
  if (pages === undefined || pages.length === 0) return undefined;
  let lo = 0;
  let hi = pages.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (pages[mid]! <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found + 1;
}

/**
 * The citations with the page each cited sentence starts on, for those whose passage (source `n`)
 * is of a paginated document. `pagesOf` gives a source number's document pages.
 */
export function withPages<C extends { n: number; start: number; page?: number }>(
  citations: readonly C[],
  pagesOf: (n: number) => readonly number[] | undefined,
): C[] {
  return citations.map((c) => {
    const page = pageOf(pagesOf(c.n), c.start);
    return page === undefined ? c : { ...c, page };
  });
}
