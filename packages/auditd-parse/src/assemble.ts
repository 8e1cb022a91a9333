import { type AuditRecord, parseRecord } from "./record";
import { isStandaloneType } from "./record-types";

/** The records of one event, in arrival order, before interpretation. */
export interface RawEvent {
  node: string | undefined;
  stamp: string;
  timeMs: number;
  serial: number;
  records: AuditRecord[];
  /** Input lines without an audit header; such an event has no records. */
  unparsed: string[] | undefined;
  /** The assembler's wall-clock tick when the event last got a record (live input). */
  tick: number;
}

export interface AssemblerOptions {
  /** An event still open this long (in log time) after newer records is complete: auditd's own default. */
  windowMs?: number;
  /** Bound on open events, so memory stays flat whatever the input. */
  maxInFlight?: number;
}

export interface AssemblerStats {
  lines: number;
  records: number;
  events: number;
  /** Lines without an audit header plus records with an untokenisable body. */
  malformed: number;
  /** Serial numbers skipped inside a contiguous stream (events the kernel or auditd lost). */
  lost: number;
  /** Every serial number skipped, as go-libaudit counts them (on an excerpt, the events left out). */
  skipped: number;
}

const SERIAL_SPACE = 2 ** 32;
/**
 * The most recent open events stay open whatever their age in log time: a record that arrives after a
 * burst of newer ones (one CPU lagging behind the others) still finds its event.
 */
const KEEP_RECENT = 4;
/** Consecutive serials needed before a gap counts as lost events rather than an excerpt's omission. */
const DENSE_RUN = 8;
/** A backwards jump larger than this is an auditd restart, not a late record. */
const SERIAL_RESET = 100_000;

/**
 * Groups records into events by (node, timestamp, serial). An event completes on EOE, when its type is
 * single-record by nature, when it falls out of the window, when too many are open, or at flush().
 */
export class Assembler {
  readonly stats: AssemblerStats = { lines: 0, records: 0, events: 0, malformed: 0, lost: 0, skipped: 0 };
  private readonly open = new Map<string, RawEvent>();
  private readonly serials = new Map<string, { last: number; run: number; fillable: number }>();
  private readonly windowMs: number;
  private readonly maxInFlight: number;
  private newestMs = 0;
  private ticks = 0;

  constructor(
    private readonly emit: (event: RawEvent) => void,
    options: AssemblerOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 2048;
  }

  push(line: string): void {
    this.stats.lines++;
    const first = line.charCodeAt(0);
    if (line.length === 0 || first === 35 /* # */ || (first === 32 && line.trim() === "")) return;
    const record = parseRecord(line);
    if (record === undefined) {
      this.stats.malformed++;
      this.complete({ node: undefined, stamp: "", timeMs: 0, serial: -1, records: [], unparsed: [line], tick: 0 });
      return;
    }
    this.stats.records++;
    if (record.unparsed !== undefined) this.stats.malformed++;
    const key = record.node === undefined ? record.stamp : `${record.node} ${record.stamp}`;
    let event = this.open.get(key);
    if (record.type === "EOE") {
      if (event) {
        this.open.delete(key);
        this.complete(event);
      }
      return;
    }
    if (event === undefined) {
      this.trackSerial(record.node ?? "", record.serial);
      event = {
        node: record.node,
        stamp: record.stamp,
        timeMs: record.timeMs,
        serial: record.serial,
        records: [record],
        unparsed: undefined,
        tick: this.ticks,
      };
      if (isStandaloneType(record.type, undefined)) {
        this.complete(event);
      } else {
        this.open.set(key, event);
        if (this.open.size > this.maxInFlight) this.completeOldest();
      }
    } else {
      event.records.push(record);
      event.tick = this.ticks;
    }
    if (record.timeMs > this.newestMs) {
      this.newestMs = record.timeMs;
      this.expire(this.newestMs - this.windowMs);
    }
  }

  /**
   * Completes open events whose log time is before `beforeMs`, except the few most recent ones.
   * Open events are in arrival order, which is nearly log-time order, so the scan stops at the first
   * young one; a late straggler behind it waits at most one more window.
   */
  expire(beforeMs: number): void {
    for (const [key, event] of this.open) {
      if (event.timeMs >= beforeMs || this.open.size <= KEEP_RECENT) break;
      this.open.delete(key);
      this.complete(event);
    }
  }

  /**
   * Live input, called on a wall-clock timer: completes the events that got no record during the last
   * `idleTicks` calls. Arrival time, not log time, so a host clock that is off (or a log replayed from the
   * past) neither holds events open nor cuts them early.
   */
  tick(idleTicks: number): void {
    this.ticks++;
    for (const [key, event] of this.open) {
      if (this.ticks - event.tick < idleTicks) continue;
      this.open.delete(key);
      this.complete(event);
    }
  }

  /** Completes everything still open (end of input). */
  flush(): void {
    const events = [...this.open.values()];
    this.open.clear();
    for (const event of events) this.complete(event);
  }

  private completeOldest(): void {
    const first = this.open.entries().next();
    if (first.done) return;
    this.open.delete(first.value[0]);
    this.complete(first.value[1]);
  }

  private complete(event: RawEvent): void {
    this.stats.events++;
    this.emit(event);
  }

  /**
   * Counts serials skipped between events, modulo 2^32 so the 32-bit rollover is not a gap. Only gaps inside
   * a contiguous stream count: after at least DENSE_RUN consecutive serials on that node. An excerpt or a
   * filtered log (ausearch -k, grep) skips serials all the time, and those events were left out, not lost.
   */
  private trackSerial(node: string, serial: number): void {
    const state = this.serials.get(node);
    if (state === undefined) {
      this.serials.set(node, { last: serial, run: 0, fillable: 0 });
      return;
    }
    const ahead = (serial - state.last + SERIAL_SPACE) % SERIAL_SPACE;
    if (ahead === 0) return;
    if (ahead === 1) {
      state.run++;
      state.last = serial;
    } else if (ahead < SERIAL_SPACE / 2) {
      if (ahead - 1 < SERIAL_RESET) this.stats.skipped += ahead - 1;
      if (ahead - 1 < SERIAL_RESET && state.run >= DENSE_RUN) {
        this.stats.lost += ahead - 1;
        state.fillable += ahead - 1;
      } else {
        state.fillable = 0;
      }
      state.run = 0;
      state.last = serial;
    } else if (SERIAL_SPACE - ahead > SERIAL_RESET) {
      state.run = 0;
      state.fillable = 0;
      state.last = serial;
    } else {
      // a late event from an earlier serial fills one of the gaps counted before
      if (this.stats.skipped > 0) this.stats.skipped--;
      if (state.fillable > 0) {
        this.stats.lost--;
        // every counted gap filled: the stream was contiguous after all
        if (--state.fillable === 0) state.run = DENSE_RUN;
      }
    }
  }
}
