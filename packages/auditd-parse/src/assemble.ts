import { CutMarks } from "./cut-marks";
import { isOpen, OpenByTime } from "./open-by-time";
import { Header, parseHeader } from "./record";
import { isStandaloneType } from "./record-types";

export interface AssemblerOptions {
  /** An event still open this long (in log time) after newer records is complete: auditd's own default. */
  windowMs?: number;
  /** Bound on open events, so memory stays flat whatever the input. */
  maxInFlight?: number;
  /**
   * Bounds on one event (records, bytes) and on all open events' bytes, past which events are written in parts
   * (MAX_EVENT_RECORDS, MAX_EVENT_BYTES, MAX_OPEN_BYTES by default). detect raises them (DETECT_BOUNDS): a rule
   * must see an event whole, and the kernel's longest command line is over 1 MiB.
   */
  bounds?: EventBounds;
}

export interface EventBounds {
  records: number;
  bytes: number;
  openBytes: number;
}

/** What the assembler needs of an event it holds open. */
export interface PendingEvent {
  readonly node: string | undefined;
  /** The stamp as text (`sec.ms:serial`), as begin() got it. */
  readonly stamp: string;
  /**
   * Set by the assembler as the event goes into `open`, a number never set before: the builder may hand the same
   * object out again once it is complete (Interpreter's reuseEvents), so the window's entries left behind for it
   * are told from the later event by this, not by the object alone. Set to 0 as the event leaves `open`.
   */
  seq: number;
  readonly timeMs: number;
  /** The stamp as Header's numbers (see Header.sec). */
  readonly serial: number;
  readonly sec: number;
  readonly msDigits: number;
  readonly shape: number;
  /** The assembler's wall-clock tick when the event last got a record (live input). */
  tick: number;
  /** The assembler's record count at the event's last record: whether it is still getting records (young). */
  lastRecord: number;
  /** Bytes the event holds (its records' JSON), for the bound on events held back for order. */
  readonly weight: number;
  /** Records added so far. */
  readonly recordCount: number;
  /**
   * 0 for an event written whole; 1, 2 … for the parts of one cut at a bound (records, bytes) while its records
   * were still coming: the assembler sets it, so filters and the commands can tell a later part from an event of
   * its own and give it its first part's place (T34 #3).
   */
  part: number;
}

/**
 * Where grouped records go (the Interpreter): begin/record see each record in arrival order, complete hands
 * an event over.
 */
export interface EventBuilder<E extends PendingEvent> {
  begin(h: Header, stamp: string, tick: number): E;
  /** False when part of the record could not be tokenised (counted as malformed). */
  record(event: E, h: Header, buf: Buffer, end: number): boolean;
  complete(event: E): void;
  /** Optional: the event is held back, to be handed over later; what only its line needs may go now. */
  settle?(event: E): void;
  /** A line without an audit header, kept whole as its own event. */
  unparsedLine(buf: Buffer, start: number, end: number): void;
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
  /** Lines longer than MAX_LINE_BYTES, cut (their last value and the rest dropped). */
  cut: number;
  /** Lines with more than MAX_LINE_FIELDS fields, cut after them. */
  wide: number;
  /**
   * Events written in parts (same id): past MAX_EVENT_RECORDS, MAX_EVENT_BYTES or MAX_OPEN_BYTES, or (`late`) a
   * record came after its event was completed, without EOE or after it.
   */
  split: number;
  /**
   * Of `split`, the parts begun by a record of an event completed already: without its EOE (its host's window
   * passed, its host was silent for IDLE_RECORDS, or too many events were open or held behind it: T26 #1), or
   * after it (T34 #6).
   */
  late: number;
}

/** Why an event counted in AssemblerStats.late was written in parts, as the warnings say it. */
export const LATE_PARTS =
  "some of their records came after they were written: after their EOE (a log merged or relayed out of order), or without EOE past their host's window, their host silent for hundreds of other hosts' records, or hundreds of later events held behind them";

const SERIAL_SPACE = 2 ** 32;
/**
 * The most recent open events stay open whatever their age in log time: a record that arrives after a
 * burst of newer ones (one CPU lagging behind the others) still finds its event.
 */
const KEEP_RECENT = 4;
/** Consecutive serials needed before a gap counts as lost events rather than an excerpt's omission. */
const DENSE_RUN = 8;
/**
 * Completed events held back behind an older one still open, at most; past it the oldest open event is
 * completed (its records have had this many later events' time to arrive, unless it is still getting them:
 * YOUNG_RECORDS), so memory stays flat.
 */
const MAX_HELD = 256;
/** The same bound in bytes: a few runaway lines must not pile up behind an open event. */
const MAX_HELD_BYTES = 4 << 20;
/**
 * An open event that got a record within this many records is still being written (the kernel writes an event's
 * records together; other hosts' records may come between them): past MAX_HELD it is not the one completed, as it
 * has not had the held events' time to get its records. Its host's event may begin late in log time behind a clock
 * ahead of it, with hundreds of younger events held: cut then, its PROCTITLE and EOE became a second event under
 * its id, counted nowhere (T25 #1).
 */
