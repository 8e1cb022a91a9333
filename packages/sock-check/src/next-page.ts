/** A GraphQL connection's PageInfo, as GitHub's and GitLab's schemas define it (endCursor is nullable in both). */
export interface PageInfo {
  hasNextPage: boolean;
  endCursor?: string | null;
}

/** A connection whose next page cannot be read: what was read of it is not all of it. */
export class UnreadablePage extends Error {}

/**
 * The cursor of the page after this one, or null when this is the last. A page that says more follow but gives
 * no cursor, or no pageInfo at all (both schemas make it non-null), is an incomplete answer, never the end of the
 * list: read as the end, a review requesting changes or a failing check on the next page was never seen and the
 * change passed (T31 #1).
 */
export function nextCursor(pageInfo: PageInfo | null | undefined, what: string, provider: string): string | null {
  if (pageInfo === null || pageInfo === undefined) throw new UnreadablePage(`${provider} did not say whether ${what} go on (no pageInfo)`);
  if (pageInfo.hasNextPage !== true) return null;
  if (typeof pageInfo.endCursor !== "string" || pageInfo.endCursor === "")
    throw new UnreadablePage(`${provider} says ${what} go on but gives no cursor to read them`);
  return pageInfo.endCursor;
}

/**
 * Walks one connection's pages with a bound: GitHub and GitLab hand out a new cursor for each page, so a cursor
 * already read, or more pages than the list can fill, is an API (or a caching proxy ignoring the POST body) that
 * would be followed forever (T65 N1: 782 requests in 20 s). Either is an incomplete answer, never the end.
 */
export class CursorTrail {
  readonly #seen = new Set<string>();
  #pages = 0;

  constructor(
    private readonly what: string,
    private readonly provider: string,
    /** The most pages the list can take; a further one is refused, naming this bound. */
    private readonly maxPages: number,
    /** Why no more pages can be right, said when one more is offered. */
    private readonly bound = `more than sock-check reads`,
  ) {}

  /** The cursor of the page after the one just read, or null when it was the last (see nextCursor). */
  next(pageInfo: PageInfo | null | undefined): string | null {
    const cursor = nextCursor(pageInfo, this.what, this.provider);
    this.#pages++;
    if (cursor === null) return null;
    if (this.#seen.has(cursor))
      throw new UnreadablePage(`${this.provider} gave the cursor of a page of ${this.what} already read, so the list would never end`);
    if (this.#pages >= this.maxPages)
      throw new UnreadablePage(
        `${this.provider} says ${this.what} go on past ${this.maxPages} page${this.maxPages === 1 ? "" : "s"}, ${this.bound}`,
      );
    this.#seen.add(cursor);
    return cursor;
  }
}
