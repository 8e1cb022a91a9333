import { join } from "node:path";
import {
  type CliContext,
  type Command,
  cliContext,
  describeError,
  ExitCode,
  ensurePrivateDir,
  exitWith,
  type IOStreams,
  type RunFn,
  UsageError,
  withLock,
  writeJson,
  writeStdout,
} from "@opsguard/core";
import { formatDiff, formatInterrupted } from "../format";
import { withRunLease } from "../lease";
import { runProgress } from "../progress";
import { type RunProgress, runOnce } from "../run";
import { withDeputize } from "./shared";

const MIN_WATCH = 1;
const MAX_WATCH = 7 * 24 * 60;

export interface RunOptions {
  ctx: CliContext;
  dryRun: boolean;
  force: boolean;
  /** --watch as given (validated by the run). */
  watch?: string | undefined;
}

/** `deputize run` (the default): make every sink match who is on call now; once, or every --watch minutes. */
export function newRunCommand(program: Command, runF: RunFn<RunOptions> = runRun): Command {
  return program
    .command("run", { isDefault: true })
    .description("make every sink match who is on call now")
    .option("-n, --dry-run", "print the per-sink diff and change nothing", false)
    .option("--force", "apply even a change that removes more than maxRemovals members", false)
    .option("--watch <minutes>", "keep running, one pass every <minutes> (1 to 10080)")
    .action(async (opts: { dryRun: boolean; force: boolean; watch?: string }, command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "warn" });
      exitWith(command, await runF({ ctx, ...opts }, ctx.io));
    });
}

export async function runRun(options: RunOptions, io: IOStreams): Promise<ExitCode> {
  const { ctx, dryRun, force } = options;
  const every = options.watch === undefined ? undefined : Number(options.watch);
  // Bounded both ways: below a minute hammers every API, and past setTimeout's 2^31 ms (~24.8 days)
  // Node fires at once, which would be a busy loop.
  if (every !== undefined && !(Number.isFinite(every) && every >= MIN_WATCH && every <= MAX_WATCH)) {
    throw new UsageError(`--watch expects minutes between ${MIN_WATCH} and ${MAX_WATCH} (one week), got "${options.watch}"`, {
      hint: "for example --watch 5",
    });
  }
  if (every === undefined) return interruptible(io, (progress) => runPass(ctx, io, dryRun, force, progress));
  await watch(ctx, every, () => runPass(ctx, io, dryRun, force));
  return ExitCode.OK;
}

async function runPass(ctx: CliContext, io: IOStreams, dryRun: boolean, force: boolean, progress?: RunProgress): Promise<ExitCode> {
  const steps = runProgress(ctx, io.stderr);
  const options = { dryRun, force, log: ctx.log, onStep: steps.onStep, ...(progress ? { progress } : {}) };
  const report = await withDeputize(
    ctx,
    async (dep, config) => {
      if (dryRun) return runOnce(dep, options);
      // Two overlapping cron runs would post the hand-off twice: one run at a time on this host, and
      // with lease.redis one run at a time across hosts.
      await ensurePrivateDir(dep.settings.stateDir, { log: ctx.log });
      return withLock(
        join(dep.settings.stateDir, "run"),
        () =>
          withRunLease(
            config,
            {
              log: ctx.log,
              onHeld: (release) => {
                if (progress) progress.releaseLease = release;
              },
            },
            (shared) => runOnce(dep, { ...options, ...shared }),
          ),
        {
          timeoutMs: 60_000,
        },
      );
    },
    { readOnly: dryRun },
  ).finally(() => steps.stop());
  if (ctx.opts.json) writeJson(report, io.stdout);
  else writeStdout(formatDiff(report, dryRun), io.stdout);
  return report.exitCode;
}

/**
 * One pass that a signal (cron's timeout, systemd stopping the unit, Ctrl-C) may cut short: it then
 * ends at once with one line on stderr saying what was already applied, instead of silently.
 */
async function interruptible(io: IOStreams, run: (progress: RunProgress) => Promise<ExitCode>): Promise<ExitCode> {
  const progress: RunProgress = { applied: [], applying: new Set() };
  const handlers = (["SIGTERM", "SIGINT"] as const).map((signal) => {
    const handler = () => {
      io.stderr.write(`deputize: ${formatInterrupted(signal, progress)}\n`);
      io.flush();
      const exit = () => process.exit(128 + (signal === "SIGTERM" ? 15 : 2));
      // The lease is handed back so the other host need not wait for its TTL; bounded, Redis may be what hangs.
      const release = progress.releaseLease?.();
      if (!release) exit();
      else void Promise.race([release, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]).finally(exit);
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  try {
    return await run(progress);
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/**
 * A long-running loop for a service manager: a failed pass is logged, the next one still comes; SIGTERM ends it
 * after the pass in progress, exit 0 (a stop asked for is no failure of the service; each pass's own is logged).
 */
async function watch(ctx: CliContext, minutes: number, pass: () => Promise<ExitCode>): Promise<void> {
  let stoppedBy: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    clearTimeout(timer);
    wake?.();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Read after the pass: a signal during it means there is no next one (T30 #4: "next in 1 min", then exit).
  const next = () => (stoppedBy ? `stopping (${stoppedBy}): no next pass` : `next in ${minutes} min`);
  while (!stoppedBy) {
    try {
      const code = await pass();
      if (code !== ExitCode.OK) ctx.log.warn(`pass ended with exit code ${code}; ${next()}`);
    } catch (error) {
      ctx.log.error(`pass failed: ${describeError(error)}; ${next()}`);
    }
    if (stoppedBy) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, minutes * 60_000);
    });
  }
}
