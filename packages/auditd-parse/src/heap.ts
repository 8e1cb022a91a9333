import { setFlagsFromString } from "node:v8";

/**
 * For the plain parse (events as NDJSON and the other event formats): V8 lets the old generation grow a fixed
 * 8 MB past what the last full GC kept before it collects, whatever --heap-growing-percent says. Starting the
 * incremental marking at 35% of that headroom instead of near its end keeps peak RSS ~4.5 MB lower on logs with
 * many events without EOE (issue 23: 70 -> 66 MB at 40% on the 100 MiB corpus log, 35% another -0.6 to -0.75
 * on (b) and (c)) at no CPU measurable on a shared machine (within +-2%; 30% was +3-4%), since its live heap
 * is small (~6 MB, mostly code). Not for sessions, report, net or detect: their live heap is larger
 * (open sessions, rules), so marking it that much more often cost sessions +16% CPU for -6 MB it does not need.
 * V8 reads the flag at every allocation-limit check, so setting it once the command is known works.
 */
export function markEarly(): void {
  setFlagsFromString("--incremental-marking-hard-trigger=35");
}
