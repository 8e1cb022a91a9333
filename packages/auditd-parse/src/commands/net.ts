import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, type ParseFlags, SUBCOMMAND_HELP } from "./flags";

export interface NetCommandOptions {
  ctx: CliContext;
  files: string[];
  flags: ParseFlags;
}

/** `auditd-parse net`: network connections with process, user, direction and address. */
export function newNetCommand(program: Command, runF: RunFn<NetCommandOptions> = runNetCommand): Command {
  return addInputOptions(
    program
      .command("net")
      .description("network connections (connect/accept/bind …) with process, user, direction, address")
      // its own --format: the program's lists the event formats (csv, ecs), which connections are not written in
      .option("--format <format>", "text (the default: one line per connection); --json for JSON")
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
A nonblocking connect that returned EINPROGRESS is shown as in progress, not failed. --json writes one array;
with -F, one connection a line (NDJSON, each line whole when written).

Example:
  auditd-parse net --json /var/log/audit/audit.log | jq '.[] | select(.direction == "outbound")'`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    const ctx = cliContext(command);
    exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
  });
}

export async function runNetCommand({ ctx, files, flags }: NetCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("net", files, flags, ctx, io);
  return ExitCode.OK;
}
