/** Longest line kept whole; longer ones are cut so one runaway line cannot exhaust memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Splits a byte stream into lines, handed on as byte ranges of the chunk (valid only during the call):
 * the parser reads them as bytes and decodes only what it needs. A partial tail waits as bytes, so a
 * split UTF-8 sequence survives.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  /** Inside a line already cut at MAX_LINE_BYTES: drop bytes up to its newline. */
  private skipping = false;

  constructor(
    private readonly onLine: (buf: Buffer, start: number, end: number) => void,
    /** Called for each line cut at MAX_LINE_BYTES (counted in the summary). */
    private readonly onCut: () => void = () => {},
  ) {}

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
      buf = Buffer.concat([this.carry, chunk]);
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
      onLine(buf, start, end - start > MAX_LINE_BYTES ? this.cutEnd(buf, start) : end);
      start = nl + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      if (rest.length > MAX_LINE_BYTES) {
        onLine(rest, 0, this.cutEnd(rest, 0));
        this.skipping = true;
      } else {
        this.carry = Buffer.from(rest);
      }
    }
  }

  end(): void {
    if (this.carry && this.carry.length > 0) this.onLine(this.carry, 0, this.carry.length);
    this.carry = undefined;
  }
}
