import { constants } from "node:fs";
import { open, readdir, rm } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import {
  type Command,
  describeError,
  ExitCode,
  exitWith,
  type GlobalOptions,
  type IOStreams,
  ioOf,
  isSpoolEntryName,
  Logger,
  loadConfig,
  type RunFn,
  UnavailableError,
  UsageError,
  writeFileAtomic,
} from "@opsguard/core";
import { configSchema, type VpnnotifyConfig } from "../config";
import { answerDeferred } from "../deferred";
import { STOP_SIGNALS } from "../drain";
import { type HookSource, parseHookEnv, type VpnEvent } from "../event";
import { DETACHED_ENV, QUEUED_ENV, SPOOL_ENV } from "../hook";
import { type ConnectProgress, handleConnect, handleDisconnect, type Notifier } from "../notify";
import { createNotifier, hookLogger } from "../runtime";
import { queuedLogin, workSpool } from "../worker";
import { logPending, type RunClock, runBounded, runDeadline } from "./run";

export type HookName = "hook" | HookSource;

export interface HookCommandOptions {
  /** The command it was called as: plain `hook` detects the VPN server, the others insist on theirs. */
  name: HookName;
  opts: GlobalOptions;
  /** The VPN server's environment (the hook's whole input) and the worker's markers. */
  env: NodeJS.ProcessEnv;
  clock: RunClock;
}

/**
 * `vpnnotify [hook|openvpn|updown|ocserv]`: what a VPN server runs. Without --wait, main.ts's fast path answered
 * the hook already and this runs only as the detached per-host worker it started (or for input that deserves a
 * log line); --wait (which the fast path leaves to this) does the work here, bounded by deadlineMs.
 */
export function newHookCommand(
  program: Command,
  name: HookName,
  description: string,
  clock: RunClock,
  runF: RunFn<HookCommandOptions> = runHookCommand,
): Command {
  return program
    .command(name, name === "hook" ? { isDefault: true } : {})
    .description(description)
    .argument("[file]", "OpenVPN's dynamic client config file (accepted, never touched)")
    .option("--wait", "do the work before exiting, bounded by deadlineMs, instead of detaching")
    .action(async (_file: string | undefined, _flags: unknown, command: Command) => {
      const io = ioOf(command);
      exitWith(command, await runF({ name, opts: command.optsWithGlobals<GlobalOptions>(), env: io.env, clock }, io));
    });
}

