import { join } from "node:path";
import {
  type CliContext,
  cliContext,
  createProgram,
  describeError,
  ExitCode,
  ensurePrivateDir,
  loadConfig,
  redactSecrets,
  runCli,
  UsageError,
  withLock,
  writeJson,
  writeStdout,
} from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";

type Command = Parameters<typeof cliContext>[0];

import pkg from "../package.json" with { type: "json" };
import { buildDeputize } from "./build";
import { configSchema, type DeputizeConfig } from "./config";
import { field, formatDiff, formatInterrupted, formatStatus, formatUpcoming } from "./format";
import { withRunLease } from "./lease";
import { MAX_LOOKAHEAD_HOURS, upcoming } from "./next";
import { runProgress } from "./progress";
import { type RunProgress, type RunReport, runOnce } from "./run";

const HELP = `Config keys (YAML or JSON; see the README for every key):
  sources[]        type pagerduty | opsgenie | rotation, with schedules by name or id
  sinks[]          type ldap-group | gitlab-group | gitlab-approval-rule | slack | webhook
                   (gitlab-approval-rule: project, rule = the name of a regular approval rule whose
                   users deputize sets; its other fields are kept)
  ldap             urls, startTls, caFile, bindDn, bindPassword (file:/… or env:…), baseDn
  lookAheadMinutes grant access this long before a shift starts (0)
  graceMinutes     keep access this long after a shift ends (0)
  lookAhead        hours (12, 1 to 168): how far "next" looks; dm (false): each run sends a Slack
                   DM "you are on call from … to …" to whoever goes on call within those hours,
                   once per shift (remembered in stateDir, or in Redis with lease.redis; a failed
                   DM is retried next run); slackToken (default: the first slack sink's token;
                   scopes chat:write, users:read.email)
  allowEmpty       let a sink become empty when nobody is on call (false)
  maxRemovals      refuse a change removing more members at once, unless --force (5)
  lease.redis      url, username, password (secret), caFile, key, ttlSeconds (60), waitSeconds (60):
                   two hosts take turns through a Redis lease; Redis down fails the run (69), a
                   lease still held after waitSeconds is exit 75. Every write is fenced: the lease
                   is confirmed and extended just before it; a lease lost mid-run stops the
                   writes (exit 75). ttlSeconds >= 3 x timeoutMs. Without it, a lock file in
                   stateDir keeps two copies on one host apart
  stateDir         where the last announcement, Slack ids, each Slack part's last delivery and a
                   pending hand-off message are kept (/var/lib/opsguard/deputize)
Secrets are only read from files, the environment, systemd credentials (credential:NAME) or Vault
(vault:secret/path#key with VAULT_ADDR and VAULT_TOKEN, or VAULT_ROLE_ID + VAULT_SECRET_ID), and
never printed (stdout, --json, stderr). Ready systemd units ship in the package's systemd/ folder.
The Slack sink's topic, user group and message (also to announceChannels) are applied one by one;
a message that failed is retried on the next runs (at most 5 attempts) and shown by status;
before posting, the channel's history (scope channels:history) is read, and a hand-off already
there from this bot (an answer lost after Slack stored it, the other host's post) is not posted
again ("already posted"). A history error other than a missing scope posts nothing this run (exit 2;
kept and retried next run).
--watch takes 1 to 10080 minutes. A run stopped by SIGTERM/Ctrl-C prints one line saying what
was already applied (exit 143/130) and releases its Redis lease. Exit 74: stdout could not be written.

Examples:
  deputize run --dry-run          show what would change, change nothing
  deputize run                    make every sink match (quiet when nothing changed)
  deputize run --watch 5          stay running, every 5 minutes
  deputize status --json          on-call people, sink members and pending changes
  deputize next --hours 24        who goes on call in the next 24 hours, per schedule`;

const MIN_WATCH = 1;
const MAX_WATCH = 7 * 24 * 60;

const program = createProgram({
  name: "deputize",
  version: pkg.version,
  description: pkg.description,
  exitCodes: [
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.PARTIAL,
    ExitCode.USAGE,
    ExitCode.DATA_ERR,
    ExitCode.NO_INPUT,
    ExitCode.UNAVAILABLE,
    ExitCode.IO_ERR,
    ExitCode.TEMP_FAIL,
    ExitCode.NO_PERM,
    ExitCode.CONFIG,
  ],
  helpAfter: `${HELP}\n\nExit code 1 means a change was refused (nobody on call, too many removals); 2 that some sinks failed\nor someone on call could not be placed (no LDAP entry, Slack user or GitLab account).`,
});

program
  .command("run", { isDefault: true })
  .description("make every sink match who is on call now")
  .option("-n, --dry-run", "print the per-sink diff and change nothing", false)
  .option("--force", "apply even a change that removes more than maxRemovals members", false)
  .option("--watch <minutes>", "keep running, one pass every <minutes> (1 to 10080)")
  .action(async (opts: { dryRun: boolean; force: boolean; watch?: string }, command: Command) => {
    const ctx = cliContext(command, { defaultLevel: "warn" });
    const every = opts.watch === undefined ? undefined : Number(opts.watch);
    // Bounded both ways: below a minute hammers every API, and past setTimeout's 2^31 ms (~24.8 days)
    // Node fires at once, which would be a busy loop.
    if (every !== undefined && !(Number.isFinite(every) && every >= MIN_WATCH && every <= MAX_WATCH)) {
      throw new UsageError(`--watch expects minutes between ${MIN_WATCH} and ${MAX_WATCH} (one week), got "${opts.watch}"`, {
        hint: "for example --watch 5",
      });
    }
    const pass = () => runPass(ctx, opts.dryRun, opts.force);
    if (every === undefined) {
      process.exitCode = await interruptible((progress) => runPass(ctx, opts.dryRun, opts.force, progress));
      return;
    }
    await watch(ctx, every, pass);
  });

