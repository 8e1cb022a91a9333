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
function lowBytes(n: number): number {
  return (1 << (n * 8)) - 1;
}

/**
 * Whether the name's bytes `name` are at buf[from, from + name.length), its first four packed in head as packHead
 * packs them: those four in one compare, the rest byte by byte. One loop for every name, so that it has run with
 * feedback before TurboFan compiles its caller (a loop for long names only, first met later, deoptimized scan).
 */
export function bytesAt(name: Uint8Array, head: number, buf: Uint8Array, from: number): boolean {
  const n = name.length;
  let i = 0;
  if (from + 4 <= buf.length) {
    const first = wordView(buf).getInt32(from, true);
    if ((n < 4 ? first & lowBytes(n) : first) !== head) return false;
    i = 4;
  }
  for (; i < n; i++) if (name[i] !== buf[from + i]) return false;
  return true;
}
