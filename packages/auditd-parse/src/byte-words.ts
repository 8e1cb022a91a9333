/**
 * Reading a line's bytes four at a time through a DataView: a byte loop over a Buffer costs 9–14 instructions a
 * byte once optimized (each access checks the Buffer's map and reloads its base and length).
 */

/** A DataView of the last buffer asked for: the lines of one read chunk share it. */
let viewed: Uint8Array | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

export function wordView(buf: Uint8Array): DataView {
  if (buf !== viewed) {
    viewed = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return view;
}

/**
 * The new-view branch runs once per read chunk, so TurboFan compiled wordView's callers (scan, ByteNames.find) before
 * it had run with feedback, and each deoptimized at the next chunk and was compiled again (~90 M instructions on the
 * first 4 MB of b40, issue 23). Run on two Buffers in turn here, past V8's lazy feedback allocation (8 calls), its
 * loads have feedback from the start.
 */
const primers = [Buffer.alloc(8), Buffer.alloc(8)];
for (let i = 0; i < 32; i++) wordView(primers[i & 1]!);

/** The low n bytes (0–3) of a word, as a mask. */
export function lowBytes(n: number): number {
  return (1 << (n * 8)) - 1;
}

/**
 * Whether the name's bytes `name` are at buf[from, from + name.length), its first eight packed in head and mid as
 * packHead and packMid pack them: those eight in two compares, the rest byte by byte (a byte compare of a Buffer
 * costs ~24 instructions once optimized, and most names run to 5-8 bytes: `scontext`, `tclass`, `success`, issue
 * 23, Round 39). Near the buffer's end, where a word would be read past it, the first four only.
 */
export function bytesAt(name: Uint8Array, head: number, mid: number, buf: Uint8Array, from: number): boolean {
  const n = name.length;
  let i = 0;
  if (from + 8 <= buf.length) {
    const view = wordView(buf);
    const first = view.getInt32(from, true);
    if ((n < 4 ? first & lowBytes(n) : first) !== head) return false;
    if (n > 4) {
      const second = view.getInt32(from + 4, true);
      if ((n < 8 ? second & lowBytes(n - 4) : second) !== mid) return false;
    }
    i = 8;
  } else if (from + 4 <= buf.length) {
    const first = wordView(buf).getInt32(from, true);
    if ((n < 4 ? first & lowBytes(n) : first) !== head) return false;
    i = 4;
  }
  for (; i < n; i++) if (name[i] !== buf[from + i]) return false;
  return true;
}

/**
 * The byte loop above runs only for names of nine bytes or more, which a log may first show after TurboFan compiled
 * scan (which inlines it): run here on one, its loads have feedback from the start, as wordView's (see primers).
 */
const longName = Buffer.from("permissive");
const longLine = Buffer.from("permissive=0 permissive=0");
for (let i = 0; i < 32; i++) bytesAt(longName, longLine.readInt32LE(0), longLine.readInt32LE(4), longLine, (i & 1) * 13);

/**
 * The first place in buf[from, end) whose four bytes may hold `a`, `b` or `c`: whole words holding none of them are
 * passed over, four bytes a load (a zero byte of w XOR the byte repeated, found by the usual borrow test, which is
 * exact for "has one"). The caller's byte loop goes on from there, so a word is never read past `end`. scan's value
 * loops: byte by byte they cost 9–14 instructions a byte (the note at the top), and an AVC storm's values
 * (SELinux contexts, paths, command lines) run to 30–60 bytes (issue 23, Round 39).
 */
export function wordsWithout(buf: Uint8Array, from: number, end: number, a: number, b: number, c: number): number {
  if (end - from < 8) return from;
  const view = wordView(buf);
  const ra = a * 0x01010101;
  const rb = b * 0x01010101;
  const rc = c * 0x01010101;
  let at = from;
  for (const last = end - 4; at <= last; at += 4) {
    const w = view.getInt32(at, true);
    const x = w ^ ra;
    const y = w ^ rb;
    const z = w ^ rc;
    if ((((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y) | ((z - 0x01010101) & ~z)) & 0x80808080) break;
  }
  return at;
}
