import { closeSync, createReadStream, fstatSync, openSync, read, readFileSync, readSync, type Stats, statSync } from "node:fs";
import { basename } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { NoInputError } from "@opsguard/core/errors";
import { escapeLine } from "@opsguard/core/text";
import { GzipDataError, gunzipMembers } from "./gzip-members";

const CHUNK = 64 * 1024;
/** A plain file's reads: fewer thread-pool round trips than CHUNK; two of them alternate (readFile). */
const FILE_CHUNK = 128 * 1024;

/**
 * Rotated logs in the order they were written: auditd's own audit.log.3 … audit.log.1 (the higher the number, the
 * older), or logrotate's `dateext` names (the earlier date and time, the older; T34 #10: a shell's `audit.log*`
 * put the live file first), either maybe .gz, then audit.log. A set that mixes both reads the numbered ones first.
 * Arguments that are not part of a rotation set keep their place.
 */
export function rotationOrder(files: readonly string[]): string[] {
  /** [0, -N] for audit.log.N, [1, date] for a dateext name, [2] for any other file: sorted as they compare. */
  const rank = (file: string): [number, number | string] => {
    const name = basename(file).replace(/\.gz$/, "");
    // first: audit.log.20240101 is a date, not the 20-millionth rotation (auditd keeps at most 999)
    const dated = dateKey(name);
    if (dated !== undefined) return [1, dated];
    const numbered = /\.(\d+)$/.exec(name);
    return numbered ? [0, -Number(numbered[1])] : [2, 0];
  };
  return [...files].sort((a, b) => {
    const [setA, ageA] = rank(a);
    const [setB, ageB] = rank(b);
    return setA - setB || (ageA < ageB ? -1 : ageA > ageB ? 1 : 0);
  });
}

/**
 * The date a logrotate `dateext` name ends with, as a key that sorts as time does, or undefined. Its `dateformat`
 * may be any strftime: the default `-%Y%m%d`, hourly `-%Y%m%d%H`, `-%Y%m%d-%s` (the man page's own, for more than
 * one a day), `-%Y-%m-%d` and `.%Y-%m-%d` (T35 N5: read live file first) or a time with separators. The key is
 * YYYYMMDDhhmmss (a missing time 0) then the epoch seconds, if any, to 12 digits: one length, so one string order
 * for every form.
 */
function dateKey(name: string): string | undefined {
  const date = /[-._]((?:19|20)\d\d)(-?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])((?:[-_T.:]?\d\d){0,3})(?:-(\d{1,12}))?$/.exec(name);
  if (date === null) {
    // `dateformat -%s`: the epoch seconds alone
    const seconds = /-(\d{10})$/.exec(name);
    return seconds ? `${"0".repeat(14)}${seconds[1]!.padStart(12, "0")}` : undefined;
  }
  const [, year, , month, day, time = "", epoch = ""] = date;
  return `${year}${month}${day}${time.replace(/\D/g, "").padEnd(6, "0")}${epoch.padStart(12, "0")}`;
}

/**
 * Feeds every chunk of a file (gunzipped when it is gzip) or of `stdin` (the run's, for "-") to onChunk. A chunk
 * is valid only until onChunk returns or its promise settles: a plain file's chunks share one buffer (copy what
 * you keep).
 */
