import { setFlagsFromString } from "node:v8";

/**
 * The flag the npm bin starts node with (package.json opsguard.nodeFlags, scripts/build.mjs): TurboFan then
 * compiles on the main thread, and the malloc arenas of V8's four background threads no longer each keep about
 * the largest job they ran (3-4 MB of peak RSS, issue 23). V8 reads it only when it starts.
 */
const SYNCHRONOUS_COMPILES = "--no-concurrent-recompilation";

/**
 * For the plain parse (events as NDJSON and the other event formats): V8 lets the old generation grow a fixed
 * 8 MB past what the last full GC kept before it collects, whatever --heap-growing-percent says. Starting the
 * incremental marking early in that headroom instead of near its end keeps peak RSS ~4.5 MB lower on logs with
 * many events without EOE (issue 23: 70 -> 66 MB at 40% on the 100 MiB corpus log, 35% another -0.6 to -0.75
 * on (b) and (c)). At 35% it costs no CPU measurable on a shared machine (within +-2%; 30% was +3-4%), since
 * its live heap is small (~6 MB, mostly code). Started with synchronous compiles, the parse spends 3-8% less
 * CPU, which pays for marking at 25%: another -0.7 to -1 MB on the corpus logs, CPU still at or under that of
 * a start without the flag (interleaved; docs/benchmark-history.md, Round 18). Not for sessions, report, net or detect: their
 * live heap is larger (open sessions, rules), so marking it that much more often cost sessions +16% CPU for
 * -6 MB it does not need. V8 reads the flag at every allocation-limit check, so setting it once the command
 * is known works.
 */
export function markEarly(execArgv: readonly string[] = process.execArgv): void {
  const percent = execArgv.includes(SYNCHRONOUS_COMPILES) ? 25 : 35;
  setFlagsFromString(`--incremental-marking-hard-trigger=${percent}`);
}
