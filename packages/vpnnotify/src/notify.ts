import { existsSync } from "node:fs";
import { DataError, describeError, type Logger, type SlackClient, type SpoolEntry, UnavailableError } from "@opsguard/core";
import { networkOf, normalizeIp } from "./address";
import {
  type AlertJob,
  type AlertSpool,
  correctionOwed,
  type Delivery,
  deliverAlert,
  historyKey,
  isLoginJob,
  type LoginJob,
  type SpoolJob,
} from "./alert";
import { answerDeferred } from "./deferred";
import type { SlackDirectory } from "./directory";
import type { EntryResult } from "./entry-counts";
import type { VpnEvent } from "./event";
import { type GeoInfo, type GeoIp, placeName } from "./geoip";
import { type Decision, decide, type PlacePolicy, recordLogin, recordSessionEnd, releaseLease } from "./places";
import { missingHint } from "./spool-guard";
import type { PlaceStore } from "./store";
import { cutField, type Template } from "./template";
import type { Verdicts } from "./verdicts";

/** Everything a login notification needs, built once per process from the config. */
export interface Notifier {
  geo: GeoIp;
  store: PlaceStore;
  directory: SlackDirectory;
  slack: SlackClient;
  /** DMs carry "Yes, it was me" / "No, it wasn't" buttons (answers configured). */
  answerButtons: boolean;
  spool: AlertSpool;
  /** Until when this process works on an alert (its deadline): the lease other workers respect. */
  leaseUntil: () => number;
  securityChannel: string;
  templates: { user: Template; security: Template };
  policy: PlacePolicy;
  server: { name: string; environment?: string | undefined };
  timeZone: string;
  log: Logger;
  /** The verdicts OpenVPN waits on (onFailure reject), given once per login: see verdicts.ts. */
  verdicts: Verdicts;
  /**
   * A login this process handles alone because the spool could not take it (full or not writable): an alert not
   * delivered is kept in memory and retried for this long (bounded backoff), as nothing else would ever retry it.
   */
  retryUnspooledMs?: number;
}

export type Verdict = "notified" | "suppressed" | "escalated" | "failed" | "ended";

export interface Outcome {
  verdict: Verdict;
  reason: string;
  user: string;
  ip: string;
  place: string;
  /** The Slack user who got the direct message. */
  dm?: string;
  securityChannel?: string;
  flags: string[];
  /** Set when the place store could not be used (the login was notified anyway). */
  stateError?: string;
  /** The spool entry keeping an alert that did not go out (retried later). */
  spooled?: string;
  /** Set when the alert could not be spooled (it was still sent if Slack answered). */
  spoolError?: string;
  /** The signal that ended this process's in-memory retry of the alert (it ends on it: hook.ts). */
  stoppedBy?: NodeJS.Signals;
  errors: string[];
}

/** What a connect has done so far, filled in as it goes: what a caller that cut it off at its deadline reports. */
export interface ConnectProgress {
  ip?: string;
  place?: string;
  /** The spool entry that keeps the alert, once written: the worker or `flush` retries it. */
  spooled?: string;
  spoolError?: string;
  /**
   * The VPN server was told the login is refused (onFailure reject: a `--wait` hook's failure, its deadline): the
   * alert says so from now on, in this process and, once saved to the spool, from there (set once the alert exists).
   */
  refuse?: () => Promise<void>;
}

/**
 * Handles one connect: decide, keep the alert in the spool, tell the user and/or the security
 * channel, and only then record the place as told. An alert that did not go out stays spooled
 * (and the place unknown), so a later run delivers it and the next login is not waved through.
 */
