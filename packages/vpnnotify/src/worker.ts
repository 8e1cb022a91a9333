import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describeError, type SpoolEntry } from "@opsguard/core";
import type { LoginJob, SpoolJob } from "./alert";
import type { VpnnotifyConfig } from "./config";
import { answerDeferred } from "./deferred";
import { countEntries, type EntryResult } from "./entry-counts";
import type { VpnEvent } from "./event";
import { deliverEntry, type FlushResult, leaseFor, type Notifier, urgency } from "./notify";
import { clearPlantedDrainLock, clearTakeoverTokens, releaseOwnDrainLock } from "./spool-guard";

/** How often the idle worker looks for new logins in the spool directory (a readdir). */
const POLL_MS = 50;

/** The signals that stop a worker (systemd, a container or a person stopping it), and the exit code of each (128 + its number). */
export const STOP_SIGNALS = { SIGTERM: 143, SIGINT: 130 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * The per-host worker: drains the spool, `spool.concurrency` alerts at a time, holding the drain
 * lock so that hooks see it alive and start no other, and stays `spool.idleSeconds` after the last
 * alert for the next logins of a storm. After letting the lock go it looks once more: a login
 * queued in that moment saw the lock still held, so nobody else would pick it up.
 *
 * SIGTERM or SIGINT stops it at once (`stoppedBy`): it takes no further alert, hands the ones under
 * way back (their lease ends now, so the next worker or flush takes them without waiting it out;
 * the parts Slack accepted stay recorded as sent), lets its drain lock go and says so in one line.
 */
export async function workSpool(n: Notifier, config: VpnnotifyConfig): Promise<FlushResult & { stoppedBy?: StopSignal }> {
  // The hook that started this worker claimed the start (hook.ts); the drain lock, taken next,
  // now tells the others that a worker runs.
  await rm(join(n.spool.dir, "worker.starting"), { force: true }).catch(() => {});
  await clearTakeoverTokens(n.spool.dir);
  /** The spool's counts (its delivered is every entry done with: `kinds` says what each was). */
  const total = { busy: false, failed: 0, gaveUp: 0 };
  const kinds: EntryResult[] = [];
  const underWay = new Set<SpoolEntry<SpoolJob>>();
  /** An entry's lease handed back at a stop: the drain records its outcome (removal, failure) only after that write. */
  const handedBack = new Map<SpoolEntry<SpoolJob>, Promise<void>>();
  /** Set the moment a stop signal arrives: from then on no alert is started. */
  let stoppedBy: StopSignal | undefined;
  let onSignal: (signal: StopSignal) => void = () => {};
  const signalled = new Promise<StopSignal>((resolve) => {
    onSignal = resolve;
  });
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map(
    (signal) =>
      [
        signal,
        () => {
          stoppedBy ??= signal;
          onSignal(signal);
        },
      ] as const,
  );
  for (const [signal, handler] of handlers) process.once(signal, handler);
  const options = {
    leaseUntil: (entry: SpoolEntry<SpoolJob>) => leaseFor(entry, n),
    concurrency: config.spool.concurrency,
    idleMs: config.spool.idleSeconds * 1000,
    pollMs: POLL_MS,
    rank: urgency,
    stop: () => stoppedBy !== undefined,
  };
  const deliver = async (entry: SpoolEntry<SpoolJob>) => {
    if (stoppedBy) {
      // Taken just before the stop (its lease was being written): handed back unstarted, and no outcome
      // recorded for it (the process ends before this resolves).
      handBackEntry(n, entry, stoppedBy, handedBack);
      return new Promise<void>(() => {});
    }
    underWay.add(entry);
    try {
      kinds.push(await deliverEntry(entry, n));
    } finally {
      underWay.delete(entry);
      await handedBack.get(entry);
    }
  };
  const drained = (async () => {
    while (!stoppedBy) {
      await clearPlantedDrainLock(n.spool.dir, n.log);
      const result = await n.spool.work(deliver, options);
      total.failed += result.failed;
      total.gaveUp += result.gaveUp;
      if (result.busy) {
        total.busy = true;
        break;
      }
      if (!(await n.spool.hasDue().catch(() => false))) break;
    }
  })();
  try {
    await Promise.race([drained, signalled]);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  if (stoppedBy) {
    const handed = await handBack(n, [...underWay], stoppedBy, handedBack);
    await releaseOwnDrainLock(n.spool.dir);
    const counts = countEntries(total, kinds);
    n.log.warn(`worker stopped by ${stoppedBy}`, {
      delivered: counts.delivered,
      suppressed: counts.suppressed,
      disconnects: counts.disconnects,
      handedBack: handed,
    });
    return { ...counts, stoppedBy };
  }
  const counts = countEntries(total, kinds);
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
 * The alerts under way at a stop, handed back: each one's lease ends now and the entry is written
 * as it stands (the parts Slack accepted recorded as sent), with why in lastError for `status`. A
 * delivery finishing meanwhile records its outcome only after this write, so a removal is never
 * undone by it. Returns how many were handed back.
 */
async function handBack(
  n: Notifier,
  entries: SpoolEntry<SpoolJob>[],
  signal: StopSignal,
  handedBack: Map<SpoolEntry<SpoolJob>, Promise<void>>,
): Promise<number> {
  for (const entry of entries) handBackEntry(n, entry, signal, handedBack);
  await Promise.all(handedBack.values());
  // A delivery that finished meanwhile records its outcome now, and an alert whose lease was being
  // written at the stop is handed back: let those writes go out before the exit.
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await n.spool.idle();
  }
  return handedBack.size;
}

/** One alert handed back: its lease ends now; the same object a delivery still under way saves, so its later records carry that too. */
function handBackEntry(
  n: Notifier,
  entry: SpoolEntry<SpoolJob>,
  signal: StopSignal,
  handedBack: Map<SpoolEntry<SpoolJob>, Promise<void>>,
): void {
  const now = Date.now();
  // OpenVPN waits on this login's verdict (onFailure reject): a stop is a failure, so "0" now, as the
  // next worker would answer once the deadline passed, rather than leaving the client waiting till then.
  const answer = entry.payload.answer;
  if (answer) {
    const unwritable = answerDeferred(answer.file, "0");
    delete entry.payload.answer;
    n.log.warn(`stopped (${signal}) before the verdict OpenVPN waits on; answered 0`, {
      id: entry.id,
      ...(unwritable ? { error: unwritable } : {}),
    });
  }
  entry.leaseUntil = now;
  entry.lastError = `the worker was stopped (${signal}) before this alert went out`;
  entry.lastErrorAt = now;
  handedBack.set(
    entry,
    n.spool.save(entry).catch((error: unknown) => {
      n.log.warn("cannot hand a spooled alert back; it waits for its lease to run out", { id: entry.id, error: describeError(error) });
    }),
  );
}

/** A hook's login as the spool keeps it until the worker gets to it; `answerBy` when OpenVPN waits on the verdict. */
export function queuedLogin(event: VpnEvent, answerBy?: number): LoginJob {
  const { deferredFile, ...login } = event;
  return { login, ...(deferredFile && answerBy !== undefined ? { answer: { file: deferredFile, by: answerBy } } : {}) };
}
