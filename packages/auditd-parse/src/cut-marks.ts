import type { PendingEvent } from "./assemble";
import type { Header } from "./record";

/** Sets of two places, by host and serial: 8192 marks. */
const SET_BITS = 12;
const SETS = 1 << SET_BITS;
/** Hosts numbered for the sets' index; past this many names the numbering starts again (a mark is then missed). */
const MAX_NODES = 4096;

/**
 * The latest events the grouping completed, without their EOE (window, idle host, bounds on open and held events)
 * or at it, each by its stamp: a record of one that comes later starts a new part under its id, and is to be
 * counted as split, not written as a second event no one is told of (T26 #1, T34 #6). A table of two places per
 * set, in typed arrays: marking every event of a log makes no object and no Map entry per event (a Map by serial
 * cost 3-5 % CPU on the testers' logs without EOE). The set is a hash of the host and the serial, not the
 * serial's low bits: hosts booted together log the same serials, and three hosts' serial 777 (or 777, 4873, 8969)
 * overwrote the first one's mark (T28 #1). A mark is overwritten by the third later mark of its set: its part is
 * then not counted (the testers' worst logs bring a late record within ~400 marks of 8192). A miss undercounts,
 * never counts a stranger: a place matches only its own node, stamp and serial.
 */
export class CutMarks {
  private readonly serials = new Float64Array(2 * SETS).fill(-1);
  private readonly secs = new Float64Array(2 * SETS);
  private readonly msDigits = new Float64Array(2 * SETS);
  private readonly shapes = new Float64Array(2 * SETS);
  private readonly nodes: (string | undefined)[] = new Array<string | undefined>(2 * SETS).fill(undefined);
  /** When each place was written (a count of marks, 0 when free): of a set's two, the older is overwritten. */
  private readonly ages = new Float64Array(2 * SETS);
  private count = 0;
  /** Each node's number in the sets' index (0: no node=). */
  private readonly nodeNumbers = new Map<string, number>();

  /** Marks a completed event (before it is handed over: the object may be reused after). */
  add(event: PendingEvent): void {
    const set = this.setOf(event.node, event.serial);
    const at = (this.ages[set] as number) <= (this.ages[set + 1] as number) ? set : set + 1;
    this.serials[at] = event.serial;
    this.secs[at] = event.sec;
    this.msDigits[at] = event.msDigits;
    this.shapes[at] = event.shape;
    this.nodes[at] = event.node;
    this.ages[at] = ++this.count;
  }

  /** Whether the record with header h belongs to a marked event; its mark is taken, so a part counts once. */
  take(h: Header): boolean {
    const set = this.setOf(h.node, h.serial);
    const at = this.matches(set, h) ? set : this.matches(set + 1, h) ? set + 1 : -1;
    if (at < 0) return false;
    this.serials[at] = -1;
    this.ages[at] = 0;
    return true;
  }

  /** The first of the two places of (node, serial)'s set: a multiplicative hash (Knuth's), its top bits. */
  private setOf(node: string | undefined, serial: number): number {
    let n = 0;
    if (node !== undefined) {
      n = this.nodeNumbers.get(node) ?? 0;
      if (n === 0) {
        if (this.nodeNumbers.size >= MAX_NODES) this.nodeNumbers.clear();
        n = this.nodeNumbers.size + 1;
        this.nodeNumbers.set(node, n);
      }
    }
    return (Math.imul((serial ^ Math.imul(n, 0x01000193)) | 0, 0x9e3779b1) >>> (32 - SET_BITS)) << 1;
  }

  private matches(at: number, h: Header): boolean {
    return (
      this.serials[at] === h.serial &&
      this.secs[at] === h.sec &&
      this.msDigits[at] === h.msDigits &&
      this.shapes[at] === h.shape &&
      this.nodes[at] === h.node
    );
  }
}
