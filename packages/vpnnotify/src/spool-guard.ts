import { lstat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, type Logger } from "@opsguard/core";

/**
 * The spool's drain lock is read by core's lock with a plain (blocking) open: a FIFO planted as
 * `drain.lock` would hang the worker and `flush` for ever, one more hung worker per login. Only a
 * regular file is a lock (core creates it with O_EXCL); anything else there — a FIFO, socket,
 * device or symlink, which no vpnnotify makes — is junk and removed, as the hooks do with
 * worker.starting, before the lock is taken. lstat never opens it, so it cannot block.
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
