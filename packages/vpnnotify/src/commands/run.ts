import { statSync } from "node:fs";
import { join } from "node:path";
import { describeError, escapeLine, type Logger, type SpoolStatus, TempFailError } from "@opsguard/core";
import type { VpnnotifyConfig } from "../config";
import type { Notifier } from "../notify";
import { hookUser } from "../run-as";
import { spoolAccessError } from "../spool-guard";

/** What the program's commands share beyond their options: when the run started (the deadline counts from it). */
export interface RunClock {
  /**
   * Epoch ms at which the run started: the process's start for a bin (a hook's deadline includes Node's start-up,
   * which the VPN server waits on too), the moment the program was built for an in-process run.
   */
  startedAt: number;
}

/** When this run must be done: deadlineMs counted from its start (now, when that is past already). */
export function runDeadline(config: VpnnotifyConfig, clock: RunClock): number {
  return Math.max(Date.now(), clock.startedAt + config.deadlineMs);
}

/** The run's deadline passed before its work was done (exit 75). */
export class DeadlineError extends TempFailError {}

/** Work under the run's deadline, so the caller knows the longest it can take. */
export async function runBounded<T>(deadlineAt: number, config: VpnnotifyConfig, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError(`gave up at the ${config.deadlineMs} ms deadline`, { hint: "check Slack, LDAP and the state store" })),
      Math.max(0, deadlineAt - Date.now()),
    );
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** One warning while alerts wait in the spool, so the VPN server's log or syslog shows it. */
export async function logPending(n: Notifier, log: Logger): Promise<void> {
  try {
    const status = await n.spool.status();
    if (status.pending === 0 && status.dead === 0) return;
    log.warn("undelivered alerts", {
      pending: status.pending,
      oldest: status.oldest === undefined ? undefined : new Date(status.oldest).toISOString(),
      lastError: status.lastError,
      gaveUp: status.dead || undefined,
      spool: n.spool.dir,
    });
  } catch (error) {
    log.warn("cannot read the spool of undelivered alerts", {
      spool: n.spool.dir,
      error: describeError(spoolAccessError(error, n.spool.dir)),
    });
  }
}

/**
 * Alerts kept in dead/ and never sent, each kind with its count and fix: given up on (maxAttempts), and put aside as
 * unreadable (`*.corrupt`: untrusted, truncated, empty). Both are as unsent as a failing alert, so flush fails
 * (69) on every run while any are there and status names them (T38 F7, T48 F1).
 */
export function unsentInDead(status: SpoolStatus, dir: string): { message: string; count: number; key: string; fix: string }[] {
  const dead = join(dir, "dead");
  const kinds = [];
  if (status.dead > 0) {
    kinds.push({
      message: "alerts given up on were never sent: move them back to retry them",
      count: status.dead,
      key: "gaveUp",
      fix: `mv ${dead}/*.json ${dir}/ && vpnnotify flush`,
    });
  }
  if (status.unreadable) {
    kinds.push({
      message: "alerts put aside as unreadable were never sent: inspect each, then repair it or remove it",
      count: status.unreadable,
      key: "unreadable",
      fix: `inspect ${dead}/*.corrupt; move a repaired one back as ${dir}/<name>.json (mode 600, owned by the spool's owner), or remove it`,
    });
  }
  if (status.denied) {
    // Not corrupt and not in dead/: entries whose owner or mode keeps this user out (a hook run as root wrote one).
    // Unsent all the same, so flush fails on every run until they are given back (T71 N3).
    let owner = "OWNER";
    try {
      const user = hookUser(statSync(dir).uid);
      owner = /^[A-Za-z0-9._-]+$/.test(user.name) ? user.name : String(user.uid);
    } catch {}
    kinds.push({
      message: "alerts in the spool that this user cannot read (their owner or mode) are not sent: give them to the spool's owner",
      count: status.denied,
      key: "cannotRead",
      fix: `as root: chown ${owner} ${escapeLine(dir)}/<name>.json && chmod 600 ${escapeLine(dir)}/<name>.json for each one flush names, then vpnnotify flush`,
    });
  }
  return kinds;
}

/** The spool's status as `status --json` and `flush --json` print it. */
export function statusJson(status: SpoolStatus, dir: string): Record<string, unknown> {
  return {
    pending: status.pending,
    oldest: status.oldest === undefined ? null : new Date(status.oldest).toISOString(),
    lastError: status.lastError ?? null,
    lastAttemptAt: status.lastAttemptAt === undefined ? null : new Date(status.lastAttemptAt).toISOString(),
    lastErrorAt: status.lastErrorAt === undefined ? null : new Date(status.lastErrorAt).toISOString(),
    gaveUp: status.dead,
    unreadable: status.unreadable ?? 0,
    cannotRead: status.denied ?? 0,
    // What to do about the alerts kept in dead/ (empty when there are none): the lines flush logs.
    fix: unsentInDead(status, dir).map((kind) => kind.fix),
  };
}
