import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats, statSync } from "node:fs";

/** Why a file named by a user cannot be read as a regular file of sane size; the caller words its line. */
export type FileRefusal =
  | { kind: "unreadable"; code: string }
  | { kind: "not-regular"; what: string }
  | { kind: "too-large"; size: number };

/**
 * Opens a file a user named (a config, a template, a secret) for reading, as a regular file of at most
 * maxBytes, or says why not; the caller closes the descriptor. Opened without blocking and checked with
 * fstat before any read: a FIFO nobody writes would block a plain read for ever, /dev/zero would fill
 * memory. Symlinks are followed (an admin's config may be one); state and spool files, which anyone who
 * can write their directory could plant, refuse them in their own async readers.
 */
export function openRegularFileSync(path: string, maxBytes: number): { fd: number } | { refused: FileRefusal } {
  let fd: number;
  try {
    // O_NOCTTY: a terminal named here must not become this process's controlling terminal.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    // ENXIO: a Unix socket, or a device with nothing behind it (/dev/tty without a terminal); stat tells which.
    const info = code === "ENXIO" ? statSync(path, { throwIfNoEntry: false }) : undefined;
    return { refused: info && !info.isFile() ? { kind: "not-regular", what: kindOf(info) } : { kind: "unreadable", code } };
  }
  let refused: FileRefusal | undefined;
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) refused = { kind: "not-regular", what: kindOf(info) };
    else if (info.size > maxBytes) refused = { kind: "too-large", size: info.size };
  } catch (error) {
    refused = { kind: "unreadable", code: (error as NodeJS.ErrnoException).code ?? "error" };
  }
  if (!refused) return { fd };
  closeSync(fd);
  return { refused };
}

/** The bytes of a regular file of at most maxBytes (see openRegularFileSync), or why not. */
export function readRegularFileSync(path: string, maxBytes: number): { bytes: Buffer } | { refused: FileRefusal } {
  const opened = openRegularFileSync(path, maxBytes);
  if ("refused" in opened) return opened;
  try {
    const bytes = readFileSync(opened.fd);
    // Grown since fstat (a file being written): still over the limit.
    return bytes.length > maxBytes ? { refused: { kind: "too-large", size: bytes.length } } : { bytes };
  } catch (error) {
    return { refused: { kind: "unreadable", code: (error as NodeJS.ErrnoException).code ?? "error" } };
  } finally {
    closeSync(opened.fd);
  }
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isCharacterDevice()) return "a character device";
  return "a block device";
}

/** What is wrong with the file, to follow its name in a line: "is a FIFO, not a regular file". */
export function describeRefusal(refused: FileRefusal, maxBytes: number): string {
  if (refused.kind === "not-regular") return `is ${refused.what}, not a regular file`;
  if (refused.kind === "too-large") return `is ${refused.size} bytes, over the ${maxBytes}-byte limit`;
  return `cannot be read (${refused.code})`;
}
