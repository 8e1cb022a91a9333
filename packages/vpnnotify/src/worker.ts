import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { SpoolEntry } from "@opsguard/core";
import type { LoginJob, SpoolJob } from "./alert";
import type { VpnnotifyConfig } from "./config";
import type { VpnEvent } from "./event";
import { deliverEntry, type FlushResult, leaseFor, type Notifier, urgency } from "./notify";
import { clearPlantedDrainLock, clearTakeoverTokens } from "./spool-guard";

/** How often the idle worker looks for new logins in the spool directory (a readdir). */
const POLL_MS = 50;

/**
 * The per-host worker: drains the spool, `spool.concurrency` alerts at a time, holding the drain
 * lock so that hooks see it alive and start no other, and stays `spool.idleSeconds` after the last
 * alert for the next logins of a storm. After letting the lock go it looks once more: a login
 * queued in that moment saw the lock still held, so nobody else would pick it up.
 */
export async function workSpool(n: Notifier, config: VpnnotifyConfig): Promise<FlushResult> {
  // The hook that started this worker claimed the start (hook.ts); the drain lock, taken next,
  // now tells the others that a worker runs.
  await rm(join(n.spool.dir, "worker.starting"), { force: true }).catch(() => {});
  await clearTakeoverTokens(n.spool.dir);
  const total: FlushResult = { busy: false, delivered: 0, failed: 0, gaveUp: 0 };
  /** Logins done with but not delivered (failed, and not kept for a retry): the spool counts them delivered. */
  let lost = 0;
  const options = {
    leaseUntil: (entry: SpoolEntry<SpoolJob>) => leaseFor(entry, n),
    concurrency: config.spool.concurrency,
    idleMs: config.spool.idleSeconds * 1000,
    pollMs: POLL_MS,
    rank: urgency,
  };
  for (;;) {
    await clearPlantedDrainLock(n.spool.dir, n.log);
    const result = await n.spool.work(async (entry) => {
      if (!(await deliverEntry(entry, n))) lost++;
    }, options);
    total.delivered += result.delivered;
    total.failed += result.failed;
    total.gaveUp += result.gaveUp;
    if (result.busy) {
      total.busy = true;
      break;
    }
    if (!(await n.spool.hasDue().catch(() => false))) break;
  }
  // One line per worker run: how much a storm it served, and its memory at the peak.
  if (!total.busy || total.delivered + total.failed > 0) {
    n.log.info("worker done", {
      delivered: total.delivered - lost,
      failed: total.failed + lost || undefined,
      gaveUp: total.gaveUp || undefined,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    });
  }
  return total;
}

/** A hook's login as the spool keeps it until the worker gets to it; `answerBy` when OpenVPN waits on the verdict. */
export function queuedLogin(event: VpnEvent, answerBy?: number): LoginJob {
  const { deferredFile, ...login } = event;
  return { login, ...(deferredFile && answerBy !== undefined ? { answer: { file: deferredFile, by: answerBy } } : {}) };
}