const YOUNG_RECORDS = 64;
/** Held events past which even a young oldest open event is completed (spares): its records keep coming between others'. */
const MAX_HELD_YOUNG = 2 * MAX_HELD;
/**
 * With more events open than this (records of many events interleaved, or corrupt input), finding the
 * oldest of all for every completed event would cost more than one order for all hosts is worth: a completed
 * event then waits only for its own host's older open events (OpenByTime), so each host stays in order.
 */
const MAX_ORDERED_OPEN = 64;
/**
 * Bounds on one event: past them it is completed and its later records start a new part with the same id.
 * A log whose stamps never change (a broken clock, a replay, records of several nodes under one stamp
 * without EOE) would otherwise grow one event for the whole input: memory and output line without bound.
 * The kernel writes at most a few hundred records per event (a 2 MiB argv is ~300 EXECVE records of 7.5 KiB),
 * so a real event never reaches them.
 */
export const MAX_EVENT_RECORDS = 1024;
export const MAX_EVENT_BYTES = 1 << 20;
/** The same for all open events together: past it the oldest is completed (then written in parts). */
const MAX_OPEN_BYTES = 8 << 20;
/**
 * detect's bounds: the whole of any command line the kernel lets through. execve takes at most 6 MiB of
 * arguments and environment (fs/exec.c: 3/4 of _STK_LIM, 2 MiB under the default 8 MiB stack), logged as hex
 * when an argument has a space or a quote (12 MiB), in EXECVE records of at most 7.5 KB (~1700 of them). An
 * event past these is still matched in parts, and detect says so and fails closed (exit 65).
 */
export const DETECT_BOUNDS: EventBounds = { records: 4096, bytes: 16 << 20, openBytes: 32 << 20 };
/**
 * Hosts with no open event whose newest log time is remembered (and whose serial stream is followed); past it
 * the earliest-seen is forgotten, so memory stays flat on a log with endless host names. A forgotten host starts
 * afresh: its window from its next record's time, its serials with no run (no gap counted until DENSE_RUN more).
 */
const MAX_IDLE_NODES = 4096;
/** Counted serial gaps kept for all hosts together (each host keeps at most MAX_COUNTED_GAPS). */
const MAX_TOTAL_GAPS = 4096;
/** Records after its last one past which an open event is complete, once more than MAX_ORDERED_OPEN are open. */
const IDLE_RECORDS = 256;
/** A backwards jump larger than this is an auditd restart, not a late record. */
const SERIAL_RESET = 100_000;

/**
 * Groups records into events by (node, timestamp, serial), each record interpreted as it arrives. An event
 * completes on EOE, when its type is single-record by nature, when it falls out of the window, when too many
 * are open, or at flush().
 */
export class Assembler<E extends PendingEvent> {
  readonly stats: AssemblerStats = {
    lines: 0,
    records: 0,
    events: 0,
    malformed: 0,
    lost: 0,
    skipped: 0,
    cut: 0,
    wide: 0,
    split: 0,
    late: 0,
  };
  /**
   * Open events in the order they were created, except the newest (`last`). A set of the events, not a map by a
   * `node stamp` key: a record finds its event through its host's window by serial (NodeWindow), so the key, a
   * string made and hashed per event and kept as long as it (promoted with it on hosts interleaved without EOE),
   * is made only for the rare event whose serial another open event of its host already has.
   */
  private readonly open = new Set<E>();
  private readonly header = new Header();
  /**
   * The newest open event, kept out of the map until a record of another event arrives: most events'
   * records come together and end with EOE, so they never touch the map at all.
   */
  private last: E | undefined;
  private readonly serials = new Map<string, SerialState>();
  private readonly windowMs: number;
  private readonly maxInFlight: number;
  private readonly bounds: EventBounds;
  private newestMs = 0;
  /**
   * The window per host (node, "" without one) that has events in `open`: an event is cut only against its own
   * host's newest log time, so a host whose clock runs ahead never cuts another host's events in two. A host
   * leaves it with its last open event (so it holds at most maxInFlight hosts) and keeps only its newest log
   * time, in `idle`.
   */
  private readonly windows = new Map<string, NodeWindow<E>>();
  /** The newest log time of hosts without an open event (MAX_IDLE_NODES at most). */
  private readonly idle = new Map<string, number>();
  /** The events completed early (without EOE), so a later record of one is counted as a new part. */
  private readonly marks = new CutMarks();
  /** Counted gaps in all `serials` states. */
  private gapCount = 0;
  /** The last PendingEvent.seq set. */
  private opened = 0;
  private ticks = 0;
  /**
   * No window's `seen` is below this (a floor, not always the least of them: a window starts at the record count
   * and its `seen` only grows): while fewer than IDLE_RECORDS records were counted since, no host is idle.
   */
  private seenFloor = 0;

