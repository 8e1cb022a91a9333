import {
  type CliContext,
  type Command,
  cliContext,
  ExitCode,
  exitWith,
  type IOStreams,
  loadConfig,
  type RunFn,
  UsageError,
} from "@opsguard/core";
import { configSchema } from "../config";
import type { VpnEvent } from "../event";
import { handleConnect } from "../notify";
import { createNotifier } from "../runtime";
import { logPending, type RunClock, runBounded, runDeadline } from "./run";

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
  const time = flags.time === undefined ? Date.now() : Date.parse(flags.time);
  if (Number.isNaN(time)) throw new UsageError(`--time "${flags.time}" is not a date`, { hint: "use ISO 8601, e.g. 2026-11-23T10:00:00Z" });
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    throw new UsageError(`--port "${flags.port}" is not a port number`);
  }
  const event: VpnEvent = { kind: "connect", source: "cli", user: flags.user, ip: flags.ip, time, ...(port ? { port } : {}) };
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  const deadlineAt = runDeadline(config, clock);
  const n = createNotifier(config, ctx.log, deadlineAt);
  // Past the deadline the error is reported at once: calls still in flight do not hold the bin up, as main.ts's
  // runCli ends the process once the exit code is set.
  const outcome = await runBounded(deadlineAt, config, () => handleConnect(event, n)).catch(async (error: unknown) => {
    await n.spool.idle();
    throw error;
  });
  await logPending(n, ctx.log);
  await n.store.close().catch(() => {});
  if (ctx.opts.json) io.stdout.write(`${JSON.stringify(outcome)}\n`);
  return outcome.verdict === "failed" ? ExitCode.UNAVAILABLE : ExitCode.OK;
}
