import { isUtf8 } from "node:buffer";
import type { PendingEvent } from "./assemble";
import type { AuditEvent } from "./event";
import { Slot } from "./fields";
import type { LineChunk } from "./held-lines";
import { JsonBytes } from "./json";
import type { Header } from "./record";
import type { RecordTable } from "./record-table";
import { decodeArg, kernelHex, lostBytes } from "./values";

/**
 * First size of an event's records JSON. The testers' multi-host logs hold 600-800 events open at once (no EOE:
 * each waits the window), and at 8 KiB their sets were ~6 MB of live buffers for records of 0.5-1.4 KB (p99
 * ~2 KB): `interleaved16` peaked at 66.7 MB, 62.1 at 2 KiB (issue 23).
 */
const RECORDS_BYTES = 2048;
/** First size of the proctitle, argv and types JSON, and the most of it a pooled set keeps (shrink). */
const SMALL_BYTES = 256;
const SMALL_KEPT = 2048;

/** An event's reusable byte buffers: its records' JSON, and where in it each summary value was written. */
export class EventBuffers {
  readonly records = new JsonBytes(RECORDS_BYTES);
  /** Per Slot: start and end of the value's JSON in records, or -1. */
  readonly spans = new Int32Array(Slot.Count * 2).fill(-1);
  /** The proctitle as a JSON array, when it was written straight from the record's hex (summaries off). */
  proctitle = new JsonBytes(SMALL_BYTES);
  /**
   * The arguments a0, a1 … as JSON strings, comma-separated, written straight from the EXECVE bytes when no one
   * reads the event's argv as text (Interpreter's argvText off); argvCount of them, -1 when not in use.
   */
  argv = new JsonBytes(SMALL_BYTES);
  argvCount = -1;
  /** The record types as JSON strings, comma-separated, in arrival order (the head's "types"). */
  types = new JsonBytes(SMALL_BYTES);
  /** The records as detect reads them (Interpreter's recordObjects "table"), else undefined. */
  table: RecordTable | undefined = undefined;
  /** textAtEnd: the slots (bits) whose span holds a value the event object has no text of yet (summariesAt). */
  lateSlots = 0;
  /** Of those, the ones whose JSON may hold an escape: the others' JSON is their text between quotes. */
  escapedSlots = 0;

  reset(): void {
    this.table?.reset();
    this.records.reset();
    this.types.reset();
    this.spans.fill(-1);
    this.lateSlots = 0;
    this.escapedSlots = 0;
    this.proctitle.reset();
    this.argv.reset();
    this.argvCount = -1;
  }

  /**
   * Before the set is pooled: an argv, proctitle or types list one event grew past 2 KiB starts again at its first
   * size. Pooled sets serve event after event, so each kept the largest it ever held: on the testers' `corpus16`
   * the 0.4 % of events with an 8 KB argv left most sets with 16 KiB of argv room, and the live buffers grew with
   * the input (0.8 -> 5.6 MB after a full GC over the run). Not at twice the first size: a third of `mixed`'s
   * execs write 0.5-2 KB of argv, and shrinking those made garbage per event (+5 MB of peak RSS). Not the records:
   * `manypath`'s events all write 6-36 KB of them, and shrinking those made 56 -> 74 MB.
   */
  shrink(): void {
    if (this.proctitle.buf.length > SMALL_KEPT) this.proctitle = new JsonBytes(SMALL_BYTES);
    if (this.argv.buf.length > SMALL_KEPT) this.argv = new JsonBytes(SMALL_BYTES);
    if (this.types.buf.length > SMALL_KEPT) this.types = new JsonBytes(SMALL_BYTES);
  }

  /** The bytes these buffers hold (what keeping them in a pool costs). */
  byteLength(): number {
    return (
      this.records.buf.length +
      this.proctitle.buf.length +
      this.argv.buf.length +
      this.types.buf.length +
      (this.table?.bytes.buf.length ?? 0)
    );
  }
}

/** What a cleared OpenEvent points to (OpenEvent.clear): never written to. */
const NO_BUFFERS = new EventBuffers();

/** One event being assembled: its summary so far and its records, already written as JSON bytes. */
/** Where the event's uid/gid names came from (OpenEvent.names): bits. */
export const NAMES_LOCAL = 1;
export const NAMES_LOG = 2;

