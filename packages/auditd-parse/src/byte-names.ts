import { lowBytes, wordView } from "./byte-words";

/**
 * A bounded lookup from a name given as bytes (a field name, a record type, a short value) to what the
 * parser knows about it, so the hot path never makes a string of a name it has seen before. A name's first
 * eight bytes are packed into two integers, so most lookups compare three numbers instead of bytes; longer
 * names hash and compare their tail too, four bytes at a time (tailWords). Collisions cost time, never correctness.
 */
export class ByteNames<T> {
  private lengths: Int32Array;
  private heads: Int32Array;
  private mids: Int32Array;
  /** Bytes after the first eight as tailWords() packs them, for the names that have them. */
  private tails: (Int32Array | undefined)[];
  private values: (T | undefined)[];
  private mask: number;
  private size = 0;

  /**
   * `make` builds the value from the decoded name on first sight; `slots` (a power of two) bounds the table.
   * It starts at 64 slots and doubles as it fills: most tables (the readings of one kind of value, arches)
   * never hold more than a few dozen names, and twenty tables of 4096 slots were 3 MB of every run's RSS.
   */
  constructor(
    private readonly make: (name: string, buf: Buffer, from: number, to: number) => T,
    private readonly slots = 4096,
  ) {
    const initial = Math.min(slots, 64);
    this.lengths = new Int32Array(initial).fill(-1);
    this.heads = new Int32Array(initial);
    this.mids = new Int32Array(initial);
    this.tails = new Array(initial).fill(undefined);
    this.values = new Array(initial).fill(undefined);
    this.mask = initial - 1;
  }

  get(buf: Buffer, from: number, to: number): T {
    // the first eight bytes as two words read at once, masked to the name's length, where eight bytes lie in buf:
    // packHead and packMid's byte loops were a third of get's instructions, called per value of a kind read by
    // its bytes (contexts, exit, arch) and per line (node=, type=): issue 23, Round 40
    const n = to - from;
    if (n >= 0 && from + 8 <= buf.length) {
      const view = wordView(buf);
      const first = view.getInt32(from, true);
      const second = view.getInt32(from + 4, true);
      const head = n >= 4 ? first : first & lowBytes(n);
      const mid = n >= 8 ? second : n <= 4 ? 0 : second & lowBytes(n - 4);
      return this.find(buf, from, to, head, mid);
    }
    return this.find(buf, from, to, packHead(buf, from, to), packMid(buf, from, to));
  }

  /** get() with the first eight bytes already packed (by a caller that read them anyway), as packName does. */
  find(buf: Buffer, from: number, to: number, head: number, mid: number): T {
    const length = to - from;
    let hash = nameHash(head, mid, length);
    const view = length > 8 ? wordView(buf) : undefined;
    if (view !== undefined) hash = tailHash(hash, view, from + 8, to);
    const lengths = this.lengths;
    for (let slot = mixed(hash) & this.mask, probes = 0; probes < 8; slot = (slot + 1) & this.mask, probes++) {
      const known = lengths[slot]!;
      if (known === -1) {
        const value = this.make(buf.toString("utf8", from, to), buf, from, to);
        // a full table (corrupt input inventing names) stops remembering, it does not stop working
        if (this.size < this.slots / 2) {
          lengths[slot] = length;
          this.heads[slot] = head;
          this.mids[slot] = mid;
          if (length > 8) this.tails[slot] = tailWords(buf, from + 8, to);
          this.values[slot] = value;
          if (++this.size >= (this.mask + 1) / 2 && this.mask + 1 < this.slots) this.grow();
        }
        return value;
      }
      if (
        known === length &&
        this.heads[slot] === head &&
        this.mids[slot] === mid &&
        (view === undefined || sameTail(this.tails[slot]!, view, from + 8, to))
      ) {
        return this.values[slot]!;
      }
    }
    // eight probes met neither the name nor a free slot: while the table may grow, more slots break the run up
    if (this.mask + 1 < this.slots) {
      this.grow();
      return this.find(buf, from, to, head, mid);
    }
    return this.make(buf.toString("utf8", from, to), buf, from, to);
  }

