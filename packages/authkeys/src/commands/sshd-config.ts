import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type Command, exitWith, ioOf, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { INSTALLED_FILES } from "../installed-files";
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
    .option(
      "--path <file>",
      `where authkeys is installed (default: this installed launcher's own path, else ${join(DEFAULT_PREFIX, "authkeys")})`,
    )
    .option("--run-as <user>", "AuthorizedKeysCommandUser", "authkeys")
    .action(async (opts: { path?: string; runAs: string }, command: Command) => {
      const config = command.optsWithGlobals<{ config?: string }>().config;
      exitWith(
        command,
        await runF({ ...opts, path: opts.path ?? runningLauncher() ?? join(DEFAULT_PREFIX, "authkeys"), config }, ioOf(command)),
      );
    });
}

/**
 * The launcher this process was started as, when it is one `install` put somewhere (its record of the
 * copied bundles beside it): after `install --prefix /opt/x`, `/opt/x/authkeys sshd-config` must name
 * /opt/x/authkeys, not the default prefix, where nothing may be installed (sshd would refuse every login).
 */
function runningLauncher(): string | undefined {
  const argv1 = process.argv[1];
  if (!argv1) return undefined;
  try {
    // The launcher itself, or a bundle install copied beside it (`node /opt/x/authkeys.cjs sshd-config`).
    const real = realpathSync(argv1);
    const launcher = join(dirname(real), "authkeys");
    return /^authkeys(\.cjs)?$/.test(basename(real)) && existsSync(join(dirname(real), INSTALLED_FILES)) && existsSync(launcher)
      ? launcher
      : undefined;
  } catch {
    return undefined;
  }
}

export async function runSshdConfig(options: SshdConfigOptions, io: IOStreams): Promise<ExitCode> {
  io.stdout.write(sshdConfigLines({ path: options.path, user: options.runAs, config: options.config }));
  return ExitCode.OK;
}
