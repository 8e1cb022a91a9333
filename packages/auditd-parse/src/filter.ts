import { UsageError } from "@opsguard/core/errors";
import { parseIsoTime } from "@opsguard/core/iso-time";
import { isSyscallName, syscallName } from "./decode";
import type { AuditEvent, FieldValue } from "./event";
import type { IdNames } from "./ids";
import { PARTS_REMEMBERED, partKey } from "./parts";
import { recordTypeOf } from "./record-types";
import { Remembered } from "./remembered";

export interface FilterOptions {
  types?: string[];
  users?: string[];
  /** uid, auid, gid each on its own (names or numbers), unlike `users` (auid or uid). */
  uids?: string[];
  auids?: string[];
  gids?: string[];
  pids?: string[];
  ppids?: string[];
  comms?: string[];
  exes?: string[];
  /** Any PATH record's name. */
  files?: string[];
  nodes?: string[];
  /** Serial numbers or whole ids (sec.ms:serial). */
  events?: string[];
  /** Any record's terminal= or tty=. */
  terminals?: string[];
  keys?: string[];
  syscalls?: string[];
  sinceMs?: number;
  untilMs?: number;
  success?: boolean;
}

/**
 * A predicate for the given filters (all must match; a list matches when any entry does), or undefined.
 * Numeric users and syscalls are matched through the same names the events carry.
 */
export function eventFilter(
  o: FilterOptions,
  ids: IdNames,
  onMatchedAcrossParts?: (event: AuditEvent) => void,
): ((event: AuditEvent) => boolean) | undefined {
  const tests: Array<(e: AuditEvent) => boolean> = [];
  if (o.types?.length) {
    const types = new Set(o.types.map(typeOption));
    tests.push((e) => e.types.some((t) => types.has(t)));
  }
  if (o.users?.length) {
    // a number matches the number the log holds (raw), a name the name the event shows: an ENRICHED log's own names
    // (AUID="alice") are not this host's, so a number read through this host's passwd missed them (T34 #1)
    const users = new Set(o.users.map(idOption));
    // an acct= is a name the login named: a number is read as this host's name for it
    const accounts = new Set([...users].flatMap((u) => (/^\d+$/.test(u) ? [u, ids.user(u)] : [u])));
    tests.push(
      (e) =>
        e.records.some((r) => USER_FIELDS.some((name) => matchesField(r.fields[name], r.raw?.[name], users))) ||
        // a login attempt before any auid is set (a failed login: uid is sshd's root) is the account it named (T23 #8):
        // acct="alice", or id=1000 as sshd logs an existing account (T35 N9)
        ((e.auid === undefined || e.auid === "unset") &&
          e.records.some((r) => matchesField(r.fields.acct, r.raw?.acct, accounts) || matchesField(r.fields.id, r.raw?.id, accounts))),
    );
  }
  // a pre-3.14 kernel's LOGIN names the login's auid `new auid=` (read as new-auid), as ausearch -ua matches it
  for (const [field, values, names] of [
    ["uid", o.uids, ["uid"]],
    ["auid", o.auids, ["auid", "new-auid"]],
    ["gid", o.gids, ["gid"]],
  ] as const) {
    if (!values?.length) continue;
    const wanted = new Set(
      values.map(idOption).flatMap((v) => (/^\d+$/.test(v) ? [v, field === "gid" ? ids.group(v) : ids.user(v)] : [v])),
    );
    tests.push((e) => e.records.some((r) => names.some((name) => matchesField(r.fields[name], r.raw?.[name], wanted))));
  }
  for (const [values, value] of [
    [o.pids, (e: AuditEvent) => e.pid],
    [o.ppids, (e: AuditEvent) => e.ppid],
    [o.comms, (e: AuditEvent) => e.comm],
    [o.exes, (e: AuditEvent) => e.exe],
    [o.nodes, (e: AuditEvent) => e.node],
  ] as const) {
    if (!values?.length) continue;
    const wanted = new Set(values);
    tests.push((e) => {
      const v = value(e);
      return v !== undefined && wanted.has(v);
    });
  }
  if (o.files?.length) {
    const wanted = new Set(o.files);
    tests.push((e) => e.records.some((r) => r.type === "PATH" && matchesField(r.fields.name, undefined, wanted)));
  }
  if (o.terminals?.length) {
    const wanted = new Set(o.terminals);
    tests.push((e) =>
      e.records.some((r) => matchesField(r.fields.terminal, undefined, wanted) || matchesField(r.fields.tty, undefined, wanted)),
    );
  }
  if (o.events?.length) {
    const wanted = new Set(o.events.map(eventOption));
    tests.push((e) => e.id !== null && (wanted.has(e.id) || wanted.has(String(e.serial))));
  }
  if (o.keys?.length) {
    const keys = new Set(o.keys);
    tests.push((e) => e.keys?.some((k) => keys.has(k)) ?? false);
  }
  if (o.syscalls?.length) {
    const names = o.syscalls.map(syscallOption);
    tests.push((e) => {
      const name = e.syscall;
      if (name === undefined) return false;
      return names.some((s) => s === name || (/^\d+$/.test(s) && syscallName(e.arch, s) === name));
    });
  }
  const { sinceMs, untilMs, success } = o;
  if (sinceMs !== undefined) tests.push((e) => e.time !== null && Date.parse(e.time) >= sinceMs);
  if (untilMs !== undefined) tests.push((e) => e.time !== null && Date.parse(e.time) < untilMs);
  if (success !== undefined) tests.push((e) => e.success === success);
  if (tests.length === 0) return undefined;
  return keepingParts(tests, onMatchedAcrossParts);
}