  /** The newest log time (ms) of a record read: the window is counted from it (sessions holds ended sessions by it). */
  get newest(): number {
    return this.newestMs;
  }
  /**
   * Completed events waiting for an older open event (one without EOE, completed by the window later) to
   * be written first, in log-time order; events of the same log time stay in completion order.
   */
  private readonly held: E[] = [];
  private heldBytes = 0;
  /** Completed events of a host held behind its older open ones while too many are open for one order (toHost). */
  private readonly hostHeld = new Map<string, E[]>();
  private hostHeldCount = 0;
  private hostHeldBytes = 0;
  /** Bytes the open events hold (their weights), for MAX_OPEN_BYTES. */
  private openBytes = 0;

  constructor(
    private readonly builder: EventBuilder<E>,
    options: AssemblerOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 2000;
    this.maxInFlight = options.maxInFlight ?? 2048;
    this.bounds = options.bounds ?? { records: MAX_EVENT_RECORDS, bytes: MAX_EVENT_BYTES, openBytes: MAX_OPEN_BYTES };
  }

  /** One input line, buf[start, end). */
  push(buf: Buffer, start: number, end: number): void {
    this.stats.lines++;
    const first = buf[start];
    if (end === start || first === 35 /* # */ || (isSpaceByte(first) && onlySpaces(buf, start, end))) return;
    const h = this.header;
    if (!parseHeader(buf, start, end, h)) {
      this.stats.malformed++;
      this.stats.events++;
      this.builder.unparsedLine(buf, start, end);
      return;
    }
    this.stats.records++;
    let event = this.last;
    // the number of the part this record begins when its event was just cut at a bound, else 0
    let part = 0;
    if (event !== undefined && sameEvent(event, h) && (h.type === "EOE" || !this.full(event, end - start))) {
      if (h.type === "EOE") {
        this.completeWithEoe(event);
        return;
      }
      this.addRecord(event, buf, end);
    } else {
      if (event !== undefined && sameEvent(event, h)) {
        // `last` is full: written now, its next records start a new part
        part = cutPart(event);
        this.complete(event);
        event = undefined;
      } else if (this.open.size === 0) {
        // nothing else open (records of one event at a time, ended by EOE: most logs): a new event
        event = undefined;
      } else {
        // most records of hosts interleaved without EOE belong to an event in `open`: found by serial (NodeWindow)
        event = this.find(h, buf);
      }
      if (h.type === "EOE") {
        if (event) {
          this.takeOut(event);
          this.completeWithEoe(event);
        }
        return;
      }
      if (event !== undefined && this.full(event, end - start)) {
        this.takeOut(event);
        part = cutPart(event);
        this.complete(event);
        event = undefined;
      }
      if (event === undefined) {
        // a record of an event completed early starts a new part under its id: counted, not taken for a late event
        // filling a gap in its host's serials
        if (this.marks.take(h)) {
          this.stats.split++;
          this.stats.late++;
        } else if (!h.type.startsWith("DAEMON_")) {
          // auditd numbers its own DAEMON_* records (a start, a rotation, an end) from its own counter, not the
          // kernel's: one between two kernel events is no gap, and no part of the stream (T47 F5: a rotation's
          // DAEMON_ROTATE counted as 7683 events dropped)
          this.trackSerial(h.node ?? "", h.serial);
        }
        event = this.builder.begin(h, buf.toString("latin1", h.stampStart, h.stampEnd), this.ticks);
        event.part = part;
        this.addRecord(event, buf, end);
        if (isStandaloneType(h.type, undefined)) {
          this.complete(event, false);
        } else {
          if (this.last !== undefined) this.openLast();
          this.last = event;
          if (this.size() > this.maxInFlight) this.completeOldest(true);
          else if (this.open.size > MAX_ORDERED_OPEN) this.completeIdle();
        }
      } else {
        this.addRecord(event, buf, end);
      }
    }
    if (h.timeMs > this.newestMs) this.newestMs = h.timeMs;
    const node = h.node ?? "";
    const w = this.windows.get(node);
    if (w === undefined) {
      // no open event of the host to cut: only its newest time is kept
      const newest = this.idle.get(node);
      if (newest === undefined) this.remember(this.idle, node, h.timeMs);
      else if (h.timeMs > newest) this.idle.set(node, h.timeMs);
    } else {
      w.seen = this.stats.records;
      if (h.timeMs > w.newest) {
        w.newest = h.timeMs;
        this.expire(w);
      }
    }
  }

  /** Sets a new key in a map bounded by MAX_IDLE_NODES, forgetting the earliest-set key past it. */
  private remember<V>(map: Map<string, V>, node: string, value: V): void {
    if (map.size >= MAX_IDLE_NODES) {
      const first = map.keys().next().value as string;
      if (map === (this.serials as Map<string, unknown>)) this.gapCount -= this.serials.get(first)?.gaps.length ?? 0;
      map.delete(first);
    }
    map.set(node, value);
  }

  /** The open event (not `last`) the record with header h belongs to, if one is. */
  private find(h: Header, buf: Buffer): E | undefined {
    const w = this.windows.get(h.node ?? "");
    if (w === undefined) return undefined;
    const event = w.bySerial.get(h.serial);
    if (event !== undefined && sameEvent(event, h)) return event;
    return w.shared?.get(keyOf(h.node, buf.toString("latin1", h.stampStart, h.stampEnd)));
  }

