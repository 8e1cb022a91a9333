import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import type { ExitCode } from "@opsguard/core/exit";
import type { DoctorOptions } from "../doctor";

export interface DoctorCommandOptions extends DoctorOptions {
  ctx: CliContext;
}

/** `authkeys doctor`: every check from config to a sample lookup, each with a verdict; exit 1 on any failure. */
export function newDoctorCommand(program: Command, runF: RunFn<DoctorCommandOptions> = runDoctorCommand): Command {
  return program
    .command("doctor")
    .description("check the config, the install (as sshd would), DNS/TCP/TLS/bind, and look up a sample user")
    .option("-u, --user <name>", "sample user to look up")
    .option("--binary <path>", "the authkeys file sshd will run (default: this one)")
    .option("--sshd-config <file>", "the sshd_config whose effective settings (sshd -T, as root) are checked (default: sshd's own)")
    .action(async (opts: DoctorOptions, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, ...opts }, ctx.io));
    });
}

export async function runDoctorCommand({ ctx, ...options }: DoctorCommandOptions): Promise<ExitCode> {
  const { runDoctor } = await import("../doctor");
  return runDoctor(ctx, options);
}
