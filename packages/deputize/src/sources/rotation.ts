import {
  ConfigError,
  decodeUtf8,
  describeRefusal,
  formatIssues,
  NoInputError,
  zoneOffsetMs as offsetIn,
  readRegularFileSync,
} from "@opsguard/core";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { EMAIL_PATTERN, type Person, person, type ScheduleOnCall, UID_PATTERN } from "../people";
import type { Window } from "../window";
import type { ScheduleShifts, Shift, Source } from "./source";

/** Years of turns for a large team fit in a few hundred KiB; more is a wrong path, not a rotation. */
const MAX_ROTATION_BYTES = 16 * 1024 * 1024;

// 254: the longest address SMTP allows; anything longer is a mistake, not a person.
// A member is a valid e-mail or a valid uid, nothing else: a newline or a filter character in a
// name would otherwise forge output lines or widen a directory search.
const email = z.string().max(254).regex(EMAIL_PATTERN, { message: "not a valid e-mail address" });
const uid = z.string().max(254).regex(UID_PATTERN, { message: "not a valid uid (letters, digits, '.', '_', '-')" });
const identity = z
  .string()
  .max(254)
  .refine((v) => (v.includes("@") ? email : uid).safeParse(v).success, {
    message: "neither a valid e-mail address nor a valid uid",
  });
const memberSchema = z.union([
  identity,
  z.strictObject({
    email: email.optional(),
    uid: uid.optional(),
    name: z
      .string()
      .max(254)
      .regex(/^[^\p{Cc}]*$/u, "control characters")
      .optional(),
  }),
]);

const localDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?$/, {
  message: 'expected "YYYY-MM-DDTHH:MM" (local time in the schedule\'s timeZone) or with an offset',
});

const scheduleSchema = z.strictObject({
  timeZone: z.string().default("UTC"),
  /** Local date of the first member's first shift. */
  start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'expected "YYYY-MM-DD"' }),
  /** Local hand-off time. */
  handoff: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'expected "HH:MM"' })
    .default("09:00"),
  rotationDays: z.number().int().positive().max(366).default(7),
  members: z.array(memberSchema).min(1, { message: "list at least one member" }),
  overrides: z.array(z.strictObject({ start: localDateTime, end: localDateTime, member: memberSchema })).default([]),
});

export const rotationFileSchema = z.strictObject({ schedules: z.record(z.string().min(1), scheduleSchema) });
export type RotationFile = z.output<typeof rotationFileSchema>;
type RotationSchedule = z.output<typeof scheduleSchema>;

/** A local YAML rotation: members take turns of rotationDays, handing off at a local time; dated overrides win. */
export class RotationSource implements Source {
  readonly name: string;
  readonly #file: string;
  readonly #only: readonly string[] | undefined;

  constructor(options: { name: string; file: string; schedules?: readonly string[] | undefined }) {
    this.name = options.name;
    this.#file = options.file;
    this.#only = options.schedules;
  }

  async onCall(window: Window): Promise<ScheduleOnCall[]> {
    return (await this.#each()).map(([name, schedule]) => ({
      source: this.name,
      schedule: name,
      people: onCallInWindow(schedule, window, `${this.#file}: schedules.${name}`),
    }));
  }

  async shifts(window: Window): Promise<ScheduleShifts[]> {
    return (await this.#each()).map(([name, schedule]) => ({
      source: this.name,
      schedule: name,
      shifts: shiftsInWindow(schedule, window, `${this.#file}: schedules.${name}`),
    }));
  }

  async #each(): Promise<Array<[string, RotationSchedule]>> {
    const rotation = await loadRotationFile(this.#file);
    return (this.#only ?? Object.keys(rotation.schedules)).map((name) => {
      const schedule = rotation.schedules[name];
      if (!schedule) throw new ConfigError(`rotation file ${this.#file} has no schedule "${name}"`, { hint: "check the schedule names" });
      return [name, schedule];
    });
  }
}

