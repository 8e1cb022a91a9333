import { lstat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, type Logger } from "@opsguard/core";

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
 * A worker.starting older than 10 s (by its time of change, as the Node hook judges it): left by a hook
 * that died between creating it and writing its time, which the sh hook (no stat(1) per call) takes for a
 * start under way. Removed, so the next login's hook starts the worker again.
 */
export async function clearStaleStartClaim(spool: string): Promise<void> {
  const marker = join(spool, "worker.starting");
  const stat = await lstat(marker).catch(() => undefined);
  if (stat && Date.now() - stat.mtimeMs >= 10_000) await unlink(marker).catch(() => {});
}
