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
/** The join buffer kept between chunks (a 64 KiB chunk and a usual carry fit; see LineSplitter.joined). */
const JOINED_KEEP_BYTES = 128 * 1024;

/**
 * Splits a byte stream into lines, handed on as byte ranges of the chunk (valid only during the call):
 * the parser reads them as bytes and decodes only what it needs. A partial tail waits as bytes, so a
 * split UTF-8 sequence survives.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  /**
   * The carry and the next chunk joined, reused from chunk to chunk: a fresh Buffer.concat for each of a 100 MiB
   * log's 1600 chunks was 100 MB of short-lived external memory, freed only when V8 collects its wrapper (issue 23:
   * with the reused read buffer, 1.5 MB lower peak RSS on the corpus logs).
   */
  private joined = Buffer.allocUnsafe(0);
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
    let buf = chunk;
    if (this.carry) {
      const n = this.carry.length + chunk.length;
      if (this.joined.length < n) this.joined = Buffer.allocUnsafe(Math.max(n, 2 * this.joined.length, JOINED_KEEP_BYTES));
      this.carry.copy(this.joined, 0);
      chunk.copy(this.joined, this.carry.length);
      buf = this.joined.subarray(0, n);
      this.carry = undefined;
    }
    const onLine = this.onLine;
    let start = 0;
    if (this.skipping) {
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      this.skipping = false;
      start = nl + 1;
    }
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && buf[end - 1] === 13) end--;
      onLine(buf, start, this.fieldsEnd(buf, start, end - start > MAX_LINE_BYTES ? this.cutEnd(buf, start) : end));
      start = nl + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      if (rest.length > MAX_LINE_BYTES) {
        onLine(rest, 0, this.fieldsEnd(rest, 0, this.cutEnd(rest, 0)));
        this.skipping = true;
      } else {
        this.carry = Buffer.from(rest);
      }
    }
    // after a runaway line: back to the usual size, not held for the rest of the run
    if (this.joined.length > JOINED_KEEP_BYTES) this.joined = Buffer.allocUnsafe(0);
  }

  end(): void {
    if (this.carry && this.carry.length > 0) this.onLine(this.carry, 0, this.fieldsEnd(this.carry, 0, this.carry.length));
    this.carry = undefined;
  }
}
