import { constants, readlinkSync } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { IoError } from "./errors";
import { redactSecrets } from "./secret";
import { writeFileAtomic } from "./state";

/**
 * Writes a report to `path`, secrets redacted. A regular (or new) file is replaced atomically, through a
 * symlink to its target (a dangling one's too, created as a shell's `>` creates it); an existing special file (a
 * device such as /dev/stdout or /dev/full, a FIFO) is written to directly — renaming over it would replace the
 * device with a plain file. Failures are I/O errors (74).
 *
 * Modes: a new file gets `mode` minus the umask: 0666 by default, as a shell's `>` gives it, for a report that is no
 * secret (the secrets registered are redacted before it is written); a tool whose reports quote what it read (an audit
 * log's command lines) passes 0600. A replaced file keeps its mode, and its owner when root runs this — the readers
 * it was shared with keep reading it.
 */
export async function writeOutputFile(path: string, text: string, mode = 0o666): Promise<void> {
  const data = redactSecrets(text);
  const target = await realpath(path).catch(() => createdPath(path));
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) throw new IoError(`cannot write ${path}: it is a directory`, { hint: "give a file name" });
  if (!info || info.isFile()) {
    const like = info && { mode: info.mode, uid: info.uid, gid: info.gid };
    await writeFileAtomic(target, data, { mode, ...(like ? { like } : {}) }).catch(async (error: unknown) => {
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

/**
 * Where open(O_CREAT) creates `path`: through its symbolic links to the last one's target, which a dangling link
 * names but which does not exist yet. A shell's `>` and an appended output file (auditd-parse's -o) follow such a
 * link; renaming over `path` itself replaced the link with a file, so a page went elsewhere than NDJSON (T34 #13).
 */
export function createdPath(path: string): string {
  let target = path;
  // the kernel follows at most 40 links (ELOOP); a loop is refused as open refuses it, the link left as it is
  for (let hops = 0; hops <= 40; hops++) {
    let link: string;
    try {
      link = readlinkSync(target);
    } catch {
      return target;
    }
    target = resolve(dirname(target), link);
  }
  throw outputFileError(path, Object.assign(new Error("too many levels of symbolic links"), { code: "ELOOP" }));
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
  // a directory named as the file (an appended output's open), a link loop, a full disk or quota: Node's words named no fix
  if (code === "EISDIR") return new IoError(`cannot write ${path}: it is a directory`, { hint: "give a file name", cause: error });
  if (code === "ELOOP")
    return new IoError(`cannot write ${path}: its symbolic links make a loop (ELOOP)`, {
      hint: "fix the link, or give another path",
      cause: error,
    });
  if (code === "ENOSPC" || code === "EDQUOT")
    return new IoError(`cannot write ${path}: ${code === "ENOSPC" ? "no space left on its device" : "disk quota exceeded"} (${code})`, {
      hint: "free space on that file system, or give a path on another one",
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
