import type { Command } from "@opsguard/core";
import { createProgram, ExitCode, type IOStreams } from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";
import pkg from "../package.json" with { type: "json" };
import { newCheckCommand } from "./commands/check";
import { newRetroCommand } from "./commands/retro";
import { HELP_AFTER, HELP_SIGNALS } from "./help";

/** The sock-check program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createSockCheckProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "sock-check",
      version: pkg.version,
      description: pkg.description,
      exitCodes: [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.DATA_ERR,
        ExitCode.NO_INPUT,
        ExitCode.UNAVAILABLE,
        ExitCode.IO_ERR,
        ExitCode.TEMP_FAIL,
        ExitCode.NO_PERM,
        ExitCode.CONFIG,
      ],
      helpAfter: HELP_AFTER,
      // The policy is never searched for (an rc file in the checkout would let the change under review plant one).
      configHelp:
        "policy file outside the repository (one inside the checkout, or linked from it, is refused); wins over .sock-check.yml (default: $SOCK_CHECK_CONFIG)",
    },
    io,
  );
  program.addHelpText("after", HELP_SIGNALS);
  newCheckCommand(program);
  newRetroCommand(program);
  addCompletionCommand(program);
  return program;
}