  /** The host's window, made when it gets its first open event (no bound needed: at most one per open event). */
  private window(node: string): NodeWindow<E> {
    let w = this.windows.get(node);
    if (w === undefined) {
      const newest = this.idle.get(node) ?? Number.NEGATIVE_INFINITY;
      w = {
        newest,
        seen: this.stats.records,
        live: 0,
        events: [],
        seqs: [],
        head: 0,
        compactAt: 64,
        bySerial: new Map(),
        shared: undefined,
        byTime: new OpenByTime(),
      };
      this.windows.set(node, w);
    }
    return w;
  }

  /**
   * Takes an event out of `open`, its seq back to 0: entries left for it in the windows' queues and heaps are then
   * done by their seq alone (isOpen), with no lookup in `open`.
   */
  private takeOut(event: E): void {
    this.open.delete(event);
    event.seq = 0;
  }

  /** Puts `last` in `open`, and in its host's window queue. */
  private openLast(): void {
    const event = this.last as E;
    this.open.add(event);
    event.seq = ++this.opened;
    const w = this.window(event.node ?? "");
    w.live++;
    if (!w.bySerial.has(event.serial)) {
      w.bySerial.set(event.serial, event);
    } else {
      w.shared ??= new Map();
      w.shared.set(keyOf(event.node, event.stamp), event);
    }
    w.events.push(event);
    w.seqs.push(event.seq);
    w.byTime.push(event);
    if (w.byTime.size > 2 * w.live + 64) w.byTime.compact();
    if (w.events.length > w.compactAt) {
      // events completed since (EOE, caps) leave the queue here, so it stays about as long as its open events
      const events: E[] = [];
      const seqs: number[] = [];
      for (let i = w.head; i < w.events.length; i++) {
        const e = w.events[i] as E;
        const seq = w.seqs[i] as number;
        if (isOpen(e, seq)) {
          events.push(e);
          seqs.push(seq);
        }
      }
      w.events = events;
      w.seqs = seqs;
      w.head = 0;
      w.compactAt = Math.max(64, 2 * events.length);
    }
  }

  /**
   * Whether the event has no room for another record of `lineBytes`: counted as split, it is completed before
   * that record, so a part stays under MAX_EVENT_BYTES unless one record alone is larger. A record's JSON is up to
   * three times its line: two hex digits of a control byte are written as \u00XX (an EXECVE chunk of 7,000 digits,
   * 21 KB; counted at its line's size, parts went 14 KB past 1 MiB, T22 #2).
   */
  private full(event: E, lineBytes: number): boolean {
    if (event.recordCount < this.bounds.records && event.weight + 3 * lineBytes <= this.bounds.bytes) return false;
    this.stats.split++;
    return true;
  }

  private addRecord(event: E, buf: Buffer, end: number): void {
    event.tick = this.ticks;
    event.lastRecord = this.stats.records;
    const before = event.weight;
    if (!this.builder.record(event, this.header, buf, end)) this.stats.malformed++;
    this.openBytes += event.weight - before;
    // many big events open at once (records of several nodes under one stamp, no EOE): the oldest goes out
    while (this.openBytes > this.bounds.openBytes && this.size() > 1) {
      this.stats.split++;
      this.completeOldest(false);
    }
  }

  /**
   * Completes the host's open events older than the window before its newest log time, except the few most
   * recent open events (of any host). Its open events are in arrival order, which is nearly log-time order, so
   * the scan stops at the first young one; a late straggler behind it waits at most one more window.
   */
  private expire(w: NodeWindow<E>): void {
    const beforeMs = w.newest - this.windowMs;
    // `last` is not in the queue yet
    while (w.head < w.events.length) {
      const event = w.events[w.head] as E;
      if (isOpen(event, w.seqs[w.head] as number)) {
        if (event.timeMs >= beforeMs || this.size() <= KEEP_RECENT) break;
        this.takeOut(event);
        this.completeEarly(event);
      }
      w.head++;
    }
    // not when the queue is empty already: an array's length store is a call into V8's runtime (issue 23, Round 41)
    if (w.head === w.events.length && w.head > 0) {
      w.events.length = 0;
      w.seqs.length = 0;
      w.head = 0;
    }
  }

  /**
   * Live input, called on a wall-clock timer: completes the events that got no record during the last
   * `idleTicks` calls. Arrival time, not log time, so a host clock that is off (or a log replayed from the
   * past) neither holds events open nor cuts them early.
   */
  tick(idleTicks: number): void {
    this.ticks++;
    for (const event of this.open) {
      if (this.ticks - event.tick < idleTicks) continue;
      this.takeOut(event);
      this.completeEarly(event);
    }
    if (this.last !== undefined && this.ticks - this.last.tick >= idleTicks) this.completeEarly(this.last);
  }

  /**
   * Completes everything still open (end of input), oldest log time first and each taken out of `open` only
   * as it completes: the events held behind it must still see the younger ones open, or a one-record event
   * (a USER_END) would go out before the older commands of its session, which had no EOE.
   */
  flush(): void {
    const events = [...this.open];
    if (this.last !== undefined) events.push(this.last);
    // stable: events of one log time keep the order they began in
    events.sort((a, b) => a.timeMs - b.timeMs);
    for (const event of events) {
      if (event === this.last) {
        this.complete(event);
      } else if (this.open.has(event)) {
        // not completed already by release() (MAX_HELD reached while flushing)
        this.takeOut(event);
        this.complete(event);
      }
    }
  }

