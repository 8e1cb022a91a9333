import { isUtf8 } from "node:buffer";
import { type ConstJson, JsonBytes, jsonString } from "./json";

/** JSON.stringify's escape lengths for the bytes below 0x20 (\n is 2, \u0001 is 6 …), as JsonBytes writes them. */
const ESCAPE_LENGTHS = Array.from({ length: 32 }, (_, c) => JSON.stringify(String.fromCharCode(c)).length - 2);

/**
 * A JsonBytes that writes nothing and counts the bytes it would have written: detect interprets an event's
 * records with it (most events raise no alert, so their JSON is never read) and still knows the JSON's
 * exact length, which the assembler's bounds on an event's size read (OpenEvent.weight), so events are cut
 * into parts exactly where the parse cuts them. Each method counts as its JsonBytes twin writes.
 */
export class JsonCount extends JsonBytes {
  constructor() {
    super(0);
  }

  override reserve(_n: number): void {}

  override byte(_c: number): void {
    this.length++;
  }

  override bytes(b: Uint8Array): void {
    this.length += b.length;
  }

  override words(_w: Int32Array, n: number): void {
    this.length += n;
  }

  override wordsFrom(_w: Int32Array, _first: number, count: number): void {
    this.length += count * 4;
  }

  override word(_w: number, n: number): void {
    this.length += n;
  }

  override constant(c: ConstJson): void {
    this.length += c.length;
  }

  override copyFrom(_src: JsonBytes, from: number, to: number): void {
    this.length += to - from;
  }

  override append(_src: Buffer, from: number, to: number): void {
    this.length += to - from;
  }

  override number(n: number): void {
    this.length += String(n).length;
  }

  override text(s: string): void {
    this.length += Buffer.byteLength(s);
  }

  override string(s: string): void {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 32 || c === 34 || c === 92 || c > 126) {
        this.text(jsonString(s));
        return;
      }
    }
    this.length += n + 2;
  }

  override copyString(src: Buffer, from: number, to: number): boolean {
    let n = 2;
    for (let i = from; i < to; i++) {
      const c = src[i]!;
      if (c >= 32 && c !== 34 && c !== 92 && c < 128) n++;
      else if (c < 32) n += ESCAPE_LENGTHS[c]!;
      else if (c < 128) n += 2;
      else {
        this.text(jsonString(src.toString("utf8", from, to)));
        return isUtf8(src.subarray(from, to));
      }
    }
    this.length += n;
    return true;
  }
}
