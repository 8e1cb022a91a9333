import { constants, statSync } from "node:fs";
import { access, lstat, readdir, readFile, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError, escapeLine, type Logger, PermissionError } from "@opsguard/core";

/**
 * A spool directory this user may not read or write (root's, mode 0700, with `flush` or the hooks run as
 * nobody) is a setup problem, not a bug: a configuration error naming the directory, its owner and mode,
 * and the fix. Any other error is returned as it is.
 */
export function spoolAccessError(error: unknown, dir: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!(error instanceof PermissionError) && code !== "EACCES" && code !== "EPERM") return error;
  let owner = "";
  let ownerUid: number | undefined;
  try {
    const stat = statSync(dir);
    ownerUid = stat.uid;
    owner = `: it belongs to uid ${stat.uid}, mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}`;
  } catch {
    // Its parent is closed too: the path alone says where to look.
  }
  const uid = process.getuid?.();
  // One line whatever the configured path holds (a newline in it would start a forged one).
  const shown = escapeLine(dir);
  return new ConfigError(
    `cannot read or write the spool directory ${shown}${owner}${uid === undefined ? "" : `, and this is uid ${uid}`}`,
    {
      // The owner locked out by the mode (T30 #6b was told to run vpnnotify as the owner it already was).
      hint:
        uid !== undefined && uid === ownerUid
          ? `give its owner access back: chmod 700 ${shown}`
          : `run vpnnotify as its owner, the user OpenVPN runs scripts as, or make that user the owner: chown USER ${shown} && chmod 700 ${shown}`,
    },
  );
}

/**
 * Whether the hooks' spool can take a login, checked by status and flush before they look at it: an existing directory
 * this user may read and write, or a missing one this user may create. Without this, a spool that could never be made
 * (the default /var/lib/opsguard/vpnnotify/spool on a host without /var/lib/opsguard) read as "pending: 0", exit 0,
 * while every failed alert was LOST (T62 F4). Only looks: a directory that can be made is left to the first writer.
 */
export async function checkSpoolDir(dir: string): Promise<void> {
  const found = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    // ENOTDIR: a file where a level of the path should be, found as the nearest existing level below.
    if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
    throw spoolAccessError(error, dir);
  });
  if (found) {
    if (!found.isDirectory())
      throw new ConfigError(`the spool directory ${escapeLine(dir)} is not a directory`, { hint: missingHint(dir) });
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).catch((error: unknown) => {
      throw spoolAccessError(error, dir);
    });
    return;
  }
  // mkdir -p makes every missing level: the nearest one that exists must be a directory this user may write.
  let parent = dirname(dir);
  let info = await stat(parent).catch(() => undefined);
  while (!info && dirname(parent) !== parent) {
    parent = dirname(parent);
    info = await stat(parent).catch(() => undefined);
  }
  const why = !info?.isDirectory()
    ? `${escapeLine(parent)} is not a directory`
    : await access(parent, constants.W_OK | constants.X_OK).then(
        () => undefined,
        (error: NodeJS.ErrnoException) =>
          `${escapeLine(parent)} is not writable by uid ${process.getuid?.() ?? "?"} (${error.code ?? "error"})`,
      );
  if (why) {
    throw new ConfigError(`the spool directory ${escapeLine(dir)} does not exist and cannot be created: ${why}`, {
      hint: missingHint(dir),
    });
  }
}

/** The fix for a spool directory that is missing (or in the way): make it for the hooks' user, or configure another. */
export function missingHint(dir: string): string {
  const shown = escapeLine(dir);
  return `create it for the user the VPN server runs hooks as (install -d -o USER -m 700 ${shown}), or set spool.dir to a directory that user owns`;
}

/** Runs spool work, a permission error from it said as spoolAccessError says it. */
export async function withSpoolAccess<T>(dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw spoolAccessError(error, dir);
  }
}

/**
 * Only a regular file is a drain lock (core creates it with O_EXCL); anything else there — a FIFO,
 * socket, device or symlink, which no vpnnotify makes — was planted. Core's lock would break it
 * silently; this removes it first, as the hooks do with worker.starting, so the log says someone
 * did. lstat never opens it, so it cannot block.
 */
export async function clearPlantedDrainLock(spool: string, log: Pick<Logger, "warn">): Promise<void> {
  const lock = join(spool, "drain.lock");
  const stat = await lstat(lock).catch(() => undefined);
  if (!stat || stat.isFile() || stat.isDirectory()) return;
  await unlink(lock).then(
    () => log.warn("removed a drain.lock that was not a regular file (it would hang the worker)", { file: lock }),
    (error: NodeJS.ErrnoException) => {
      // Left there, it would hang the drain: stop with the reason instead.
      if (error.code !== "ENOENT") {
        throw new ConfigError(`${lock} is not a regular file and cannot be removed (${error.code ?? "error"})`, { hint: `remove ${lock}` });
      }
    },
  );
}

