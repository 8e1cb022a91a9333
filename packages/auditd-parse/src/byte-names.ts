/**
 * A bounded lookup from a name given as bytes (a field name, a record type) to what the parser knows about
 * it, so the hot path never makes a string of a name it has seen before. Open addressing on an FNV-1a hash;
 * a name is compared byte by byte, so collisions cost time, never correctness.
 */
export class ByteNames<T> {
  private readonly names: (Uint8Array | undefined)[];
  private readonly values: (T | undefined)[];
  private readonly mask: number;
  private size = 0;

  /** `make` builds the value from the decoded name on first sight; `slots` is a power of two. */
  constructor(
    private readonly make: (name: string) => T,
    slots = 4096,
  ) {
    this.names = new Array(slots).fill(undefined);
    this.values = new Array(slots).fill(undefined);
    this.mask = slots - 1;
  }

  get(buf: Buffer, from: number, to: number): T {
    let hash = 0x811c9dc5;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const names = this.names;
    for (let slot = hash & this.mask, probes = 0; probes < 8; slot = (slot + 1) & this.mask, probes++) {
      const name = names[slot];
      if (name === undefined) {
        const value = this.make(buf.toString("utf8", from, to));
        // a full table (corrupt input inventing names) stops remembering, it does not stop working
        if (this.size < (this.mask + 1) / 2) {
          names[slot] = Uint8Array.prototype.slice.call(buf, from, to);
          this.values[slot] = value;
          this.size++;
        }
        return value;
      }
      if (sameBytes(name, buf, from, to)) return this.values[slot]!;
    }
    return this.make(buf.toString("utf8", from, to));
  }
}

function sameBytes(name: Uint8Array, buf: Buffer, from: number, to: number): boolean {
  if (name.length !== to - from) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== buf[from + i]) return false;
  return true;
}
