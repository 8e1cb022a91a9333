import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, type ParseFlags } from "./flags";

export interface ParseCommandOptions {
  ctx: CliContext;
  files: string[];
  flags: ParseFlags;
}

/**
 * `auditd-parse [files...]` (the program's own action, no subcommand): events as NDJSON, text, a table, CSV or
 * ECS documents. Its options are the program's, so the subcommands see --format, --pretty, -o and -F too.
 */
export function newParseCommand(program: Command, runF: RunFn<ParseCommandOptions> = runParseCommand): Command {
  return addInputOptions(program)
    .option(
      "--format <format>",
      "output format: ndjson, text, table, csv (one row per event, for spreadsheets) or ecs (Elastic Common Schema, one document per line); sessions and report also html (see their --help)",
      "ndjson",
    )
    .option("--pretty", "indented JSON (one event, or detect's alert, per block; ECS documents too)", false)
    .option(
      "-F, --follow",
      "keep reading the file as it grows and across rotation or truncation, like tail -F (a rotated file not readable yet is waited for; a gzip file is refused, exit 66); SIGINT, SIGTERM and SIGHUP end it with exit 0, but SIGHUP reopens -o FILE",
      false,
    )
    .option("--from-end", "with --follow: start at the end of the file", false)
    .option("-o, --output <file>", "append to this file instead of stdout")
    .action(async (files: string[], _flags: ParseFlags, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
    });
}

export async function runParseCommand({ ctx, files, flags }: ParseCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("events", files, flags, ctx, io);
  return ExitCode.OK;
}