export async function handleConnect(
  event: VpnEvent,
  n: Notifier,
  queued?: SpoolEntry<SpoolJob>,
  answer?: LoginJob["answer"],
  progress: ConnectProgress = {},
): Promise<Outcome> {
  const ip = normalizeIp(event.ip);
  if (!ip) throw new DataError(`"${event.ip}" is not an IP address`, { hint: "pass the client's public address" });
  const geo = lookup(n, ip);
  const login = { time: event.time, geo, place: placeName(geo) };
  Object.assign(progress, { ip, place: login.place });
  const recipientLookup = n.directory.find(event.user);
  const leaseUntil = n.leaseUntil();
  const job: AlertJob = {
    event: {
      source: event.source,
      user: event.user,
      ip,
      time: event.time,
      ...(event.port !== undefined ? { port: event.port } : {}),
      ...(event.vpnIp !== undefined ? { vpnIp: event.vpnIp } : {}),
    },
    geo,
    decision: decide(undefined, login, n.policy, false),
    sent: {},
    ...(answer ? { answer } : {}),
    // Answered `0` before this worker got to it (the one before it stopped): its messages say the login was refused.
    ...(queued && isLoginJob(queued.payload) && queued.payload.loginRefused ? { loginRefused: true } : {}),
  };
  // Spooled from the start, while the store is asked, as "the store could not say, so tell them":
  // a worker cut off at its deadline, even before the store answered, leaves the alert there. The
  // write and its disk flush overlap the store, the directory and Slack instead of delaying them.
  // A login the hook queued becomes this alert in its own spool file: one file per login, ever.
  let spoolError: string | undefined;
  const adding = (queued ? n.spool.save(Object.assign(queued, { payload: job })).then(() => queued) : n.spool.add(job, leaseUntil)).then(
    (entry) => {
      progress.spooled = entry.id;
      return entry;
    },
    (error: unknown) => {
      spoolError = describeError(error);
      progress.spoolError = spoolError;
      return undefined;
    },
  );
  progress.refuse = async () => {
    job.loginRefused = true;
    const entry = await adding;
    // Removed once everything went out: nothing is left to say it in (a DM sent before stays as it went).
    if (entry && progress.spooled !== undefined) await n.spool.save(entry);
  };

  let decision: Decision | undefined;
  const unkeyable = noHistoryFor(event.user);
  let stateError: string | undefined = unkeyable;
  try {
    if (!unkeyable) {
      await n.store.update(
        historyKey(event.user),
        (history) => {
          decision = decide(history, login, n.policy);
          return recordLogin(history, login, decision, n.policy, leaseUntil);
        },
        { asGiven: event.user },
      );
    }
  } catch (error) {
    stateError = describeError(error);
  }
  const final = stateError || !decision ? decide(undefined, login, n.policy, false) : decision;
  // Told as when the store is down, and nothing recorded for it once told either (no place keys).
  if (unkeyable) final.keys = [];
  const base = { reason: final.reason, user: event.user, ip, place: login.place, ...(stateError ? { stateError } : {}) };
  job.decision = final;
  if (!final.notify && !final.suspicious) {
    const outcome: Outcome = { verdict: "suppressed", ...base, flags: [], errors: [] };
    logOutcome(n.log, outcome, n.spool.dir);
    // Nothing to tell: out of the spool again, once written.
    const entry = await adding;
    const removed =
      entry &&
      (await n.spool.remove(entry).then(
        () => true,
        () => false,
      ));
    if (removed) delete progress.spooled;
    return outcome;
  }
  const decided = adding.then(async (entry) => {
    if (entry) await n.spool.save(entry);
    return entry;
  });
  let delivery = await deliverAlert(job, n, {
    recipient: await recipientLookup,
    save: async () => {
      const entry = await decided.catch(() => undefined);
      if (entry) await n.spool.save(entry);
    },
  });
  let spooled = await decided.catch((error: unknown) => {
    spoolError = describeError(error);
    return undefined;
  });
  // Got into the spool by the in-memory retry: due at once, not backed off (Slack may be back), and this process
  // drains it next (hook.ts), so it does not wait out a backoff for a later hook or flush.
  let respooled = false;
  let stoppedBy: NodeJS.Signals | undefined;
  if (!delivery.complete && !spooled && !queued && n.retryUnspooledMs) {
    ({ delivery, spooled, stoppedBy } = await retryUnspooled(job, n, delivery, spoolError, n.retryUnspooledMs));
    if (spooled) spoolError = undefined;
    respooled = spooled !== undefined;
  }
  if (!delivery.told && !stateError) {
    // Let the next login from here try again instead of waiting out this worker's lease.
    await n.store.update(historyKey(event.user), (history) => releaseLease(history, final.keys, leaseUntil)).catch(() => {});
  }
  let kept: string | undefined;
  // A queued entry's outcome is the drainer's to record (it removes it, or backs it off).
  if (queued && !delivery.complete) kept = queued.id;
  else if (spooled && !queued) {
    try {
      if (delivery.complete) {
        await n.spool.remove(spooled);
        delete progress.spooled;
      } else if (respooled) kept = spooled.id;
      else if (!(await n.spool.fail(spooled, delivery.errors.join("; ") || "not delivered"))) kept = spooled.id;
    } catch (error) {
      spoolError = describeError(error);
    }
  }

  const outcome: Outcome = {
    verdict: verdictOf(final, delivery),
    ...base,
    ...(delivery.dmSent && delivery.recipient && "slackId" in delivery.recipient ? { dm: delivery.recipient.slackId } : {}),
    ...(delivery.securitySent ? { securityChannel: n.securityChannel } : {}),
    flags: delivery.flags,
    ...(delivery.stateError && !stateError ? { stateError: delivery.stateError } : {}),
    ...(kept ? { spooled: kept } : {}),
    ...(spoolError ? { spoolError } : {}),
    ...(stoppedBy ? { stoppedBy } : {}),
    errors: delivery.errors,
  };
  logOutcome(n.log, outcome, n.spool.dir);
  return outcome;
}

