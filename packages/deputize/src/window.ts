/** The time range whose on-call people get access: now, widened by look-ahead and grace. */
export interface Window {
  since: Date;
  now: Date;
  until: Date;
}

export function accessWindow(now: Date, lookAheadMinutes: number, graceMinutes: number): Window {
  return {
    since: new Date(now.getTime() - graceMinutes * 60_000),
    now,
    until: new Date(now.getTime() + lookAheadMinutes * 60_000),
  };
}
