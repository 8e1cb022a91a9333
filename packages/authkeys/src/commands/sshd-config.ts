import { join } from "node:path";
import { type Command, exitWith, ioOf, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { DEFAULT_PREFIX, sshdConfigLines } from "../sshd-config";

export interface SshdConfigOptions {
  path: string;
  runAs: string;
  config?: string | undefined;
}

/** `authkeys sshd-config`: the sshd_config lines that make sshd run authkeys (only prints). */
export function newSshdConfigCommand(program: Command, runF: RunFn<SshdConfigOptions> = runSshdConfig): Command {
  return program
    .command("sshd-config")
    .description("print the sshd_config lines that make sshd use authkeys")
    .option("--path <file>", "where authkeys is installed", join(DEFAULT_PREFIX, "authkeys"))
    .option("--run-as <user>", "AuthorizedKeysCommandUser", "authkeys")
    .action(async (opts: { path: string; runAs: string }, command: Command) => {
      const config = command.optsWithGlobals<{ config?: string }>().config;
      exitWith(command, await runF({ ...opts, config }, ioOf(command)));
    });
}

export async function runSshdConfig(options: SshdConfigOptions, io: IOStreams): Promise<ExitCode> {
  io.stdout.write(sshdConfigLines({ path: options.path, user: options.runAs, config: options.config }));
  return ExitCode.OK;
}