export async function readInput(
  file: string,
  onChunk: (chunk: Buffer) => void | Promise<void>,
  stdin: NodeJS.ReadableStream,
): Promise<void> {
  let stream: AsyncIterable<Buffer>;
  if (namesStdin(file)) {
    // /dev/stdin names the run's stdin, read as "-" is: a closed or write-only one refused (T26), not read as
    // empty; gzip on it decompressed (T27 #1); and a socket, which Linux cannot open by that name (ENXIO), read
    refuseStdin(stdin);
    stream = gunzipped(bytesOf(stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>), undefined);
  } else {
    // opened here, so a file we may not read is one clear line (exit 66) before any stream exists
    const fd = openReadable(file);
    const named = file.endsWith(".gz");
    if (!named && !fstatSync(fd).isFile()) {
      // a pipe, FIFO or device (`cat x.gz | auditd-parse /dev/stdin`, `<(zcat …)`) cannot be peeked at offset 0:
      // its first bytes say whether it is gzip, as stdin's do (T27 #1: read as 4 lines of compressed bytes)
      stream = gunzipped(specialChunks(fd), file);
    } else {
      const head = headOf(fd);
      refuseCompressed(head, file, fd);
      if (named || isGzip(head)) {
        const compressed = createReadStream(file, { fd, highWaterMark: CHUNK });
        stream = gunzipMembers(compressed[Symbol.asyncIterator](), CHUNK);
      } else return readFile(file, fd, onChunk);
    }
  }
  try {
    for await (const chunk of stream) await onChunk(chunk);
  } catch (error) {
    if (error instanceof GzipDataError)
      throw new NoInputError(`${file}: ${error.kind === "trailing" ? "" : `${error.kind} gzip data: `}${error.message}`, {
        hint:
          error.kind === "trailing"
            ? "the gzip data before them was read whole; check how the file was written"
            : "check the file or decompress it by hand",
      });
    const code = (error as NodeJS.ErrnoException).code;
    // EIO, EISDIR … while reading: the input, not a bug
    if (code !== undefined && /^E[A-Z]+$/.test(code)) throw cannotRead(file, code);
    throw error;
  }
}

/** A stream's chunks as bytes: process.stdin gives Buffers, a stream a test builds from text may give strings. */
function bytesOf(chunks: AsyncIterator<Buffer | string>): AsyncIterator<Buffer> {
  return {
    next: async () => {
      const r = await chunks.next();
      return r.done ? r : { done: false, value: typeof r.value === "string" ? Buffer.from(r.value) : r.value };
    },
  };
}

/**
 * A plain file, read ahead: while onChunk (the line splitter) parses one buffer, the next read fills the other in
 * libuv's thread pool, so the parse does not wait for a read it could have had already (issue 23: one thread-pool
 * round trip per 64 KiB chunk, waited for, left the main thread idle ~6% of a 100 MiB parse's wall time). Two
 * buffers reused alternately: onChunk holds no byte of a chunk after its call (lines are "valid only during the
 * call", the partial tail is copied), and a new Buffer per chunk, as a read stream makes, was 100 MB of
 * short-lived external memory on a 100 MiB log (issue 23). Regular files only: a FIFO's read waits for a writer,
 * so a read ahead in flight when onChunk fails would hold the run (specialChunks reads those).
 */
async function readFile(file: string, fd: number, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  const buffers = [Buffer.allocUnsafe(FILE_CHUNK), Buffer.allocUnsafe(FILE_CHUNK)] as const;
  let which = 0;
  let ahead: Promise<number> | undefined;
  try {
    for (;;) {
      const n = await (ahead ?? readInto(fd, buffers[which]!));
      ahead = undefined;
      if (n === 0) break;
      const buf = buffers[which]!;
      which ^= 1;
      ahead = readInto(fd, buffers[which]!);
      // settled by the next turn, or awaited in finally when onChunk throws first: never an unhandled rejection
      ahead.catch(() => undefined);
      await onChunk(buf.subarray(0, n));
    }
  } catch (error) {
    // EIO, EISDIR … while reading: the input, not a bug
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && /^E[A-Z]+$/.test(code)) throw cannotRead(file, code);
    throw error;
  } finally {
    // a read still in flight must end before its descriptor is closed (and its number reused)
    if (ahead) await ahead.catch(() => undefined);
    closeSync(fd);
  }
}

/**
 * A pipe's, FIFO's or device's chunks, one read at a time and none ahead: its read waits for a writer, so a read
 * in flight when onChunk fails would hold the run until one writes. The descriptor is closed when the chunks end
 * or their reader stops.
 */
