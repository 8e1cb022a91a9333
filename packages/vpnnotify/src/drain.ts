import { describeError, type SpoolEntry } from "@opsguard/core";
import { isLoginJob, type SpoolJob } from "./alert";
import { countEntries, type EntryResult } from "./entry-counts";
import { deliverEntry, type FlushResult, leaseFor, type Notifier, urgency } from "./notify";
import { clearPlantedDrainLock, clearStaleTemps } from "./spool-guard";

/** The signals that stop a drain (systemd, a container or a person stopping it), and the exit code of each (128 + its number). */
export const STOP_SIGNALS = { SIGTERM: 143, SIGINT: 130 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * One process's run over the spool (the worker's, or `flush`'s): delivers the entries it is given,
 * counts what each was, and, stopped by SIGTERM or SIGINT, takes no further alert and hands the ones
 * under way back (their lease ends now, so the next worker or flush takes them without waiting it
 * out; the parts Slack accepted stay recorded as sent). Without that, a stopped process would leave
 * its alerts leased until its deadline + 30 s had passed.
 */
export class SpoolRun {
  /** What each entry this run is done with was. */
  readonly kinds: EntryResult[] = [];
  /** Logins OpenVPN waited on that this run answered 0 as it handed their alerts back at a stop (refuseOnStop). */
  refusedAtStop = 0;
  /** Set the moment a stop signal arrives: from then on no alert is started. */
  stoppedBy: StopSignal | undefined;
  readonly #n: Notifier;
  /** Who runs it, as the handed-back alert's lastError names it: "the worker", "flush". */
  readonly #who: string;
  readonly #underWay = new Set<SpoolEntry<SpoolJob>>();
  /** An entry's lease handed back at a stop: the drain records its outcome (removal, failure) only after that write. */
  readonly #handedBack = new Map<SpoolEntry<SpoolJob>, Promise<void>>();

  constructor(n: Notifier, who: string) {
    this.#n = n;
    this.#who = who;
  }

  /** The spool's `stop` option: true once a stop signal arrived. */
  readonly stop = (): boolean => this.stoppedBy !== undefined;

  /** The spool's `deliver`: one entry, unless the run was stopped before it started. */
  readonly deliver = async (entry: SpoolEntry<SpoolJob>): Promise<void> => {
    if (this.stoppedBy) {
      // Taken just before the stop (its lease was being written): handed back unstarted, and no outcome
      // recorded for it (the process ends before this resolves).
      this.#handBackEntry(entry, this.stoppedBy);
      return new Promise<void>(() => {});
    }
    this.#underWay.add(entry);
    try {
      this.kinds.push(await deliverEntry(entry, this.#n));
    } finally {
      this.#underWay.delete(entry);
      await this.#handedBack.get(entry);
    }
  };

  /**
   * Runs `work` until it ends or SIGTERM/SIGINT arrives (then `stoppedBy` says which, and `work` is left
   * to the process's exit: the caller hands back what was under way and ends).
   */
  async untilSignal<T>(work: () => Promise<T>): Promise<T | undefined> {
    let onSignal: () => void = () => {};
    const signalled = new Promise<undefined>((resolve) => {
      onSignal = () => resolve(undefined);
    });
    const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map(
      (signal) =>
        [
          signal,
          () => {
            this.stoppedBy ??= signal;
            onSignal();
          },
        ] as const,
    );
    for (const [signal, handler] of handlers) process.once(signal, handler);
    const working = work();
    try {
      return await Promise.race([working, signalled]);
    } finally {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      // Abandoned at a stop: what it still does (a Slack call cut at the exit) is no failure to report.
      if (this.stoppedBy) working.catch(() => {});
    }
  }

  /**
   * The alerts under way at a stop, handed back: each one's lease ends now and the entry is written as
   * it stands (the parts Slack accepted recorded as sent), with why in lastError for `status`. A
   * delivery finishing meanwhile records its outcome only after this write, so a removal is never
   * undone by it. Returns how many were handed back.
   */
  async handBack(): Promise<number> {
    const signal = this.stoppedBy ?? "SIGTERM";
    for (const entry of this.#underWay) this.#handBackEntry(entry, signal);
    await Promise.all(this.#handedBack.values());
    // A delivery that finished meanwhile records its outcome now, and an alert whose lease was being
    // written at the stop is handed back: let those writes go out before the exit.
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.#n.spool.idle();
    }
    return this.#handedBack.size;
  }

  /** One alert handed back: its lease ends now; the same object a delivery still under way saves, so its later records carry that too. */
  #handBackEntry(entry: SpoolEntry<SpoolJob>, signal: StopSignal): void {
    const n = this.#n;
    const now = Date.now();
    // OpenVPN waits on this login's verdict (onFailure reject): answered now (refuseOnStop).
    const answer = entry.payload.answer;
    if (answer && refuseOnStop(n, entry, answer, signal)) this.refusedAtStop++;
    entry.leaseUntil = now;
    entry.lastError = `${this.#who} was stopped (${signal}) before this alert went out`;
    entry.lastErrorAt = now;
    this.#handedBack.set(
      entry,
      n.spool.save(entry).catch((error: unknown) => {
        n.log.warn("cannot hand a spooled alert back; it waits for its lease to run out", { id: entry.id, error: describeError(error) });
      }),
    );
  }
}

/**
 * A login OpenVPN waits on (onFailure reject), its process stopping: a stop is a failure, so "0" now, as the next
 * worker would answer once the deadline passed, rather than leaving the client waiting till then. One answered already
 * (Slack was accepting posts) keeps its answer. Either way the entry no longer carries the answer (the next worker
 * must not answer it again), and a refused login's alert says it was refused (its DM, sent later from the spool).
 * The caller saves the entry. Returns whether this call answered 0 (for the stop's one log line).
 */
export function refuseOnStop(n: Notifier, entry: SpoolEntry<SpoolJob>, answer: { file: string; by: number }, signal: StopSignal): boolean {
  const job = entry.payload;
  const who = isLoginJob(job) ? job.login : job.event;
  const answered = n.verdicts.giveNow(entry.id, answer, who, "0", `stopped (${signal}) before the verdict OpenVPN waits on`);
  if (n.verdicts.given(entry.id) === "0") job.loginRefused = true;
  delete job.answer;
  return answered;
}

/**
 * Retries the spooled alerts that are due (all unless leased, with `force`), oldest first, one
 * log line each, and handles the logins hooks queued: one drain of the spool (what `flush` does),
 * `concurrency` at a time, through `run`
 * (a fresh one unless given: `flush` passes its own, so a stop signal hands back what is under way).
 * Counts only the entries this call was done with.
 */
export async function flushAlerts(
  n: Notifier,
  options: { force?: boolean; concurrency?: number; run?: SpoolRun } = {},
): Promise<FlushResult> {
  const { run = new SpoolRun(n, "flush"), ...drain } = options;
  const from = run.kinds.length;
  await clearPlantedDrainLock(n.spool.dir, n.log);
  await clearStaleTemps(n.spool.dir, n.log);
  const result = await n.spool.drain(run.deliver, { leaseUntil: (entry) => leaseFor(entry, n), rank: urgency, stop: run.stop, ...drain });
  return countEntries(result, run.kinds.slice(from));
}
