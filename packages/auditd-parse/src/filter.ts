import { UsageError } from "@opsguard/core/errors";
import { syscallName } from "./decode";
import type { AuditEvent } from "./event";
import type { IdNames } from "./ids";
import { recordTypeOf } from "./record-types";

export interface FilterOptions {
  types?: string[];
  users?: string[];
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
export function eventFilter(o: FilterOptions, ids: IdNames): ((event: AuditEvent) => boolean) | undefined {
  const tests: Array<(e: AuditEvent) => boolean> = [];
  if (o.types?.length) {
    const types = new Set(o.types.map(typeOption));
    tests.push((e) => e.types.some((t) => types.has(t)));
  }
  if (o.users?.length) {
    const users = new Set(o.users.map((u) => (/^\d+$/.test(u) ? ids.user(u) : u)));
    tests.push((e) => (e.auid !== undefined && users.has(e.auid)) || (e.uid !== undefined && users.has(e.uid)));
  }
  if (o.keys?.length) {
    const keys = new Set(o.keys);
    tests.push((e) => e.keys?.some((k) => keys.has(k)) ?? false);
  }
  if (o.syscalls?.length) {
    const names = o.syscalls;
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
  return (e) => tests.every((t) => t(e));
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

/** `--since`/`--until`: ISO 8601, epoch seconds, or an age such as 15m, 2h, 7d (before now). */
export function parseTime(value: string, flag: string, nowMs = Date.now()): number {
  const age = /^(\d+)([smhd])$/.exec(value);
  const ms = age
    ? nowMs - Number(age[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[age[2] as "s" | "m" | "h" | "d"]
    : /^\d+(\.\d+)?$/.test(value)
      ? Math.round(Number(value) * 1000)
      : Date.parse(value);
  // beyond ±8.64e15 ms a JavaScript date (and so an event time) does not exist
  if (Number.isNaN(ms) || Math.abs(ms) > 8.64e15) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a time`, {
      hint: "use ISO 8601 (2024-05-01T10:00:00Z), epoch seconds, or an age like 15m, 2h, 7d",
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
