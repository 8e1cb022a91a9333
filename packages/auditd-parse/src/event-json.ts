import type { AuditEvent, OutputRecord } from "./event";
import { Slot } from "./fields";
import { type ConstJson, constJson, type JsonBytes } from "./json";
import type { EventBuffers } from "./open-event";
import type { RecordTable } from "./record-table";

/**
 * One event's NDJSON line as bytes: the head (summary keys), then the records, closed with `]}`; a line
 * without records is all head. Valid only during the onEvent call that hands it over: the bytes are reused.
 */
export class EventJson {
  /**
   * The last released line, kept so that one EventJson is always alive. A line lives for one onEvent call, so
   * at most full GCs none was, and V8 collected the hidden classes its fields are added through (a class's
   * transitions are held weakly): every optimised function that had seen them (the event's completion, this
   * class's methods, the sink) was deoptimised and compiled again, every ~60,000 events of the corpus log, for
   * as long as the input lasted (`--trace-deopt`: "weak objects"; none left with this). Those recompiles run on
   * V8's background threads, whose malloc arenas are the part of peak RSS that varies most between runs.
   */
  static lastReleased: EventJson | undefined;
  private released = false;
  /** The records as objects, once parsed (recordObjects()). */
  private parsed: OutputRecord[] | undefined;
  private whole: EventJson | undefined;
  /** A line written before (held): its bytes at [placedStart, placedEnd) of `placed`, without its newline. */
  private placed: Buffer | undefined;
  private placedStart = 0;
  private placedEnd = 0;

  /**
   * `writeHead`, when given, writes the head into `head` the first time the line is read: sessions, report,
   * net and detect (unless a rule matches) never read it, and writing it was a tenth of their parse.
   * `rewrite`, when given, says the records' JSON was only counted (detect's pass, RecordFlag.NoJson): the
   * line is then that of the event interpreted again from its table's bodies, made the first time it is read.
   */
  constructor(
    private head: JsonBytes | undefined,
    private records: JsonBytes | undefined,
    private writeHead?: (head: JsonBytes) => void,
    private table?: RecordTable,
    private rewrite?: () => EventJson,
  ) {}

  /**
   * The line written before into `buf` at [start, end), without its newline (HeldLines), read where it lies:
   * a line of no records, as one that is all head. Valid while those bytes are.
   */
  static held(buf: Buffer, start: number, end: number): EventJson {
    const json = new EventJson(undefined, undefined);
    json.placed = buf;
    json.placedStart = start;
    json.placedEnd = end;
    return json;
  }

  /** This line with every byte of its records' JSON written: itself, or the event interpreted again (see rewrite). */
  full(): EventJson {
    this.alive();
    if (this.rewrite === undefined) return this;
    this.whole ??= this.rewrite();
    return this.whole;
  }

  /** The records as the interpreter read them (its recordObjects "table"), else undefined. */
  recordTable(): RecordTable | undefined {
    this.alive();
    return this.table;
  }

  /**
   * The records' JSON bytes (valid, like the line, only during the onEvent call); with `rewrite`, only the
   * members of records and fields the interpreter wrote (see RecordFlag.NoJson).
   */
  recordsJson(): JsonBytes | undefined {
    this.alive();
    return this.records;
  }

  /** The line's length in bytes, with its newline. */
  get lineLength(): number {
    if (this.placed !== undefined) return this.placedEnd - this.placedStart + 1;
    if (this.rewrite !== undefined) return this.full().lineLength;
    const head = this.written();
    return head.length + (this.records === undefined ? 1 : this.records.length + 3);
  }

  /** Copies the line, with its newline, into target at `at` (lineLength bytes must fit); returns the end. */
  copyLine(target: Uint8Array, at: number): number {
    const placed = this.placed;
    if (placed !== undefined) {
      const end = at + placed.copy(target, at, this.placedStart, this.placedEnd);
      target[end] = 10;
      return end + 1;
    }
    if (this.rewrite !== undefined) return this.full().copyLine(target, at);
    const head = this.written();
    let end = copyRun(target, at, head);
    const records = this.records;
    if (records !== undefined) {
      end = copyRun(target, end, records);
      target[end++] = 93; // ]
      target[end++] = 125; // }
    }
    target[end++] = 10;
    return end;
  }

