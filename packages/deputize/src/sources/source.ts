import type { Person, ScheduleOnCall } from "../people";
import type { Window } from "../window";

/** One stretch of one person on call: the times the source gives (null for a permanent on-call). */
export interface Shift {
  person: Person;
  start: Date | null;
  end: Date | null;
}

/** The shifts of one schedule that overlap a window, in start order. */
export interface ScheduleShifts {
  source: string;
  schedule: string;
  shifts: Shift[];
}

/** Where on-call people come from: one entry per configured schedule, in config order. */
export interface Source {
  readonly name: string;
  onCall(window: Window): Promise<ScheduleOnCall[]>;
  /** Who is on call when within the window (`deputize next`, the look-ahead DM). */
  shifts(window: Window): Promise<ScheduleShifts[]>;
}

/** Shifts by start time (a permanent on-call first), then by person. */
export function byStart(a: Shift, b: Shift): number {
  return (a.start?.getTime() ?? 0) - (b.start?.getTime() ?? 0) || a.person.key.localeCompare(b.person.key);
}
