/** Longest line kept whole; longer ones are cut so one runaway line cannot exhaust memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Splits a byte stream into lines. Each line is decoded on its own: substrings of one big decoded chunk
 * would keep the whole chunk alive for as long as any field of a slow event does, and that (not the
 * parsing) is what made the heap grow. A partial tail waits as bytes, so a split UTF-8 sequence survives.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  /** Inside a line already cut at MAX_LINE_BYTES: drop bytes up to its newline. */
  private skipping = false;

  constructor(private readonly onLine: (line: string) => void) {}

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
      onLine(end - start > MAX_LINE_BYTES ? buf.toString("utf8", start, start + MAX_LINE_BYTES) : buf.toString("utf8", start, end));
      start = nl + 1;
    }
    if (start < buf.length) {
      const rest = buf.subarray(start);
      if (rest.length > MAX_LINE_BYTES) {
        onLine(rest.toString("utf8", 0, MAX_LINE_BYTES));
        this.skipping = true;
      } else {
        this.carry = Buffer.from(rest);
      }
    }
  }

  end(): void {
    if (this.carry && this.carry.length > 0) this.onLine(this.carry.toString("utf8"));
    this.carry = undefined;
  }
}
