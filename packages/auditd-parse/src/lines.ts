/** Longest line kept whole; longer ones are cut so one runaway line cannot exhaust memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Most `key=value` fields a line may have; the rest of a wider line is cut. The kernel's widest record, an
 * EXECVE of 7.5 KiB, has under 1300 (`a1=""` is 6 bytes), but a hostile 3.5 MB line of 300k `aN="x"` made
 * every record and Sigma document hold 300k fields: ~1 MB/s and 230 MB RSS.
 */
export const MAX_LINE_FIELDS = 4096;
/** A line shorter than this cannot hold MAX_LINE_FIELDS fields (`k=v ` is 4 bytes): not counted. */
const WIDE_LINE_BYTES = MAX_LINE_FIELDS * 4;
const EQUALS = 61;
/** The carry buffer kept between chunks (an audit record's usual tail fits many times; see LineSplitter.carry). */
const CARRY_KEEP_BYTES = 64 * 1024;

/**
 * Splits a byte stream into lines, handed on as byte ranges of the chunk (valid only during the call):
 * the parser reads them as bytes and decodes only what it needs. A partial tail waits as bytes, so a
 * split UTF-8 sequence survives.
 */
export class LineSplitter {
  /**
   * A chunk's partial last line (carry[0, carried)), completed by the start of the next chunk. Only that line is
   * joined, in this buffer reused from chunk to chunk; the rest of a chunk is read where it is. Copying every
   * chunk behind its carry instead was a second copy of the whole input and a 128 KiB join buffer (issue 23).
   */
  private carry = Buffer.allocUnsafe(0);
  private carried = 0;
  /** Inside a line already cut at MAX_LINE_BYTES: drop bytes up to its newline. */
  private skipping = false;

  constructor(
    private readonly onLine: (buf: Buffer, start: number, end: number) => void,
    /** Called for each line cut at MAX_LINE_BYTES (counted in the summary). */
    private readonly onCut: () => void = () => {},
    /** Called for each line cut after MAX_LINE_FIELDS fields (counted in the summary). */
    private readonly onWide: () => void = () => {},
  ) {}

  /**
   * Where a line with more than MAX_LINE_FIELDS `=` is cut: at the last space before the first `=` past the
   * bound, so the fields before it are whole. Only long lines are counted, and the count stops at the bound.
   */
  private fieldsEnd(buf: Buffer, start: number, end: number): number {
    if (end - start < WIDE_LINE_BYTES) return end;
    let at = start - 1;
    for (let n = 0; n <= MAX_LINE_FIELDS; n++) {
      at = buf.indexOf(EQUALS, at + 1);
      if (at < 0 || at >= end) return end;
    }
    this.onWide();
    const space = buf.lastIndexOf(32, at);
    return space > start ? space : at;
  }

  /**
   * Where a line longer than MAX_LINE_BYTES is cut: at its last space before the limit, so the value the
   * limit falls in is dropped whole, not read as a shorter value (half a hex argument is another string).
   */
  private cutEnd(buf: Buffer, start: number): number {
    this.onCut();
    const limit = start + MAX_LINE_BYTES;
    const space = buf.lastIndexOf(32, limit);
    return space > start ? space : limit;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl < 0) return;
      this.skipping = false;
      start = nl + 1;
    } else if (this.carried > 0) {
      const nl = chunk.indexOf(10);
      this.keep(chunk, 0, nl < 0 ? chunk.length : nl);
      if (nl < 0) {
        // still no end of line: cut once the line is over the limit, else wait for the next chunk
        if (this.carried > MAX_LINE_BYTES) {
          this.onLine(this.carry, 0, this.fieldsEnd(this.carry, 0, this.cutEnd(this.carry, 0)));
          this.carried = 0;
          this.skipping = true;
          this.carry = Buffer.allocUnsafe(0);
        }
        return;
      }
      this.line(this.carry, 0, this.carried);
      this.carried = 0;
      start = nl + 1;
      // after a runaway line: back to the usual size, not held for the rest of the run
      if (this.carry.length > CARRY_KEEP_BYTES) this.carry = Buffer.allocUnsafe(0);
    }
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      this.line(chunk, start, nl);
      start = nl + 1;
    }
    // a line's leading NULs (what an unclean shutdown leaves before the next record) are not kept: they would count
    // toward MAX_LINE_BYTES and cut or split the record after them (T47 F8); the record parser skips them anyway
    if (this.carried === 0) start = afterNuls(chunk, start, chunk.length);
    if (start < chunk.length) {
      if (chunk.length - start > MAX_LINE_BYTES) {
        const rest = chunk.subarray(start);
        this.onLine(rest, 0, this.fieldsEnd(rest, 0, this.cutEnd(rest, 0)));
        this.skipping = true;
      } else {
        this.keep(chunk, start, chunk.length);
      }
    }
  }

  /** One line ending at a newline (`nl`): without its CR, cut at MAX_LINE_BYTES and MAX_LINE_FIELDS. */
  private line(buf: Buffer, from: number, nl: number): void {
    // as for a partial line (push): leading NULs do not count toward the line's length
    const start = afterNuls(buf, from, nl);
    let end = nl;
    if (end > start && buf[end - 1] === 13) end--;
    this.onLine(buf, start, this.fieldsEnd(buf, start, end - start > MAX_LINE_BYTES ? this.cutEnd(buf, start) : end));
  }

  /** Appends chunk[start, end) to the carried partial line. */
  private keep(chunk: Buffer, start: number, end: number): void {
    const n = this.carried + end - start;
    if (this.carry.length < n) {
      const grown = Buffer.allocUnsafe(Math.max(n, 2 * this.carry.length, 1024));
      this.carry.copy(grown, 0, 0, this.carried);
      this.carry = grown;
    }
    this.carried += chunk.copy(this.carry, this.carried, start, end);
  }

  /** The last line, without a final newline: read as if it had one (a CRLF log's last `\r` dropped too). */
  end(): void {
    if (this.carried > 0) this.line(this.carry, 0, this.carried);
    this.carried = 0;
  }
}

/** The first byte at or after `from` (up to `end`) that is not NUL. */
function afterNuls(buf: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end && buf[i] === 0) i++;
  return i;
}