  /** The line as text. */
  toString(): string {
    if (this.placed !== undefined) return this.placed.toString("utf8", this.placedStart, this.placedEnd);
    if (this.rewrite !== undefined) return this.full().toString();
    const head = this.written();
    const text = head.buf.toString("utf8", 0, head.length);
    const records = this.records;
    return records === undefined ? text : `${text}${records.buf.toString("utf8", 0, records.length)}]}`;
  }

  /** The records' JSON members (no brackets); "" for a line without records. */
  recordsText(): string {
    if (this.rewrite !== undefined) return this.full().recordsText();
    this.alive();
    const records = this.records;
    return records === undefined ? "" : records.buf.toString("utf8", 0, records.length);
  }

  /**
   * The records as objects, parsed from their JSON the first time they are asked for (during the onEvent call,
   * like the line; the objects may be kept): a consumer that needs the records of few events (sessions reads
   * login events') parses those alone, and the event object stays as the interpreter made it.
   */
  recordObjects(): OutputRecord[] {
    this.parsed ??= JSON.parse(`[${this.recordsText()}]`) as OutputRecord[];
    return this.parsed;
  }

  /** After the event is handed over: its bytes now belong to another event. */
  release(): void {
    this.parsed = undefined;
    this.head = undefined;
    this.records = undefined;
    this.writeHead = undefined;
    this.table = undefined;
    this.rewrite = undefined;
    this.whole?.release();
    this.whole = undefined;
    this.placed = undefined;
    this.released = true;
    EventJson.lastReleased = this;
  }

  /** The head, written now if it was not yet. */
  private written(): JsonBytes {
    const head = this.live(this.head);
    const write = this.writeHead;
    if (write !== undefined) {
      this.writeHead = undefined;
      head.reset();
      write(head);
    }
    return head;
  }

  /** Throws once the line is released (a held line has no head, and is all there is). */
  private alive(): void {
    if (this.placed === undefined) this.live(this.head);
  }

  private live(bytes: JsonBytes | undefined): JsonBytes {
    if (this.released || bytes === undefined) throw new Error("EventJson used after its onEvent call: keep String(json) instead");
    return bytes;
  }
}

/** bytes' JSON into target at `at`; returns the end. */
function copyRun(target: Uint8Array, at: number, bytes: JsonBytes): number {
  return at + bytes.buf.copy(target, at, 0, bytes.length);
}

const KEY = (name: string) => constJson(`,"${name}":`);
const ID = constJson('{"id":');
const NODE = KEY("node");
const NODE_RAW = KEY("nodeRaw");
const TIME = KEY("time");
const SERIAL = KEY("serial");
const PART = KEY("part");
const TYPES_OPEN = constJson(',"types":[');
const SYSCALL = KEY("syscall");
const ARCH = KEY("arch");
const SUCCESS = constJson(',"success":true');
const FAILURE = constJson(',"success":false');
const EXIT = KEY("exit");
const PID = KEY("pid");
const PPID = KEY("ppid");
const AUID = KEY("auid");
const UID = KEY("uid");
const NAMES = KEY("names");
const SES = KEY("ses");
const COMM = KEY("comm");
const EXE = KEY("exe");
const KEYS = KEY("keys");
const ARGC = KEY("argc");
const ARGV = KEY("argv");
const PROCTITLE = KEY("proctitle");
const ARGV_RAW = KEY("argvRaw");
const PROCTITLE_RAW = KEY("proctitleRaw");
const CWD = KEY("cwd");
const SOCKADDR = KEY("sockaddr");
const RECORDS = constJson(',"records":[');

/**
 * Writes the event's JSON up to its records: summary keys in schema order (absent ones left out). A summary
 * value taken from a field is copied from that field's JSON in the records, not encoded again.
 */