  /** Open events, the newest included. */
  private size(): number {
    return this.open.size + (this.last === undefined ? 0 : 1);
  }

  /**
   * Completes the earliest-begun open events while their host has logged nothing during the last IDLE_RECORDS
   * records. A host's window cuts its events only when that host logs again; on a log of thousands of hosts
   * each host's events stayed open until maxInFlight forced them out (2048 events held: 89 MB at 20,000 hosts).
   * A host that silent has no record of them on the way (the kernel writes an event's records together). A
   * host still logging is left to its window, so one host's log is grouped and ordered as before. Called as an
   * event begins, with more than MAX_ORDERED_OPEN open: a few lookups per event, none on most logs.
   */
  private completeIdle(): void {
    const before = this.stats.records - IDLE_RECORDS;
    // no host idle: `open` not looked at. Its first entry is found by walking the holes deleted entries leave at
    // the front of the Set (~2,600 instructions an event begun on the testers' `interleaved16`); the windows' least
    // `seen` is found again about every IDLE_RECORDS records there, 16 windows a time. Not past MAX_ORDERED_OPEN
    // hosts, where a host left idle would have them all looked at for every event begun.
    if (before >= this.seenFloor && this.windows.size <= MAX_ORDERED_OPEN) this.seenFloor = this.leastSeen();
    if (before < this.seenFloor) return;
    for (;;) {
      const first = this.open.values().next();
      if (first.done) return;
      const event = first.value;
      const w = this.windows.get(event.node ?? "");
      if (w !== undefined && w.seen > before) return;
      this.takeOut(event);
      this.completeEarly(event);
    }
  }

  /** The least `seen` of the open hosts' windows (the record count when none is open). */
  private leastSeen(): number {
    let least = this.stats.records;
    for (const w of this.windows.values()) if (w.seen < least) least = w.seen;
    return least;
  }

  /** Completes the earliest-begun open event; `mark`: unless counted as split already (MAX_OPEN_BYTES). */
  private completeOldest(mark: boolean): void {
    const first = this.open.values().next();
    const event = first.done ? this.last : first.value;
    if (event === undefined) return;
    if (event !== this.last) this.takeOut(event);
    if (mark) this.marks.add(event);
    this.complete(event);
  }

  /**
   * Completes an event that had no EOE (the callers took it out of `open`): marked, so a record of it that still
   * comes is counted as a new part (split) rather than written as a second event under its id unsaid (T26 #1).
   */
  private completeEarly(event: E): void {
    this.marks.add(event);
    this.complete(event);
  }

  /**
   * Completes an event at its EOE (the callers took it out of `open`): marked too, so a record of it that comes
   * after its EOE (a log merged or relayed out of order) is counted as a late part, not written as a second
   * event under its id unsaid (T34 #6); a second EOE alone makes no part.
   */
  private completeWithEoe(event: E): void {
    this.marks.add(event);
    this.complete(event);
  }

  /**
   * Hands a completed event over in log-time order: while an event of an earlier log time is still open, it
   * waits (held) so a timeline never goes backwards. The caller has taken it out of `open` already.
   */
  private complete(event: E, wasOpen = true): void {
    if (event === this.last) this.last = undefined;
    else if (wasOpen) this.leaveWindow(event);
    this.openBytes -= event.weight;
    if (this.hostHeld.size > 0 && this.open.size <= MAX_ORDERED_OPEN) this.rejoin();
    if (this.held.length === 0 && this.open.size > MAX_ORDERED_OPEN) {
      this.toHost(event);
      // toHost let go its host's held events already; called again, releaseHost would do the same unless it let
      // events go by one order now (open events completed for the held bound: MAX_ORDERED_OPEN or fewer left)
      if (this.open.size > MAX_ORDERED_OPEN) return;
    } else if (this.held.length === 0 && this.oldestOpenMs() >= event.timeMs) this.emit(event);
    else this.hold(event);
    // its host's events held behind it may go now
    if (this.hostHeld.size > 0) this.releaseHost(event.node ?? "");
  }

  /** Puts a completed event among those held for order (all hosts), after those of the same or an earlier time. */
  private hold(event: E): void {
    // one no open event precedes goes out in the release below, behind the held ones of its time or earlier: not
    // settled (its line copied in and out for nothing: 31,187 of 112,926 held events on the testers' `avc`, 38,959
    // of 67,746 on `interleaved16`); above MAX_ORDERED_OPEN it goes on to toHost, which decides
    const oldest = this.open.size <= MAX_ORDERED_OPEN ? this.oldestOpenMs() : undefined;
    if (oldest !== undefined && event.timeMs > oldest) this.builder.settle?.(event);
    this.heldBytes += event.weight;
    insertByTime(this.held, event);
    this.release(oldest);
  }

