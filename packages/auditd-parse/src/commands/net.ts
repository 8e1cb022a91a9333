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
      .option(
        "--format <format>",
        "text (the default: one line per connection, with its host on a multi-host log) or ndjson (one JSON object per connection); --json for one JSON array",
      )
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
Listed: connect, sendto, sendmsg, sendmmsg (->), accept, accept4 and the peer a recvfrom, recvmsg or recvmmsg
received from (<-), bind (listen). A nonblocking connect that returned EINPROGRESS is shown as in progress, not
failed. A saddr that is no hex is listed as "unreadable" with the value as logged; a unix path that is not UTF-8
shows its bytes past ASCII in octal, \\377 (JSON: addressRaw, the hex of its bytes). A socket address of an arch whose syscalls
have no table (riscv32 …) is counted in a warning. --json writes one array; with -F, or --format ndjson, one
connection a line (NDJSON, each line whole when written).

Example:
  auditd-parse net --json /var/log/audit/audit.log | jq '.[] | select(.direction == "outbound")'`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    const ctx = cliContext(command);
    const flags = command.optsWithGlobals<ParseFlags>();
    // the program's --format defaults to ndjson (its events'); only a --format ndjson the user gave asks net for
    // NDJSON, one connection a line (T57 F9): the default stays the text list
    if (command.getOptionValueSourceWithGlobals("format") === "default") flags.format = undefined;
    exitWith(command, await runF({ ctx, files, flags }, ctx.io));
  });
}

export async function runNetCommand({ ctx, files, flags }: NetCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("net", files, flags, ctx, io);
  return ExitCode.OK;
}