/** The first pause before an unspooled alert is tried again; doubled each time, up to a minute. */
const UNSPOOLED_FIRST_RETRY_MS = 1_000;

/**
 * An alert neither delivered nor spooled (the spool full or not writable): kept in this process and tried again
 * with backoff for `forMs`, each time first into the spool (space again: it is kept there, for the worker's
 * retries, as any alert) and else to Slack (the parts already sent are not sent again).
 */
async function retryUnspooled(
  job: AlertJob,
  n: Notifier,
  first: Delivery,
  spoolError: string | undefined,
  forMs: number,
): Promise<{ delivery: Delivery; spooled?: SpoolEntry<SpoolJob>; stoppedBy?: NodeJS.Signals }> {
  const until = Date.now() + forMs;
  // Nothing else knows of this alert: a stop signal (the VPN server or systemd stopping, a person) ends the retry at
  // once and the alert is logged LOST, naming why, before the process ends; left to the signal's default, it would
  // vanish without a line. (SIGKILL cannot be caught: then it vanishes, after the "kept in memory" line.)
  // Listening before the line that says so: a signal sent on seeing it must find the handlers in place.
  const stop = untilStopSignal();
  let delivery = first;
  try {
    n.log.warn("not delivered, and the spool cannot keep it: kept in memory and retried", {
      user: cutField(job.event.user),
      ip: job.event.ip,
      for: `${Math.round(forMs / 1000)}s`,
      spool: `unavailable (${spoolError ?? "not written"})`,
      error: first.errors.join("; ") || undefined,
    });
    for (let wait = UNSPOOLED_FIRST_RETRY_MS; Date.now() + wait <= until; wait = Math.min(wait * 2, 60_000)) {
      let timer: NodeJS.Timeout | undefined;
      const slept = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), wait);
      });
      const signal = await Promise.race([slept, stop.signalled]);
      clearTimeout(timer);
      if (signal) return { delivery: stoppedDelivery(delivery, signal), stoppedBy: signal };
      // Not leased: nothing more is done with it here, and whichever drainer comes first takes it right away.
      const spooled = await Promise.race([n.spool.add(job, Date.now()).catch(() => undefined), stop.signalled]);
      if (typeof spooled === "string") return { delivery: stoppedDelivery(delivery, spooled), stoppedBy: spooled };
      if (spooled) return { delivery, spooled };
      const attempt = deliverAlert(job, n, { save: async () => {} });
      const next = await Promise.race([attempt, stop.signalled]);
      if (typeof next === "string") {
        // Cut off in flight: Slack may still take it, but nothing here will know; said in the line.
        attempt.catch(() => {});
        return {
          delivery: stoppedDelivery(delivery, next, " (a Slack call was in flight and may still have gone out)"),
          stoppedBy: next,
        };
      }
      delivery = next;
      if (delivery.complete) break;
    }
    return { delivery };
  } finally {
    stop.off();
  }
}