async function* specialChunks(fd: number): AsyncGenerator<Buffer> {
  try {
    for (;;) {
      // a new buffer per read: gunzip may hold a chunk past its turn
      const buf = Buffer.allocUnsafe(CHUNK);
      const n = await readInto(fd, buf);
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** One read of up to buf.length bytes from fd's position, in libuv's thread pool: the bytes read, 0 at the end. */
function readInto(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, null, (error, bytes) => (error ? reject(error) : resolve(bytes))));
}

/**
 * A stream's chunks, gunzipped when it starts with gzip's magic bytes (`zcat`-less `< audit.log.1.gz`); one that
 * starts with another compressor's is refused (refuseCompressed). `file` names it, undefined for stdin.
 */
async function* gunzipped(chunks: AsyncIterator<Buffer>, file: string | undefined): AsyncGenerator<Buffer> {
  let head: Buffer = Buffer.alloc(0);
  let ended = false;
  // a log's first byte already tells it from every magic, so a log is not held back waiting for more bytes
  while (head.length < 2 || mayBeCompressed(head)) {
    const r = await chunks.next();
    if (r.done) {
      ended = true;
      break;
    }
    head = head.length === 0 ? r.value : Buffer.concat([head, r.value]);
  }
  try {
    refuseCompressed(head, file);
  } catch (error) {
    // a FIFO's descriptor is closed by its chunks' end
    await chunks.return?.();
    throw error;
  }
  if (ended && head.length < 2) {
    if (head.length > 0) yield head;
    return;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    if (ended) return;
    for (let r = await chunks.next(); !r.done; r = await chunks.next()) yield r.value;
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* all();
    return;
  }
  yield* gunzipMembers(all(), CHUNK);
}

/** /dev/null's device number (major 1, minor 3) on Linux. */
const DEV_NULL = (1 << 8) | 3;

/**
 * Throws the one-line NoInputError (exit 66) when the process's stdin (fd 0) holds no log to read: a directory
 * (`< DIR`), or closed (`<&-`; Node puts /dev/null, opened read-write, in its place). Node's stream reads either
 * as an empty log, so a `detect` gate fed the wrong thing passed over nothing (T25 #4). `< /dev/null` (read-only),
 * a pipe, a FIFO, a socket and a file read as before. A stream that is not fd 0 (a caller's, a test's) is not
 * looked at.
 */
export function refuseStdin(stdin: NodeJS.ReadableStream): void {
  if ((stdin as { fd?: unknown }).fd !== 0) return;
  let st: Stats;
  try {
    st = fstatSync(0);
  } catch (error) {
    throw cannotRead("stdin", (error as NodeJS.ErrnoException).code ?? String(error));
  }
  const hint = "pass the log files, e.g. /var/log/audit/audit.log*, or one on stdin: auditd-parse < audit.log";
  if (st.isDirectory()) throw new NoInputError("stdin is a directory", { hint });
  const mode = accessMode(0);
  if (mode === O_WRONLY) throw new NoInputError("stdin is open for writing only", { hint });
  if (st.isCharacterDevice() && st.rdev === DEV_NULL && mode === O_RDWR) throw new NoInputError("stdin is closed", { hint });
}

const O_WRONLY = 1;
const O_RDWR = 2;
/** The names by which a path is the run's own stdin. */
const STDIN_NAMES = new Set(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]);

/** Whether an input argument is the run's stdin ("-", or one of its names): readInput reads the stdin stream for it. */
export function namesStdin(file: string): boolean {
  return file === "-" || STDIN_NAMES.has(file);
}

/** How descriptor fd was opened: O_RDONLY 0, O_WRONLY 1, O_RDWR 2 (Linux's /proc/self/fdinfo; undefined where there is none). */
function accessMode(fd: number): number | undefined {
  try {
    const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "latin1"));
    return flags === null ? undefined : Number.parseInt(flags[1]!, 8) & 3;
  } catch {
    return undefined;
  }
}

