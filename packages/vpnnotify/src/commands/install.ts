import { chmodSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Command,
  ConfigError,
  ExitCode,
  exitWith,
  type GlobalOptions,
  type IOStreams,
  installWithLauncher,
  ioOf,
  Logger,
  loadConfig,
  type RunFn,
  UsageError,
} from "@opsguard/core";
import { configSchema } from "../config";
import { parseHookEnv } from "../event";
import { embeddedDatabaseFiles } from "../geoip";
import { launcherFastPath } from "../hook";
import { checkAsHookUser, findUser, type HookUser } from "../run-as";
import { createNotifier, spoolDir } from "../runtime";
import { installShHook, shQuote } from "../sh-hook";

/** The launcher with the config install was given, for the VPN servers' other hook lines (ocserv passes no arguments). */
const CONFIG_HOOK_NAME = "vpnnotify-hook";

export interface InstallCommandOptions {
  prefix: string;
  config?: string;
  /** The running bundle, which install copies (only the built .cjs can be). */
  bundle: string;
  /** The user the VPN server runs hooks as (--hook-user): the config's files are checked as that user. */
  hookUser?: string;
}

/** `vpnnotify install`: the bundle with a code-cached launcher and the sh hook, and the lines to give the VPN server. */
export function newInstallCommand(program: Command, runF: RunFn<InstallCommandOptions> = runInstallCommand): Command {
  return program
    .command("install")
    .description("install this bundle with a code-cached launcher, the command to give the VPN server")
    .option("--prefix <dir>", "where to put it", "/usr/local/lib/vpnnotify")
    .option(
      "--hook-user <user>",
      "the user the VPN server runs hooks as: run as root, install checks that it can read the config's secret and template files (default: the spool directory's owner)",
    )
    .action(async (flags: { prefix: string; hookUser?: string }, command: Command) => {
      const { config } = command.optsWithGlobals<GlobalOptions>();
      const bundle = fileURLToPath(import.meta.url);
      const options = {
        prefix: flags.prefix,
        bundle,
        ...(config === undefined ? {} : { config }),
        ...(flags.hookUser === undefined ? {} : { hookUser: flags.hookUser }),
      };
      exitWith(command, await runF(options, ioOf(command)));
    });
}

export async function runInstallCommand(
  { prefix: given, config, bundle, hookUser: userGiven }: InstallCommandOptions,
  io: IOStreams,
): Promise<ExitCode> {
  // Empty would install into whatever directory install runs in.
  if (!given.trim()) throw new UsageError("--prefix is empty", { hint: "name the directory, e.g. --prefix /usr/local/lib/vpnnotify" });
  const hookUser = userGiven === undefined ? undefined : findUser(userGiven);
  if (userGiven !== undefined && !hookUser) {
    throw new UsageError(`--hook-user: no user ${JSON.stringify(userGiven)} on this host`, {
      hint: "name the user the VPN server runs hooks as",
    });
  }
  // Absolute, as the config's path: the hooks are run from the VPN server's directory, not install's.
  const prefix = resolve(given);
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
  const problem = await configProblem(config, io, hookUser);
  const sh = problem ? { skipped: "the config is not usable (see below)" } : await installShHook(prefix, launcher, config);
  if (sh.skipped) io.stderr.write(`vpnnotify: sh hook not written (client-connect stays on the launcher): ${sh.skipped}\n`);
  // A config named by --config or $VPNNOTIFY_CONFIG is not where the launcher looks when a VPN server runs it.
  const named = config ?? process.env.VPNNOTIFY_CONFIG;
  const hook = named ? writeConfigHook(prefix, launcher, resolve(named)) : launcher;
  io.stdout.write(
    [
      `installed ${launcher}`,
      ...(hook !== launcher ? [`installed ${hook} (the launcher with --config ${resolve(named ?? "")})`] : []),
      ...(sh.path ? [`installed ${sh.path} (re-run install after editing the config)`] : []),
      "OpenVPN server config:",
      "  script-security 2",
      `  client-connect ${sh.path ?? hook}`,
      `  client-disconnect ${hook}`,
      `strongSwan: leftupdown=${hook}    ocserv: connect-script = ${hook}`,
      "",
    ].join("\n"),
  );
  // The files are in place, but with this config every hook notifies no login: a deploy script re-running install
  // after editing the config must see that, not 0 (T62 F8).
  if (problem) {
    throw new ConfigError(`installed, but the config is not usable: no login is notified until it is fixed: ${problem.message}`, {
      hint: `${problem.hint ? `${problem.hint}; then ` : "fix it, then "}run vpnnotify install again`,
    });
  }
  return ExitCode.OK;
}

/**
 * The config the hooks will read, checked as `status` checks it (valid, and every secret and template file it names
 * readable, by the hooks' user when install runs as root: checkAsHookUser); undefined when it is fine, or when there
 * is none (said on the sh hook's line: OpenVPN keeps the launcher).
 */
async function configProblem(path: string | undefined, io: IOStreams, hookUser: HookUser | undefined): Promise<ConfigError | undefined> {
  try {
    const { config, filepath } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path });
    if (!filepath) return undefined;
    // Nothing connects: the network parts only do when used.
    const n = createNotifier(config, new Logger({ tool: "vpnnotify", stream: io.stderr }), undefined, { worker: true });
    await n.store.close().catch(() => {});
    const asHooks = checkAsHookUser(config, spoolDir(config), hookUser);
    for (const note of asHooks.notes) io.stderr.write(`vpnnotify: warn: ${note}\n`);
    return asHooks.problem;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

/**
 * `<prefix>/vpnnotify-hook`: sets VPNNOTIFY_CONFIG (unless the VPN server's environment has a non-empty one, as the sh hook does)
 * and execs the launcher. A script rather than `launcher --config FILE` in the printed lines: ocserv runs its
 * connect-script with no arguments. Written beside and renamed over, so a hook running meanwhile keeps the old one.
 */
function writeConfigHook(prefix: string, launcher: string, config: string): string {
  const path = join(prefix, CONFIG_HOOK_NAME);
  const temp = `${path}.new-${process.pid}`;
  const script = [
    "#!/bin/sh",
    "# Written by vpnnotify install: the launcher with the config it was installed with. Re-run install to change it.",
    // Empty counts as unset (`:-`), as the Node hook treats it: VPNNOTIFY_CONFIG= must not lose the config.
    `VPNNOTIFY_CONFIG=\${VPNNOTIFY_CONFIG:-${shQuote(config)}}`,
    "export VPNNOTIFY_CONFIG",
    `exec ${shQuote(launcher)} "$@"`,
    "",
  ].join("\n");
  try {
    writeFileSync(temp, script, { mode: 0o755 });
    chmodSync(temp, 0o755);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
  return path;
}
