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
