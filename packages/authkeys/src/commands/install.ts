import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { DEFAULT_PREFIX } from "../sshd-config";

export interface InstallOptions {
  ctx: CliContext;
  prefix: string;
  runAs: string;
  cacheDir?: string | undefined;
}

/** `authkeys install`: the bundle where sshd accepts it, with its code cache; prints the sshd_config lines. */
export function newInstallCommand(program: Command, runF: RunFn<InstallOptions> = runInstall): Command {
  return program
    .command("install")
    .description("install this bundle where sshd accepts it (root-owned), with a V8 code cache and the cache directory")
    .option("--prefix <dir>", "install directory", DEFAULT_PREFIX)
    .option("--run-as <user>", "AuthorizedKeysCommandUser, owner of the cache directory", "authkeys")
    .option("--cache-dir <dir>", "offline key cache, only when the config has none (default: the config's cache.dir)")
    .action(async (opts: { prefix: string; runAs: string; cacheDir?: string }, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, ...opts }, ctx.io));
    });
}

export async function runInstall({ ctx, ...opts }: InstallOptions, io: IOStreams): Promise<ExitCode> {
  const { installAuthkeys } = await import("../install");
  const report = await installAuthkeys({ ...opts, config: ctx.opts.config });
  for (const warning of report.warnings) ctx.log.warn(warning);
  io.stderr.write(`authkeys: installed ${report.launcher}; add these lines to sshd_config:\n`);
  io.stdout.write(report.sshdConfig);
  return report.warnings.length > 0 ? ExitCode.FAILED : ExitCode.OK;
}
