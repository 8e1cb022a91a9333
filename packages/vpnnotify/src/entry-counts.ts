import type { FlushResult } from "./notify";

/** What became of a spool entry (deliverEntry's answer): an alert sent, a login that needed none, a disconnect recorded, or a login given up on. */
export type EntryResult = "delivered" | "suppressed" | "ended" | "lost";

/**
 * The spool counts every entry it is done with as delivered: counted instead by what each was (sent,
 * needed nothing, a disconnect); a login given up on (done with, not kept for a retry) is a failure.
 */
export function countEntries(result: { busy: boolean; failed: number; gaveUp: number }, kinds: EntryResult[]): FlushResult {
  const count = (kind: EntryResult) => kinds.filter((k) => k === kind).length;
  return {
    busy: result.busy,
    delivered: count("delivered"),
    suppressed: count("suppressed"),
    disconnects: count("ended"),
    failed: result.failed + count("lost"),
    gaveUp: result.gaveUp,
  };
}