export function writeHead(w: JsonBytes, e: AuditEvent, from: EventBuffers, time: IsoTime, timeMs: number): void {
  w.constant(ID);
  w.string(e.id!);
  if (e.node !== undefined) {
    w.constant(NODE);
    w.string(e.node);
    if (e.nodeRaw !== undefined) {
      w.constant(NODE_RAW);
      w.string(e.nodeRaw);
    }
  }
  time.writeMember(w, timeMs);
  w.constant(SERIAL);
  w.number(e.serial!);
  if (e.part !== undefined) {
    w.constant(PART);
    w.number(e.part);
  }
  w.constant(TYPES_OPEN);
  w.copyFrom(from.types, 0, from.types.length);
  w.byte(93);
  optional(w, SYSCALL, e.syscall, from, Slot.Syscall);
  optional(w, ARCH, e.arch, from, Slot.Arch);
  if (e.success !== undefined) w.constant(e.success ? SUCCESS : FAILURE);
  optional(w, EXIT, e.exit, from, Slot.Exit);
  optional(w, PID, e.pid, from, Slot.Pid);
  optional(w, PPID, e.ppid, from, Slot.Ppid);
  optional(w, AUID, e.auid, from, Slot.Auid);
  optional(w, UID, e.uid, from, Slot.Uid);
  if (e.names !== undefined) {
    const names = namesJson(e.names);
    if (names !== undefined) w.constant(names);
    else {
      w.constant(NAMES);
      w.string(e.names);
    }
  }
  optional(w, SES, e.ses, from, Slot.Ses);
  optional(w, COMM, e.comm, from, Slot.Comm);
  optional(w, EXE, e.exe, from, Slot.Exe);
  if (e.keys !== undefined) {
    w.constant(KEYS);
    stringArray(w, e.keys);
  }
  if (e.argc !== undefined) {
    w.constant(ARGC);
    w.number(e.argc);
  }
  if (e.argv !== undefined) {
    w.constant(ARGV);
    stringArray(w, e.argv);
  } else if (from.argvCount >= 0) {
    w.constant(ARGV);
    w.byte(91);
    w.copyFrom(from.argv, 0, from.argv.length);
    w.byte(93);
  }
  if (e.argvRaw !== undefined) {
    w.constant(ARGV_RAW);
    w.text(JSON.stringify(e.argvRaw));
  }
  if (from.proctitle.length > 0) {
    w.constant(PROCTITLE);
    w.copyFrom(from.proctitle, 0, from.proctitle.length);
  } else if (e.proctitle !== undefined) {
    w.constant(PROCTITLE);
    stringArray(w, e.proctitle);
  }
  if (e.proctitleRaw !== undefined) {
    w.constant(PROCTITLE_RAW);
    w.string(e.proctitleRaw);
  }
  optional(w, CWD, e.cwd, from, Slot.Cwd);
  const saddr = from.spans[Slot.Sockaddr * 2]!;
  if (saddr >= 0) {
    w.constant(SOCKADDR);
    w.copyFrom(from.records, saddr, from.spans[Slot.Sockaddr * 2 + 1]!);
  } else if (e.sockaddr !== undefined) {
    w.constant(SOCKADDR);
    w.text(JSON.stringify(e.sockaddr));
  }
  w.constant(RECORDS);
}

const NAMES_LOG = constJson(',"names":"log"');
const NAMES_LOCAL = constJson(',"names":"local"');
const NAMES_MIXED = constJson(',"names":"mixed"');

/** `,"names":…` for the values the interpreter sets (finishEvent) as one constant, not a key and a string. */
function namesJson(names: string): ConstJson | undefined {
  return names === "local" ? NAMES_LOCAL : names === "log" ? NAMES_LOG : names === "mixed" ? NAMES_MIXED : undefined;
}

/** A summary key: copied from the field that set it, else from the event (or left out). */
function optional(w: JsonBytes, key: ConstJson, value: string | undefined, from: EventBuffers, slot: Slot): void {
  const start = from.spans[slot * 2]!;
  if (start >= 0) {
    w.constant(key);
    w.copyFrom(from.records, start, from.spans[slot * 2 + 1]!);
  } else if (value !== undefined) {
    w.constant(key);
    w.string(value);
  }
}

/** `"YYYY-MM-DDTHH:MM:SS.`: the prefix isoSecond makes for the years parseHeader accepts, with its quote. */
const PREFIX_JSON_BYTES = 21;
/** `,"time":"YYYY-MM-DDTHH:MM:SS` (the prefix without its `.`) as words: 28 bytes, 7 words. */
const MEMBER_WORDS = 7;

/**
 * Seconds whose prefix IsoTime keeps, by the second's low bits (a power of two). Hosts' clocks differ: a log
 * of many hosts interleaved has as many seconds in use at once as hosts whose clocks differ. With 8 kept, the
 * testers' `interleaved16` (16 hosts) made a prefix again for 111,489 of its 434,712 records, `relay` (40 hosts)
 * for 5,948; with 256, 280 and 245 (issue 23, Round 26).
 */