export async function runHookCommand({ name, opts, env, clock }: HookCommandOptions, io: IOStreams): Promise<ExitCode> {
  const detached = env[DETACHED_ENV] === "1";
  const call = parseHookEnv(env, Date.now());
  if (!call) {
    throw new UsageError("no VPN hook environment found (script_type, PLUTO_VERB or REASON)", {
      hint: "run it as an OpenVPN/strongSwan/ocserv hook, or use `vpnnotify notify --user U --ip IP`",
    });
  }
  // A worker started by the sh hook for logins it queued drains the spool whatever its own environment holds.
  const queuedWorker = detached && env[QUEUED_ENV] === "1";
  // Refusing stays first: under auth-user-pass-verify an exit 0 would pass any password.
  const problem = call.refuse
    ? call.problem
    : queuedWorker
      ? undefined
      : name !== "hook" && call.source !== name
        ? `"vpnnotify ${name}" was called with an ${call.source} environment (use the command of your VPN server, or plain vpnnotify)`
        : call.problem && `${call.problem} (check the VPN server's script settings)`;
  if (problem) {
    // Called by a VPN server after all: a setup mistake must not cost the user the connection,
    // unless the exit code is the verdict on a password (then exit 0 would let anyone in).
    const { log, close } = hookLogger({ level: "error", format: opts.logFormat, detached, facility: "daemon", stderr: io.stderr });
    log.error(call.refuse ? "refused" : "failed", { reason: problem });
    await close();
    return call.refuse ? ExitCode.CONFIG : ExitCode.OK;
  }
  const event = call.event;
  if (!event && !queuedWorker) return ExitCode.OK;

  let config: VpnnotifyConfig;
  try {
    config = (await loadConfig({ tool: "vpnnotify", schema: configSchema, path: opts.config })).config;
  } catch (error) {
    // Without a config onFailure is unknown: a broken config must not lock everyone out.
    return unusableConfig(
      error,
      event,
      hookLogger({ level: "error", format: opts.logFormat, detached, facility: "daemon", stderr: io.stderr }),
      env,
    );
  }
  const { log, close } = hookLogger({
    level: opts.quiet ? "error" : opts.verbose >= 2 ? "debug" : "info",
    format: opts.logFormat,
    detached,
    facility: config.log.syslogFacility,
    file: config.log.file,
    stderr: io.stderr,
  });
  const reject = config.onFailure === "reject";
  if (detached) {
    // The per-host worker. The launcher queued the login already (QUEUED_ENV); else it is queued
    // here. Only when it cannot even be spooled is it handled directly, below, as a one-off.
    let n: Notifier;
    try {
      n = createNotifier(config, log, undefined, { worker: true });
    } catch (error) {
      // A file the valid config names (slack.token's, a bind password's, a template) that cannot be read: as unusable
      // as a broken config. It ended this worker with OpenVPN still told "2" (wait), and nobody heard of it.
      // onFailure is known here: "reject" refuses the login no alert can be sent for, as it would after a failed send
      return unusableConfig(error, event, { log, close }, env, config.onFailure === "reject" ? "0" : "1");
    }
    const queued = queuedWorker || (event !== undefined && (await queueOwnLogin(event, n, config, clock, log)));
    let worked: Awaited<ReturnType<typeof workSpool>> | undefined;
    const alone = queued || !event ? undefined : await handleAlone(event, config, clock, log);
    if (queued || alone?.spooled) {
      // Handled alone, its in-memory retry got the login into the spool (space again): drained now, with what else
      // waits there, as the worker this hook meant to start, instead of waiting for a later hook or flush.
      worked = await workSpool(n, config);
    }
    // Another worker runs (its hook queued without knowing): it reports the spool, not this one. Handled alone,
    // this process says what still waits there (a full disk holds up the queued logins too).
    if (!worked?.busy && !worked?.stoppedBy) await logPending(n, log);
    await n.store.close().catch(() => {});
    await close();
    // Stopped by a signal: its exit code, as a shell or systemd reports a process the signal ended.
    if (worked?.stoppedBy) return STOP_SIGNALS[worked.stoppedBy] as ExitCode;
    return alone?.stoppedBy ? ((128 + osConstants.signals[alone.stoppedBy]) as ExitCode) : ExitCode.OK;
  }
  if (!event) return ExitCode.OK;
  const deferred = event.deferredFile;
  // With onFailure "accept" the answer is known already: let the client in now.
  const unwritable = deferred && !reject ? answerDeferred(deferred, "1") : undefined;
  if (unwritable) log.warn(unwritable);

  let failure: Error | undefined;
  const deadlineAt = runDeadline(config, clock);
  let notifier: Notifier | undefined;
  const progress: ConnectProgress = {};
  const stop = untilStopSignal();
  try {
    const n = createNotifier(config, log, deadlineAt);
    notifier = n;
    const outcome = await Promise.race([
      runBounded(deadlineAt, config, () =>
        event.kind === "disconnect" ? handleDisconnect(event, n) : handleConnect(event, n, undefined, undefined, progress),
      ),
      stop.signalled,
    ]);
    if (outcome === undefined) return await stoppedMidWait(stop.stoppedBy ?? "SIGTERM", event, deferred, reject, progress, log, close);
    if (outcome.verdict === "failed") failure = new UnavailableError(outcome.errors[0] ?? "nobody could be told about the login");
  } catch (error) {
    failure = error as Error;
    log.error("failed", { user: event.user, ip: event.ip, reason: describeError(error) });
  } finally {
    stop.release();
  }
  const unanswered = deferred && reject ? answerDeferred(deferred, failure ? "0" : "1") : undefined;
  if (unanswered) log.warn(unanswered);
  // Refused (OpenVPN told 0, or ocserv and OpenVPN --wait by the exit code): the spooled alert, sent later by the worker
  // or flush, says the login was refused, not that a session started (T50 N2).
  if (failure && reject && (deferred || !detached)) await progress.refuse?.().catch(() => {});
  if (notifier) {
    const n = notifier;
    // Cut off at the deadline while the alert was being spooled: let that local write finish.
    await n.spool.idle();
    await logPending(n, log);
    await n.store.close().catch(() => {});
  }
  await close();
  // Calls past the deadline may still be in flight: main.ts's runCli ends the process once this code is set.
  return failure && reject && !detached ? exitOf(failure) : ExitCode.OK;
}

/**
 * The signals that stop a `--wait` hook (ocserv or OpenVPN stopping it, a person) and would otherwise end it at once:
 * its exit, 128 + the signal's number as a shell reports it, is non-zero, which ocserv and OpenVPN read as a refusal.
 */
const WAIT_STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
type WaitStopSignal = (typeof WAIT_STOP_SIGNALS)[number];

