import type { ScheduleOnCall } from "../people";
import type { Window } from "../window";

/** Where on-call people come from: one entry per configured schedule, in config order. */
export interface Source {
  readonly name: string;
  onCall(window: Window): Promise<ScheduleOnCall[]>;
}
