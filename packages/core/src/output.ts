import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { IoError } from "./errors";
import { redactSecrets } from "./secret";
import { writeFileAtomic } from "./state";

/**
 * Writes a report to `path`, secrets redacted. A regular (or new) file is replaced atomically, through a
 * symlink to its target; an existing special file (a device such as /dev/stdout or /dev/full, a FIFO) is written
 * to directly — renaming over it would replace the device with a plain file. Failures are I/O errors (74).
 */
export async function writeOutputFile(path: string, text: string): Promise<void> {
  const data = redactSecrets(text);
  const target = await realpath(path).catch(() => path);
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) throw new IoError(`cannot write ${path}: it is a directory`, { hint: "give a file name" });
  if (!info || info.isFile()) {
    await writeFileAtomic(target, data);
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
    throw new IoError(`cannot write ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}
