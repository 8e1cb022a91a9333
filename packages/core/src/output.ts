import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { IoError } from "./errors";
import { redactSecrets } from "./secret";
import { writeFileAtomic } from "./state";

/**
 * Writes a report to `path`, secrets redacted. A regular (or new) file is replaced atomically, through a
 * symlink to its target; an existing special file (a device such as /dev/stdout or /dev/full, a FIFO) is written
 * to directly — renaming over it would replace the device with a plain file. Failures are I/O errors (74).
 *
 * Modes: a report is no secret (secrets are redacted before it is written), so a new file gets 0666 minus the
 * umask, as a shell's `>` gives it; a replaced file keeps its mode, and its owner when root runs this — the
 * readers it was shared with keep reading it.
 */
export async function writeOutputFile(path: string, text: string): Promise<void> {
  const data = redactSecrets(text);
  const target = await realpath(path).catch(() => path);
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) throw new IoError(`cannot write ${path}: it is a directory`, { hint: "give a file name" });
  if (!info || info.isFile()) {
    const like = info && { mode: info.mode, uid: info.uid, gid: info.gid };
    await writeFileAtomic(target, data, { mode: 0o666, ...(like ? { like } : {}) }).catch(async (error: unknown) => {
      const cause = (error as Error).cause ?? error;
      if (info && (cause as NodeJS.ErrnoException).code === "EPERM" && (await stickyOther(target, info.uid)))
        // /tmp: the directory is writable, but another user's file in a sticky one cannot be renamed over
        throw new IoError(
          `cannot write ${path}: it belongs to uid ${info.uid}, and ${dirname(target)} is sticky (only its owner may replace it)`,
          {
            hint: "remove it as its owner, or give another path",
          },
        );
      throw outputFileError(path, cause, dirname(target));
    });
    return;
  }
  try {
    const handle = await open(target, constants.O_WRONLY | constants.O_APPEND);
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw outputFileError(path, error);
  }
}

/** Whether `file`'s directory is sticky and the file another user's: rename over it is refused (EPERM). */
async function stickyOther(file: string, owner: number): Promise<boolean> {
  const dir = await stat(dirname(file)).catch(() => undefined);
  // 0o1000: S_ISVTX, the sticky bit (not in node:fs constants)
  return dir !== undefined && (dir.mode & 0o1000) !== 0 && owner !== process.getuid?.();
}

/**
 * The one line for an output file that cannot be written (exit 74, every format alike). `replacedIn`: the
 * directory of a file replaced atomically, where the temp file is created — permission there is what counts,
 * not the file's own (a writable file in a read-only directory cannot be replaced).
 */
export function outputFileError(path: string, error: unknown, replacedIn?: string): IoError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "error";
  const dir = replacedIn ?? dirname(path);
  if (code === "ENOENT" || code === "ENOTDIR")
    return new IoError(`cannot write ${path}: ${dir} ${code === "ENOENT" ? "does not exist" : "is not a directory"}`, {
      hint: "give a path in an existing directory",
      cause: error,
    });
  if (code !== "EACCES" && code !== "EPERM" && code !== "EROFS")
    return new IoError(`cannot write ${path}: ${(error as Error | undefined)?.message ?? code}`, { cause: error });
  const denied = code === "EROFS" ? "read-only file system" : "permission denied";
  if (replacedIn !== undefined)
    return new IoError(`cannot write ${path}: ${denied} in ${replacedIn} (the file is replaced through a temp file beside it)`, {
      hint: `make ${replacedIn} writable for this user, or give a path in a directory you can write`,
      cause: error,
    });
  return new IoError(`cannot write ${path}: ${denied}`, {
    hint: `check the owner and mode of ${path} and of ${dir}, or give a path you can write`,
    cause: error,
  });
}