/** The signals that stop a process retrying an alert in memory: the VPN server, systemd or a person ending it. */
const RETRY_STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/** Resolves with the first stop signal's name while listening; `off` stops listening (the signals' defaults return). */
function untilStopSignal(): { signalled: Promise<NodeJS.Signals>; off: () => void } {
  const handlers: [NodeJS.Signals, () => void][] = [];
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of RETRY_STOP_SIGNALS) handlers.push([signal, () => resolve(signal)]);
  });
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return {
    signalled,
    off: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

/** The delivery as it stood when a stop signal ended the in-memory retry: not complete, with why in its errors. */
function stoppedDelivery(delivery: Delivery, signal: string, note = ""): Delivery {
  return { ...delivery, complete: false, errors: [...delivery.errors, `stopped by ${signal} while retrying it in memory${note}`] };
}

export interface FlushResult {
  busy: boolean;
  /** Alerts sent (a login told about, a retried alert): not the logins that needed none, nor disconnects. */
  delivered: number;
  /** Logins from a known place: nothing to send. */
  suppressed: number;
  /** Session ends recorded. */
  disconnects: number;
  failed: number;
  gaveUp: number;
}

/**
 * An entry OpenVPN waits on is leased only until just after its answer is due: a worker killed
 * before answering leaves it to the next worker (or flush) at once, not after the long lease.
 * One drainer at a time, so a worker still alive past that is not raced by anyone.
 */
export function leaseFor(entry: SpoolEntry<SpoolJob>, n: Pick<Notifier, "leaseUntil">): number {
  const answer = entry.payload.answer;
  return answer ? Math.min(n.leaseUntil(), Math.max(Date.now(), answer.by) + 1_000) : n.leaseUntil();
}

/**
 * What goes first: a login OpenVPN waits on (its answer has a deadline), then the other fresh
 * logins, then retries of alerts already late. A fresh login is decided before an older alert
 * from the same place is marked told, as when each login had its own worker.
 */
export function urgency(entry: SpoolEntry<SpoolJob>): number {
  const job = entry.payload;
  return isLoginJob(job) ? (job.answer ? 2 : 1) : 0;
}

/**
 * One spool entry: a queued login is decided and told (or its disconnect recorded), an alert
 * that failed before is retried. Resolves when nothing is owed any more (with what it was), throws
 * when something is. "lost" is a login that failed but cannot be kept for a retry (logged as
 * failed): done with, yet not delivered.
 */
export async function deliverEntry(entry: SpoolEntry<SpoolJob>, n: Notifier): Promise<EntryResult> {
  const job = entry.payload;
  if (isLoginJob(job)) return handleQueued(entry, job, n);
  if (job.answer) {
    // The worker that had OpenVPN waiting on this login stopped before answering (killed): its
    // deadline has passed (the lease ran out after it), so the answer is the one a late one gets.
    const unwritable = answerDeferred(job.answer.file, "0");
    job.loginRefused = true;
    n.log.warn("a stopped worker left OpenVPN waiting; answered 0", {
      user: cutField(job.event.user),
      ip: job.event.ip,
      ...(unwritable ? { error: unwritable } : {}),
    });
    delete job.answer;
    await n.spool.save(entry).catch(() => {});
  }
  // A "No" whose place the store could not mark when it came: its escalation went out then, only the mark is owed.
  const markOwed = job.disowned !== undefined && job.disowned.marked !== true;
  const sentBefore = { ...job.sent };
  const d = await deliverAlert(job, n, { save: () => n.spool.save(entry), late: true });
  const fields = {
    user: cutField(job.event.user),
    ip: job.event.ip,
    place: placeName(job.geo),
    login: new Date(job.event.time).toISOString(),
    attempts: entry.attempts,
    dm: job.sent.dm && job.recipient ? job.recipient.slackId : undefined,
    security: job.sent.security ? d.flags.join("; ") : undefined,
    state: d.stateError ? `unavailable (${d.stateError})` : undefined,
  };
  if (d.complete) {
    const posted = (Object.keys(job.sent) as (keyof AlertJob["sent"])[]).some((part) => job.sent[part] !== sentBefore[part]);
    if (markOwed && !posted) {
      // Nothing went to Slack now: "delivered late" read as if the security channel had just been told (T64 N9).
      const { dm: _dm, security: _security, ...facts } = fields;
      n.log.info(
        "marked late: the place of the login the user said was NOT them is now disowned (nothing posted now: the security channel was told when they answered)",
        facts,
      );
      return "delivered";
    }
    n.log.info("delivered late", fields);
    return "delivered";
  }
  const error = d.errors.join("; ") || "not delivered";
  n.log.warn("still undelivered", { ...fields, error });
  throw new UnavailableError(error);
}

async function handleQueued(entry: SpoolEntry<SpoolJob>, job: LoginJob, n: Notifier): Promise<EntryResult> {
  const event: VpnEvent = { ...job.login };
  if (event.kind === "disconnect") {
    await handleDisconnect(event, n);
    return "ended";
  }
  const answer = job.answer;
  // Answered already (a scan saw the login queued while Slack was accepting posts): its alert goes out without it.
  const given = answer ? n.verdicts.given(entry.id) : undefined;
  const work = handleConnect(event, n, entry, given ? undefined : answer).catch((error: unknown) => {
    // An address that is no address (the VPN server's environment) can never be alerted: one line, as a hook run gave it.
    if (!(error instanceof DataError)) throw error;
    n.log.error("failed", { user: cutField(event.user), ip: cutField(event.ip), reason: describeError(error) });
    return undefined;
  });
  if (answer) {
    // OpenVPN waits on this one (onFailure reject): its own outcome answers it unless Slack's state or the deadline
    // did first (verdicts.ts); a long queue alone never refuses it.
    const answered = n.verdicts.watch(entry.id, answer, { user: event.user, ip: event.ip });
    work.then(
      (o) => n.verdicts.settle(entry.id, !o || o.verdict === "failed" ? "0" : "1", outcomeReason(o)),
      (error: unknown) => n.verdicts.settle(entry.id, "0", `its alert failed: ${describeError(error)}`),
    );
    const verdict = given ?? (await answered);
    // A refused login's DM (sent now or later, from the spool) says it was refused, not that a session started; one
    // already on its way with the other text is followed by a correction (alert.ts).
    if (verdict === "0") entry.payload.loginRefused = true;
    // Answered: the entry's next record (a part sent, a failure) no longer carries it.
    delete entry.payload.answer;
  }
  const outcome = await work;
  if (outcome?.spooled) throw new UnavailableError(outcome.errors.join("; ") || "not delivered");
  const alert = entry.payload;
  if (!isLoginJob(alert) && correctionOwed(alert)) {
    // Refused after its alert had gone out in full (its deadline came between the last post and its outcome): only
    // the correction is left to send.
    const d = await deliverAlert(alert, n, { save: () => n.spool.save(entry) });
    if (!d.complete) throw new UnavailableError(d.errors.join("; ") || "the correction of the DM was not delivered");
  }
  return !outcome || outcome.verdict === "failed" ? "lost" : outcome.verdict === "suppressed" ? "suppressed" : "delivered";
}

/** Why a login's own outcome answers it as it does, for its `answered` line. */
function outcomeReason(o: Outcome | undefined): string {
  if (!o) return "its alert cannot be sent (the login has no usable address)";
  if (o.verdict === "failed") return `its alert failed: ${o.errors.join("; ") || "not delivered"}`;
  return o.verdict === "suppressed" ? "nothing to send (a known place)" : "its alert went out";
}

/** A disconnect: the log line with the session's length, and its end in the store for the next travel check. */
export async function handleDisconnect(event: VpnEvent, n: Pick<Notifier, "store" | "log">): Promise<Outcome> {
  const ip = normalizeIp(event.ip) ?? event.ip;
  let stateError = noHistoryFor(event.user);
  try {
    if (!stateError) await n.store.update(historyKey(event.user), (history) => recordSessionEnd(history, ip, event.time));
  } catch (error) {
    stateError = describeError(error);
  }
  const outcome: Outcome = {
    verdict: "ended",
    reason: "disconnect",
    user: event.user,
    ip,
    place: "",
    flags: [],
    ...(stateError ? { stateError } : {}),
    errors: [],
  };
  n.log.info("session ended", {
    user: event.user,
    ip,
    duration: event.durationSec === undefined ? undefined : `${event.durationSec}s`,
    state: stateError ? `unavailable (${stateError})` : undefined,
  });
  return outcome;
}

/**
 * Why a user name gets no history, or undefined. A name that is not valid UTF-8 reaches vpnnotify with each
 * bad byte decoded to U+FFFD (Node decodes argv, the environment and the spool so): distinct names become one,
 * and a shared history would let one name's logins silence another's. So none is kept or used: each such login
 * is told as when the store is down, and as no directory or Slack user has such a name, the security channel
 * hears of it. (`notify --user` refuses such a name instead: its caller can pass the right one.)
 */
export function noHistoryFor(user: string): string | undefined {
  return user.includes("\uFFFD")
    ? "no history is kept for a user name that is not valid UTF-8 (such names cannot be told apart)"
    : undefined;
}

function lookup(n: Notifier, ip: string): GeoInfo {
  try {
    return n.geo.lookup(ip);
  } catch (error) {
    n.log.warn("GeoIP lookup failed; the message will say unknown location", { error: describeError(error) });
    // Still one place per network, so a dynamic address does not make every login new.
    return { ip, network: networkOf(ip) };
  }
}

function verdictOf(decision: Decision, d: Delivery): Verdict {
  const { wantsDm, dmSent, wantsSecurity, securitySent } = d;
  // A DM owed because the user could not be looked up is spooled; security heard of it meanwhile.
  if ((wantsDm && !dmSent && !(d.dmOwed && securitySent)) || (wantsSecurity && !securitySent)) return "failed";
  if (securitySent) return "escalated";
  if (dmSent) return "notified";
  return decision.notify ? "failed" : "suppressed";
}

/** One line per decision, in a form that reads well in OpenVPN's log and greps well in syslog. */
export function logOutcome(log: Logger, o: Outcome, spoolDir: string): void {
  const fields = {
    user: cutField(o.user),
    ip: o.ip,
    place: o.place,
    reason: o.reason,
    dm: o.dm,
    security: o.securityChannel ? o.flags.join("; ") : undefined,
    state: o.stateError ? `unavailable (${o.stateError})` : undefined,
    spooled: o.spooled,
    spool: o.spoolError ? `unavailable (${o.spoolError})` : undefined,
    error: o.errors.length > 0 ? o.errors.join("; ") : undefined,
  };
  // Neither told nor kept anywhere: nothing will ever retry it, and the line says so and what to fix.
  if (o.verdict === "failed" && o.spoolError && !o.spooled) {
    log.error("LOST (not delivered, and not kept for a retry)", {
      ...fields,
      // A spool directory that was never made (its parent closed to the hooks' user) is no full disk (T62 F4).
      fix: existsSync(spoolDir)
        ? "free space on the spool's file system, or make the spool directory writable by the user the VPN server runs hooks as"
        : missingHint(spoolDir),
    });
  } else if (o.verdict === "failed") log.error(o.verdict, fields);
  else if (o.verdict === "escalated" || o.stateError) log.warn(o.verdict, fields);
  else log.info(o.verdict, fields);
}
