import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { ConfigError, escapeLine } from "@opsguard/core";

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

export function hookUser(uid: number): HookUser {
  const ask = (flag: string) => {
    const r = spawnSync("id", [flag, String(uid)], { encoding: "utf8", timeout: 5_000 });
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
export function refuseRootOnHookSpool(spoolDir: string, command: string, config: string | undefined): void {
  const owner = otherOwnerAsRoot(spoolDir);
  if (!owner) return;
  const name = /^[A-Za-z0-9._-]+$/.test(owner.name) ? owner.name : `#${owner.uid}`;
  throw new ConfigError(
    `the spool directory ${escapeLine(spoolDir)} belongs to ${escapeLine(owner.name)} (uid ${owner.uid}), the user the hooks run as; as root, ${command} would deliver its alerts without being able to record them in that user's state`,
    { hint: `run it as ${escapeLine(owner.name)}: sudo -u ${name} vpnnotify${config ? ` --config ${escapeLine(config)}` : ""} ${command}` },
  );
}
