import { isUtf8 } from "node:buffer";
import { wordView } from "./byte-words";

/** A JSON string literal; the common case (plain ASCII/BMP text) skips JSON.stringify's call overhead. */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/** Appends `"key":value` to a comma-separated member list. */
export function member(list: string, key: string, valueJson: string): string {
  return list.length === 0 ? `${jsonString(key)}:${valueJson}` : `${list},${jsonString(key)}:${valueJson}`;
}

/** Constant JSON text (keys and punctuation) for JsonBytes.constant(). */
export interface ConstJson {
  readonly length: number;
  readonly words: Int32Array;
}

export function constJson(text: string): ConstJson {
  const bytes = Buffer.from(text);
  return { length: bytes.length, words: wordsOf(bytes) };
}

/** b as little-endian 32-bit words, the last one padded with zeros: what JsonBytes.words() writes. */
export function wordsOf(b: Uint8Array): Int32Array {
  const padded = Buffer.alloc(Math.ceil(b.length / 4) * 4);
  padded.set(b);
  const words = new Int32Array(padded.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = padded.readInt32LE(i * 4);
  return words;
}

/** JSON.stringify's escapes for the bytes below 0x20 (\n, \t … and \u00XX for the rest). */
const ESCAPES: Uint8Array[] = Array.from({ length: 32 }, (_, c) => Buffer.from(JSON.stringify(String.fromCharCode(c)).slice(1, -1)));

/**
 * JSON text built straight into bytes. The hot path copies values from the input buffer with escaping done
 * in the same pass, so a plain field costs no string at all; strings are written only for interpreted values.
 */
export class JsonBytes {
  buf: Buffer;
  /** buf as a DataView, for words(): kept in step with buf. */
  private view: DataView;
  length = 0;

  /**
   * Not Buffer.allocUnsafe: below 4 KiB it cuts a slice of node's shared 8 KiB slabs, and a slice kept alive keeps
   * its whole slab. Event buffer sets are pooled for the whole run, so their slabs stayed while the rest of them
   * was garbage: 5.4 MB of backing stores for 358 sets (~1 MB) on the testers' `corpus16` (issue 23, Round 25).
   */
  constructor(size = 4096) {
    this.buf = Buffer.allocUnsafeSlow(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  reset(): void {
    this.length = 0;
  }

  /** Room for n more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    // at least 64: doubling an empty buffer (new JsonBytes(0)) would never make room
    let size = Math.max(this.buf.length * 2, 64);
    while (size < this.length + n) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.length++] = c;
  }

  /** Bytes known to be valid JSON text (pre-encoded keys and punctuation). */
  bytes(b: Uint8Array): void {
    const n = b.length;
    this.reserve(n);
    const buf = this.buf;
    let at = this.length;
    for (let i = 0; i < n; i++) buf[at++] = b[i]!;
    this.length = at;
  }

  /**
   * The n bytes of constant JSON text that wordsOf() packed into w, four to a store: a field's key is written
   * for every field of every record, and a byte loop was the largest single item of the parse's profile. Up
   * to three bytes past the n are written too; they lie past `length`, where nothing is kept.
   */
  words(w: Int32Array, n: number): void {
    this.reserve(n + 3);
    const view = this.view;
    let at = this.length;
    for (let i = 0; i < w.length; i++, at += 4) view.setInt32(at, w[i]!, true);
    this.length += n;
  }

  /** count words of w from `first` on, four bytes each (constant text kept side by side: IsoTime's prefixes). */
  wordsFrom(w: Int32Array, first: number, count: number): void {
    this.reserve(count * 4);
    const view = this.view;
    let at = this.length;
    for (let i = first; i < first + count; i++, at += 4) view.setInt32(at, w[i]!, true);
    this.length = at;
  }

  /** The first n (1 to 4) bytes of the little-endian word w; the rest of its four are written past `length`. */
  word(w: number, n: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, w, true);
    this.length += n;
  }

  /** Constant JSON text that constJson() packed. */
  constant(c: ConstJson): void {
    this.words(c.words, c.length);
  }

  /**
   * src's bytes [from, to), JSON text already (a summary value copied from the records, the raw values): four
   * bytes a load and a store, as words() writes; a long run is one native copy, as in append().
   */
  copyFrom(src: JsonBytes, from: number, to: number): void {
    const n = to - from;
    if (n > 64) {
      this.append(src.buf, from, to);
      return;
    }
    this.reserve(n + 3);
    const view = this.view;
    const source = src.view;
    // four-byte loads stay inside src's buffer; the bytes read past `to` land past `length`, as in words()
    const wordsEnd = Math.min(to, src.buf.length - 3);
    let at = this.length;
    let i = from;
    for (; i < wordsEnd; i += 4, at += 4) view.setInt32(at, source.getInt32(i, true), true);
    const buf = this.buf;
    for (; i < to; i++) buf[at++] = src.buf[i]!;
    this.length += n;
  }

  /** src[from, to), bytes that are JSON text already. */
  append(src: Buffer, from: number, to: number): void {
    const n = to - from;
    this.reserve(n);
    const buf = this.buf;
    let at = this.length;
    // a short run is cheaper as a loop than as a native copy call
    if (n > 64) {
      at += src.copy(buf, at, from, to);
    } else {
      for (let i = from; i < to; i++) buf[at++] = src[i]!;
    }
    this.length = at;
  }

  /** A number as String(n) writes it; a non-negative integer without making that string. */
  number(n: number): void {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n))) {
      this.text(String(n));
      return;
    }
    if (n <= 0x7fffffff) {
      this.smallNumber(n);
      return;
    }
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.reserve(digits);
    const buf = this.buf;
    let rest = n;
    for (let at = this.length + digits - 1; at >= this.length; at--) {
      buf[at] = 48 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.length += digits;
  }

  /** A non-negative integer below 2^31 (a serial, a count): integer arithmetic, not the doubles number() needs. */
  private smallNumber(n: number): void {
    let digits = 1;
    for (let rest = n; rest >= 10; rest = (rest / 10) | 0) digits++;
    this.reserve(digits);
    const buf = this.buf;
    let rest = n | 0;
    for (let at = this.length + digits - 1; at >= this.length; at--) {
      const next = (rest / 10) | 0;
      buf[at] = 48 + rest - next * 10;
      rest = next;
    }
    this.length += digits;
  }

  /** JSON text given as a string (already escaped). */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.length += this.buf.write(s, this.length);
  }

  /** `s` as a JSON string literal. */
  string(s: string): void {
    const n = s.length;
    this.reserve(n + 2);
    const buf = this.buf;
    let at = this.length;
    buf[at++] = 34;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 32 || c === 34 || c === 92 || c > 126) {
        this.text(jsonString(s));
        return;
      }
      buf[at++] = c;
    }
    buf[at++] = 34;
    this.length = at;
  }

  /**
   * src[from, to) as a JSON string literal, escaping as JSON.stringify does; false when its bytes are not
   * UTF-8 (U+FFFD written in their place). A byte above 0x7f hands the rest to copyUtf8, out of this loop,
   * which every plain value runs.
   */
  copyString(src: Buffer, from: number, to: number): boolean {
    const n = to - from;
    this.reserve(n > LONG_VALUE ? escapedLength(src, from, to) + 2 : n * 6 + 2);
    const buf = this.buf;
    const start = this.length;
    let at = start + 1;
    buf[start] = 34;
    let i = from;
    if (n >= PLAIN_WORDS_MIN) {
      // four bytes a load and a store while none needs escaping or is beyond ASCII (plainWord)
      const source = wordView(src);
      const view = this.view;
      for (const end = to - 3; i < end; i += 4, at += 4) {
        const word = source.getInt32(i, true);
        if (!plainWord(word)) break;
        view.setInt32(at, word, true);
      }
    }
    for (; i < to; i++) {
      const c = src[i]!;
      if (c >= 32 && c !== 34 && c !== 92 && c < 128) {
        buf[at++] = c;
      } else if (c < 128) {
        at = escapeAscii(buf, at, c);
      } else {
        return this.copyUtf8(src, from, to, i, at, start);
      }
    }
    buf[at++] = 34;
    this.length = at;
    return true;
  }

  /**
   * copyString from its first byte above 0x7f (src[i], written up to `at`). Valid UTF-8 is copied as it is:
   * it decodes to no lone surrogate, the only non-ASCII JSON.stringify escapes (PATH names with accents went
   * through three strings here). Anything else is decoded, so invalid sequences become U+FFFD exactly as when
   * read as text.
   */
  private copyUtf8(src: Buffer, from: number, to: number, i: number, at: number, start: number): boolean {
    if (!isUtf8(src.subarray(from, to))) {
      this.length = start;
      this.text(jsonString(src.toString("utf8", from, to)));
      return false;
    }
    const buf = this.buf;
    for (; i < to; i++) {
      const c = src[i]!;
      if (c >= 32 && c !== 34 && c !== 92) buf[at++] = c;
      else at = escapeAscii(buf, at, c);
    }
    buf[at++] = 34;
    this.length = at;
    return true;
  }
}

