import { readFileSync } from "node:fs";

// Time-keeping for the LDAP client's connect attempts: timeouts that know how late they fired, how long
// the process could not run.

/**
 * A timeout is only a server's fault if this process could listen for it: one whose timer fired this
 * late, or that waited this long for a CPU during the attempt (the larger of this and a quarter of the
 * budget), is in doubt rather than failed (a burst of logins on a loaded host starved it).
 */
export const STALL_MS = 100;

export class TimeoutSignal extends Error {
  /** How long this process could not listen when the time ran out: the timer's lateness, plus CPU waits. */
  stallMs: number;
  constructor(message: string, lateMs: number) {
    super(message);
    this.stallMs = lateMs;
  }
}

/**
 * Rejects with a TimeoutSignal once `ms` pass. Timers run before I/O in a loop turn, so a timer that
 * fires late (a busy event loop) may find the server's reply unread in the socket: it lets that turn's
 * I/O run first (setImmediate: no time lost) and expires only if the promise is still unsettled,
 * saying how late (monotonic clock against the timer's due time).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const due = monotonicMs() + ms;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        onTimeout();
        reject(new TimeoutSignal(`timed out after ${ms} ms`, Math.max(0, monotonicMs() - due)));
      });
    }, ms);
  });
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  // The loser of the race may still reject (its socket was destroyed); that is expected.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A monotonic clock in ms (process.hrtime: loading perf_hooks would cost every login ~0.7 ms). */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * How long an attempt's process could not run, next to its timeout timer's lateness: the time its main
 * thread spent runnable but waiting for a CPU (Linux schedstat; 0 where there is none). Read from a
 * sample taken a little into the attempt (plus that sample's own lateness), not at its start: reading
 * /proc costs a login ~1 ms of CPU, and a server that answers (nearly every time) never needs it.
 */
export class StallWatch {
  #lateMs = 0;
  #waitedAt: number | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(budget: number) {
    const delay = Math.min(STALL_MS, budget / 2);
    const due = monotonicMs() + delay;
    this.#timer = setTimeout(() => {
      this.#lateMs = Math.max(0, monotonicMs() - due);
      this.#waitedAt = cpuWaitMs();
    }, delay);
  }

  stalledMs(): number {
    return this.#lateMs + (this.#waitedAt === undefined ? 0 : Math.max(0, cpuWaitMs() - this.#waitedAt));
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

function cpuWaitMs(): number {
  try {
    return Number(readFileSync("/proc/self/schedstat", "latin1").split(" ")[1]) / 1e6 || 0;
  } catch {
    return 0;
  }
}
