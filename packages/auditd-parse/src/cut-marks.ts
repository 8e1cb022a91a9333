import type { PendingEvent } from "./assemble";
import type { Header } from "./record";

/**
 * Marks kept, at most: the events completed last without their EOE. A later record of an older one is not
 * recognised (its part is not counted); the testers' worst logs bring it within ~400 events.
 */
const MARKS = 4096;

/**
 * The latest events the grouping completed without their EOE (window, idle host, bounds on open and held events),
 * each by its stamp: a record of one that comes later starts a new part under its id, and is to be counted as
 * split, not written as a second event no one is told of (T26 #1). Parallel arrays in a ring and an index by
 * serial, so marking the events of a log without EOE (most of them) makes no object per event. Of two marked
 * events of one serial (two hosts) only the later is found: a miss undercounts, it never counts a stranger.
 */
export class CutMarks {
  private readonly serials = new Float64Array(MARKS);
  private readonly secs = new Float64Array(MARKS);
  private readonly msDigits = new Float64Array(MARKS);
  private readonly shapes = new Float64Array(MARKS);
  private readonly nodes: (string | undefined)[] = new Array<string | undefined>(MARKS).fill(undefined);
  private readonly bySerial = new Map<number, number>();
  private next = 0;

  /** Marks an event completed without its EOE (before it is handed over: the object may be reused after). */
  add(event: PendingEvent): void {
    const at = this.next;
    this.next = at + 1 === MARKS ? 0 : at + 1;
    // the mark overwritten leaves the index, unless a later mark of its serial took its place there
    if (this.bySerial.get(this.serials[at] as number) === at) this.bySerial.delete(this.serials[at] as number);
    this.serials[at] = event.serial;
    this.secs[at] = event.sec;
    this.msDigits[at] = event.msDigits;
    this.shapes[at] = event.shape;
    this.nodes[at] = event.node;
    this.bySerial.set(event.serial, at);
  }

  /** Whether the record with header h belongs to a marked event; its mark is taken, so a part counts once. */
  take(h: Header): boolean {
    if (this.bySerial.size === 0) return false;
    const at = this.bySerial.get(h.serial);
    if (
      at === undefined ||
      this.secs[at] !== h.sec ||
      this.msDigits[at] !== h.msDigits ||
      this.shapes[at] !== h.shape ||
      this.nodes[at] !== h.node
    )
      return false;
    this.bySerial.delete(h.serial);
    return true;
  }
}
