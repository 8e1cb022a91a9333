/**
 * The ISO 8601 forms a time flag takes: a month or a calendar date, and a time with or without seconds, fractions and
 * zone ("T" or a space between). Date.parse alone reads far more: V8 takes "secret-12" as December 2001, "x 2020" as
 * 2020, "0" as 2000 and "2016-001" as January, and rolls "2016-02-30" over to March, so a typo would be taken
 * silently instead of failing as a usage error.
 */
const ISO_8601 = /^(\d{4})-(\d{2})(?:-(\d{2})([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?$/i;

/** Epoch ms of an ISO 8601 form above whose month and day exist (2016-02-30 does not); NaN for anything else. */
export function parseIsoTime(value: string): number {
  const m = ISO_8601.exec(value);
  if (!m) return Number.NaN;
  const month = Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  // Day 0 of the next month is the last day of this one.
  const days = new Date(Date.UTC(Number(m[1]), month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days) return Number.NaN;
  return Date.parse(value);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * The UTC offset (ms) of the IANA time zone `zone` at the instant `t`, from Intl: no time zone database of our own.
 * Throws a RangeError for a zone Intl does not know.
 */
export function zoneOffsetMs(zone: string, t: number): number {
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    zoneFormats.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  const wall = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return wall - Math.floor(t / 1000) * 1000;
}