export class OpenEvent implements PendingEvent {
  recordCount = 0;
  lastRecord = 0;
  /** NAMES_LOCAL | NAMES_LOG: the passwd/group files, the log's own ENRICHED names, or both. */
  names = 0;
  /** Hex of the arguments (by index) and the proctitle whose bytes are not UTF-8 (see lostBytes). */
  argvRaw: Record<string, string> | undefined = undefined;
  proctitleRaw: string | undefined = undefined;
  /**
   * argv chunks (aN[i]) being joined, with their index i, by argument: one long argument may continue in
   * the next EXECVE record, and a chunk is hex or "quoted" (the kernel quotes a chunk it finds printable).
   */
  chunks: Map<number, ArgChunks> | undefined = undefined;
  // set from the header of the event's first record (take), in the constructor or when a pooled one is reopened
  records!: JsonBytes;
  node!: string | undefined;
  timeMs!: number;
  serial!: number;
  sec!: number;
  msDigits!: number;
  shape!: number;
  /**
   * textAtEnd: the types of the records read so far are typeNames[0, typeCount), the event's `types` made of them
   * when it completes (typesRead). The array is kept from event to event with the pooled OpenEvent.
   */
  private readonly typeNames: string[] = [];
  private typeCount = 0;
  /** PendingEvent.seq: the assembler's. */
  seq = 0;
  /** PendingEvent.part: the assembler's, set as each event (a pooled one too) begins. */
  part = 0;

  /**
   * Bytes of argv text held outside `records` (EXECVE's a0…aN and aN[i] chunks become the head's "argv",
   * not record fields): counted in the weight, or a 6 MB argv over 900 records was one 6 MB line, unsplit.
   */
  argvBytes = 0;
  /** Bytes of the records' JSON counted, not written (detect's pass: see JsonCount). */
  counted = 0;

  /**
   * About the event's JSON size so far: its records' JSON (written or counted), its argv and its "types" list
   * (~9 bytes a record: 6.6 KB on a 700-record part, which went that far over the 1 MiB line; issue 23 finding 4).
   */
  get weight(): number {
    if (this.settled) return this.settledWeight;
    return this.records.length + this.counted + this.argvBytes + this.buffers.types.length;
  }

  /**
   * Where the event's whole line is, when it was written early (Interpreter.settle): `records` and `buffers`
   * then belong to another event.
   */
  line: LineChunk | undefined = undefined;
  lineStart = 0;
  lineEnd = 0;
  /**
   * detect: the event was matched when it was held (Interpreter.settle, its `early`), and this writes what its
   * alerts would have written, in its turn (undefined when nothing: no alert, or the filter left it out).
   */
  alerts: (() => void) | undefined = undefined;
  /** sessions: settled with its event object alone, its JSON never read (InterpreterOptions.readsJson). */
  alone = false;
  /** Its line or its alerts were made early: `records` and `buffers` then belong to another event. */
  settled = false;
  /** Its event object was given what its buffers held for it (Interpreter.finishEvent). */
  finished = false;
  /** The weight when settled, so the assembler's count of held bytes takes off what it added. */
  private settledWeight = 0;

  /** textAtEnd: a record of this type was read. */
  addType(type: string): void {
    this.typeNames[this.typeCount++] = type;
  }

  /** The types added (addType), as a new array. */
  typesRead(): string[] {
    return this.typeNames.slice(0, this.typeCount);
  }

  settle(chunk: LineChunk, start: number, end: number): void {
    this.settleWeight();
    this.line = chunk;
    this.lineStart = start;
    this.lineEnd = end;
  }

  settleMatched(alerts: (() => void) | undefined): void {
    this.settleWeight();
    this.alerts = alerts;
  }

  settleAlone(): void {
    this.settleWeight();
    this.alone = true;
  }

  /** The stamp, as the grouping matches an event of a reused serial by it (PendingEvent.stamp). */
  get stamp(): string {
    return this.event.id as string;
  }

  private settleWeight(): void {
    this.settledWeight = this.weight;
    this.settled = true;
  }

  constructor(
    readonly event: AuditEvent,
    h: Header,
    public buffers: EventBuffers,
    public tick: number,
  ) {
    this.take(h, buffers);
  }

  /**
   * Done with and kept for reuse (Interpreter's reuseEvents): every field as the constructor leaves it, and
   * nothing of the event it was held (its buffers may have been dropped from a full pool, its line's chunk
   * retired). Reused, it is not made again per event and promoted with it: on hosts interleaved without EOE most
   * events live through scavenges (issue 23).
   */
  clear(): void {
    this.recordCount = 0;
    this.typeCount = 0;
    this.names = 0;
    this.argvRaw = undefined;
    this.proctitleRaw = undefined;
    this.chunks = undefined;
    this.buffers = NO_BUFFERS;
    this.records = NO_BUFFERS.records;
    this.argvBytes = 0;
    this.counted = 0;
    this.line = undefined;
    this.lineStart = 0;
    this.lineEnd = 0;
    this.alerts = undefined;
    this.alone = false;
    this.settled = false;
    this.finished = false;
    this.settledWeight = 0;
  }

  /** A cleared event (clear()) as the new event for the record with header h (its `event` reset by the caller). */
  reopen(h: Header, buffers: EventBuffers, tick: number): void {
    this.buffers = buffers;
    this.tick = tick;
    this.take(h, buffers);
  }

  /** The first record's header and the event's buffers. */
  private take(h: Header, buffers: EventBuffers): void {
    this.records = buffers.records;
    this.node = h.node;
    this.timeMs = h.timeMs;
    this.serial = h.serial;
    this.sec = h.sec;
    this.msDigits = h.msDigits;
    this.shape = h.shape;
  }
}

