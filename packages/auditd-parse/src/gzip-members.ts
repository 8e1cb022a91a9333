import { crc32, createInflateRaw, type InflateRaw } from "node:zlib";

/**
 * gzip data read member by member, as gzip(1) and zcat read it (RFC 1952): each member's header, its deflate
 * data through zlib's raw inflater, its trailer's CRC-32 and length checked; members one after another (`cat
 * a.gz b.gz`); zero bytes after the last one (padding) ignored; any other bytes after it are a GzipDataError of
 * kind "trailing", thrown only once every member's data has been yielded.
 *
 * Not node's Gunzip stream: after a member's end it reads whatever follows as a new member, and when that is not
 * gzip it throws away the data it had inflated in the same step (up to its chunk, 64 KiB of log lines) and reports
 * the whole file as corrupt, where zcat decompresses every line and warns "trailing garbage ignored" (T28 #7).
 */
export class GzipDataError extends Error {
  constructor(
    readonly kind: "truncated" | "corrupt" | "trailing",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Compressed bytes written to the inflater at once, as a read stream's chunk: bounds the log lines one step makes
 * (~1 MiB at an audit log's usual ratio of 10–15).
 */
const STEP = 64 * 1024;
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;
const RESERVED = 0xe0;

export async function* gunzipMembers(chunks: AsyncIterator<Buffer>, chunkSize: number): AsyncGenerator<Buffer> {
  const input = new ByteReader(chunks);
  for (;;) {
    await readHeader(input);
    let crc = 0;
    let size = 0;
    for await (const out of inflateMember(input, chunkSize)) {
      crc = crc32(out, crc);
      size = (size + out.length) >>> 0;
      yield out;
    }
    const trailer = await input.exactly(8, "the input ends inside a gzip member's trailer");
    if (trailer.readUInt32LE(0) !== crc >>> 0) throw new GzipDataError("corrupt", "a gzip member's CRC does not match its data");
    if (trailer.readUInt32LE(4) !== size) throw new GzipDataError("corrupt", "a gzip member's length does not match its data");
    const next = await input.take(2);
    if (next.length === 0) return;
    if (next.length === 2 && next[0] === 0x1f && next[1] === 0x8b) {
      input.unshift(next);
      continue;
    }
    let after = next.length;
    let padding = !next.some((b) => b !== 0);
    for (let rest = await input.next(); rest !== undefined; rest = await input.next()) {
      after += rest.length;
      padding &&= !rest.some((b) => b !== 0);
    }
    if (padding) return;
    throw new GzipDataError("trailing", `${after} byte(s) after the end of its gzip data are not gzip, not read`);
  }
}

const CUT_HEADER = "the input ends inside a gzip header";

/** One member's header (RFC 1952 2.3.1), checked and skipped. */
async function readHeader(input: ByteReader): Promise<void> {
  const head = await input.exactly(10, CUT_HEADER);
  if (head[0] !== 0x1f || head[1] !== 0x8b) throw new GzipDataError("corrupt", "not gzip data (no gzip magic bytes)");
  const flags = head[3]!;
  if (head[2] !== 8 || (flags & RESERVED) !== 0) throw new GzipDataError("corrupt", "a gzip header of an unknown method or flags");
  const parts = [head];
  if (flags & FEXTRA) {
    const len = await input.exactly(2, CUT_HEADER);
    parts.push(len, await input.exactly(len.readUInt16LE(0), CUT_HEADER));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const text = await input.throughZero();
    if (text === undefined) throw new GzipDataError("truncated", CUT_HEADER);
    parts.push(text);
  }
  if (flags & FHCRC) {
    const check = await input.exactly(2, CUT_HEADER);
    if (check.readUInt16LE(0) !== (crc32(Buffer.concat(parts)) & 0xffff))
      throw new GzipDataError("corrupt", "a gzip header's CRC does not match");
  }
}

/**
 * A member's deflate data inflated; the bytes after its end (its trailer and what follows) are handed back to the
 * input. The inflater ends its output when its data ends: the bytes it did not consume of the last write are those.
 * Written and read at once, as a pipe would: each write waits for the reader to take the lines it made (the
 * stream's backpressure), so a piece of highly compressed data never sits whole in memory.
 */
async function* inflateMember(input: ByteReader, chunkSize: number): AsyncGenerator<Buffer> {
  const inflater = createInflateRaw({ chunkSize });
  const feeding = feed(inflater, input);
  // a failed read of the input (EIO) ends the inflater with it, or the read below would wait for data forever;
  // zlib's own failure ends it already. Awaited after the read, for a failure the read did not throw.
  feeding.catch((error: Error) => inflater.destroy(error));
  try {
    for await (const out of inflater) yield out as Buffer;
    await feeding;
  } catch (error) {
    throw inflateFailure(error);
  } finally {
    inflater.destroy();
  }
}

/**
 * Writes the input to the inflater until its deflate data ends (then hands back what it did not consume) or the
 * input ends (then ends the inflater, and zlib says whether the data was whole: else Z_BUF_ERROR, "unexpected end
 * of file"). A piece is written only once the one before shows whether the data ended in it: a write after the
 * end would be read as more data.
 */
async function feed(inflater: InflateRaw, input: ByteReader): Promise<void> {
  let written = 0;
  for (;;) {
    const chunk = await input.next();
    if (chunk === undefined) {
      inflater.end();
      return;
    }
    const piece = chunk.length > STEP ? chunk.subarray(0, STEP) : chunk;
    input.unshift(chunk.subarray(piece.length));
    await step(inflater, piece);
    written += piece.length;
    const unused = written - inflater.bytesWritten;
    if (unused > 0 || inflater.readableEnded) {
      input.unshift(piece.subarray(piece.length - unused));
      return;
    }
  }
}

/**
 * zlib's failure as a GzipDataError: Z_BUF_ERROR is the input ending inside the deflate data (zcat's "unexpected
 * end of file"), any other Z_ code damaged data, in zlib's words ("invalid stored block lengths").
 */
function inflateFailure(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "Z_BUF_ERROR") return new GzipDataError("truncated", "the input ends inside a gzip member");
  if (code?.startsWith("Z_")) return new GzipDataError("corrupt", (error as Error).message);
  return error;
}

/** One write, settled when the inflater has consumed it (its lines taken by the reader) or has failed on it. */
function step(inflater: InflateRaw, piece: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    inflater.once("error", reject);
    inflater.write(piece, (error) => {
      inflater.off("error", reject);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** The input's chunks, with bytes read too far handed back (unshift) and read first. */
class ByteReader {
  private readonly back: Buffer[] = [];

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  async next(): Promise<Buffer | undefined> {
    const kept = this.back.pop();
    if (kept !== undefined) return kept;
    const r = await this.chunks.next();
    return r.done ? undefined : r.value;
  }

  unshift(bytes: Buffer): void {
    if (bytes.length > 0) this.back.push(bytes);
  }

  /** n bytes, or fewer where the input ends. */
  async take(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.next();
      if (chunk === undefined) break;
      const used = chunk.subarray(0, n - have);
      this.unshift(chunk.subarray(used.length));
      parts.push(used);
      have += used.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** n bytes; a GzipDataError ("truncated", `cut`) where the input ends first. */
  async exactly(n: number, cut: string): Promise<Buffer> {
    const bytes = await this.take(n);
    if (bytes.length < n) throw new GzipDataError("truncated", cut);
    return bytes;
  }

  /** The bytes up to and including the next zero byte (a header's name or comment); undefined where the input ends first. */
  async throughZero(): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    for (;;) {
      const chunk = await this.next();
      if (chunk === undefined) return undefined;
      const zero = chunk.indexOf(0);
      if (zero < 0) {
        parts.push(chunk);
        continue;
      }
      parts.push(chunk.subarray(0, zero + 1));
      this.unshift(chunk.subarray(zero + 1));
      return Buffer.concat(parts);
    }
  }
}
