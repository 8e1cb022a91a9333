/** Longest line kept whole; longer ones are cut so one runaway line cannot exhaust memory. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Splits a byte stream into lines without copying per line: each chunk is decoded once up to its last
 * newline and split with indexOf; the partial tail waits (as bytes, so a split UTF-8 sequence survives).
 */
export class LineSplitter {
  private carry: Buffer | undefined;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.carry = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
      if (this.carry.length > MAX_LINE_BYTES) {
        this.emitText(this.carry.subarray(0, MAX_LINE_BYTES).toString("utf8"));
        this.carry = undefined;
      }
      return;
    }
    const head = this.carry ? Buffer.concat([this.carry, chunk.subarray(0, last)]) : chunk.subarray(0, last);
    this.carry = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : undefined;
    this.emitText(head.toString("utf8"));
  }

  end(): void {
    if (this.carry && this.carry.length > 0) this.emitText(this.carry.toString("utf8"));
    this.carry = undefined;
  }

  private emitText(text: string): void {
    let start = 0;
    const onLine = this.onLine;
    for (;;) {
      const nl = text.indexOf("\n", start);
      const end = nl < 0 ? text.length : nl;
      let line = text.slice(start, end);
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      onLine(line.length > MAX_LINE_BYTES ? line.slice(0, MAX_LINE_BYTES) : line);
      if (nl < 0) return;
      start = nl + 1;
    }
  }
}
