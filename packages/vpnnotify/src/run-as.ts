import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { ConfigError, commandUser, describedUser, escapeLine, secretFilePath } from "@opsguard/core";
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
  const named: [string, string | undefined][] = [
    ["slack.token", secretFilePath(config.slack.token)],
    ["answers.signingSecret", secretFilePath(config.answers?.signingSecret)],
    ["state.redis.password", secretFilePath(config.state.redis?.password)],
    ["directory.ldap.bindPassword", secretFilePath(config.directory?.ldap?.bindPassword)],
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
 * The files of `files` that `user` cannot read by their owner, group and mode bits (POSIX: the owner's bits for the
 * owner, else the group's for a member, else the others'), for when it cannot be asked as that user (no setpriv): a
 * root-only 0600 token is still found (T66 P6). ACLs and the directories on the way are not seen; a user whose
 * groups are unknown is judged readable by a group's bits rather than refused on a guess.
 */
export function unreadableByMode(user: HookUser, files: readonly { key: string; path: string }[]): { key: string; path: string }[] {
  return files.filter((file) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(file.path);
    } catch {
      // missing: the config check (loading the secret) says so, with its own fix
      return false;
    }
    if (user.uid === 0) return false;
    if (st.uid === user.uid) return (st.mode & 0o400) === 0;
    if (!user.gids || user.gids.includes(st.gid)) return (st.mode & (user.gids ? 0o040 : 0o044)) === 0;
    return (st.mode & 0o004) === 0;
  });
}

/**
 * The config checked as the hooks' user (given, or the spool's owner) when this is root, who reads every file: a
 * secret only root can read passed, and every hook then notified nobody (T64 N7). A ConfigError naming the first
 * file it cannot read; notes (for stderr) on how it was checked when that is less than asking as that user.
 */
export function checkAsHookUser(
  config: VpnnotifyConfig,
  spool: string,
  given: HookUser | undefined,
): { problem?: ConfigError; notes: string[]; user?: HookUser } {
  if (process.getuid?.() !== 0) return { notes: [] };
  const owner = otherOwnerAsRoot(spool);
  const user = given ?? owner;
  const files = filesTheHooksNeed(config);
  if (!user) {
    // A root-owned spool: the hooks run as root too. None yet: nobody to check as.
    let exists = true;
    try {
      statSync(spool);
    } catch {
      exists = false;
    }
    if (exists || files.length === 0) return { notes: [] };
    return {
      notes: [
        `checked the config's files as root, who can read them all: the hooks' user may not (no spool directory ${escapeLine(spool)} yet to tell who that is; create it for them with install -d -o USER -m 700 ${escapeLine(spool)}, or give --hook-user USER)`,
      ],
    };
  }
  const notes: string[] = [];
  // The hooks write the spool, and core refuses any user but its owner there (root included): another --hook-user
  // would run hooks that spool nothing, so the files are checked as the owner too (T66 P8: root was accepted unsaid).
  const users = [user];
  if (owner && owner.uid !== user.uid) {
    users.push(owner);
    notes.push(
      `--hook-user ${describedUser(user)} is not the owner of the spool directory ${escapeLine(spool)}, ${describedUser(owner)}: the hooks must run as its owner to spool their alerts (checked the config's files as both; run the hooks as ${escapeLine(owner.name)}, or chown the spool to the hooks' user)`,
    );
  }
  for (const who of users) {
    let unreadable = unreadableBy(who, files);
    if (!unreadable) {
      unreadable = unreadableByMode(who, files);
      notes.push(
        `checked the config's files by their owner, group and mode bits for ${describedUser(who)}: setpriv is missing, so it could not be asked as that user (ACLs and the directories on the way were not checked)`,
      );
    }
    const [first] = unreadable;
    if (!first) continue;
    const shown = escapeLine(first.path);
    return {
      user,
      notes,
      problem: new ConfigError(
        `${first.key}: ${shown} cannot be read by ${describedUser(who)}, the user the hooks run as${
          unreadable.length > 1
            ? ` (nor ${unreadable
                .slice(1)
                .map((f) => f.key)
                .join(", ")})`
            : ""
        }`,
        { hint: `let that user read it, e.g. chown ${commandUser(who)} ${shown} && chmod 600 ${shown}` },
      ),
    };
  }
  return { user, notes };
}
