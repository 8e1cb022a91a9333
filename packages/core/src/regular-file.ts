import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";

/** Why a file named by a user cannot be read as a regular file of sane size; the caller words its line. */
export type FileRefusal =
  | { kind: "unreadable"; code: string }
  | { kind: "not-regular"; what: string }
  /**
   * readPast: the file stated a size within the limit but a read went on past it (procfs: /proc/self/pagemap states
   * 0 bytes and reads without end); `size` is then only what was read, past the limit by less than 64 KiB.
   */
  | { kind: "too-large"; size: number; readPast?: true };

/**
 * Opens a file a user named (a config, a template, a secret) for reading, as a regular file of at most
 * maxBytes, or says why not; the caller closes the descriptor. Opened without blocking and checked with
 * fstat before any read: a FIFO nobody writes would block a plain read for ever, /dev/zero would fill
 * memory. Then read, a little past maxBytes at most, to see that it ends within them: a procfs file states size
 * 0 whatever it holds, and /proc/self/pagemap reads without end (T35 N6: a caller that then read it whole, as
 * cosmiconfig reads a config by its path, grew past 1.5 GB). Positional reads: the descriptor is left at offset 0.
 * Symlinks are followed (an admin's config may be one); state and spool files, which anyone who
 * can write their directory could plant, refuse them in their own async readers.
 */
export function openRegularFileSync(path: string, maxBytes: number): { fd: number } | { refused: FileRefusal } {
  const opened = openChecked(path, maxBytes);
  if ("refused" in opened) return opened;
  const read = readBounded(opened.fd, opened.size, maxBytes);
  if (!("refused" in read)) return { fd: opened.fd };
  closeSync(opened.fd);
  return read;
}

/** openRegularFileSync's open and fstat check, before any read; `size` is what fstat states. */
function openChecked(path: string, maxBytes: number): { fd: number; size: number } | { refused: FileRefusal } {
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
  let size = 0;
  try {
    const info = fstatSync(fd);
    size = info.size;
    if (!info.isFile()) refused = { kind: "not-regular", what: kindOf(info) };
    else if (info.size > maxBytes) refused = { kind: "too-large", size: info.size };
  } catch (error) {
    refused = { kind: "unreadable", code: (error as NodeJS.ErrnoException).code ?? "error" };
  }
  if (!refused) return { fd, size };
  closeSync(fd);
  return { refused };
}

/** The bytes of a regular file of at most maxBytes (see openRegularFileSync: read once, bounded), or why not. */
export function readRegularFileSync(path: string, maxBytes: number): { bytes: Buffer } | { refused: FileRefusal } {
  const opened = openChecked(path, maxBytes);
  if ("refused" in opened) return opened;
  try {
    return readBounded(opened.fd, opened.size, maxBytes);
  } finally {
    closeSync(opened.fd);
  }
}

/** Reads for a file larger than it states (procfs states 0): enough for most, few enough to stop near the limit. */
const GROW_BYTES = 64 * 1024;

/**
 * fd's bytes from offset 0, read no further than the first read that passes maxBytes: more than maxBytes is the
 * too-large refusal, though fstat stated at most maxBytes (`stated`: read in one go, then GROW_BYTES at a time), as
 * for a file grown since. Each read is whole GROW_BYTES, not cut to end at maxBytes and one byte: some procfs files
 * take only reads of a multiple of their entry's size (/proc/self/pagemap: 8 bytes, EINVAL else).
 */
function readBounded(fd: number, stated: number, maxBytes: number): { bytes: Buffer } | { refused: FileRefusal } {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const want = Math.max(stated + 1 - total, GROW_BYTES);
      const chunk = Buffer.allocUnsafe(want);
      const n = readSync(fd, chunk, 0, want, total);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return { refused: { kind: "too-large", size: total, readPast: true } };
    }
  } catch (error) {
    return { refused: { kind: "unreadable", code: (error as NodeJS.ErrnoException).code ?? "error" } };
  }
  return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total) };
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
  if (refused.kind === "too-large") {
    return refused.readPast
      ? `is over the ${maxBytes}-byte limit (it reads on past the size it states)`
      : `is ${refused.size} bytes, over the ${maxBytes}-byte limit`;
  }
  return `cannot be read (${refused.code})`;
}
