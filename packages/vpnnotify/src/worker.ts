import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describeError, type SpoolEntry } from "@opsguard/core";
import { isLoginJob, type LoginJob, type SpoolJob } from "./alert";
import type { VpnnotifyConfig } from "./config";
import { refuseOnStop, SpoolRun, type StopSignal } from "./drain";
import { countEntries } from "./entry-counts";
import type { VpnEvent } from "./event";
import { type FlushResult, leaseFor, type Notifier, urgency } from "./notify";
import { clearPlantedDrainLock, clearStaleTemps, clearTakeoverTokens, ownsDrainLock, releaseOwnDrainLock } from "./spool-guard";

/** How often the idle worker looks for new logins in the spool directory (a readdir). */
const POLL_MS = 50;
/**
 * How often the worker reads the queued logins OpenVPN waits on that no lane has taken yet, so that each is answered
 * as soon as Slack is shown to accept posts (verdicts.ts), not when its turn in a storm's queue comes.
 */
const WAITING_SCAN_MS = 200;

/**
 * The per-host worker: drains the spool, `spool.concurrency` alerts at a time, holding the drain
 * lock so that hooks see it alive and start no other, and stays `spool.idleSeconds` after the last
 * alert for the next logins of a storm. After letting the lock go it looks once more: a login
 * queued in that moment saw the lock still held, so nobody else would pick it up.
 *
 * SIGTERM or SIGINT stops it at once (`stoppedBy`): it takes no further alert, hands the ones under
 * way back (SpoolRun), lets its drain lock go and says so in one line.
 */
export async function workSpool(n: Notifier, config: VpnnotifyConfig): Promise<FlushResult & { stoppedBy?: StopSignal }> {
  // The hook that started this worker claimed the start (hook.ts); the drain lock, taken next,
  // now tells the others that a worker runs.
  await rm(join(n.spool.dir, "worker.starting"), { force: true }).catch(() => {});
  await clearTakeoverTokens(n.spool.dir);
  /** The spool's counts (its delivered is every entry done with: the run's `kinds` says what each was). */
  const total = { busy: false, failed: 0, gaveUp: 0 };
  const run = new SpoolRun(n, "the worker");
  const options = {
    leaseUntil: (entry: SpoolEntry<SpoolJob>) => leaseFor(entry, n),
    concurrency: config.spool.concurrency,
    idleMs: config.spool.idleSeconds * 1000,
    pollMs: POLL_MS,
    rank: urgency,
    stop: run.stop,
  };
  let draining = true;
  const scanning = watchWaitingLogins(n, () => draining && !run.stoppedBy);
  await run.untilSignal(async () => {
    while (!run.stoppedBy) {
      await clearPlantedDrainLock(n.spool.dir, n.log);
      await clearStaleTemps(n.spool.dir, n.log);
      const result = await n.spool.work(run.deliver, options);
      total.failed += result.failed;
      total.gaveUp += result.gaveUp;
      if (result.busy) {
        total.busy = true;
        break;
      }
      if (!(await n.spool.hasDue().catch(() => false))) break;
    }
  });
  draining = false;
  await scanning;
  // Ended idle (not stopped): the next worker, started by the next login, judges Slack from where this one left it.
  if (!run.stoppedBy) n.verdicts.handOver();
  // The process ends once this returns: the refusals Slack gave must be on disk for the next worker first.
  await n.verdicts.saved();
  if (run.stoppedBy) {
    const handed = await run.handBack();
    const answeredQueued = await answerQueued(n, run.stoppedBy);
    await releaseOwnDrainLock(n.spool.dir);
    const counts = countEntries(total, run.kinds);
    // The one line a stop leaves: with every login OpenVPN waited on that it refused (under way and queued), so the
    // "answered 0" lines before it add up to it (T54 read two stops' lines as one stop's).
    const refused = run.refusedAtStop + answeredQueued;
    n.log.warn(`worker stopped by ${run.stoppedBy}`, {
      delivered: counts.delivered,
      suppressed: counts.suppressed,
      disconnects: counts.disconnects,
      handedBack: handed,
      refused: refused || undefined,
    });
    return { ...counts, stoppedBy: run.stoppedBy };
  }
  const counts = countEntries(total, run.kinds);
  // One line per worker run: how much a storm it served, and its memory at the peak.
  if (!counts.busy || counts.delivered + counts.suppressed + counts.disconnects + counts.failed > 0) {
    n.log.info("worker done", {
      delivered: counts.delivered,
      suppressed: counts.suppressed,
      disconnects: counts.disconnects,
      failed: counts.failed || undefined,
      gaveUp: counts.gaveUp || undefined,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    });
  }
  return counts;
}

/**
 * Registers each queued login OpenVPN waits on with the verdicts while this process drains the spool (holds its
 * lock: another worker's logins are that worker's to answer).
 */
async function watchWaitingLogins(n: Notifier, running: () => boolean): Promise<void> {
  while (running()) {
    if (await ownsDrainLock(n.spool.dir)) {
      // Read as the drain reads them (untrusted entries skipped): the answer's file is written to.
      for (const entry of await n.spool.list({ readOnly: true }).catch(() => [])) {
        const job = entry.payload;
        if (isLoginJob(job) && job.answer) n.verdicts.watch(entry.id, job.answer, job.login);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, WAITING_SCAN_MS));
  }
}

/**
 * A stopping worker (SIGTERM, SIGINT) answers every queued login OpenVPN still waits on, not only the ones under way
 * (handed back, answered there): left unanswered, each would stay "2" until the next worker or flush, or OpenVPN's
 * hand-window ran out, after `systemctl stop` with no new login (T50 N7). Each keeps its alert in the spool, recorded
 * as refused (refuseOnStop). Entries another process leases (a `--wait` hook's) are that process's. Returns how many
 * it answered 0.
 */
async function answerQueued(n: Notifier, signal: StopSignal): Promise<number> {
  const now = Date.now();
  let answered = 0;
  for (const entry of await n.spool.list({ readOnly: true }).catch(() => [])) {
    const answer = entry.payload.answer;
    if (!answer || entry.leaseUntil > now) continue;
    if (refuseOnStop(n, entry, answer, signal)) answered++;
    await n.spool.save(entry).catch((error: unknown) => {
      n.log.warn("cannot record a stopped worker's answer in the spool; the next worker answers it again", {
        id: entry.id,
        error: describeError(error),
      });
    });
  }
  return answered;
}

/** A hook's login as the spool keeps it until the worker gets to it; `answerBy` when OpenVPN waits on the verdict. */
export function queuedLogin(event: VpnEvent, answerBy?: number): LoginJob {
  const { deferredFile, ...login } = event;
  return { login, ...(deferredFile && answerBy !== undefined ? { answer: { file: deferredFile, by: answerBy } } : {}) };
}