program
  .command("status")
  .description("who is on call per schedule, who is in each sink, and what the next run would change")
  .action(async (_opts: unknown, command: Command) => {
    const ctx = cliContext(command, { defaultLevel: "warn" });
    const report = await withDeputize(ctx, (dep) => runOnce(dep, { dryRun: true, log: ctx.log }));
    if (ctx.opts.json) writeJson(statusJson(report));
    else writeStdout(formatStatus(report));
    process.exitCode = report.exitCode;
  });

program
  .command("next")
  .description("who is on call in the next hours, per schedule (only reads)")
  .option("--hours <n>", `how far to look, 1 to ${MAX_LOOKAHEAD_HOURS} (lookAhead.hours, else 12)`)
  .action(async (opts: { hours?: string }, command: Command) => {
    const ctx = cliContext(command, { defaultLevel: "warn" });
    // Plain decimal digits only: Number() would also take "0x10", "0b11", "1e1" and " 12".
    const given = opts.hours === undefined ? undefined : /^\d{1,3}$/.test(opts.hours) ? Number(opts.hours) : Number.NaN;
    if (given !== undefined && !(Number.isInteger(given) && given >= 1 && given <= MAX_LOOKAHEAD_HOURS)) {
      throw new UsageError(`--hours expects a whole number of hours from 1 to ${MAX_LOOKAHEAD_HOURS}, got "${opts.hours}"`, {
        hint: "for example --hours 24",
      });
    }
    const report = await withDeputize(ctx, (dep) => upcoming(dep, new Date(), given ?? dep.lookAhead.hours));
    for (const e of report.sourceErrors) ctx.log.error(`source ${field(e.source)} failed: ${field(e.error)}`);
    if (ctx.opts.json) writeJson(report);
    else writeStdout(formatUpcoming(report));
    process.exitCode = report.exitCode;
  });

async function runPass(ctx: CliContext, dryRun: boolean, force: boolean, progress?: RunProgress): Promise<number> {
  const steps = runProgress(ctx);
  const options = { dryRun, force, log: ctx.log, onStep: steps.onStep, ...(progress ? { progress } : {}) };
  const report = await withDeputize(ctx, async (dep, config) => {
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
  }).finally(() => steps.stop());
  if (ctx.opts.json) writeJson(report);
  else writeStdout(formatDiff(report, dryRun));
  return report.exitCode;
}

async function withDeputize<T>(
  ctx: CliContext,
  fn: (dep: ReturnType<typeof buildDeputize>, config: DeputizeConfig) => Promise<T>,
): Promise<T> {
  const { config } = await loadConfig({ tool: "deputize", schema: configSchema, path: ctx.opts.config });
  const dep = buildDeputize(config, { log: ctx.log });
  try {
    return await fn(dep, config);
  } finally {
    await dep.close();
  }
}

/**
 * One pass that a signal (cron's timeout, systemd stopping the unit, Ctrl-C) may cut short: it then
 * ends at once with one line on stderr saying what was already applied, instead of silently.
 */
async function interruptible(run: (progress: RunProgress) => Promise<number>): Promise<number> {
  const progress: RunProgress = { applied: [], applying: new Set() };
  const handlers = (["SIGTERM", "SIGINT"] as const).map((signal) => {
    const handler = () => {
      process.stderr.write(`deputize: ${redactSecrets(formatInterrupted(signal, progress))}\n`);
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

/** A long-running loop for a service manager: a failed pass is logged, the next one still comes; SIGTERM ends it. */
async function watch(ctx: CliContext, minutes: number, pass: () => Promise<number>): Promise<void> {
  let stopping = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    stopping = true;
    clearTimeout(timer);
    wake?.();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  while (!stopping) {
    try {
      const code = await pass();
      if (code !== ExitCode.OK) ctx.log.warn(`pass ended with exit code ${code}; next in ${minutes} min`);
    } catch (error) {
      ctx.log.error(`pass failed: ${describeError(error)}; next in ${minutes} min`);
    }
    if (stopping) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, minutes * 60_000);
    });
  }
}

function statusJson(report: RunReport) {
  return {
    window: report.window,
    schedules: report.schedules,
    sourceErrors: report.sourceErrors,
    sinks: report.sinks.map((s) => ({
      sink: s.sink,
      kind: s.kind,
      members: s.plan?.current ?? [],
      onCall: s.onCall,
      nextRun: { status: s.status, add: s.plan?.add ?? [], remove: s.plan?.remove ?? [], updates: s.plan?.updates ?? [], reason: s.reason },
      unresolved: s.plan?.unresolved ?? [],
      ...(s.plan?.deliveries ? { deliveries: s.plan.deliveries } : {}),
      ...(s.plan?.pendingMessages ? { pendingMessages: s.plan.pendingMessages } : {}),
    })),
  };
}

addCompletionCommand(program);
void runCli(program);
