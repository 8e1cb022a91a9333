import type { Command } from "@opsguard/core";
import {
  type CliContext,
  cliContext,
  createStyle,
  ExitCode,
  exitWith,
  formatOrJson,
  type IOStreams,
  OpsguardError,
  type RunFn,
  redactedJson,
  UsageError,
} from "@opsguard/core";
import { type CheckResult, runCheck } from "../check";
import { unverifiedError } from "../output";
import { durationMs } from "../policy";
import { checkProgress } from "../progress";
import { type ChangeRecord, summarize } from "../record";
import { renderHtml } from "../report/html";
import { renderRetro, retroError } from "../retro";
import { checkOptions, type RangeFlags, withRange } from "./range";

export interface RetroCommandOptions {
  ctx: CliContext;
  flags: RangeFlags & { since: string; format: "text" | "html" };
}

/** `sock-check retro`: emergency changes and whether their after-the-fact review is done, pending or overdue. */
export function newRetroCommand(program: Command, runF: RunFn<RetroCommandOptions> = runRetroCommand): Command {
  return withRange(
    program
      .command("retro")
      .description("report emergency changes merged recently (or in the range): retroactive review done, pending or overdue"),
    "see --since",
  )
    .option("--since <duration>", "without --from*: look at what merged in this window (m, h or d), shipped or not", "30d")
    .addOption(program.createOption("--format <format>", "report on stdout").choices(["text", "html"]).default("text"))
    .action(async (flags: RetroCommandOptions["flags"], command: Command) => {
      const ctx = cliContext(command);
      formatOrJson(command, flags.format);
      exitWith(command, await runF({ ctx, flags }, ctx.io));
    });
}

export async function runRetroCommand({ ctx, flags }: RetroCommandOptions, io: IOStreams): Promise<ExitCode> {
  // 0d is a window nothing merged in: a scheduled retro would pass every day having looked at nothing
  if (!/^\d+\s*[mhd]$/.test(flags.since) || /^0+\s*[mhd]$/.test(flags.since))
    throw new UsageError(`--since ${flags.since}: expected a duration such as 30d, 72h or 90m`);
  const ranged = flags.from !== undefined || flags.fromFile !== undefined || flags.fromUrl !== undefined;
  const since = ranged ? undefined : new Date(Date.now() - durationMs(flags.since));
  if (since && Number.isNaN(since.getTime()))
    throw new UsageError(`--since ${flags.since}: reaches before any date`, { hint: "give a window such as 30d, 72h or 90m" });
  const progress = checkProgress(ctx, io.stderr);
  const result = await runCheck({ ...checkOptions(flags, ctx), since, ...progress.hooks }).finally(() => progress.stop());
  // Fail closed like `check`: changes GitHub could not be asked about are not "no emergency changes".
  const incomplete = unverifiedError(result, "retro incomplete", false) ?? windowError(result);
  if (incomplete) throw incomplete;
  const report = { ...result.report, records: mergedInWindow(result) };
  if (ctx.opts.json) {
    io.stdout.write(redactedJson(report.records.filter((r) => r.emergency)));
  } else if (flags.format === "html") {
    const emergency = report.records.filter((r) => r.emergency);
    io.stdout.write(renderHtml({ ...report, records: emergency, summary: summarize(emergency) }, { blocked: false, kind: "retro" }));
  } else {
    io.stdout.write(renderRetro(report, createStyle(io.colorEnabled(io.stdout, ctx.opts.color))));
  }
  const error = retroError(report);
  if (error) throw error;
  return ExitCode.OK;
}

/**
 * The records of changes merged in the `--since` window, by the provider's merge time (the README's promise), not by
 * commit date: of the commits dated before it that were checked too (CheckResult.window), those whose PR merged in it
 * — a fast-forward merge keeps its commits' old dates.
 */
function mergedInWindow(result: CheckResult): ChangeRecord[] {
  const window = result.window;
  if (!window) return result.report.records;
  const earlier = new Set(window.earlier);
  const since = window.since.toISOString();
  return result.report.records.filter((r) => !earlier.has(r.commit.sha) || (r.pr?.merged_at ?? "") >= since);
}

/**
 * Fail closed when the commits checked before the window may not reach back far enough: first-parent history reaches
 * the branch in order, so once one of them arrived by a PR merged before `--since`, every older one did too. When
 * none did (all merged in the window, or pushed without a PR at a time nobody reports), an emergency change merged in
 * the window may lie further back.
 */
function windowError(result: CheckResult): OpsguardError | undefined {
  const window = result.window;
  if (!window || window.reachesRoot) return undefined;
  const since = window.since.toISOString();
  const earlier = new Set(window.earlier);
  const before = result.report.records.some((r) => earlier.has(r.commit.sha) && r.pr?.merged_at && r.pr.merged_at < since);
  if (before) return undefined;
  return new OpsguardError(
    `retro incomplete: none of the ${window.earlier.length} first-parent commits dated before the --since window is known to have been merged before it (a fast-forward merge keeps its commits' dates), so an emergency change merged in the window may be older than them`,
    ExitCode.UNAVAILABLE,
    { hint: `pass --from with a commit you know was on the branch before ${since}` },
  );
}
