import type { Command } from "@opsguard/core";
import {
  type CliContext,
  cliContext,
  createStyle,
  ExitCode,
  exitWith,
  type IOStreams,
  type RunFn,
  redactedJson,
  UsageError,
} from "@opsguard/core";
import { runCheck } from "../check";
import { asOneLine, unverifiedError } from "../output";
import { durationMs } from "../policy";
import { checkProgress } from "../progress";
import { summarize } from "../record";
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
      exitWith(
        command,
        await runF({ ctx, flags }, ctx.io).catch((error: unknown) => {
          throw asOneLine(error);
        }),
      );
    });
}

export async function runRetroCommand({ ctx, flags }: RetroCommandOptions, io: IOStreams): Promise<ExitCode> {
  if (!/^\d+\s*[mhd]$/.test(flags.since)) throw new UsageError(`--since ${flags.since}: expected a duration such as 30d, 72h or 90m`);
  const ranged = flags.from !== undefined || flags.fromFile !== undefined || flags.fromUrl !== undefined;
  const since = ranged ? undefined : new Date(Date.now() - durationMs(flags.since));
  if (since && Number.isNaN(since.getTime()))
    throw new UsageError(`--since ${flags.since}: reaches before any date`, { hint: "give a window such as 30d, 72h or 90m" });
  const progress = checkProgress(ctx, io.stderr);
  const result = await runCheck({ ...checkOptions(flags, ctx), since, ...progress.hooks }).finally(() => progress.stop());
  // Fail closed like `check`: changes GitHub could not be asked about are not "no emergency changes".
  const incomplete = unverifiedError(result, "retro incomplete", false);
  if (incomplete) throw incomplete;
  if (ctx.opts.json) {
    io.stdout.write(redactedJson(result.report.records.filter((r) => r.emergency)));
  } else if (flags.format === "html") {
    const emergency = result.report.records.filter((r) => r.emergency);
    io.stdout.write(renderHtml({ ...result.report, records: emergency, summary: summarize(emergency) }, { blocked: false, kind: "retro" }));
  } else {
    io.stdout.write(renderRetro(result.report, createStyle(io.colorEnabled(io.stdout, ctx.opts.color))));
  }
  const error = retroError(result.report);
  if (error) throw error;
  return ExitCode.OK;
}