/**
 * From this many bytes copyString checks and copies four at a time (plainWord): below it, the source's DataView
 * costs more than the bytes' loop.
 */
const PLAIN_WORDS_MIN = 8;

/**
 * Whether none of the four bytes of w is below 0x20, `"`, a backslash or above 0x7f, the bytes copyString copies
 * as they are. SWAR: a byte below 0x20 (or above 0x7f) sets its top bit in w - 0x20202020 (or in w); a byte equal
 * to `"` or a backslash is a zero byte after the XOR, which sets its top bit in x - 0x01010101. A borrow only runs on from a
 * byte already caught, so the test is exact.
 */
function plainWord(w: number): boolean {
  const quote = (w ^ 0x22222222) - 0x01010101;
  const backslash = (w ^ 0x5c5c5c5c) - 0x01010101;
  return ((w | (w - 0x20202020) | quote | backslash) & 0x80808080) === 0;
}

/**
 * Past this many bytes copyString reserves a value's escaped length, counted, not six bytes a byte: an 11 KB class
 * path argument made a 128 KiB buffer of a set's argv, dropped when the set was pooled (190 per 60 MiB of T25's
 * relay.log, ~12 MB of garbage waiting for a mark-compact; issue 23).
 */
const LONG_VALUE = 1024;

/** The bytes copyString writes for src[from, to) without its quotes: bytes above 0x7f as they are (copyUtf8). */
function escapedLength(src: Buffer, from: number, to: number): number {
  let n = to - from;
  for (let i = from; i < to; i++) {
    const c = src[i]!;
    if (c < 32) n += ESCAPES[c]!.length - 1;
    else if (c === 34 || c === 92) n++;
  }
  return n;
}

/** Writes JSON's escape of the ASCII byte c (a control byte, `"` or a backslash) at buf[at]; where it ends. */
function escapeAscii(buf: Buffer, at: number, c: number): number {
  if (c >= 32) {
    buf[at++] = 92;
    buf[at++] = c;
    return at;
  }
  const e = ESCAPES[c]!;
  for (let j = 0; j < e.length; j++) buf[at++] = e[j]!;
  return at;
}