  /**
   * With too many events open to keep all hosts in one order: the event waits only for its own host's older
   * open events, so each host's events still leave in log-time order (T20 #2: 20 hosts interleaved without EOE
   * kept over 64 open, and one host's event with EOE went out before its older one without).
   */
  private toHost(event: E): void {
    const node = event.node ?? "";
    let list = this.hostHeld.get(node);
    const oldest = this.hostOldestMs(node);
    if (list === undefined) {
      if (oldest >= event.timeMs) {
        this.emit(event);
        return;
      }
      list = [];
      this.hostHeld.set(node, list);
    }
    // as in hold(): one none of its host's open events precedes goes out in releaseHost below, not settled
    if (event.timeMs > oldest) this.builder.settle?.(event);
    insertByTime(list, event);
    this.hostHeldCount++;
    this.hostHeldBytes += event.weight;
    this.releaseHost(node, oldest);
  }

  /**
   * Back to one order for all hosts: the events held per host join `held` before anything is let go, or an
   * event held there would pass an older one of its host still waiting per host.
   */
  private rejoin(): void {
    for (const list of this.hostHeld.values()) {
      for (const event of list) {
        insertByTime(this.held, event);
        this.heldBytes += event.weight;
      }
    }
    this.hostHeld.clear();
    this.hostHeldCount = 0;
    this.hostHeldBytes = 0;
  }

  /**
   * Lets go the host's held events no open event of the host precedes; past MAX_HELD events or MAX_HELD_BYTES the
   * host's oldest open event completes first (memory and order both kept). Back under MAX_ORDERED_OPEN open they
   * join the held events of all hosts instead, which another host's older open event may still hold back.
   * `known`: hostOldestMs(node) when the caller has just found it (toHost), not looked up again.
   */
  private releaseHost(node: string, known?: number): void {
    const list = this.hostHeld.get(node);
    if (list === undefined) return;
    let oldest = known ?? this.hostOldestMs(node);
    const ordered = this.open.size <= MAX_ORDERED_OPEN;
    while (list.length > 0) {
      const over = this.hostHeldCount > MAX_HELD || this.hostHeldBytes > MAX_HELD_BYTES;
      if (list[0]!.timeMs > oldest && !over) return;
      if (list[0]!.timeMs > oldest && !ordered) {
        // past the bound the host's oldest open event completes first, as release() does for all hosts (unless it
        // is still getting records: spares), and the host's order holds (T21 #1)
        const w = this.windows.get(node);
        const first = this.hostOldestOpen(w, oldest);
        if (first !== undefined) {
          if (this.spares(first, this.hostHeldCount, this.hostHeldBytes)) return;
          this.takeHostOldest(w as NodeWindow<E>, first);
          this.marks.add(first);
          this.emit(first);
          oldest = this.hostOldestMs(node);
          continue;
        }
      }
      const next = list.shift()!;
      this.hostHeldCount--;
      this.hostHeldBytes -= next.weight;
      if (list.length === 0) this.hostHeld.delete(node);
      if (ordered) this.hold(next);
      else this.emit(next);
    }
  }

  /** The host's open event of log time `oldestMs`, when one is in `open` (not `last`, which is not there yet). */
  private hostOldestOpen(w: NodeWindow<E> | undefined, oldestMs: number): E | undefined {
    return w === undefined || w.byTime.oldestMs() !== oldestMs ? undefined : w.byTime.oldest();
  }

  /** Takes the host's oldest open event (hostOldestOpen) out of `open` and its window w; the caller hands it over. */
  private takeHostOldest(w: NodeWindow<E>, event: E): void {
    w.byTime.dropOldest();
    this.takeOut(event);
    this.leaveWindow(event);
    this.openBytes -= event.weight;
  }

  /**
   * Whether the oldest open event, to be completed for the held events' bound, is spared: still getting records
   * (young), it has not had their time, and they wait for its EOE up to MAX_HELD_YOUNG (MAX_HELD_BYTES still holds,
   * so memory stays as flat). Cut, young or not, it is marked (CutMarks): a later record of it starts a new part,
   * counted as split.
   */
  private spares(event: E, heldCount: number, heldBytes: number): boolean {
    return this.stats.records - event.lastRecord < YOUNG_RECORDS && heldCount <= MAX_HELD_YOUNG && heldBytes <= MAX_HELD_BYTES;
  }

  /** The earliest log time of the host's open events (Infinity when none is), however many it has open. */
  private hostOldestMs(node: string): number {
    const last = this.last;
    const oldest = last !== undefined && (last.node ?? "") === node ? last.timeMs : Number.POSITIVE_INFINITY;
    const w = this.windows.get(node);
    if (w === undefined) return oldest;
    return Math.min(oldest, w.byTime.oldestMs());
  }

