import { fileURLToPath } from "node:url";
import {
  type Command,
  ExitCode,
  exitWith,
  type GlobalOptions,
  type IOStreams,
  installWithLauncher,
  ioOf,
  type RunFn,
  UsageError,
} from "@opsguard/core";
import { parseHookEnv } from "../event";
import { embeddedDatabaseFiles } from "../geoip";
import { launcherFastPath } from "../hook";
import { installShHook } from "../sh-hook";

export interface InstallCommandOptions {
  prefix: string;
  config?: string;
  /** The running bundle, which install copies (only the built .cjs can be). */
  bundle: string;
}

/** `vpnnotify install`: the bundle with a code-cached launcher and the sh hook, and the lines to give the VPN server. */
export function newInstallCommand(program: Command, runF: RunFn<InstallCommandOptions> = runInstallCommand): Command {
  return program
    .command("install")
    .description("install this bundle with a code-cached launcher, the command to give the VPN server")
    .option("--prefix <dir>", "where to put it", "/usr/local/lib/vpnnotify")
    .action(async (flags: { prefix: string }, command: Command) => {
      const { config } = command.optsWithGlobals<GlobalOptions>();
      const bundle = fileURLToPath(import.meta.url);
      exitWith(command, await runF({ prefix: flags.prefix, bundle, ...(config === undefined ? {} : { config }) }, ioOf(command)));
    });
}

export async function runInstallCommand({ prefix, config, bundle }: InstallCommandOptions, io: IOStreams): Promise<ExitCode> {
  if (!bundle.endsWith(".cjs"))
    throw new UsageError("install copies the built bundle", { hint: "run the built vpnnotify (dist/vpnnotify.cjs)" });
  const { launcher } = installWithLauncher({
    bundle,
    prefix,
    name: "vpnnotify",
    cacheEnv: "VPNNOTIFY_CODE_CACHE",
    files: embeddedDatabaseFiles(),
    fastPath: launcherFastPath(parseHookEnv),
  });
  const sh = await installShHook(prefix, launcher, config);
  if (sh.skipped) io.stderr.write(`vpnnotify: sh hook not written (client-connect stays on the launcher): ${sh.skipped}\n`);
  io.stdout.write(
    [
      `installed ${launcher}`,
      ...(sh.path ? [`installed ${sh.path} (re-run install after editing the config)`] : []),
      "OpenVPN server config:",
      "  script-security 2",
      `  client-connect ${sh.path ?? launcher}`,
      `  client-disconnect ${launcher}`,
      `strongSwan: leftupdown=${launcher}    ocserv: connect-script = ${launcher}`,
      "",
    ].join("\n"),
  );
  return ExitCode.OK;
}
