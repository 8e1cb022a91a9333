import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { detectSource, type Env, EventError, eventFromEnv } from "./event";

/**
 * The connect path OpenVPN, strongSwan and ocserv wait on. It imports nothing heavy: it reads the
 * environment, tells OpenVPN "deferred" when offered, starts a detached worker (this same
 * command, marked by VPNNOTIFY_DETACHED) that does the GeoIP, state, directory and Slack work,
 * and exits 0 at once. A slow or dead Slack, LDAP or Redis can therefore never hold up a login.
 */

export const DETACHED_ENV = "VPNNOTIFY_DETACHED";
const HOOK_COMMANDS = new Set(["hook", "openvpn", "updown", "ocserv"]);

/**
 * Handles the call here when it is a plain hook call; returns false to let the full CLI handle it
 * (flags such as --wait or --help, `notify`, bad input that deserves a proper error line).
 */
export function runHookFastPath(args: readonly string[], env: Env, script: string): boolean {
  if (env[DETACHED_ENV]) return false;
  const rest = [...args];
  const command = rest[0] && HOOK_COMMANDS.has(rest[0]) ? rest.shift() : undefined;
  if (!plainHookArgs(rest)) return false;
  const source = detectSource(env);
  if (!source || (command && command !== "hook" && command !== source)) return false;
  let event: ReturnType<typeof eventFromEnv>;
  try {
    event = eventFromEnv(source, env);
  } catch (error) {
    if (error instanceof EventError) return false;
    throw error;
  }
  // A hook phase with nothing to do (OpenVPN's up/down, strongSwan's prepare-*).
  if (!event) return true;
  if (event.deferredFile) writeFileSync(event.deferredFile, "2");
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...env, [DETACHED_ENV]: "1" },
  });
  child.on("spawn", () => child.unref());
  child.on("error", (error) => {
    // No worker, no notification; the login itself must still go through.
    if (event.deferredFile) writeFileSync(event.deferredFile, "1");
    process.stderr.write(`vpnnotify: failed user=${event.user} ip=${event.ip} reason="cannot start worker: ${error.message}"\n`);
  });
  return true;
}

/** Only `-c FILE`/`--config FILE` and OpenVPN's trailing config-file argument. */
function plainHookArgs(args: readonly string[]): boolean {
  let positional = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "-c" || arg === "--config") i++;
    else if (arg.startsWith("--config=")) continue;
    else if (arg.startsWith("-")) return false;
    else positional++;
  }
  return positional <= 1;
}
