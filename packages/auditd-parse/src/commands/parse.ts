import { lstatSync } from "node:fs";
import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { UsageError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, outputOption, type ParseFlags } from "./flags";

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
      "keep reading the file as it grows and across rotation or truncation, like tail -F (a rotated file not readable yet is waited for, one this user may not read said on stderr; a compressed file is refused, exit 66); SIGINT, SIGTERM and SIGHUP end it with exit 0 (65 while the rotated-in file cannot be read), but SIGHUP reopens -o FILE",
      false,
    )
    .option("--from-end", "with --follow: start at the end of the file", false)
    .option("-o, --output <file>", "append to this file instead of stdout (given once, and not one of the inputs)", outputOption)
    .action(async (files: string[], _flags: ParseFlags, command: Command) => {
      refuseMistypedCommand(
        files[0],
        command.commands.map((c) => c.name()),
      );
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
    });
}

export async function runParseCommand({ ctx, files, flags }: ParseCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("events", files, flags, ctx, io);
  return ExitCode.OK;
}

/**
 * `auditd-parse session log` (a subcommand's name mistyped) read "session" as a log file: `cannot read session:
 * ENOENT`, the other files' events, exit 65 (T34 #13). A first operand that is no existing path and is one edit
 * away from a subcommand's name (two for names longer than four letters) is a usage error naming that command.
 */
function refuseMistypedCommand(word: string | undefined, names: readonly string[]): void {
  if (word === undefined) return;
  try {
    if (lstatSync(word, { throwIfNoEntry: false }) !== undefined) return;
  } catch {
    // a path that cannot be looked at (a directory on the way not searchable) is a path: it is named when read
    return;
  }
  const near = names.find((name) => editDistance(word, name) <= (name.length > 4 ? 2 : 1));
  if (near !== undefined)
    throw new UsageError(`unknown command ${JSON.stringify(word)}, and no file has that name`, {
      hint: `did you mean ${near}? see auditd-parse ${near} --help`,
    });
}

/** Edits from a to b: a letter inserted, deleted or replaced, or two neighbours swapped (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        d[0]![j] = j;
        continue;
      }
      const row = d[i]!;
      const up = d[i - 1]!;
      row[j] = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