/** Sets the event's summary field for a slot. */
export function setSummary(event: AuditEvent, slot: Slot, v: string): void {
  switch (slot) {
    case Slot.Pid:
      event.pid = v;
      break;
    case Slot.Ppid:
      event.ppid = v;
      break;
    case Slot.Auid:
      event.auid = v;
      break;
    case Slot.Uid:
      event.uid = v;
      break;
    case Slot.Ses:
      event.ses = v;
      break;
    case Slot.Comm:
      event.comm = v;
      break;
    case Slot.Exe:
      event.exe = v;
      break;
    case Slot.Cwd:
      event.cwd = v;
      break;
  }
}

/**
 * textAtEnd: each summary slot whose value the byte path wrote without its text (lateSlots) set from the JSON written
 * for it (its span in `records`, a JSON string): the text summariseAt would have made of the value's bytes, as
 * copyString writes them the way they read as text (U+FFFD for bytes that are not UTF-8) and JSON.parse reads its
 * escapes back (escapedSlots: the others' bytes between the quotes are the text).
 */
export function summariesAt(event: AuditEvent, buffers: EventBuffers): void {
  const spans = buffers.spans;
  const json = buffers.records.buf;
  for (let slots = buffers.lateSlots; slots !== 0; slots &= slots - 1) {
    const bit = slots & -slots;
    const slot = 31 - Math.clz32(bit);
    const start = spans[slot * 2]!;
    const end = spans[slot * 2 + 1]!;
    const escaped = (buffers.escapedSlots & bit) !== 0;
    setSummary(event, slot, escaped ? JSON.parse(json.toString("utf8", start, end)) : json.toString("utf8", start + 1, end - 1));
  }
  buffers.lateSlots = 0;
  buffers.escapedSlots = 0;
}

/**
 * One argument's chunks in arrival order. Not an array indexed by i: every index is kept (a forged log's
 * a1[5000] was dropped past a bound of 4096, and a keyword there escaped detect), and a sparse a1[4000000000]
 * must not make the join walk four billion holes. The event's byte bounds limit how many are held.
 */
export interface ArgChunks {
  parts: number[];
  /** A chunk as logged (hex), or a "quoted" one's bytes as latin1 text (quoted[i]). */
  texts: string[];
  quoted: boolean[];
  /** Each chunk came with a higher index than the one before (the kernel's order): joined as they came. */
  ascending: boolean;
}

/**
 * The chunks joined by chunk index, not arrival order; a missing index (hole) is skipped. `hex`: a quoted
 * chunk as the hex of its bytes (uppercase, as the kernel logs hex), else as its latin1 text.
 */
function joinChunks(c: ArgChunks, hex: boolean): string {
  const text = (i: number) => (hex && c.quoted[i] ? kernelHex(Buffer.from(c.texts[i]!, "latin1")) : c.texts[i]!);
  let joined = "";
  if (c.ascending) {
    for (let i = 0; i < c.texts.length; i++) joined += text(i);
    return joined;
  }
  // a stable order by index: of chunks repeating an index the first kept, as every repeated field is
  const order = c.parts.map((_, i) => i).sort((a, b) => c.parts[a]! - c.parts[b]! || a - b);
  let last = Number.NaN;
  for (const i of order) {
    if (c.parts[i] === last) continue;
    last = c.parts[i]!;
    joined += text(i);
  }
  return joined;
}

/** argv complete: the joined chunks decoded, holes filled with "" (argc beyond the fields present). */
export function finishArgv(open: OpenEvent): void {
  const argv = open.event.argv;
  if (argv === undefined) return;
  if (open.chunks) {
    for (const [index, chunks] of open.chunks) {
      // every chunk quoted: the argument's bytes are the texts joined, with no hex between
      if (chunks.quoted.every(Boolean)) {
        // the bytes decoded once: quoted chunks turned into hex only to be decoded back were 2% of relay (issue 23)
        const bytes = Buffer.from(joinChunks(chunks, false), "latin1");
        const text = bytes.toString("utf8");
        argv[index] = text;
        if (text.includes("\uFFFD") && !isUtf8(bytes)) {
          open.argvRaw ??= {};
          open.argvRaw[index] = kernelHex(bytes);
        }
        continue;
      }
      const hexChunks = joinChunks(chunks, true);
      argv[index] = hexChunks === "" ? "" : decodeArg(hexChunks);
      keepLostBytes(open, index, argv[index], hexChunks);
    }
  }
  open.chunks = undefined;
  for (let i = 0; i < argv.length; i++) argv[i] ??= "";
}

/** Keeps the hex of argument `index` when its text lost bytes (not UTF-8). */
export function keepLostBytes(open: OpenEvent, index: number, text: string, hex: string): void {
  const lost = lostBytes(text, hex);
  if (lost === undefined) return;
  open.argvRaw ??= {};
  open.argvRaw[index] = lost;
}