  /**
   * Takes an event that was in `open` (the callers took it out) out of its host's window. A host left with no
   * open event keeps only its newest log time: its queue's done entries (completed events, each holding its
   * records until the queue was next scanned) and its serial index go, so what the windows hold is bounded by the
   * open events, not by the hosts seen (20,000 hosts without EOE: ~4 done events per tracked host kept, 96 MB).
   */
  private leaveWindow(event: E): void {
    const node = event.node ?? "";
    const w = this.windows.get(node);
    if (w === undefined) return;
    if (w.bySerial.get(event.serial) === event) w.bySerial.delete(event.serial);
    else w.shared?.delete(keyOf(event.node, event.stamp));
    if (--w.live > 0) return;
    this.windows.delete(node);
    if (this.idle.has(node)) this.idle.set(node, w.newest);
    else this.remember(this.idle, node, w.newest);
  }

  /**
   * The input lost bytes we never read (a followed file truncated before its tail was read): a serial gap
   * across that is ours, not the kernel's, so each host's run starts again and the next jump is not counted.
   */
  breakSerialRuns(): void {
    for (const state of this.serials.values()) state.run = 0;
  }

  /** Open hosts' windows and idle hosts remembered: what the grouping keeps per host (tests). */
  hostState(): { windows: number; idle: number; serials: number; gaps: number } {
    return { windows: this.windows.size, idle: this.idle.size, serials: this.serials.size, gaps: this.gapCount };
  }

  /**
   * Writes the held events no open event precedes; past MAX_HELD, completes the oldest open one first. `known`:
   * the oldest open time when the caller has just walked the open events for it (hold), not walked again.
   */
  private release(known?: number): void {
    const held = this.held;
    while (held.length > 0) {
      const oldest = known ?? this.oldestOpenMs();
      known = undefined;
      if (this.open.size > MAX_ORDERED_OPEN) {
        const next = held.shift()!;
        this.heldBytes -= next.weight;
        this.toHost(next);
      } else if (held[0]!.timeMs <= oldest) {
        const next = held.shift()!;
        this.heldBytes -= next.weight;
        this.emit(next);
      } else if (held.length > MAX_HELD || this.heldBytes > MAX_HELD_BYTES) {
        this.completeOldestInTime();
        return; // completing it released what it held back
      } else {
        return;
      }
    }
  }

  private emit(event: E): void {
    this.stats.events++;
    this.builder.complete(event);
  }

  /** The earliest log time of the events not written yet (open or held back), Infinity when none is. */
  oldestPendingMs(): number {
    let oldest = Math.min(this.oldestOpenMs(), this.held[0]?.timeMs ?? Number.POSITIVE_INFINITY);
    for (const list of this.hostHeld.values()) if (list[0]!.timeMs < oldest) oldest = list[0]!.timeMs;
    return oldest;
  }

  /** The earliest log time of the open events, Infinity when none is open. */
  private oldestOpenMs(): number {
    let oldest = this.last === undefined ? Number.POSITIVE_INFINITY : this.last.timeMs;
    // most of the time nothing else is open: no iterator made per event
    if (this.open.size === 0) return oldest;
    // each host's earliest (its byTime), when there are fewer hosts than open events: on 16 hosts without EOE ~220
    // are open, and this runs for each event completed and, in sessions, each event while a session waits (issue 23)
    if (this.windows.size < this.open.size) {
      for (const w of this.windows.values()) if (w.live > 0) oldest = Math.min(oldest, w.byTime.oldestMs());
      return oldest;
    }
    for (const event of this.open) if (event.timeMs < oldest) oldest = event.timeMs;
    return oldest;
  }

  /** Completes the oldest open event in log time (held events past their bound), unless it is spared. */
  private completeOldestInTime(): void {
    let event = this.last;
    for (const e of this.open) if (event === undefined || e.timeMs < event.timeMs) event = e;
    if (event === undefined) return;
    if (this.spares(event, this.held.length, this.heldBytes)) return;
    if (event !== this.last) this.takeOut(event);
    this.completeEarly(event);
  }

  /**
   * Counts serials skipped between events, modulo 2^32 so the 32-bit rollover is not a gap. Only gaps inside
   * a contiguous stream count: after at least DENSE_RUN consecutive serials on that node. An excerpt or a
   * filtered log (ausearch -k, grep) skips serials all the time, and those events were left out, not lost.
   */
  private trackSerial(node: string, serial: number): void {
    const state = this.serials.get(node);
    if (state === undefined) {
      this.remember(this.serials, node, { last: serial, run: 0, gaps: [] });
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
        state.gaps.push({ start: (state.last + 1) % SERIAL_SPACE, length: ahead - 1 });
        this.gapCount++;
        // the oldest counted gap stays lost for good: a late event that far back is no fill
        if (state.gaps.length > MAX_COUNTED_GAPS || this.gapCount > MAX_TOTAL_GAPS) {
          state.gaps.shift();
          this.gapCount--;
        }
      }
      state.run = 0;
      state.last = serial;
    } else if (SERIAL_SPACE - ahead > SERIAL_RESET) {
      state.run = 0;
      this.gapCount -= state.gaps.length;
      state.gaps = [];
      state.last = serial;
    } else {
      // a late event from an earlier serial fills a gap: one counted as lost only if it is in one of those
      if (this.stats.skipped > 0) this.stats.skipped--;
      const before = state.gaps.length;
      if (fillGap(state.gaps, serial)) {
        this.gapCount += state.gaps.length - before;
        this.stats.lost--;
        // every counted gap filled: the stream was contiguous after all
        if (state.gaps.length === 0) state.run = DENSE_RUN;
      }
    }
  }
}

