import type { Env, HookCall } from "./event";

/**
 * The connect path OpenVPN, strongSwan and ocserv wait on. It reads the environment, tells
 * OpenVPN "deferred" when offered, starts a detached worker (the same command, marked by
 * VPNNOTIFY_DETACHED) that does the GeoIP, state, directory and Slack work, and returns at once,
 * so a slow or dead Slack, LDAP or Redis never holds up a login. Returns false to let the full
 * CLI handle the call (flags such as --wait or --help, `notify`, input that deserves an error line).
 *
 * Self-contained like parseHookEnv, for the same reason: the installed launcher carries a copy
 * and answers hooks without loading the bundle.
 */
export function runHookFastPath(
  args: readonly string[],
  env: Env,
  script: string,
  parse: (env: Env, now: number) => HookCall | undefined,
): boolean {
  if (env.VPNNOTIFY_DETACHED) return false;
  const rest = [...args];
  const command = ["hook", "openvpn", "updown", "ocserv"].includes(rest[0] ?? "") ? rest.shift() : undefined;
  let positional = 0;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    if (arg === "-c" || arg === "--config") i++;
    else if (arg.startsWith("--config=")) continue;
    else if (arg.startsWith("-")) return false;
    else positional++;
  }
  // Only -c/--config and OpenVPN's trailing dynamic-config-file argument take the fast path.
  if (positional > 1) return false;
  const call = parse(env, Date.now());
  if (!call || call.problem || (command && command !== "hook" && command !== call.source)) return false;
  const event = call.event;
  if (!event) return true;
  const { writeFileSync } = process.getBuiltinModule("node:fs");
  const { spawn } = process.getBuiltinModule("node:child_process");
  const workerEnv: Record<string, string | undefined> = { ...env, VPNNOTIFY_DETACHED: "1" };
  let deferred = event.deferredFile;
  if (deferred) {
    try {
      writeFileSync(deferred, "2");
    } catch (error) {
      // Not deferred then: exit 0 lets the client in now, and the worker only notifies. A stack
      // trace and exit 1 here would make OpenVPN reject the client.
      const why = (error as NodeJS.ErrnoException).code ?? String(error);
      process.stderr.write(
        `vpnnotify: warn: cannot write client_connect_deferred_file ${JSON.stringify(deferred)} (${why}); the client goes in without waiting\n`,
      );
      deferred = undefined;
      delete workerEnv.client_connect_deferred_file;
    }
  }
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    detached: true,
    stdio: "ignore",
    env: workerEnv,
  });
  child.on("spawn", () => {
    child.unref();
    // The notification is background work: it must not compete with the VPN server for the CPU.
    try {
      if (child.pid) process.getBuiltinModule("node:os").setPriority(child.pid, 10);
    } catch {}
  });
  child.on("error", (error: Error) => {
    // No worker, no notification; the login itself must still go through.
    try {
      if (deferred) writeFileSync(deferred, "1");
    } catch {}
    process.stderr.write(`vpnnotify: failed user=${event.user} ip=${event.ip} reason="cannot start the worker: ${error.message}"\n`);
  });
  return true;
}

export const DETACHED_ENV = "VPNNOTIFY_DETACHED";

/** The launcher's fast path: both functions' source, run before (and usually instead of) the bundle. */
export function launcherFastPath(parse: (env: Env, now: number) => HookCall | undefined): string {
  return `(${runHookFastPath.toString()})(process.argv.slice(2), process.env, __filename, (${parse.toString()}))`;
}