export async function loadRotationFile(file: string): Promise<RotationFile> {
  // Refused without blocking: a FIFO nobody writes would hang the run (and cron's next ones behind its lock).
  const read = readRegularFileSync(file, MAX_ROTATION_BYTES);
  if ("refused" in read) {
    const { refused } = read;
    const problem =
      refused.kind === "unreadable"
        ? `cannot read rotation file ${file} (${refused.code})`
        : `rotation file ${file} ${describeRefusal(refused, MAX_ROTATION_BYTES)}`;
    throw new NoInputError(problem, { hint: "check the path in sources[].file" });
  }
  const text = decodeUtf8(read.bytes, `rotation file ${file}`);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`cannot parse rotation file ${file}: ${(error as Error).message.split("\n")[0]}`, {
      hint: "fix the YAML syntax",
    });
  }
  const parsed = rotationFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid rotation file ${file}: ${formatIssues(parsed.error)}`);
  for (const [name, schedule] of Object.entries(parsed.data.schedules)) {
    zoneOffsetMs(schedule.timeZone, Date.now(), `${file}: schedules.${name}`);
    schedule.overrides.forEach((o, i) => {
      const zone = schedule.timeZone;
      const [start, end] = [parseLocalTime(o.start, zone), parseLocalTime(o.end, zone)];
      if (end.instant > start.instant) return;
      // An override that ends before it starts would silently never apply: the swap the team planned would not happen.
      const where = `invalid rotation file ${file}: schedules.${name}.overrides[${i}]`;
      // Written in order but emptied by a DST gap: name the time the clocks skip, not "end is not after start".
      const skipped = start.skipped ? (["start", o.start, start] as const) : end.skipped ? (["end", o.end, end] as const) : undefined;
      if (skipped && writtenInOrder(o.start, o.end)) {
        const [which, text, time] = skipped;
        throw new ConfigError(
          `${where}: ${which} ${text} does not exist in ${zone} (the clocks jump over it, e.g. into daylight saving time; read as ${localText(time.instant, zone)}), so the override from ${o.start} to ${o.end} would last no time`,
          { hint: "give times outside the skipped hour" },
        );
      }
      throw new ConfigError(`${where}: end ${o.end} is not after start ${o.start}`, { hint: "swap or fix the dates" });
    });
  }
  return parsed.data;
}

/** Everyone on call at any moment of the window (a zero-length window is one instant). */
export function onCallInWindow(schedule: RotationSchedule, window: Window, where = "rotation"): Person[] {
  const members = schedule.members.map((m) => toPerson(m, where));
  const overrides = schedule.overrides.map((o) => ({
    start: parseLocal(o.start, schedule.timeZone),
    end: parseLocal(o.end, schedule.timeZone),
    member: toPerson(o.member, where),
  }));
  const since = window.since.getTime();
  const until = window.until.getTime();
  // Who is on call only changes at a shift boundary or an override edge: sample each piece once.
  const points = new Set<number>([since]);
  for (const o of overrides) for (const t of [o.start, o.end]) if (t > since && t <= until) points.add(t);
  const zone = schedule.timeZone;
  const first = shiftIndexAt(schedule, since);
  const last = shiftIndexAt(schedule, until);
  for (let k = first + 1; k <= Math.min(last, first + members.length); k++) points.add(shiftStart(schedule, k, zone));
  const onCall = new Map<string, Person>();
  for (const t of [...points].filter((p) => p <= until)) {
    const covering = overrides.filter((o) => o.start <= t && t < o.end);
    const k = shiftIndexAt(schedule, t);
    // Before the rotation's first shift nobody is on call from it (only an override can be).
    const atT = covering.length > 0 ? covering.map((o) => o.member) : k < 0 ? [] : [members[k % members.length] as Person];
    for (const p of atT) if (!onCall.has(p.key)) onCall.set(p.key, p);
  }
  return [...onCall.values()];
}

/**
 * Who is on call when, within the window: the rotation's turns cut by the overrides, each stretch
 * running from its real start to its real end (which may lie outside the window).
 */
export function shiftsInWindow(schedule: RotationSchedule, window: Window, where = "rotation"): Shift[] {
  const members = schedule.members.map((m) => toPerson(m, where));
  const overrides = schedule.overrides.map((o) => ({
    start: parseLocal(o.start, schedule.timeZone),
    end: parseLocal(o.end, schedule.timeZone),
    member: toPerson(o.member, where),
  }));
  const zone = schedule.timeZone;
  const since = window.since.getTime();
  const until = window.until.getTime();
  const first = shiftIndexAt(schedule, since);
  const last = shiftIndexAt(schedule, until);
  // Every instant where who is on call may change, from the shift holding `since` to the one after `until`.
  const edges = new Set<number>();
  for (let k = Math.max(first, 0); k <= last + 1; k++) edges.add(shiftStart(schedule, k, zone));
  if (first < 0) edges.add(shiftStart(schedule, 0, zone));
  for (const o of overrides) {
    edges.add(o.start);
    edges.add(o.end);
  }
  const sorted = [...edges].sort((a, b) => a - b);
  const who = (t: number): Person | undefined => {
    const covering = overrides.find((o) => o.start <= t && t < o.end);
    if (covering) return covering.member;
    const k = shiftIndexAt(schedule, t);
    return k < 0 ? undefined : members[k % members.length];
  };
  const shifts: Shift[] = [];
  for (let i = 0; i < sorted.length - 1; i++) {
    const [start, end] = [sorted[i] as number, sorted[i + 1] as number];
    const p = who(start);
    if (!p) continue;
    const previous = shifts.at(-1);
    // A turn cut by nothing but an edge that changed nobody is one shift.
    if (previous && previous.person.key === p.key && previous.end?.getTime() === start) previous.end = new Date(end);
    else shifts.push({ person: p, start: new Date(start), end: new Date(end) });
  }
  return shifts.filter((s) => (s.start?.getTime() ?? 0) <= until && (s.end?.getTime() ?? Infinity) > since);
}

function toPerson(member: z.output<typeof memberSchema>, where: string): Person {
  if (typeof member === "string") return member.includes("@") ? person({ email: member }) : person({ uid: member });
  if (!member.email && !member.uid) throw new ConfigError(`${where}: a member needs an email or a uid`);
  return person(member);
}

const DAY = 86_400_000;

/** The index of the shift that covers instant t (shift 0 starts at start + handoff, local time). */
function shiftIndexAt(schedule: RotationSchedule, t: number): number {
  const startDay = Date.parse(`${schedule.start}T00:00:00Z`) / DAY;
  const offset = zoneOffsetMs(schedule.timeZone, t);
  const localDay = Math.floor((t + offset) / DAY);
  let k = Math.floor((localDay - startDay) / schedule.rotationDays);
  // A shift starts at the hand-off time, not at midnight: before it, the previous shift still runs.
  if (t < shiftStart(schedule, k, schedule.timeZone)) k--;
  return k;
}

function shiftStart(schedule: RotationSchedule, k: number, zone: string): number {
  const startDay = Date.parse(`${schedule.start}T00:00:00Z`) / DAY;
  const [hh, mm] = schedule.handoff.split(":").map(Number) as [number, number];
  return localToUtc((startDay + k * schedule.rotationDays) * DAY + (hh * 60 + mm) * 60_000, zone);
}

/** "2026-11-23T09:00" in the zone (or with its own offset) → epoch ms. */
function parseLocal(text: string, zone: string): number {
  return parseLocalTime(text, zone).instant;
}

function parseLocalTime(text: string, zone: string): LocalTime {
  const iso = text.replace(" ", "T");
  if (/(Z|[+-]\d{2}:\d{2})$/.test(iso)) return { instant: Date.parse(iso), skipped: false };
  return resolveLocal(Date.parse(`${iso.length === 16 ? `${iso}:00` : iso}Z`), zone);
}

/** The instant of a local time, and whether the zone's clocks skip that local time (then it was moved forward). */
interface LocalTime {
  instant: number;
  skipped: boolean;
}

/** Wall-clock ms (as if UTC) in a zone → the real instant (see resolveLocal). */
function localToUtc(wallMs: number, zone: string): number {
  return resolveLocal(wallMs, zone).instant;
}

/**
 * One rule for the local times a DST change makes ambiguous, hand-offs and overrides alike: RFC 5545's
 * (section 3.3.5), which is also JavaScript Temporal's "compatible" disambiguation. A time the clocks skip
 * (02:30 on a night that jumps from 02:00 to 03:00) is moved forward by the gap's length (03:30); a time
 * they repeat (01:30 on a night that goes back from 02:00 to 01:00) is the first, earlier, of its two instants.
 */
function resolveLocal(wallMs: number, zone: string): LocalTime {
  // The offsets in force a day before and a day after: a zone changes its offset at most once in between.
  const before = zoneOffsetMs(zone, wallMs - DAY);
  const after = zoneOffsetMs(zone, wallMs + DAY);
  const valid = [before, after].map((offset) => wallMs - offset).filter((t) => t + zoneOffsetMs(zone, t) === wallMs);
  if (valid.length > 0) return { instant: Math.min(...valid), skipped: false };
  // In the gap: read with the offset from before the change, it lands as far after the gap as it was into it.
  return { instant: wallMs - before, skipped: true };
}

/** Whether two override times read as start before end as written (local ones: as wall-clock times). */
function writtenInOrder(start: string, end: string): boolean {
  const wall = (text: string) => Date.parse(`${text.replace(" ", "T")}${/(Z|[+-]\d{2}:\d{2})$/.test(text) ? "" : "Z"}`);
  return wall(start) < wall(end);
}

/** An instant as the zone's local "YYYY-MM-DDTHH:MM", for messages. */
function localText(t: number, zone: string): string {
  return new Date(t + zoneOffsetMs(zone, t)).toISOString().slice(0, 16);
}

/** The zone's UTC offset at instant t (core's zoneOffsetMs); a zone Intl does not know is a config error naming `where`. */
function zoneOffsetMs(zone: string, t: number, where?: string): number {
  try {
    return offsetIn(zone, t);
  } catch {
    throw new ConfigError(`${where ?? "rotation"}: unknown time zone "${zone}"`, { hint: 'use an IANA name such as "Europe/Berlin"' });
  }
}
