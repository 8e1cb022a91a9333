import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { ConfigError, escapeLine } from "@opsguard/core";
import type { VpnnotifyConfig } from "./config";

/** A user as `id` knows them (passwd, LDAP through NSS): the name to tell an admin, and the groups it reads files by. */
export interface HookUser {
  uid: number;
  name: string;
  /** Primary and supplementary; undefined when `id` could not say (only the owner's bits are then judged). */
  gids?: number[];
}

/** The user owning `dir` (the spool: the VPN server's hook user), when it is not this one and this one is root. */
export function otherOwnerAsRoot(dir: string): HookUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let uid: number;
  try {
    uid = statSync(dir).uid;
  } catch {
    return undefined;
  }
  return uid === 0 ? undefined : hookUser(uid);
}

/** A user by name or uid, as `id` knows them; undefined when it does not. */
export function findUser(given: string): HookUser | undefined {
  const r = spawnSync("id", ["-u", "--", given], { encoding: "utf8", timeout: 5_000 });
  const uid = r.status === 0 ? Number(r.stdout.trim()) : Number.NaN;
  return Number.isInteger(uid) ? hookUser(uid) : undefined;
}

export function hookUser(uid: number): HookUser {
  const ask = (flag: string) => {
    const r = spawnSync("id", [flag, "--", String(uid)], { encoding: "utf8", timeout: 5_000 });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const name = ask("-nu") ?? `uid ${uid}`;
  const gids = ask("-G")
    ?.split(/\s+/)
    .map(Number)
    .filter((g) => Number.isInteger(g));
  return { uid, name, ...(gids && gids.length > 0 ? { gids } : {}) };
}

/**
 * flush (or another command that writes the hooks' spool and state) run as root on the hook user's spool: it would
 * deliver that user's alerts but could not record them in the state (core refuses root writing into another user's
 * private directory), and the advice it then gave, to chown the state to root, would lock the hooks out of it (T64 N1).
 * Refused before anything is delivered, naming the user to run it as.
 */
export function refuseRootOnHookSpool(
  dirs: { spool: string; state?: string | undefined },
  command: string,
  config: string | undefined,
): void {
  const found = [{ what: "spool directory", dir: dirs.spool }, ...(dirs.state ? [{ what: "state directory", dir: dirs.state }] : [])]
    .map((d) => ({ ...d, owner: otherOwnerAsRoot(d.dir) }))
    .find((d) => d.owner !== undefined);
  const owner = found?.owner;
  if (!found || !owner) return;
  const name = /^[A-Za-z0-9._-]+$/.test(owner.name) ? owner.name : `#${owner.uid}`;
  throw new ConfigError(
    `the ${found.what} ${escapeLine(found.dir)} belongs to ${escapeLine(owner.name)} (uid ${owner.uid}), the user the hooks run as; as root, ${command} would deliver its alerts without being able to record them in that user's state`,
    { hint: `run it as ${escapeLine(owner.name)}: sudo -u ${name} vpnnotify${config ? ` --config ${escapeLine(config)}` : ""} ${command}` },
  );
}

/**
 * The files a hook must read or it notifies no login (its config is unusable then): the secrets given as files and
 * the template files, by config key. A secret from the environment, systemd credentials or Vault is not a file here.
 */
export function filesTheHooksNeed(config: VpnnotifyConfig): { key: string; path: string }[] {
  const secretFile = (ref: unknown): string | undefined => {
    if (typeof ref === "object" && ref !== null && "file" in ref) return String((ref as { file: string }).file);
    if (typeof ref !== "string") return undefined;
    return ref.startsWith("file:") ? ref.slice(5) : ref.startsWith("/") ? ref : undefined;
  };
  const named: [string, string | undefined][] = [
    ["slack.token", secretFile(config.slack.token)],
    ["answers.signingSecret", secretFile(config.answers?.signingSecret)],
    ["state.redis.password", secretFile(config.state.redis?.password)],
    ["directory.ldap.bindPassword", secretFile(config.directory?.ldap?.bindPassword)],
    ["templates.userFile", config.templates.userFile],
    ["templates.securityFile", config.templates.securityFile],
  ];
  return named.filter((n): n is [string, string] => n[1] !== undefined).map(([key, path]) => ({ key, path }));
}

/**
 * The files of `files` that `user` cannot read, asked as that user (setpriv with its uid and groups, then test -r):
 * its groups and any ACL count as they do for the hooks. undefined when that could not be asked (no setpriv).
 */
export function unreadableBy(user: HookUser, files: readonly { key: string; path: string }[]): { key: string; path: string }[] | undefined {
  const groups =
    user.gids && user.gids.length > 0 ? ["--regid", String(user.gids[0]), "--groups", user.gids.join(",")] : ["--clear-groups"];
  const unreadable: { key: string; path: string }[] = [];
  for (const file of files) {
    const r = spawnSync("setpriv", ["--reuid", String(user.uid), ...groups, "--", "test", "-r", file.path], { timeout: 5_000 });
    if (r.status === 1) unreadable.push(file);
    else if (r.status !== 0) return undefined;
  }
  return unreadable;
}

/**
 * The config checked as the hooks' user (given, or the spool's owner) when this is root, who reads every file: a
 * secret only root can read passed, and every hook then notified nobody (T64 N7). A ConfigError naming the first
 * file it cannot read; a note (for stderr) when it could only be checked as root.
 */
export function checkAsHookUser(
  config: VpnnotifyConfig,
  spool: string,
  given: HookUser | undefined,
): { problem?: ConfigError; note?: string; user?: HookUser } {
  if (process.getuid?.() !== 0) return {};
  const user = given ?? otherOwnerAsRoot(spool);
  const files = filesTheHooksNeed(config);
  if (!user) {
    // A root-owned spool: the hooks run as root too. None yet: nobody to check as.
    let exists = true;
    try {
      statSync(spool);
    } catch {
      exists = false;
    }
    if (exists || files.length === 0) return {};
    return {
      note: `checked the config's files as root, who can read them all: the hooks' user may not (no spool directory ${escapeLine(spool)} yet to tell who that is; create it for them with install -d -o USER -m 700 ${escapeLine(spool)}, or give --hook-user USER)`,
    };
  }
  const unreadable = unreadableBy(user, files);
  if (!unreadable) {
    return { note: `checked the config's files as root only: cannot run a check as ${escapeLine(user.name)} (setpriv is missing)`, user };
  }
  const [first] = unreadable;
  if (!first) return { user };
  const shown = escapeLine(first.path);
  return {
    user,
    problem: new ConfigError(
      `${first.key}: ${shown} cannot be read by ${escapeLine(user.name)} (uid ${user.uid}), the user the hooks run as${
        unreadable.length > 1
          ? ` (nor ${unreadable
              .slice(1)
              .map((f) => f.key)
              .join(", ")})`
          : ""
      }`,
      { hint: `let that user read it, e.g. chown ${escapeLine(user.name)} ${shown} && chmod 600 ${shown}` },
    ),
  };
}