/** One host's window: its newest log time and the events it put in `open`, in arrival order (done ones too). */
interface NodeWindow<E extends PendingEvent> {
  newest: number;
  /** The assembler's record count at the host's last record (completeIdle). */
  seen: number;
  /** Its events in `open`. */
  live: number;
  events: E[];
  /** Each entry's PendingEvent.seq as it was queued: an entry whose event has another seq since is done. */
  seqs: number[];
  /** The first entry not known to be done. */
  head: number;
  /** Queue length past which entries of events done are taken out. */
  compactAt: number;
  /**
   * The host's events in `open` by serial, the latest put there of each serial: a record of one of them is
   * matched (sameEvent) without making its `node stamp` key, which on logs of hosts interleaved without EOE was
   * a string made, hashed and dropped per record. An event leaves it when completed.
   */
  bySerial: Map<number, E>;
  /**
   * The host's events in `open` whose serial another one there had when they opened (a serial reused: an auditd
   * restart, a forged log), by their `node stamp` key (keyOf); undefined until the host has one.
   */
  shared: Map<string, E> | undefined;
  /** Its events in `open` by log time, for the earliest (hostOldestMs). */
  byTime: OpenByTime<E>;
}

/** Per node: the last serial, how many consecutive serials led to it, and the gaps counted as lost events. */
interface SerialState {
  last: number;
  run: number;
  gaps: { start: number; length: number }[];
}

/** How many counted gaps per node a late event may still fill (events arrive out of order by a few at most). */
const MAX_COUNTED_GAPS = 64;

/**
 * Takes `serial` out of the counted gap holding it, if one does (modulo 2^32); false when it filled a gap that
 * was never counted (one after a run too short to count, in an excerpt), so the lost count stays as it is.
 */
function fillGap(gaps: { start: number; length: number }[], serial: number): boolean {
  for (let i = 0; i < gaps.length; i++) {
    const gap = gaps[i] as { start: number; length: number };
    const at = (serial - gap.start + SERIAL_SPACE) % SERIAL_SPACE;
    if (at >= gap.length) continue;
    if (gap.length === 1) {
      gaps.splice(i, 1);
    } else if (at === 0) {
      gap.start = (gap.start + 1) % SERIAL_SPACE;
      gap.length--;
    } else if (at === gap.length - 1) {
      gap.length--;
    } else {
      // a serial inside the gap splits it in two
      gaps.splice(i + 1, 0, { start: (serial + 1) % SERIAL_SPACE, length: gap.length - at - 1 });
      gap.length = at;
    }
    return true;
  }
  return false;
}

/**
 * Puts a completed event in a list held in log-time order, after every one of the same or an earlier time
 * (completion order within one log time). Most come after the list's last (events completed by EOE); one the
 * window completed goes before the newer events held behind it, found by bisection: on the testers' `avc` (8 hosts,
 * AVC and USER_AVC events without EOE) a walk back from the end took 9.4 steps an insert, each a load from
 * another event object, 1.3 % of the parse's profile (issue 23, Round 39). The lists are only ever changed here
 * and by shift(), so they stay sorted and the place is the walk's.
 */
function insertByTime<E extends PendingEvent>(list: E[], event: E): void {
  const t = event.timeMs;
  const n = list.length;
  if (n === 0 || list[n - 1]!.timeMs <= t) {
    list.push(event);
    return;
  }
  // the first of list[0, n - 1) later than t (list[n - 1] is)
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.timeMs > t) hi = mid;
    else lo = mid + 1;
  }
  list.splice(lo, 0, event);
}

/**
 * Numbers the parts of an event cut at a bound (the record that did not fit is of it, so a part follows): the one cut
 * becomes part 1 unless it is a later part already; the number of the part that follows is returned.
 */
function cutPart(event: PendingEvent): number {
  if (event.part === 0) event.part = 1;
  return event.part + 1;
}

/** An open event's key in NodeWindow.shared: `node stamp`, or the stamp alone without a node. */
function keyOf(node: string | undefined, stamp: string): string {
  return node === undefined ? stamp : `${node} ${stamp}`;
}

/** Whether the record with header h belongs to `event`: same node, same stamp. */
function sameEvent(event: PendingEvent, h: Header): boolean {
  return (
    event.serial === h.serial && event.sec === h.sec && event.msDigits === h.msDigits && event.shape === h.shape && event.node === h.node
  );
}

/**
 * Space, tab, CR, VT, FF: C's isspace() but the newline that ends a line. A line of only these is skipped
 * like a blank one, whichever they are: ausearch skips every such line, and laurel makes no event of any
 * (it logs each as a header it cannot parse, a blank one too). Records start with "type=" or "node=", so
 * the first byte alone settles almost every line.
 */
function isSpaceByte(byte: number | undefined): boolean {
  return byte === 32 || (byte !== undefined && byte >= 9 && byte <= 13 && byte !== 10);
}

function onlySpaces(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isSpaceByte(buf[i])) return false;
  return true;
}