  /** Twice the slots, every name placed again by its hash (from what is kept of it: head, mid, tail). */
  private grow(): void {
    const { lengths, heads, mids, tails, values } = this;
    const slots = lengths.length * 2;
    this.lengths = new Int32Array(slots).fill(-1);
    this.heads = new Int32Array(slots);
    this.mids = new Int32Array(slots);
    this.tails = new Array(slots).fill(undefined);
    this.values = new Array(slots).fill(undefined);
    this.mask = slots - 1;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      if (length === -1) continue;
      let hash = nameHash(heads[i]!, mids[i]!, length);
      const tail = tails[i];
      if (tail !== undefined) for (let j = 0; j < tail.length; j++) hash = mixWord(hash, tail[j]!);
      let slot = mixed(hash) & this.mask;
      while (this.lengths[slot] !== -1) slot = (slot + 1) & this.mask;
      this.lengths[slot] = length;
      this.heads[slot] = heads[i]!;
      this.mids[slot] = mids[i]!;
      this.tails[slot] = tail;
      this.values[slot] = values[i];
    }
  }
}

/**
 * get()'s byte-loop branch runs only for a name in a buffer's last eight bytes, which a log may first show after
 * TurboFan compiled get (at a read chunk's end): run here on short buffers, its calls have feedback from the start
 * (see byte-words.ts' primers).
 */
const primer = new ByteNames((name) => name, 64);
for (let i = 0; i < 32; i++) primer.get(Buffer.from(i & 1 ? "node=ab" : "type=x"), 5, 6 + (i & 1));

/** A name's bytes 0–3 as a little-endian integer (zero-padded): with packMid, how names are compared. */
export function packHead(buf: Uint8Array, from: number, to: number): number {
  let head = 0;
  for (let i = from; i < to && i < from + 4; i++) head |= buf[i]! << ((i - from) * 8);
  return head;
}

/** A name's bytes 4–7 as a little-endian integer (zero-padded). */
export function packMid(buf: Uint8Array, from: number, to: number): number {
  let mid = 0;
  for (let i = from + 4; i < to && i < from + 8; i++) mid |= buf[i]! << ((i - from - 4) * 8);
  return mid;
}

/**
 * The slot is taken from the hash's low bits, which the multiplications above fill only from the low bits of
 * what they mix: names that differ only in bytes 5–7 and share a long tail (`host-042.example.net`, 200 hosts)
 * fell into a few runs of slots, and half of them, past eight probes, were made again on every line. This
 * finalizer (MurmurHash3's fmix32) lets every bit of the hash reach the low ones.
 */
function mixed(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/**
 * A name's bytes after the first eight as little-endian 32-bit words, the last zero-padded: hashed and compared a
 * word at a time, not a byte. T25's `relay.log` has node= names of up to 252 bytes on every line, and hashing then
 * comparing them byte by byte made ByteNames.find 6 % of its instructions past the first 4 MB (issue 23).
 */
function tailWords(buf: Uint8Array, from: number, to: number): Int32Array {
  const words = new Int32Array((to - from + 3) >> 2);
  for (let i = from; i < to; i++) words[(i - from) >> 2] = words[(i - from) >> 2]! | (buf[i]! << (((i - from) & 3) * 8));
  return words;
}

/**
 * The word of the last `to - i` (1-3) bytes before `to`, zero-padded as tailWords() pads it: read as the four bytes
 * ending at `to`, which lie inside the name (it has eight bytes before its tail), shifted down.
 */
function lastWord(view: DataView, i: number, to: number): number {
  return view.getInt32(to - 4, true) >>> ((4 - (to - i)) * 8);
}

/** hash mixed with buf's words over [from, to), as grow() mixes a kept tail's words. */
function tailHash(hash: number, view: DataView, from: number, to: number): number {
  let i = from;
  for (; i + 4 <= to; i += 4) hash = mixWord(hash, view.getInt32(i, true));
  if (i < to) hash = mixWord(hash, lastWord(view, i, to));
  return hash;
}

/** A name's hash from its first eight bytes and length; find() and grow() must agree on it. */
function nameHash(head: number, mid: number, length: number): number {
  return Math.imul(head ^ Math.imul(mid, 0x9e3779b1) ^ length, 0x85ebca6b);
}

/** The hash with one more word of a name's tail mixed in: a line's (tailHash) and a kept tail's (grow) alike. */
function mixWord(hash: number, word: number): number {
  return Math.imul(hash ^ word, 0x01000193);
}

/** Whether buf's bytes [from, to) are the kept tail's (of a name of the same length). */
function sameTail(tail: Int32Array, view: DataView, from: number, to: number): boolean {
  let i = from;
  let j = 0;
  for (; i + 4 <= to; i += 4, j++) if (view.getInt32(i, true) !== tail[j]) return false;
  return i === to || lastWord(view, i, to) === tail[j];
}