function cannotRead(file: string, code: string): NoInputError {
  // escapeLine: a name holding "\n" must not forge a second line of stderr.
  return new NoInputError(`cannot read ${escapeLine(file)}: ${code}`, {
    hint: "check the path and that you may read it; audit logs are usually root-only: run as root or via sudo",
  });
}

/** Opens `file` for reading, or throws the one-line NoInputError (missing, a directory, not permitted). */
function openReadable(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw cannotRead(file, (error as NodeJS.ErrnoException).code ?? String(error));
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new NoInputError(`${file} is a directory`, { hint: "pass the log files, e.g. /var/log/audit/audit.log*" });
  }
  return fd;
}

/** A file's first bytes, as many as the longest magic below (fewer in a shorter file, none when unreadable). */
function headOf(fd: number): Buffer {
  const head = Buffer.alloc(MAGIC_BYTES);
  try {
    return head.subarray(0, readSync(fd, head, 0, MAGIC_BYTES, 0));
  } catch {
    return head.subarray(0, 0);
  }
}

function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** A compressor auditd-parse does not decompress: what its output is called, and the tool that reads it. */
interface Compressor {
  what: string;
  tool: string;
  /** The bytes its output starts with: each a byte, or a range [low, high] of them. */
  magic: readonly (number | readonly [number, number])[];
}

/**
 * The compressors logrotate's `compresscmd` may name besides gzip, by their formats' magic bytes (T35 N12: read as
 * one malformed line, exit 0, and detect passed over a log it never read). Content, not the name, decides, as for
 * gzip: a rotated log is renamed by hand, and an .xz suffix says nothing of what is inside.
 */
const COMPRESSORS: readonly Compressor[] = [
  // xz file format 1.2.1, 2.1.1.1: the stream header's magic bytes
  { what: "xz-compressed", tool: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  // bzip2: "BZh", the block size '1'-'9', then the first block's magic (BCD pi) or, empty, the end of stream's
  // (BCD sqrt(pi)): "BZh9" alone may begin a line of text
  { what: "bzip2-compressed", tool: "bzip2", magic: [0x42, 0x5a, 0x68, [0x31, 0x39], 0x31, 0x41, 0x59, 0x26, 0x53, 0x59] },
  { what: "bzip2-compressed", tool: "bzip2", magic: [0x42, 0x5a, 0x68, [0x31, 0x39], 0x17, 0x72, 0x45, 0x38, 0x50, 0x90] },
  // RFC 8878 3.1.1: a Zstandard frame (0xFD2FB528, little-endian)
  { what: "zstd-compressed", tool: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd] },
  // RFC 8878 3.1.2: a skippable frame (0x184D2A50-5F), which pzstd writes first; lz4's frame format has the same
  // one, and zstd -dc reads past it as lz4 -dc does
  { what: "zstd-compressed", tool: "zstd", magic: [[0x50, 0x5f], 0x2a, 0x4d, 0x18] },
  // LZ4 frame format (0x184D2204), and the legacy frame of lz4 -l (0x184C2102)
  { what: "lz4-compressed", tool: "lz4", magic: [0x04, 0x22, 0x4d, 0x18] },
  { what: "lz4-compressed", tool: "lz4", magic: [0x02, 0x21, 0x4c, 0x18] },
  // lzip: "LZIP", version 1
  { what: "lzip-compressed", tool: "lzip", magic: [0x4c, 0x5a, 0x49, 0x50, 0x01] },
  // lzop
  { what: "lzop-compressed", tool: "lzop", magic: [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a] },
  // compress(1)'s .Z, which gzip -d also reads
  { what: "compressed by compress (.Z)", tool: "gzip", magic: [0x1f, 0x9d] },
];
const MAGIC_BYTES = Math.max(...COMPRESSORS.map((c) => c.magic.length));

/** Whether the first `n` bytes of `head` are those of `magic`. */
function startsLike(head: Buffer, magic: Compressor["magic"], n: number): boolean {
  for (let i = 0; i < n; i++) {
    const want = magic[i]!;
    const byte = head[i]!;
    if (typeof want === "number" ? byte !== want : byte < want[0] || byte > want[1]) return false;
  }
  return true;
}

