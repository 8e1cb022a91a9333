import { parseText } from "../src/parser";
import { type Session, SessionTracker } from "../src/sessions";

/** auid and ses as the kernel writes "none": 2^32 − 1. */
export const UNSET = 4294967295;

const ids = { passwd: "/dev/null", group: "/dev/null" };

/** Sessions as written: during the input, then those still open at its end. */
export function sessionsOf(lines: string[]): Session[] {
  const out: Session[] = [];
  const tracker = new SessionTracker((s) => out.push(s));
  for (const e of parseText(`${lines.join("\n")}\n`, { ids, recordObjects: true }).events) tracker.add(e);
  tracker.flush();
  return out;
}