const KEPT_SECONDS = 256;

/**
 * Log time as ISO 8601 with milliseconds, as text and as JSON bytes; the date part is made once a second. The
 * last few seconds' are kept: where events wait for the grouping's window (several hosts, no EOE) they are
 * written in an order whose seconds go back and forth, and one kept second made a prefix at almost every event.
 */
export class IsoTime {
  private readonly seconds = new Float64Array(KEPT_SECONDS).fill(Number.NaN);
  private readonly prefixes: string[] = new Array(KEPT_SECONDS).fill("");
  /**
   * The head's time member up to the prefix's `.`, as words (MEMBER_WORDS a slot, made when the slot is): written
   * four bytes a store with the key, not the key, then 21 bytes and 5 more one by one (issue 23). Not a
   * Buffer.from per second: those came out of node's shared pool slabs, which outlived the scavenges and waited
   * for a full GC (116,000 a 100 MiB corpus log, 440,000 on 80 MiB of AVC records from four hosts).
   */
  private readonly memberWords = new Int32Array(KEPT_SECONDS * MEMBER_WORDS);
  /** The member's bytes as use() writes them, the key in place: one write a second. */
  private readonly scratch = Buffer.alloc(MEMBER_WORDS * 4);
  /** The slot use() found or filled. */
  private slot = 0;

  constructor() {
    this.scratch.write(',"time":"', 0, "latin1");
  }

  text(ms: number): string {
    const frac = this.use(ms);
    return `${this.prefixes[this.slot]}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}Z`;
  }

  /** `,"time":"…Z"` into w. */
  writeMember(w: JsonBytes, ms: number): void {
    const frac = this.use(ms);
    const prefix = this.prefixes[this.slot]!;
    const hundreds = (frac / 100) | 0;
    const tens = ((frac / 10) | 0) % 10;
    if (prefix.length + 1 === PREFIX_JSON_BYTES) {
      w.wordsFrom(this.memberWords, this.slot * MEMBER_WORDS, MEMBER_WORDS);
      // `.` and the three digits, then `Z"`
      w.word(46 | ((48 + hundreds) << 8) | ((48 + tens) << 16) | ((48 + (frac % 10)) << 24), 4);
    } else {
      w.constant(TIME);
      w.byte(34);
      w.text(prefix);
      w.byte(48 + hundreds);
      w.byte(48 + tens);
      w.byte(48 + (frac % 10));
    }
    w.word(90 | (34 << 8), 2);
  }

  /** Makes `slot` that of ms's second, its prefix made if it is not kept; returns the milliseconds within it. */
  private use(ms: number): number {
    const second = Math.floor(ms / 1000);
    const slot = second & (KEPT_SECONDS - 1);
    this.slot = slot;
    if (second !== this.seconds[slot]) {
      this.seconds[slot] = second;
      const prefix = isoSecond(second);
      this.prefixes[slot] = prefix;
      // 20 ASCII characters for every second parseHeader accepts (years 1970 to 9999); writeMember() checks
      const scratch = this.scratch;
      scratch.write(prefix, 9, MEMBER_WORDS * 4 - 9, "latin1");
      for (let i = 0; i < MEMBER_WORDS; i++) this.memberWords[slot * MEMBER_WORDS + i] = scratch.readInt32LE(i * 4);
    }
    return ms - second * 1000;
  }
}

/**
 * `new Date(second * 1000).toISOString().slice(0, 20)` by arithmetic (days to a civil date, H. Hinnant's
 * algorithm): a Date makes V8 load ICU's time zone data, 0.6 MB of peak RSS for a parse that only prints UTC
 * (issue 23). For 1970 to 9999, the stamps parseHeader accepts; the tests hold it to toISOString.
 */
export function isoSecond(second: number): string {
  const days = Math.floor(second / 86400);
  const inDay = second - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);
  const hms = `${two(Math.floor(inDay / 3600))}:${two(Math.floor(inDay / 60) % 60)}:${two(inDay % 60)}`;
  return `${String(year).padStart(4, "0")}-${two(month)}-${two(day)}T${hms}.`;
}

function stringArray(w: JsonBytes, list: readonly string[]): void {
  w.byte(91);
  for (let i = 0; i < list.length; i++) {
    if (i > 0) w.byte(44);
    w.string(list[i]!);
  }
  w.byte(93);
}
