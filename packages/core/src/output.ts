import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { IoError } from "./errors";
import { redactSecrets } from "./secret";
import { writeFileAtomic } from "./state";

/**
 * The boundary where a tool's data leaves it (stdout, a report file): every registered secret is redacted here,
 * as it is on stderr, so a token that an API echoed into an error message leaks through no output format.
 * Control characters are the caller's: data formats (JSON, CSV) and styled reports escape their own; plain
 * human text can use writeStdout (report.ts), which also makes them visible.
 */
export function writeRedactedStdout(text: string): boolean {
  return process.stdout.write(redactSecrets(text));
}

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