/**
 * The filter (all tests must match), but an event written in parts (AuditEvent.part) is judged as one: its later
 * parts hold only the rest of its records (EXECVE, PATH …), not the SYSCALL with its key, comm, uid and the like, so
 * `--key exec` dropped 92 of a 1.2 MB command line's 600 arguments unsaid (T34 #3). A part is let through once the
 * tests its parts so far met, together, are all of them: the parts after a first one let through all are; and a
 * later part that completes them — `--user 1000 --file /tmp/evil/cc`, the user in the first part, the PATH in a later
 * one (the kernel logs PATH after every EXECVE record) — is let through, and so is one that matches on its own,
 * though the parts before it were already passed over (a stream cannot take them back): `onMatchedAcrossParts` is
 * told, to say so (T36 A1: matched nothing, exit 0). Called on a part again (detect's early match, then its
 * completion), it answers the same.
 */
function keepingParts(
  tests: ReadonlyArray<(e: AuditEvent) => boolean>,
  onMatchedAcrossParts: ((event: AuditEvent) => void) | undefined,
): (e: AuditEvent) => boolean {
  // one bit a test: there are fewer kinds of filter than 31
  const all = (1 << tests.length) - 1;
  // events in parts: the tests their parts met (bits), whether a part was let through, whether told
  const seen = new Remembered<{ met: number; through: boolean; told: boolean }>(PARTS_REMEMBERED);
  return (e) => {
    if (e.part === undefined) return tests.every((t) => t(e));
    const key = partKey(e);
    let parts = seen.get(key);
    if (parts === undefined) {
      parts = { met: 0, through: false, told: false };
      seen.add(key, parts);
    }
    if (parts.through && e.part > 1) return true;
    for (let i = 0; i < tests.length; i++) if (tests[i]!(e)) parts.met |= 1 << i;
    if (parts.met !== all) return false;
    if (!parts.through && e.part > 1 && !parts.told) {
      parts.told = true;
      onMatchedAcrossParts?.(e);
    }
    parts.through = true;
    return true;
  };
}

/**
 * A user or group given as a number, as the log writes it: `01000`, `+1000`, `1000.0` and `0x3e8` are 1000, as
 * ausearch reads them (T35 N9, T36 A4); anything else is a name.
 */
function idOption(value: string): string {
  const text = value.trim();
  if (/^\+?\d+(\.0*)?$/.test(text)) return String(Number.parseInt(text.replace(/^\+/, ""), 10));
  if (/^0x[0-9a-f]+$/i.test(text)) return String(Number.parseInt(text, 16));
  return value;
}

/** The fields `--user` reads: the login user and the user (as ausearch -ua reads auid and uid). */
const USER_FIELDS = ["auid", "uid", "new-auid"] as const;

/** A field's value (or its logged number) is one of `wanted`. */
function matchesField(value: FieldValue | undefined, raw: string | undefined, wanted: ReadonlySet<string>): boolean {
  return (typeof value === "string" && wanted.has(value)) || (raw !== undefined && wanted.has(raw));
}

