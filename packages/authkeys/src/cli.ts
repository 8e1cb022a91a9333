import { addCompletionOption } from "@opsguard/core/completion";
import "./zod-jitless";
import { type Command, createProgram } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import pkg from "../package.json" with { type: "json" };
import { newAgentCommand } from "./commands/agent";
import { newAuditCommand } from "./commands/audit";
import { newDoctorCommand } from "./commands/doctor";
import { newInstallCommand } from "./commands/install";
import { newLookupCommand } from "./commands/lookup";
import { newPrincipalsCommand } from "./commands/principals";
import { newSshdConfigCommand } from "./commands/sshd-config";
import { newVerifyCommand } from "./commands/verify";
import { HELP_AFTER } from "./help";

/** The full authkeys program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createAuthkeysProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "authkeys",
      version: pkg.version,
      description: "Print a user's SSH public keys from LDAP for sshd's AuthorizedKeysCommand: validated, cached for outages, fail closed.",
      exitCodes: [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.DATA_ERR,
        ExitCode.NO_INPUT,
        ExitCode.UNAVAILABLE,
        ExitCode.SOFTWARE,
        ExitCode.IO_ERR,
        ExitCode.TEMP_FAIL,
        ExitCode.NO_PERM,
        ExitCode.CONFIG,
      ],
      helpAfter: HELP_AFTER,
      // not core's search order: authkeys never reads rc files or ~/.config (sshd runs it as the command user)
      configHelp: "config file (default: $AUTHKEYS_CONFIG, else /etc/opsguard/authkeys.{json,yaml,yml})",
    },
    io,
  );
  newLookupCommand(program);
  newPrincipalsCommand(program);
  newDoctorCommand(program);
  newAgentCommand(program);
  newInstallCommand(program);
  newAuditCommand(program);
  newVerifyCommand(program);
  newSshdConfigCommand(program);
  addCompletionOption(program);
  return program;
}