/** Whether a stream that starts with `head` may still turn out to start with a compressor's magic. */
function mayBeCompressed(head: Buffer): boolean {
  return COMPRESSORS.some((c) => head.length < c.magic.length && startsLike(head, c.magic, head.length));
}

/**
 * Throws the one-line NoInputError (an input that cannot be read: exit 65 beside others, 66 alone) when `head`, a
 * file's first bytes, is another compressor's magic, naming the format and the command that reads it; `fd` is
 * closed first. `file` is undefined for stdin.
 */
function refuseCompressed(head: Buffer, file: string | undefined, fd?: number): void {
  const compressor = COMPRESSORS.find((c) => head.length >= c.magic.length && startsLike(head, c.magic, c.magic.length));
  if (compressor === undefined) return;
  if (fd !== undefined) closeSync(fd);
  const name = file === undefined ? "stdin" : escapeLine(file);
  // a name as the shell reads it: quoted when it holds more than safe characters
  const word = file === undefined ? "FILE" : /^[\w@%+=:,./-]+$/.test(file) ? file : `'${escapeLine(file).replace(/'/g, "'\\''")}'`;
  throw new NoInputError(
    `${name} is ${compressor.what}; auditd-parse reads plain and gzip logs (decompress it: ${compressor.tool} -dc ${word} | auditd-parse)`,
  );
}

/** Whether `file` exists and is neither a regular file nor a directory (a FIFO, socket or device). */
function isSpecial(file: string): boolean {
  try {
    const st = statSync(file);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false;
  }
}

export interface FollowOptions {
  /** Start at the end of the file (like tail -F) instead of the beginning. */
  fromEnd: boolean;
  intervalMs?: number;
  signal: AbortSignal;
  /** Called after every poll, new data or not (to complete events on a wall clock). */
  onTick: () => void | Promise<void>;
  /** The file was truncated (copytruncate): what follows is read from its start. */
  onTruncate: () => void;
  /**
   * The old file was read to its end and the new one is next: a last line without a newline (a writer stopped
   * mid-line) ends there, and is not joined to the new file's first line.
   */
  onRotate: () => void;
  /**
   * After a rotation, the new file cannot be read (EACCES, EPERM: a mode or owner this user lacks), or can again
   * (undefined): said once a change, so a follower that reads nothing more is not silent about it (T49 N2).
   */
  onUnreadable?: (error: NoInputError | undefined) => void;
}

/**
 * How many bytes just before the read offset are kept and compared at each poll. A copytruncate followed by more
 * appends than we had read leaves the file longer than our offset, so its size alone does not tell; 64 bytes of
 * audit lines hold a timestamp and serial, which new content does not repeat at the same offset.
 */
const MARK = 64;

/**
 * tail -F: reads what is appended to `file`; when the file is rotated (new inode), finishes the old one and
 * continues with the new file from its start; when it is truncated (shorter than what was read, or other bytes
 * just before the offset: see MARK), reads it again from its start. Polls, so it works on every filesystem. The
 * file must be readable at the start (else NoInputError, exit 66); after a rotation, a new file that is missing
 * or not yet readable is waited for, one poll interval at a time.
 */
