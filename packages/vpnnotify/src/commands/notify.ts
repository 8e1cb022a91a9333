import {
  type CliContext,
  type Command,
  cliContext,
  describeError,
  ExitCode,
  exitWith,
  type IOStreams,
  loadConfig,
  parseIsoTime,
  type RunFn,
  UsageError,
} from "@opsguard/core";
import { configSchema } from "../config";
import { CLOCK_SKEW_MS, type VpnEvent, vpnUser } from "../event";
import { type ConnectProgress, handleConnect, noHistoryFor, type Outcome } from "../notify";
import { createNotifier } from "../runtime";
import { DeadlineError, logPending, type RunClock, runBounded, runDeadline } from "./run";

export interface NotifyCommandOptions {
  ctx: CliContext;
  clock: RunClock;
  flags: { user: string; ip: string; port?: string; time?: string };
}

/** `vpnnotify notify`: a login reported by anything other than a VPN server's hook. */
export function newNotifyCommand(program: Command, clock: RunClock, runF: RunFn<NotifyCommandOptions> = runNotifyCommand): Command {
  return program
    .command("notify")
    .description("handle a login reported by anything else")
    .requiredOption("--user <name>", "the VPN user")
    .requiredOption("--ip <address>", "the client's public address")
    .option("--port <port>", "the client's source port")
    .option("--time <iso8601>", "when the session started (default: now)")
    .action(async (flags: NotifyCommandOptions["flags"], command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "info" });
      exitWith(command, await runF({ ctx, clock, flags }, ctx.io));
    });
}

export async function runNotifyCommand({ ctx, clock, flags }: NotifyCommandOptions, io: IOStreams): Promise<ExitCode> {
  // As a hook without a user name is refused (nobody to tell): the same rule, so both keep one history per name.
  const user = vpnUser(flags.user);
  if (user === undefined) {
    throw new UsageError("--user is empty (or only spaces or control characters)", { hint: "pass the VPN user's name" });
  }
  // Node decodes each byte that is not UTF-8 to U+FFFD: names that differ only there would share one history.
  if (noHistoryFor(user)) {
    throw new UsageError("--user is not valid UTF-8 (or holds U+FFFD, what such bytes decode to)", {
      hint: "pass the VPN user's name in UTF-8, as the directory spells it",
    });
  }
  const time = flags.time === undefined ? Date.now() : parseIsoTime(flags.time.trim());
  if (Number.isNaN(time)) throw new UsageError(`--time "${flags.time}" is not a date`, { hint: "use ISO 8601, e.g. 2026-11-23T10:00:00Z" });
  // a login from the future would be remembered as the place's latest, and keep every real login from it quiet
  if (time - Date.now() >= CLOCK_SKEW_MS) {
    throw new UsageError(`--time "${flags.time}" is more than a day ahead of this host's clock`, {
      hint: "pass the time the session started (a past time replays a login), or leave --time out for now",
    });
  }
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    throw new UsageError(`--port "${flags.port}" is not a port number`);
  }
  const event: VpnEvent = { kind: "connect", source: "cli", user, ip: flags.ip, time, ...(port ? { port } : {}) };
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  const deadlineAt = runDeadline(config, clock);
  const n = createNotifier(config, ctx.log, deadlineAt);
  const progress: ConnectProgress = {};
  // Past the deadline the error is reported at once: calls still in flight do not hold the bin up, as main.ts's
  // runCli ends the process once the exit code is set.
  const outcome = await runBounded(deadlineAt, config, () => handleConnect(event, n, undefined, undefined, progress)).catch(
    async (error: unknown) => {
      // Cut off while the alert was being spooled: let that local write finish, so the report can name the entry.
      await n.spool.idle();
      if (ctx.opts.json && error instanceof DeadlineError) io.stdout.write(`${JSON.stringify(cutOff(event, progress, error))}\n`);
      throw error;
    },
  );
  await logPending(n, ctx.log);
  await n.store.close().catch(() => {});
  if (ctx.opts.json) io.stdout.write(`${JSON.stringify(outcome)}\n`);
  return outcome.verdict === "failed" ? ExitCode.UNAVAILABLE : ExitCode.OK;
}

/**
 * `--json`'s result for a login cut off at the deadline, shaped like any other outcome: "failed" with the reason,
 * and the spool entry that keeps the alert for the worker or `flush` (or why it could not be kept).
 */
function cutOff(event: VpnEvent, progress: ConnectProgress, error: DeadlineError): Outcome {
  const reason = describeError(error);
  return {
    verdict: "failed",
    reason,
    user: event.user,
    ip: progress.ip ?? event.ip,
    place: progress.place ?? "unknown",
    flags: [],
    ...(progress.spooled ? { spooled: progress.spooled } : {}),
    ...(progress.spoolError ? { spoolError: progress.spoolError } : {}),
    errors: [reason],
  };
}