/** Filters that read records, not only the event's summary: the parser must build `records` for them. */
export function needsRecords(o: FilterOptions): boolean {
  return [o.users, o.uids, o.auids, o.gids, o.files, o.terminals].some((list) => (list?.length ?? 0) > 0);
}

/** A serial (`1234`) or an event id (`1700000000.123:1234`), as ausearch -a takes them. */
function eventOption(value: string): string {
  if (/^\d+$/.test(value) || /^\d+\.\d+:\d+$/.test(value)) return value;
  throw new UsageError(`--event ${JSON.stringify(value)} is not an event serial or id`, {
    hint: "use a serial number such as 1234 or an id such as 1700000000.123:1234",
  });
}

/** A syscall number, or a name some syscall table has: a typo is a usage error, not an empty result. */
function syscallOption(value: string): string {
  if (/^\d+$/.test(value) || isSyscallName(value)) return value;
  throw new UsageError(`--syscall ${JSON.stringify(value)} is not a syscall name or number`, {
    hint: "use a name such as execve, openat, connect, or a number such as 59",
  });
}

/** A process id for --pid/--ppid: a number, as logged; a typo is a usage error, not an empty result (T34 #13). */
export function pidOption(value: string, flag: string): string {
  if (/^\d+$/.test(value)) return value;
  throw new UsageError(`${flag} ${JSON.stringify(value)} is not a process id`, { hint: "use a number such as 1234" });
}

function typeOption(value: string): string {
  const type = recordTypeOf(value);
  if (type === undefined) {
    throw new UsageError(`--type ${JSON.stringify(value)} is not an audit record type`, {
      hint: "use a name such as SYSCALL, EXECVE, USER_LOGIN, AVC, or a number such as 1300",
    });
  }
  return type;
}

/**
 * ausearch's time keywords, in local time as ausearch reads them: now, recent (10 minutes ago), today and
 * yesterday (midnight), this-week (the last Sunday, the C locale's first day), this-month, this-year.
 */
function keywordTime(value: string, nowMs: number): number | undefined {
  const d = new Date(nowMs);
  const midnight = (days: number) => new Date(d.getFullYear(), d.getMonth(), d.getDate() - days).getTime();
  switch (value) {
    case "now":
      return nowMs;
    case "recent":
      return nowMs - 10 * 60_000;
    case "today":
      return midnight(0);
    case "yesterday":
      return midnight(1);
    case "this-week":
      return midnight(d.getDay());
    case "this-month":
      return new Date(d.getFullYear(), d.getMonth(), 1).getTime();
    case "this-year":
      return new Date(d.getFullYear(), 0, 1).getTime();
    default:
      return undefined;
  }
}

/**
 * `--since`/`--until`: ISO 8601, epoch seconds, an age such as 15m, 2h, 7d (before now), or one of
 * ausearch's keywords (now, recent, today, yesterday, this-week, this-month, this-year).
 */
export function parseTime(text: string, flag: string, nowMs = Date.now()): number {
  // Spaces around it (a quoted shell variable) are no part of the time.
  const value = text.trim();
  const keyword = keywordTime(value, nowMs);
  if (keyword !== undefined) return keyword;
  const age = /^(\d+)([smhd])$/.exec(value);
  const ms = age
    ? nowMs - Number(age[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[age[2] as "s" | "m" | "h" | "d"]
    : /^\d+(\.\d+)?$/.test(value)
      ? Math.round(Number(value) * 1000)
      : parseIsoTime(value);
  // beyond ±8.64e15 ms a JavaScript date (and so an event time) does not exist
  if (Number.isNaN(ms) || Math.abs(ms) > 8.64e15) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a time`, {
      hint: "use ISO 8601 (2024-05-01T10:00:00Z), epoch seconds, an age like 15m, 2h, 7d, or today, yesterday, this-week, this-month, this-year, recent, now",
    });
  }
  return ms;
}

export function parseSuccess(value: string): boolean {
  if (value === "yes") return true;
  if (value === "no") return false;
  throw new UsageError(`--success ${JSON.stringify(value)} is not yes or no`, { hint: "use --success yes or --success no" });
}

/** "a,b" and repeated flags → one list. */
export function listOption(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter(Boolean)];
}