/**
 * A writer's temp file in the spool, `.<entry>.json.<pid>.<hex>.tmp` (core's atomic write, the sh hook's
 * `.<id>.json.$$.<8 hex>.tmp`); the hex's length is not checked, so one planted or cut short by hand is found too.
 */
const WRITER_TEMP = /^\.\d+-[0-9a-f]+\.json\.\d+\.[0-9a-f]+\.tmp$/;
/**
 * A temp file this old has no writer: each one is written and renamed within its writer's run (the slowest of 200
 * sh hooks started at once took under 10 s, README "A reconnect storm"). Age, not the pid, decides: in a storm pids
 * come round again, so a live pid proves nothing. Ten minutes leaves any writer stalled on a slow disk far more than
 * it needs, and nothing waits on it meanwhile (the hook that was killed mid-write never queued its login).
 */
const TEMP_STALE_MS = 600_000;

/**
 * Half-written entries (a hook killed between creating its temp file and renaming it) removed, one warn line each,
 * by the worker and flush: left, they stayed in the spool for ever (T48 F1). Their login was never queued (the hook
 * did not finish, so OpenVPN had no answer from it): there is no alert in them to send.
 */
export async function clearStaleTemps(spool: string, log: Pick<Logger, "warn">): Promise<void> {
  const names = await readdir(spool).catch(() => [] as string[]);
  for (const name of names.filter((n) => WRITER_TEMP.test(n))) {
    const file = join(spool, name);
    const stat = await lstat(file).catch(() => undefined);
    if (!stat || Date.now() - stat.mtimeMs < TEMP_STALE_MS) continue;
    await unlink(file).then(
      () => log.warn("removed a half-written spool file its writer left (a hook stopped mid-write: that login was never queued)", { file }),
      () => {},
    );
  }
}

/** How old a start claim (or a takeover token) is when nobody is starting a worker any more. */
const CLAIM_STALE_MS = 10_000;
/** The hooks' token for taking over one stale claim: `.worker.starting.<its time>.taken`, then `.taken2` … `.taken9`. */
const TAKEOVER_TOKEN = /^\.worker\.starting\.(\d+|junk)\.taken\d?$/;

/**
 * A worker.starting older than 10 s (by its time of change, as the Node hook judges it): left by a hook
 * that died between creating it and writing its time, or a worker that died starting. Removed, so the
 * next login's hook starts the worker again. With it go the sh hook's takeover tokens of 10 s ago: a
 * token only has to outlive the hooks racing for the claim it is named after.
 */
export async function clearStaleStartClaim(spool: string): Promise<void> {
  const marker = join(spool, "worker.starting");
  const stat = await lstat(marker).catch(() => undefined);
  // A directory is no claim (an empty one goes as the hooks remove it; one with files stays, the hooks name it).
  if (stat?.isDirectory()) await rmdir(marker).catch(() => {});
  else if (stat && Date.now() - stat.mtimeMs >= CLAIM_STALE_MS) await unlink(marker).catch(() => {});
  await clearTakeoverTokens(spool);
}

/**
 * The sh hook's takeover tokens older than 10 s (the worker calls it as it starts; flush through clearStaleStartClaim).
 * A directory by a token's name (no hook makes one) stops worker starts as a left token does: removed too.
 */
export async function clearTakeoverTokens(spool: string): Promise<void> {
  const names = await readdir(spool).catch(() => [] as string[]);
  for (const name of names.filter((n) => TAKEOVER_TOKEN.test(n))) {
    const token = join(spool, name);
    const stat = await lstat(token).catch(() => undefined);
    if (!stat || Date.now() - stat.mtimeMs < CLAIM_STALE_MS) continue;
    // rm never follows a symlink: a directory's contents go, never what a link inside it names.
    await (stat.isDirectory() ? rm(token, { recursive: true, force: true }) : unlink(token)).catch(() => {});
  }
}

/**
 * The drain lock let go by a worker that stops on a signal before its drain could (the drain is still
 * waiting on Slack): removed when it names this process, so nobody has to check that it is gone.
 */
export async function releaseOwnDrainLock(spool: string): Promise<void> {
  if (await ownsDrainLock(spool)) await unlink(join(spool, "drain.lock")).catch(() => {});
}

/** Whether the spool's drain lock names this process (it drains the spool now). */
export async function ownsDrainLock(spool: string): Promise<boolean> {
  const holder = await readFile(join(spool, "drain.lock"), {
    encoding: "utf8",
    flag: constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW,
  })
    .then((text) => JSON.parse(text) as { pid?: unknown })
    .catch(() => undefined);
  return holder?.pid === process.pid;
}
