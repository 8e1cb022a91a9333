/**
 * ISO 8601 date-times as instants. GitHub's GraphQL `DateTime` is "An ISO-8601 encoded UTC date string"
 * (docs.github.com/graphql/reference/scalars#datetime) and GitLab's REST times are ISO 8601 too: written with an offset
 * (`11:00:00-05:00`) or milliseconds (`11:00:00.000Z`) they name the same instants as `16:00:00Z` and `11:00:00Z`, so
 * times are compared as instants, never as strings — as strings an approval 1.5 h after the merge sorted before it
 * (T53 F1, F4). A time without a zone is refused: it is local to whoever reads it.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** The instant (ms since the epoch) an ISO 8601 date-time with a zone names; undefined for none, or one no instant reads. */
export function instant(text: string | null | undefined): number | undefined {
  const match = typeof text === "string" ? ISO_8601.exec(text) : null;
  if (!match) return undefined;
  const ms = Date.parse(text as string);
  // Date.parse rolls a day past the month's end over (02-30 is 03-02): such a date is not one.
  const [year, month, day] = match.slice(1, 4).map(Number) as [number, number, number];
  if (!Number.isFinite(ms) || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  return ms;
}
