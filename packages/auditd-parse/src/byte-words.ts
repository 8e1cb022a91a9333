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

/** The low n bytes (0-3) of a word, as a mask. */
function lowBytes(n: number): number {
  return (1 << (n * 8)) - 1;
}

/**
 * Whether the name's bytes `name` are at buf[from, from + name.length), its first eight packed in head and mid as
 * packHead/packMid pack them: a word compare for each four (a field name is most often 3–8 bytes), where the buffer
 * holds eight bytes from `from`.
 */
export function bytesAt(name: Uint8Array, head: number, mid: number, buf: Uint8Array, from: number): boolean {
  const n = name.length;
  if (from + 8 > buf.length) {
    for (let i = 0; i < n; i++) if (name[i] !== buf[from + i]) return false;
    return true;
  }
  const view = wordView(buf);
  if (n < 4) return (view.getInt32(from, true) & lowBytes(n)) === head;
  if (view.getInt32(from, true) !== head) return false;
  if (n < 8) return n === 4 || (view.getInt32(from + 4, true) & lowBytes(n - 4)) === mid;
  if (view.getInt32(from + 4, true) !== mid) return false;
  for (let i = 8; i < n; i++) if (name[i] !== buf[from + i]) return false;
  return true;
}