/** Until a stop signal arrives (`signalled` then resolves, `stoppedBy` says which); `release` restores the default. */
function untilStopSignal(): { signalled: Promise<undefined>; stoppedBy?: WaitStopSignal; release: () => void } {
  let onSignal: (signal: WaitStopSignal) => void = () => {};
  const stop: ReturnType<typeof untilStopSignal> = {
    signalled: new Promise<undefined>((resolve) => {
      onSignal = (signal) => {
        stop.stoppedBy ??= signal;
        resolve(undefined);
      };
    }),
    release: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
  const handlers = WAIT_STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.once(signal, handler);
  return stop;
}

/**
 * A `--wait` hook stopped before its verdict: the VPN server reads its non-zero exit as a refusal (under onFailure
 * "accept" too), so its spooled alert, sent later by the worker or flush, says the login was refused rather than that a
 * session started (T54 N2b), as at the deadline. OpenVPN's deferred file, under reject, says 0 as well. What is still
 * in flight (a Slack call) is left to the exit.
 */
async function stoppedMidWait(
  signal: WaitStopSignal,
  event: VpnEvent,
  deferred: string | undefined,
  reject: boolean,
  progress: ConnectProgress,
  log: Logger,
  close: () => Promise<void>,
): Promise<ExitCode> {
  const unanswered = deferred && reject ? answerDeferred(deferred, "0") : undefined;
  if (unanswered) log.warn(unanswered);
  await progress.refuse?.().catch(() => {});
  log.warn(`stopped by ${signal} before the verdict`, {
    user: event.user,
    ip: event.ip,
    reason: event.kind === "connect" ? "the exit refuses the login; its alert, kept in the spool, says so" : undefined,
    spooled: progress.spooled,
  });
  await close();
  return (128 + osConstants.signals[signal]) as ExitCode;
}

/**
 * A config that cannot be used (broken, or naming a file that cannot be read). The client is let in when onFailure
 * cannot be read (it may be the part that is wrong), and as onFailure says when it can (`answer`). It silences every
 * alert, so the line says so; the detached worker (no stderr) sends it to syslog. The launcher queued logins by the
 * raw JSON: the ones OpenVPN waits on are let in, and counted.
 */
async function unusableConfig(
  error: unknown,
  event: VpnEvent | undefined,
  { log, close }: { log: Logger; close: () => Promise<void> },
  env: NodeJS.ProcessEnv,
  answer: "0" | "1" = "1",
): Promise<ExitCode> {
  const unwritable = answerDeferred(event?.deferredFile, answer);
  if (unwritable) log.warn(unwritable);
  const queued = env[DETACHED_ENV] === "1" ? await releaseQueued(env[SPOOL_ENV], log, answer) : undefined;
  const client = answer === "1" ? "the client was let in" : "the client was refused: onFailure is reject";
  log.error("failed", {
    user: event?.user,
    ip: event?.ip,
    reason: `unusable config, so NO login is notified until it is fixed (${client}): ${describeError(error)}`,
    queued,
  });
  await close();
  return ExitCode.OK;
}

/**
 * The detached worker's own login when the spool could not take it (its disk full, or not writable): handled here
 * alone, as the worker would (paced Slack, its timeouts), not cut at the hook's deadline — nobody waits on this
 * process but OpenVPN's deferred answer, given by then — so the line logged is what happened: an alert cut off
 * in flight could have gone out after being logged failed. Not delivered, it is kept in memory and retried for
 * spool.retryUnspooledSeconds (notify.ts), then logged as LOST. Returns whether the login is in the spool now
 * (that retry got it there: the caller drains it), and the signal that stopped that retry (the caller exits 128 + n).
 */
async function handleAlone(
  event: VpnEvent,
  config: VpnnotifyConfig,
  clock: RunClock,
  log: Logger,
): Promise<{ spooled: boolean; stoppedBy?: NodeJS.Signals }> {
  const deferred = event.deferredFile;
  const reject = config.onFailure === "reject";
  const unwritable = deferred && !reject ? answerDeferred(deferred, "1") : undefined;
  if (unwritable) log.warn(unwritable);
  const n: Notifier = {
    ...createNotifier(config, log, undefined, { worker: true }),
    retryUnspooledMs: config.spool.retryUnspooledSeconds * 1000,
  };
  const progress: ConnectProgress = {};
  const work = (event.kind === "disconnect" ? handleDisconnect(event, n) : handleConnect(event, n, undefined, undefined, progress)).catch(
    (error: unknown) => {
      log.error("failed", { user: event.user, ip: event.ip, reason: describeError(error) });
      return undefined;
    },
  );
  if (deferred && reject) {
    // OpenVPN waits on the verdict: by the hook's deadline, whatever comes later.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"0">((resolve) => {
      timer = setTimeout(() => resolve("0"), Math.max(0, runDeadline(config, clock) - Date.now()));
    });
    const verdict = await Promise.race([work.then((o) => (!o || o.verdict === "failed" ? "0" : "1")), late]);
    clearTimeout(timer);
    const unanswered = answerDeferred(deferred, verdict);
    if (unanswered) log.warn(unanswered);
    // Its alert, still being sent (here or from the spool), says the login was refused (T50 N2).
    if (verdict === "0") await progress.refuse?.().catch(() => {});
  }
  const outcome = await work;
  await n.spool.idle();
  await n.store.close().catch(() => {});
  return { spooled: outcome?.spooled !== undefined, ...(outcome?.stoppedBy ? { stoppedBy: outcome.stoppedBy } : {}) };
}

