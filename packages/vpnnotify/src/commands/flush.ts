import { dirname, join } from "node:path";
import { type CliContext, type Command, cliContext, ExitCode, exitWith, type IOStreams, loadConfig, type RunFn } from "@opsguard/core";
import { configSchema } from "../config";
import { flushAlerts, SpoolRun, STOP_SIGNALS } from "../drain";
import { countEntries } from "../entry-counts";
import type { Notifier } from "../notify";
import { refuseRootOnHookSpool } from "../run-as";
import { createNotifier } from "../runtime";
import { checkSpoolDir, clearStaleStartClaim, releaseOwnDrainLock, withSpoolAccess } from "../spool-guard";
import { logPending, statusJson, unsentInDead } from "./run";

export interface FlushCommandOptions {
  ctx: CliContext;
  flags: { force?: boolean };
}

/** `vpnnotify flush`: retries the spooled alerts (a timer runs it). */
export function newFlushCommand(program: Command, runF: RunFn<FlushCommandOptions> = runFlushCommand): Command {
  return program
    .command("flush")
    .description("retry the alerts that could not be delivered yet (run it from a timer)")
    .option("--force", "retry every pending alert now, ignoring its backoff")
    .action(async (flags: FlushCommandOptions["flags"], command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "info" });
      exitWith(command, await runF({ ctx, flags }, ctx.io));
    });
}

export async function runFlushCommand({ ctx, flags }: FlushCommandOptions, io: IOStreams): Promise<ExitCode> {
  const { config, filepath } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  // Nobody waits on a flush: it paces Slack like the worker, rather than failing alerts on a 429.
  const n = createNotifier(config, ctx.log, undefined, { worker: true });
  // sudo drops $VPNNOTIFY_CONFIG: the command to run names the config when it was not found by default.
  const named = (ctx.opts.config ?? process.env.VPNNOTIFY_CONFIG) ? filepath : undefined;
  // The state file's directory too, when it is a file: a root-owned spool beside another user's state is no better.
  refuseRootOnHookSpool({ spool: n.spool.dir, state: config.state.redis ? undefined : dirname(config.state.file) }, "flush", named);
  await checkSpoolDir(n.spool.dir);
  // SIGTERM/SIGINT (systemd stopping the timer's unit, Ctrl-C) hands the alerts under way back, as the worker does.
  const run = new SpoolRun(n, "flush");
  const done = await run
    .untilSignal(() =>
      withSpoolAccess(n.spool.dir, async () => {
        await clearStaleStartClaim(n.spool.dir);
        const concurrency = config.spool.concurrency;
        // Each alert is bounded by the Slack, LDAP and store timeouts, and the spool holds a bounded number.
        const first = await flushAlerts(n, { force: flags.force === true, concurrency, run });
        // Hooks that queued a login while this held the drain lock took it for a worker and started none:
        // what came due meanwhile is this run's to deliver too (failures back off, so this ends).
        while (!first.busy && !run.stoppedBy && (await n.spool.hasDue().catch(() => false))) {
          const more = await flushAlerts(n, { concurrency, run });
          // A worker took over: it delivers the rest.
          if (more.busy) break;
          first.delivered += more.delivered;
          first.suppressed += more.suppressed;
          first.disconnects += more.disconnects;
          first.failed += more.failed;
          first.gaveUp += more.gaveUp;
        }
        // Leased: another process works on them (a --wait hook, notify), or one stopped without handing them back
        // (SIGKILL). Not even --force takes them before the lease runs out: said, not passed over in silence.
        const now = Date.now();
        const leased = first.busy ? [] : (await n.spool.list({ readOnly: true })).filter((e) => e.leaseUntil > now);
        return { result: first, status: await n.spool.status(), leased };
      }),
    )
    .finally(() => (run.stoppedBy ? undefined : n.store.close().catch(() => {})));
  if (!done) return stopped(ctx, io, n, run);
  const { result, status, leased } = done;
  const leasedUntil = leased.length > 0 ? new Date(Math.max(...leased.map((e) => e.leaseUntil))).toISOString() : undefined;
  if (ctx.opts.json) {
    io.stdout.write(
      `${JSON.stringify({ ...result, leased: leased.length, leasedUntil: leasedUntil ?? null, ...statusJson(status, n.spool.dir), spool: n.spool.dir })}\n`,
    );
  }
  if (result.busy) {
    ctx.log.warn("another vpnnotify (the worker, or a flush) is draining the spool: it delivers what is due; nothing done here", {
      pending: status.pending,
      spool: n.spool.dir,
    });
  } else if (status.pending > 0) await logPending(n, ctx.log);
  if (leasedUntil) {
    ctx.log.warn("alerts leased by another process, not retried now (one working on them, or one stopped without handing them back)", {
      leased: leased.length,
      until: leasedUntil,
      spool: n.spool.dir,
    });
  }
  if (result.busy) return ExitCode.TEMP_FAIL;
  // Alerts given up on (maxAttempts) or put aside as unreadable are kept, not sent: a timer's flush that passed over
  // them would let a weekend's outage (or a restore that left entries group-writable) end in logins nobody was told
  // of, with every run green. Each run says so, with the fix, and fails until they are dealt with.
  const unsent = unsentInDead(status, n.spool.dir);
  for (const kind of unsent) {
    // Those this user cannot read are in the spool itself, not in dead/.
    const where = kind.key === "cannotRead" ? { spool: n.spool.dir } : { dead: join(n.spool.dir, "dead") };
    ctx.log.error(kind.message, { [kind.key]: kind.count, ...where, fix: kind.fix });
  }
  if (unsent.length > 0) return ExitCode.UNAVAILABLE;
  return result.failed > 0 ? ExitCode.UNAVAILABLE : leasedUntil ? ExitCode.TEMP_FAIL : ExitCode.OK;
}

/** Stopped by a signal: what was under way is handed back, the drain lock let go, one line said, and the signal's exit code. */
async function stopped(ctx: CliContext, io: IOStreams, n: Notifier, run: SpoolRun): Promise<ExitCode> {
  const signal = run.stoppedBy ?? "SIGTERM";
  const handedBack = await run.handBack();
  await releaseOwnDrainLock(n.spool.dir);
  await n.store.close().catch(() => {});
  // What it was done with before the stop; what it had under way is the handed-back count.
  const { delivered, suppressed, disconnects } = countEntries({ busy: false, failed: 0, gaveUp: 0 }, run.kinds);
  const counts = { delivered, suppressed, disconnects, handedBack };
  if (ctx.opts.json) io.stdout.write(`${JSON.stringify({ stoppedBy: signal, ...counts, spool: n.spool.dir })}\n`);
  ctx.log.warn(`flush stopped by ${signal}`, counts);
  return STOP_SIGNALS[signal] as ExitCode;
}