export async function followFile(file: string, onChunk: (chunk: Buffer) => void | Promise<void>, options: FollowOptions): Promise<void> {
  const interval = options.intervalMs ?? 250;
  const buffer = Buffer.alloc(CHUNK);
  // a FIFO or device has no size or position to poll (and opening a FIFO waits for a writer): refused first
  if (isSpecial(file)) {
    throw new NoInputError(`${file} is not a regular file: --follow polls a growing file`, {
      hint: `read it without -F: auditd-parse < ${file}`,
    });
  }
  let fd: number | undefined = openReadable(file);
  // its compressed bytes would be read as one malformed line (T29 #4); a rotated .gz does not grow
  const head = headOf(fd);
  refuseCompressed(head, file, fd);
  if (isGzip(head)) {
    closeSync(fd);
    throw new NoInputError(`${file} is gzip: --follow reads a plain log as it grows`, { hint: `read it without -F: auditd-parse ${file}` });
  }
  let ino = fstatSync(fd).ino;
  let pos = options.fromEnd ? fstatSync(fd).size : 0;
  /** The bytes [pos - mark.length, pos) as they were read: the last MARK bytes, fewer near the start. */
  let mark = Buffer.alloc(0);
  const probe = Buffer.alloc(MARK);
  const remember = (chunk: Buffer): void => {
    const kept = chunk.length >= MARK ? chunk : Buffer.concat([mark, chunk]);
    mark = Buffer.from(kept.subarray(Math.max(0, kept.length - MARK)));
  };
  /** Whether the file was cut since it was read up to pos: one fstat and one pread of MARK bytes per poll. */
  const truncated = (): boolean => {
    if (fd === undefined || pos === 0) return false;
    try {
      if (fstatSync(fd).size < pos) return true;
      const n = readSync(fd, probe, 0, mark.length, pos - mark.length);
      return n !== mark.length || !probe.subarray(0, n).equals(mark);
    } catch (error) {
      throw cannotRead(file, (error as NodeJS.ErrnoException).code ?? String(error));
    }
  };
  if (pos > 0) {
    const n = readSync(fd, probe, 0, Math.min(MARK, pos), pos - Math.min(MARK, pos));
    remember(probe.subarray(0, n));
  }
  /** The problem reopen() last told onUnreadable of (its code), so each is said once. */
  let unreadable: string | undefined;
  const tell = (code: string | undefined): void => {
    if (code === unreadable) return;
    unreadable = code;
    options.onUnreadable?.(code === undefined ? undefined : cannotRead(file, code));
  };
  /** After a rotation: the new file, from its start; false while it is missing or unreadable. */
  const reopen = (): boolean => {
    try {
      const next = openSync(file, "r");
      tell(undefined);
      // a directory (or FIFO) where the log was is not the next log yet: keep waiting for a file
      if (!fstatSync(next).isFile()) {
        closeSync(next);
        return false;
      }
      if (fd !== undefined) closeSync(fd);
      fd = next;
      ino = fstatSync(next).ino;
      pos = 0;
      mark = Buffer.alloc(0);
      return true;
    } catch (error) {
      // missing is the usual moment between logrotate's rename and its create; not permitted is not
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM") tell(code);
      return false;
    }
  };
  const drain = async (): Promise<void> => {
    if (fd === undefined) return;
    for (let chunks = 1; ; chunks++) {
      let n: number;
      try {
        n = readSync(fd, buffer, 0, CHUNK, pos);
      } catch (error) {
        throw cannotRead(file, (error as NodeJS.ErrnoException).code ?? String(error));
      }
      if (n <= 0) return;
      pos += n;
      const chunk = Buffer.from(buffer.subarray(0, n));
      remember(chunk);
      await onChunk(chunk);
      // a long backlog still lets SIGINT/SIGTERM through now and then
      if (chunks % 256 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (options.signal.aborted) return;
    }
  };
  /**
   * Reads on from pos; first, a truncated file is read from its start. Checked before reading, not after: at
   * the old offset of a file cut and regrown past it lies the middle of a line of the new content.
   */
  const readOn = async (): Promise<void> => {
    if (truncated()) {
      pos = 0;
      mark = Buffer.alloc(0);
      options.onTruncate();
    }
    await drain();
  };
  try {
    while (!options.signal.aborted) {
      await readOn();
      let st: { ino: number } | undefined;
      try {
        st = statSync(file);
      } catch {
        st = undefined;
      }
      // rotated: the rest of the old file, then the new one (waited for while unreadable)
      if (st && st.ino !== ino) {
        await readOn();
        if (reopen()) {
          options.onRotate();
          continue;
        }
      }
      await options.onTick();
      await delay(interval, undefined, { signal: options.signal }).catch(() => undefined);
    }
    await readOn();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
