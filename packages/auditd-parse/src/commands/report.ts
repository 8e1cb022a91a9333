import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, type ParseFlags, SUBCOMMAND_HELP } from "./flags";

export interface ReportCommandOptions {
  ctx: CliContext;
  files: string[];
  flags: ParseFlags;
}

/** `auditd-parse report`: aureport's summaries of the events. */
export function newReportCommand(program: Command, runF: RunFn<ReportCommandOptions> = runReportCommand): Command {
  return addInputOptions(
    program
      .command("report")
      .description("aureport's summaries: logins, authentications, executables, keys, files, anomalies, commands per user")
      .option("--top <n>", "rows per summary in the readable report (default 20; --json has them all)")
      // its own --format: the program's lists the event formats (csv, ecs), which a report is not written in
      .option("--format <format>", "text (the default: readable tables) or html (one self-contained page); --json for JSON")
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
Each summary counts events by its columns (with first and last time in --json), most frequent first;
at most 10000 distinct rows per summary, the rest counted.

--format html: the same summaries as one self-contained page (at most 500 rows per table); with -o FILE
it replaces FILE whole, atomically. When an input could not be read (exit 65) the page has a banner
and the readable report a first line saying so; --json keeps its shape (check the exit code). When
none could (exit 66) nothing is written on stdout, in any format.

Examples:
  auditd-parse report --since yesterday /var/log/audit/audit.log*
  auditd-parse report --format html /var/log/audit/audit.log* > report.html`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    const ctx = cliContext(command);
    exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
  });
}

export async function runReportCommand({ ctx, files, flags }: ReportCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("report", files, flags, ctx, io);
  return ExitCode.OK;
}