/**
 * A typo in the VPN server's hook line must not lock everyone out: runCli printed the problem, the client
 * goes in (exit 0), and the VPN server's log and syslog say that alerts are off. The settle step of main.ts's
 * runCli, as it decides on the exit code of any command.
 */
export function letInOnUsageError(code: ExitCode, io: IOStreams): ExitCode {
  const call = code === ExitCode.USAGE && !io.env[DETACHED_ENV] ? parseHookEnv(io.env, Date.now()) : undefined;
  if (!call?.event) return code;
  const unwritable = answerDeferred(call.event.deferredFile, "1");
  // Like a broken config: every call says, in the VPN server's log and in syslog, that alerts are off.
  const log = new Logger({ tool: "vpnnotify", level: "error", syslog: { facility: "daemon" }, stream: io.stderr });
  if (unwritable) log.warn(unwritable);
  log.error("failed", {
    user: call.event.user,
    ip: call.event.ip,
    reason:
      "the hook line in the VPN server's config is wrong (see above), so NO login is notified until it is fixed (the client was let in)",
  });
  return ExitCode.OK;
}

/**
 * A worker that cannot read its config, started by a launcher that queued logins in `spool`: it
 * takes back the start claim (so the next hook starts a worker, and logs, again), answers every OpenVPN
 * deferred client-connect still waiting (`answer`: "1" when a broken config lets clients in) and
 * returns how many logins wait there; they are notified once the config is fixed.
 */
async function releaseQueued(spool: string | undefined, log: Logger, answer: "0" | "1"): Promise<number | undefined> {
  if (!spool) return undefined;
  await rm(join(spool, "worker.starting"), { force: true }).catch(() => {});
  const names = (await readdir(spool).catch(() => [] as string[])).filter(isSpoolEntryName);
  for (const name of names) {
    try {
      // Non-blocking, no symlinks, regular files only: a planted FIFO must not hang this worker; and,
      // as the spool trusts them, only this user's files that nobody else may write (answer.file is a path it writes to).
      const handle = await open(join(spool, name), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      const text = await handle
        .stat()
        .then((stat) => (stat.isFile() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0 ? handle.readFile("utf8") : "null"))
        .finally(() => handle.close());
      const entry = JSON.parse(text);
      const waiting = entry?.payload?.answer;
      if (typeof waiting?.file !== "string") continue;
      const unwritable = answerDeferred(waiting.file, answer);
      if (unwritable) log.warn(unwritable);
      delete entry.payload.answer;
      await writeFileAtomic(join(spool, name), `${JSON.stringify(entry)}\n`, { fsync: false });
    } catch {
      // Delivered or unreadable meanwhile: the next worker with a good config deals with it.
    }
  }
  return names.length;
}

/**
 * The worker's own login, when the launcher could not queue it (a YAML config, or a spool
 * directory not made yet): into the spool, answering OpenVPN as the hook would have. False when
 * the spool cannot be written (then the login is handled directly, as before the queue).
 */
async function queueOwnLogin(event: VpnEvent, n: Notifier, config: VpnnotifyConfig, clock: RunClock, log: Logger): Promise<boolean> {
  const reject = config.onFailure === "reject";
  const deferred = event.deferredFile;
  try {
    await n.spool.enqueue(queuedLogin(event, reject ? runDeadline(config, clock) : undefined));
  } catch (error) {
    log.warn("cannot queue the login in the spool; handling it alone", { spool: n.spool.dir, error: describeError(error) });
    return false;
  }
  const unwritable = deferred && !reject ? answerDeferred(deferred, "1") : undefined;
  if (unwritable) log.warn(unwritable);
  return true;
}

function exitOf(error: Error): ExitCode {
  const code = (error as { exitCode?: number }).exitCode;
  return typeof code === "number" && code !== 0 ? (code as ExitCode) : ExitCode.UNAVAILABLE;
}
