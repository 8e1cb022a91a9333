import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, outputOption, type ParseFlags, repeatedPath } from "./flags";

export interface DetectCommandOptions {
  ctx: CliContext;
  files: string[];
  flags: ParseFlags;
}

/** `auditd-parse detect`: Sigma rules over the events, one alert per match; exit 1 at --fail-level. */
export function newDetectCommand(program: Command, runF: RunFn<DetectCommandOptions> = runDetectCommand): Command {
  return addInputOptions(
    program
      .command("detect")
      .description("run Sigma detection rules (SigmaHQ's Linux auditd set built in) over the events; one alert per match")
      .option(
        "--rules <path>",
        "a Sigma rule file or a directory of them, repeatable: every one given is run, each file once by its real path (default: the built-in SigmaHQ auditd rules)",
        repeatedPath,
      )
      .option("--min-level <level>", "only alerts of this level or higher: informational, low, medium, high, critical")
      .option("--fail-level <level>", "exit 1 when a rule of this level or higher matched")
      .option(
        "--list-rules",
        "list the rules (level, id, title, author, source), those that failed to compile and why, and exit (65 when one failed)",
        false,
      )
      .option("-F, --follow", "keep reading the file as it grows and across rotation, like tail -F (alerts as events complete)", false)
      .option("--from-end", "with --follow: start at the end of the file", false)
      .option("-o, --output <file>", "append alerts to this file instead of stdout", outputOption)
      .addHelpText(
        "after",
        `
Output: one alert per rule that matched an event, NDJSON on stdout ({"time","host","rule":{"id","title",
  "level","tags","attack","author"},"records":[record types it matched],"event":{the event as auditd-parse
  prints it}}); a readable table when stdout is a terminal (--json keeps NDJSON there); --format ecs writes
  each alert as an Elastic Common Schema alert document instead; --pretty indents either.
Matching: each record is one Sigma document with its fields as logged (hex strings decoded, numbers as
  written), ENRICHED names (SYSCALL, UID …), EXECVE a0…aN the whole argv; a field the record lacks comes from
  the event's other records, but for argc, aN, aN[i] and aN_len (a record's own: an EXECVE of two arguments
  has no a2, whatever the SYSCALL's registers). Rules for another logsource than product linux / service auditd are skipped.
  A re (with i too) or wildcard value runs on V8's linear-time engine once it backtracks too much, so (a+)+ or
  .*a.*b.*c cannot stall the run; one with lookaround or a backreference is refused when it has an unbounded
  repetition (*, +, {n,}) or over 100 ways to match at one place, and so is a condition nested over 100
  deep, a rule of over 100,000 values (200,000 for all rules): that rule fails to compile.
  So does a value under a YAML tag (!foo x, !!binary …): Sigma uses none. Rule files past 32 MiB in all are
  named and not compiled. A rule file that holds no rule (0
  bytes, or only comments and ---) given as --rules FILE is exit 66; in a --rules DIR it is a warning.
Exit: 1 when a rule at or above --fail-level matched. 65 (incomplete; the alerts of the rest are written)
  when a rule could not be compiled or a rule file read (a FIFO, a device, no permission: each named on stderr,
  the others run; --list-rules exits so too), when an input could not be read whole, when an event over
  4096 records or 16 MiB had to be matched in parts, or when a line over 4 MiB was cut. 66 when --rules is missing or leaves no rule to run, or
  no input is readable. 74 when the alerts could not all be written (a full disk, or stdout's reader gone, as
  with | head), whatever matched.
The filter options select the events the rules see.

Examples:
  auditd-parse detect /var/log/audit/audit.log
  auditd-parse detect --rules ./my-rules --min-level medium --fail-level high /var/log/audit/audit.log*
  auditd-parse detect -F /var/log/audit/audit.log -o /var/log/audit/alerts.json
  auditd-parse detect --list-rules`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    const ctx = cliContext(command);
    exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
  });
}

export async function runDetectCommand({ ctx, files, flags }: DetectCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("detect", files, flags, ctx, io);
  return ExitCode.OK;
}
