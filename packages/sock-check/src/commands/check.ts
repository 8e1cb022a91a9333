import type { Command } from "@opsguard/core";
import { type CliContext, cliContext, createStyle, ExitCode, exitWith, formatOrJson, type IOStreams, type RunFn } from "@opsguard/core";
import { runCheck } from "../check";
import { deliver, type OutputFormat, verdictError } from "../output";
import { checkProgress } from "../progress";
import { checkOptions, type RangeFlags, withRange } from "./range";

export interface CheckCommandOptions {
  ctx: CliContext;
  flags: RangeFlags & { format: OutputFormat; output?: string; allowUnverified: boolean; postSlack?: string };
}

/** `sock-check check` (the default): every change in the range against the policy; blocks (exit 1) on any noncompliant one. */
export function newCheckCommand(program: Command, runF: RunFn<CheckCommandOptions> = runCheckCommand): Command {
  return withRange(
    program.command("check", { isDefault: true }).description("check every change in the range against the policy (the default)"),
  )
    .addOption(
      program
        .createOption("--format <format>", "report on stdout (or in --output)")
        .choices(["digest", "markdown", "json", "csv", "html"])
        .default("digest"),
    )
    .option("-o, --output <file>", "write the report (evidence) to FILE; the digest still goes to stdout")
    .option(
      "--allow-unverified",
      "do not block on changes the provider could not verify (they are still reported); a refused token still blocks",
      false,
    )
    .option("--post-slack <channel>", "post the digest to this Slack channel (needs slack.token)")
    .action(async (flags: CheckCommandOptions["flags"], command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, flags: { ...flags, format: formatOrJson(command, flags.format) } }, ctx.io));
    });
}

export async function runCheckCommand({ ctx, flags }: CheckCommandOptions, io: IOStreams): Promise<ExitCode> {
  const progress = checkProgress(ctx, io.stderr);
  let result: Awaited<ReturnType<typeof runCheck>>;
  try {
    result = await runCheck({ ...checkOptions(flags, ctx), ...progress.hooks });
  } finally {
    progress.stop();
  }
  const format: OutputFormat = ctx.opts.json ? "json" : flags.format;
  await deliver(result, {
    format,
    output: flags.output,
    allowUnverified: flags.allowUnverified,
    postSlack: flags.postSlack,
    style: createStyle(io.colorEnabled(io.stdout, ctx.opts.color)),
    log: ctx.log,
    stdout: io.stdout,
  });
  ctx.log.info("done", { requests: result.report.requests, commits: result.report.summary.commits });
  const error = verdictError(result, flags.allowUnverified);
  if (error) throw error;
  return ExitCode.OK;
}
