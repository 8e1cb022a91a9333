import { isUtf8 } from "node:buffer";
import { type ArgReaders, argReaders, readArg, syscallArg } from "./args";
import { BACKSLASH, COLON, COMMA, DQUOTE, EQUALS, GS, LBRACE, LPAREN, RBRACE, RPAREN, SPACE, SQUOTE } from "./ascii";
import type { EventBuilder } from "./assemble";
import { ByteNames } from "./byte-names";
import { bytesAt, wordsWithout, wordView } from "./byte-words";
import { archName, decodeHex, decodeHexAt, decodeHexString, hexBytes, syscallName, syscallNumberName, utf8Bytes } from "./decode";
import type { AuditEvent, OutputRecord } from "./event";
import { EventJson, IsoTime, writeHead } from "./event-json";
import { type FieldInfo, fieldInfo, fieldInfoAt, Kind, keyWordsOf, Slot, Status } from "./fields";
import { HeldLines } from "./held-lines";
import { type IdNames, UNSET_ID } from "./ids";
import { type ConstJson, constJson, JsonBytes, jsonString } from "./json";
import { JsonCount } from "./json-count";
import { EventBuffers, finishArgv, keepLostBytes, NAMES_LOCAL, NAMES_LOG, OpenEvent, setSummary, summariesAt } from "./open-event";
import { type AuditRecord, endsListBytes, Header, nodeRaw, nodeText, rawValuesOf, recordOf, startsWith, tokenize } from "./record";
import { interpreted, Layouts, RecordFlag, RecordTable } from "./record-table";
import { decodeSockaddr, type Sockaddr } from "./sockaddr";
import {
  argAt,
  argHex,
  argJson,
  bytesAre,
  decodeArg,
  decodedJsonBytes,
  enrichedJson,
  hexJsonBytes,
  IdCache,
  idNumber,
  isNullish,
  isNullishAt,
  isNumeric,
  keyList,
  lostAt,
  lostBytes,
  lostValue,
  proctitleJson,
  proctitleParts,
  quotedHex,
  quotedLatin1,
  type Reading,
  readingOf,
  VALUE_KINDS,
} from "./values";

/**
 * Record counts for FieldInfo.seen/namedIn, unique across interpreters: those marks live on field names
 * shared by every parser in the process.
 */
let recordSeq = 0;
const nextRecordSeq = (): number => ++recordSeq;

/** (uid_t)-1 as a number. */
const UNSET = 4_294_967_295;
/** Token space kept between records; a longer record's is dropped after it (a 4 MiB line may have a million). */
const MAX_KEPT_TOKENS = 16_384;
/** Longest hex value hexField() decodes (PATH_MAX's 4096 bytes): within decode.ts's first scratch buffer, never growing it. */
const HEX_FIELD_MAX = 8192;
/**
 * Bound on argv indexes, so a corrupt `a99999999=` cannot allocate a huge sparse array; above any real argc:
 * execve's 6 MiB at most of arguments, each at least 10 bytes (a character, its NUL, its pointer), is ~630,000.
 * (It was 100,000: the arguments past it were dropped, and a keyword there escaped detect's rules.)
 */
const MAX_ARGS = 1 << 20;
/**
 * Event buffers kept for reuse: up to this many bytes of them (~240 sets of ~8.7 KB). A count of 64 was too
 * few where events wait for the window (no EOE, several hosts: ~210 open at once on a 7-host log) and every set
 * dropped at that cap was made again: 8 KB Buffers promoted with their events and freed only by a mark-compact,
 * +11 MB of peak RSS per 100 MiB of input (issue 23, Round 19). Not more: kept sets are pages held for good,
 * and 4 MiB (447 sets on the second tester's `monoavc`) cost it 0.6 MB of peak.
 */
const POOL_BYTES = 2 << 20;
/** The largest set worth keeping (a runaway line grows one). */
const POOL_MAX_BYTES = 1 << 20;

const RAW_OPEN = constJson(',"raw":{');
const ENRICHED_OPEN = Buffer.from(',"enriched":{');
const NULL = Buffer.from("null");
const TEXT_OPEN = Buffer.from(',"text":"');
/** A USER_AVC's msg='avc:  denied  { … } for …': the text path reads seresult/seperms from its words. */
const AVC_PREFIX = Buffer.from("avc:");
/** An AVC's result and permissions, written after its pairs: looked up once, not by name per record. */
const SERESULT = fieldInfo("seresult");
const SEPERMS = fieldInfo("seperms");
/** Words kept from a body or its msg='…' (the old PAM form has one and four or five); more go the text path. */
const MAX_WORDS = 32;

interface TypeInfo {
  /** The type as a JSON string, and `{"type":"…","fields":{`, ready to append. */
  json: ConstJson;
  prefix: ConstJson;
  /** The field found at each position of the last record of this type (records of a type repeat their fields). */
  memo: FieldInfo[];
  /**
   * The name of the last k='…' of this type (a USER_AVC's msg): its pairs take the positions after it in `memo`,
   * the name's own included, so it is matched here, not there (two lookups a USER_AVC record, issue 23, Round 39).
   */
  nestedKey: FieldInfo | undefined;
}

export interface InterpreterOptions {
  /**
   * Also build `records` as objects (the API, sessions); NDJSON output needs only the JSON text. "lazy":
   * parse them from the JSON the first time `records` is read, which must be during the onEvent call (as
   * for EventJson; the bytes are reused after it): sessions reads the records of login events only, and
   * parsing every event's was a quarter of its time. "table": `records` stays empty and the EventJson
   * carries the records' RecordTable (detect reads fields from it, not from JSON parsed back).
   */
  recordObjects?: boolean | "lazy" | "table";
  /**
   * recordObjects "table": whether a byte-path record's JSON is only counted (RecordFlag.NoJson), read at each
   * record, default on; detect turns it off while most of the log is printed by alerts (each alert's event is
   * interpreted again to print it, when counted).
   */
  countJson?: { on: boolean };
  /**
   * Fill the event's summary fields (pid, comm, auid …) as text, default true. NDJSON output with no filter
   * reads only the JSON, which has them either way.
   */
  summaries?: boolean;
  /**
   * Make the event's `proctitle` text (default: with summaries). sessions never reads it: without it the
   * proctitle's JSON is written straight from the decoded bytes, as when summaries are off.
   */
  proctitleText?: boolean;
  /**
   * Make the event object's texts when the event completes, not as its records are read: its time, its types,
   * the summary texts a value read on the byte path gives (pid, ppid, ses, comm, exe, cwd, from the JSON written
   * for them) and its argv (from the arguments' JSON, as argvText off writes it). sessions: on 16 hosts
   * interleaved without EOE ~220 events are open at once, each until the grouping's window passes, and every text
   * made for one lived through scavenges until promoted, to be read once when it completes (issue 23).
   */
  textAtEnd?: boolean;
  /**
   * Make the event's `argv` text (default: unless only the NDJSON line is read: linesOnly with summaries off).
   * Without it, the arguments' JSON is written straight from the EXECVE bytes (EventBuffers.argv) while they come
   * as a0, a1 … in order, and made text (parsed back) only for an argument that needs it: chunks aN[i], a gap, a
   * value that is not UTF-8, an EXECVE read on the text path.
   */
  argvText?: boolean;
  /**
   * The caller reads an event object only inside onEvent and keeps nothing of it (the NDJSON writer, which copies
   * the line): the object is reused for a later event. On 16 hosts interleaved without EOE ~220 events are open
   * at once, each object living through scavenges until promoted; reused, they are not made again (issue 23).
   */
  reuseEvents?: boolean;
  /**
   * The caller reads only each event's line (the NDJSON writer): an event held back for order may have its line
   * written at once and its buffers let go (settle). Not `sessions`, which reuses event objects too but reads
   * the event's JSON pieces when it completes (merging this with reuseEvents lost sessions' commands).
   */
  linesOnly?: boolean;
  /**
   * detect: an event held back for order is matched at once (a match does not depend on order) and its buffers
   * let go, as settle does for linesOnly: `early` gets the event and its line as onEvent would, and returns what
   * writes its alerts in the event's turn (undefined when there is nothing to write); onEvent never sees it.
   */
  early?: (event: AuditEvent, json: EventJson) => (() => void) | undefined;
  /**
   * sessions: whether the caller reads this completed event's JSON (its line or records), or only the event object.
   * An event held back for order whose JSON is not read gives its buffers back at once (settle) and is handed over
   * in its turn with a line that throws when read: on 16 hosts without EOE each held event kept a buffer set (8.7 KB
   * at least) through scavenges until promoted, a set made per held event (issue 23).
   */
  readsJson?: (event: AuditEvent) => boolean;
}

/**
 * Turns records into readable events and their NDJSON text, record by record as they arrive. A record whose
 * body is plain `key=value` pairs (most of them) is read as bytes and copied into the output with no string
 * made of any value that needs no interpretation; any other shape goes through the text tokenizer.
 */

export class Interpreter implements EventBuilder<OpenEvent> {
  /** Records read on the text path (any shape the byte path does not take): the benchmark's slow-path share. */
  textRecords = 0;
  private readonly recordObjects: boolean | "lazy" | "table";
  /** recordObjects "table": each member's JSON span per body token of the record being read (RecordTable). */
  private memberSpans: Int32Array | undefined;
  /** A member of the record being read was written under a repeated name (`name#2`). */
  private repeated = false;
  private readonly layouts = new Layouts();
  private readonly summaries: boolean;
  /** textAtEnd: the event object's texts are made by finishEvent (textsAtEnd), not as its records are read. */
  private readonly textAtEnd: boolean;
  private readonly proctitleText: boolean;
  private readonly argvText: boolean;
  /** Events done with (with their event objects), for begin() (reuseEvents): at most EVENT_POOL of them. */
  private readonly eventPool: OpenEvent[] | undefined;
  private readonly linesOnly: boolean;
  /**
   * Nothing but the line is read (linesOnly with summaries off: no filter reads the event object): the object's
   * `time` is "" and its `types` and `records` stay empty, as the line has them from the buffers, and the head is
   * written when the event completes. The ISO string, the grown array and the head's closure each event got were
   * a third of the scavenges on the testers' AVC log (issue 23, Round 24).
   */
  private readonly lineAlone: boolean;
  private readonly early: InterpreterOptions["early"];
  private readonly readsJson: InterpreterOptions["readsJson"];
  private readonly time = new IsoTime();
  private readonly types = new Map<string, TypeInfo>();
  /** Names of numeric ids: the usual small ids in an array, others (4294967295 …) in a bounded map. */
  private readonly userNames = new IdCache();
  private readonly groupNames = new IdCache();
  private readonly pool: EventBuffers[] = [];
  /** The lines of events settled (held back for order). */
  private readonly heldLines = new HeldLines();
  /** Bytes of the buffers in `pool`. */
  private poolBytes = 0;
  /** Event buffer sets made (the rest were reused from the pool): few more than the most events open at once. */
  bufferSets = 0;
  /** Summary spans of the event being written. */
  private spans = new Int32Array(0);
  /** Token offsets of the record being read: key start, key end, value start, value end. */
  private offsets = new Int32Array(1024);
  /** Each token's field, found while its name was read. */
  private readonly infos: FieldInfo[] = [];
  /** The record being written: its fields go to `out`, its raw values to `raw` until the fields close. */
  private out = new JsonBytes(0);
  private raw: JsonBytes;
  private readonly rawBytes = new JsonBytes(1024);
  /**
   * recordObjects "table" (detect): a byte-path record's JSON is counted, not written, as no one reads most
   * events' JSON; an event is interpreted again with its JSON written when read (rewrite). Not while rewriting.
   */
  private readonly counter = new JsonCount();
  private readonly rawCounter = new JsonCount();
  private rewriting = false;
  private readonly countJson: { on: boolean };
  /** The buffers of events interpreted again during this onEvent call: pooled after it. */
  private readonly rewritten: EventBuffers[] = [];
  /** The head of the event being handed over. */
  private readonly head = new JsonBytes(4096);
  /** arch= values by their bytes: the name (undefined when unknown) and the JSON written. */
  private readonly arches = new ByteNames((value, buf, from, to) => {
    const arch = archName(value);
    const text = arch ?? value;
    const lost = lostAt(buf, from, to);
    return { arch, text, written: constJson(jsonString(text)), same: text === value, lost, raw: rawJson(value, text === value, lost) };
  }, 256);
  /** key= values by their bytes as written, quotes and all: the list of keys and the JSON written. */
  private readonly keyLists = new ByteNames((written, buf, from, to) => {
    const quoted = written.length >= 2 && written.charCodeAt(0) === 34 && written.charCodeAt(written.length - 1) === 34;
    const value = quoted ? written.slice(1, -1) : written;
    const list = keyList(value, quoted);
    const text = list.join(",");
    const lost = quoted ? lostAt(buf, from + 1, to - 1) : lostAt(buf, from, to);
    return { list, written: constJson(jsonString(text)), same: text === value, lost, raw: rawJson(value, text === value, lost) };
  });
  /** saddr= values by their bytes: the address (undefined when it is not hex) and the JSON written. */
  private readonly saddrs = new ByteNames((value, buf, from, to) => {
    const decoded: Sockaddr | undefined = decodeSockaddr(value);
    const written = constJson(decoded === undefined ? jsonString(value) : JSON.stringify(decoded));
    const lost = lostAt(buf, from, to);
    return { decoded, written, same: decoded === undefined, lost, raw: rawJson(value, decoded === undefined, lost) };
  });
  /** The words before an AVC's first pair (`avc:  denied  { read } for  `) by their bytes: see avcWordsEnd. */
  private readonly avcTexts = new ByteNames(avcText, 256);
  /** The last kernel AVCs' words, matched before avcWordsEnd reads them again (see RecentAvc). */
  private readonly recentAvc = new RecentAvc();
  /** Readings of values by their bytes, per kind that depends on the value alone. */
  private readonly readings: (
    | ByteNames<Reading & { written: ConstJson; lost: string | undefined; raw: ConstJson | undefined }>
    | undefined
  )[] = [];
  private fieldCount = 0;
  private rawCount = 0;
  /** Counts records (and ENRICHED parts), so a name written twice in one is seen (FieldInfo.seen). */
  private recordSeq = 0;
  /** The record (recordSeq) whose res=/result= set the event's success last: a second one in it may fail it. */
  private resultIn = -1;
  /** Names not remembered by fieldInfo() (corrupt input inventing thousands) written in this record. */
  private uncachedNames: Map<string, number> | undefined;
  /** The syscall name of the record being read, once its syscall= is (for a0–a3). */
  private sysName: string | undefined;
  private argReaders: ArgReaders | undefined;
  /** The event whose record is being read. */
  private current: OpenEvent | undefined;
  /**
   * The record has an ENRICHED part: its uid/gid names come from it (the host that wrote the log), not
   * from this host's passwd/group. As text (the text path): its names by field name, upper case.
   */
  private logNames = false;
  private logNameMap: Map<string, string> | undefined;
  /** The line and body token count of the record read on the byte path (for idText's names). */
  private line: Buffer | undefined;
  private lineTokens = 0;
  /** The key the last member was written under (a repeated name's is `name#2` …). */
  private keyInfo: FieldInfo | undefined;
  /** The name of the member just written when it repeats one (`name#2`), else undefined. */
  private repeatKey: string | undefined;
  private isSyscall = false;
  private arch: string | undefined;
  /** Free text of a nested msg='…' body. */
  private nestedText: string | undefined;
  /** The pairs of a msg='…' read by the last scan (token indexes, -1 when none), and its key. */
  private nestedFrom = -1;
  private nestedTo = -1;
  private nestedKey: FieldInfo | undefined;
  /** Words inside the msg='…' of the last scan (start, end pairs), for its "text": see keepWord. */
  private words = new Int32Array(2 * MAX_WORDS);
  private wordCount = 0;
  /** Words of the last scan's body outside msg='…' (old PAM's leading `user`): first in "text". */
  private outerWords = new Int32Array(2 * MAX_WORDS);
  private outerCount = 0;
  /** The leading words of the last scan's msg='avc:  denied  { … } for …' (a USER_AVC's), else undefined. */
  private nestedAvc: AvcText | undefined;

  /** onEvent gets each completed event and its NDJSON line, valid only during the call. */
  constructor(
    private readonly ids: IdNames,
    private readonly onEvent: (event: AuditEvent, json: EventJson) => void,
    options: InterpreterOptions = {},
  ) {
    this.raw = this.rawBytes;
    this.recordObjects = options.recordObjects ?? true;
    if (this.recordObjects === "table") this.memberSpans = new Int32Array(512);
    this.countJson = options.countJson ?? { on: true };
    this.summaries = options.summaries ?? true;
    this.textAtEnd = options.textAtEnd === true;
    this.proctitleText = options.proctitleText ?? this.summaries;
    // only with no record objects: `records` stays the empty array begin() made (with "table", detect's: but for
    // an ECS alert's event, which resetEvent empties)
    if (options.reuseEvents === true && (this.recordObjects === false || this.recordObjects === "table")) this.eventPool = [];
    this.linesOnly = options.linesOnly === true && this.eventPool !== undefined;
    this.early = options.early;
    this.readsJson = options.readsJson;
    this.lineAlone = this.linesOnly && !this.summaries;
    this.argvText = options.argvText ?? !(this.lineAlone || this.textAtEnd);
    for (const kind of VALUE_KINDS) {
      this.readings[kind] = new ByteNames((value, buf, from, to) => {
        const r = readingOf(kind, value);
        // one literal, not a spread of r: the spread's objects took several hidden classes, so fastField read
        // r.written, r.same and r.lost through megamorphic loads, ~150 instructions a value (issue 23, Round 40)
        const lost = lostAt(buf, from, to);
        return { text: r.text, json: r.json, same: r.same, written: constJson(r.json), lost, raw: rawJson(value, r.same, lost) };
      });
    }
  }

  /** A new event for the record whose header is `h`. */
  begin(h: Header, stamp: string, tick: number): OpenEvent {
    const reused = this.eventPool?.pop();
    const time = this.lineAlone || this.textAtEnd ? "" : this.time.text(h.timeMs);
    if (reused !== undefined) {
      resetEvent(reused.event, stamp, h, time, !this.lineAlone && !this.textAtEnd, !this.lineAlone);
      reused.reopen(h, this.pooled() ?? this.newBuffers(), tick);
      return reused;
    }
    // Every key declared up front, in schema order: one hidden class for V8.
    const event: AuditEvent = {
      id: stamp,
      // the grouping's key for the host (its bytes, see nodeKey) as text, and those bytes when not UTF-8
      node: h.node === undefined ? undefined : nodeText(h.node),
      nodeRaw: h.node === undefined ? undefined : nodeRaw(h.node),
      time,
      serial: h.serial,
      part: undefined,
      types: [],
      syscall: undefined,
      arch: undefined,
      success: undefined,
      exit: undefined,
      pid: undefined,
      ppid: undefined,
      auid: undefined,
      uid: undefined,
      names: undefined,
      ses: undefined,
      comm: undefined,
      exe: undefined,
      keys: undefined,
      argc: undefined,
      argv: undefined,
      argvRaw: undefined,
      proctitle: undefined,
      proctitleRaw: undefined,
      cwd: undefined,
      sockaddr: undefined,
      records: [],
      unparsed: undefined,
    };
    return new OpenEvent(event, h, this.pooled() ?? this.newBuffers(), tick);
  }

  /** Adds the record buf[h.bodyStart, end) to the event; false when part of it could not be tokenised. */
  record(open: OpenEvent, h: Header, buf: Buffer, end: number): boolean {
    const type = h.type;
    if (this.textAtEnd) open.addType(type);
    else if (!this.lineAlone) open.event.types.push(type);
    const out = open.records;
    if (open.recordCount++ > 0) out.byte(COMMA);
    const jsonStart = out.length;
    this.repeated = false;
    this.out = out;
    this.spans = open.buffers.spans;
    this.fieldCount = 0;
    this.rawCount = 0;
    this.recordSeq = nextRecordSeq();
    this.uncachedNames = undefined;
    this.current = open;
    this.sysName = undefined;
    this.argReaders = undefined;
    this.raw.reset();
    this.isSyscall = type === "SYSCALL";
    this.arch = undefined;
    const typeInfo = this.typeInfo(type);
    const types = open.buffers.types;
    if (types.length > 0) types.byte(COMMA);
    types.constant(typeInfo.json);
    // a kernel AVC's leading words (`avc:  denied  { read } for  pid=…`): read from their bytes, pairs after them
    // on the byte path (detect's table describes body tokens only: the record is read from its JSON, Fallback)
    let bodyFrom = h.bodyStart;
    let avc: AvcText | undefined;
    if (type !== "EXECVE" && type !== "PROCTITLE") {
      avc = this.recentAvc.find(buf, bodyFrom, end);
      if (avc !== undefined) bodyFrom += this.recentAvc.length;
      else {
        const wordsEnd = avcWordsEnd(buf, bodyFrom, end, false);
        if (wordsEnd >= 0) {
          avc = this.avcTexts.get(buf, bodyFrom, wordsEnd);
          if (wordsEnd < end) this.recentAvc.keep(buf, bodyFrom, wordsEnd, avc);
          bodyFrom = wordsEnd;
        }
      }
    }
    // EXECVE's text path keeps a quoted '…' value as it is; after an AVC's words msg='…' is left to the text path
    const nestedOk = type !== "EXECVE" && avc === undefined;
    const tokens = this.scan(buf, bodyFrom, end, typeInfo, nestedOk, nestedOk && type !== "PROCTITLE");
    if (tokens >= 0) {
      avc ??= this.nestedAvc;
      const renamed = this.nestedFrom >= 0 && this.renameNested(tokens);
      // detect: counted, unless read from its JSON anyway (ENRICHED braces: RecordFlag.Fallback)
      const count =
        this.memberSpans !== undefined &&
        !this.rewriting &&
        this.countJson.on &&
        avc === undefined &&
        !renamed &&
        this.wordCount + this.outerCount === 0 &&
        !this.hasBraces(buf, tokens);
      if (count) {
        this.counter.reset();
        this.rawCounter.reset();
        this.out = this.counter;
        this.raw = this.rawCounter;
      }
      const noFields = this.fastRecord(open, type, typeInfo.prefix, buf, tokens, avc);
      if (count) {
        open.counted += this.counter.length;
        this.out = out;
        this.raw = this.rawBytes;
      }
      if (this.memberSpans !== undefined) {
        const fallback = this.repeated || renamed || avc !== undefined || this.wordCount + this.outerCount > 0;
        const flags = (noFields ? RecordFlag.NoFields : 0) | (fallback ? RecordFlag.Fallback : 0) | (count ? RecordFlag.NoJson : 0);
        const table = this.tableOf(open);
        table.byteRecord(
          type,
          buf,
          h.bodyStart,
          end,
          this.offsets,
          this.infos,
          tokens,
          this.memberSpans,
          jsonStart,
          out.length,
          flags,
          this.layouts,
        );
      }
      if (this.offsets.length > MAX_KEPT_TOKENS * 4) this.shrinkTokens();
      return true;
    }
    this.textRecords++;
    const body = buf.subarray(h.bodyStart, end);
    const record = recordOf(h, open.event.id!, body.toString("utf8"));
    // bytes that are not UTF-8 are U+FFFD in the text: the values' exact bytes, for argvRaw, proctitleRaw, raw
    if (!isUtf8(body)) record.rawValues = rawValuesOf(body);
    this.textRecord(open, record);
    if (this.memberSpans !== undefined) this.tableOf(open).textRecord(type, buf, h.bodyStart, end, jsonStart, out.length);
    return record.unparsed === undefined;
  }

  /**
   * An event the grouping holds back to hand over in log-time order. When its line is all the caller reads of it
   * (linesOnly: the NDJSON writer; a filter reads only the event object), the line is written now into the
   * held lines and its buffer set (8.7 KB at least) goes back to the pool: 150-250 events held at once on 16 hosts
   * (the testers' corpus16, interleaved16) each kept a set, 2-3 times the sets made, +3 MB of peak RSS (issue 23).
   */
  settle(open: OpenEvent): void {
    if (open.settled) return;
    if (this.early !== undefined) {
      // detect: matched now, its buffers and record table back to the pool while it waits (issue 24)
      const json = this.finish(open);
      open.settleMatched(this.early(open.event, json));
      json.release();
      this.recycle(open.buffers);
      this.recycleRewritten();
      return;
    }
    if (this.readsJson !== undefined) {
      if (!this.readsNoJson(open)) return;
      open.settleAlone();
      this.recycle(open.buffers);
      return;
    }
    if (!this.linesOnly) return;
    const json = this.finish(open);
    const length = json.lineLength - 1;
    const chunk = this.heldLines.put(json);
    json.release();
    open.settle(chunk, chunk.used - length, chunk.used);
    this.recycle(open.buffers);
  }

  complete(open: OpenEvent): void {
    if (open.settled && open.line === undefined) {
      if (open.alone) this.onEvent(open.event, NO_LINE);
      else open.alerts?.();
      this.reuse(open);
      return;
    }
    const line = open.line;
    // sessions: an event whose JSON is not read is handed over with none, as one settled alone is: no EventJson
    // and head writer made for each of them, a tenth of what sessions allocated (issue 23)
    if (line === undefined && this.readsNoJson(open)) {
      this.onEvent(open.event, NO_LINE);
      this.recycle(open.buffers);
      this.reuse(open);
      return;
    }
    const json = line === undefined ? this.finish(open) : this.heldLines.line(line, open.lineStart, open.lineEnd);
    this.onEvent(open.event, json);
    json.release();
    if (line === undefined) this.recycle(open.buffers);
    else this.heldLines.free(line);
    this.recycleRewritten();
    this.reuse(open);
  }

  /** readsJson: whether the caller will not read this event's JSON, asked of its finished event object. */
  private readsNoJson(open: OpenEvent): boolean {
    if (this.readsJson === undefined) return false;
    this.finishEvent(open);
    return !this.readsJson(open.event);
  }

  /** An event handed over, for begin() to reuse with its event object (reuseEvents). */
  private reuse(open: OpenEvent): void {
    if (this.eventPool === undefined || this.eventPool.length >= EVENT_POOL) return;
    open.clear();
    this.eventPool.push(open);
  }

  /** The buffers of events interpreted again (rewrite) while their line was read: back to the pool. */
  private recycleRewritten(): void {
    // called for every completed event and nearly always empty: an array's length store is a call into V8's
    // runtime even when it changes nothing (issue 23, Round 41)
    if (this.rewritten.length === 0) return;
    for (const buffers of this.rewritten) this.recycle(buffers);
    this.rewritten.length = 0;
  }

  /** The completed event's line. */
  private finish(open: OpenEvent): EventJson {
    const event = open.event;
    this.finishEvent(open);
    const buffers = open.buffers;
    if (this.lineAlone) {
      // the line is read at once (the NDJSON writer): its head written now, no closure made per event for it
      this.head.reset();
      writeHead(this.head, event, buffers, this.time, open.timeMs);
      return new EventJson(this.head, open.records);
    }
    const rewrite = open.counted > 0 ? this.rewriteOf(open) : undefined;
    const json = new EventJson(this.head, open.records, headWriter(event, buffers, this.time, open.timeMs), buffers.table, rewrite);
    if (this.recordObjects === true) event.records = json.recordObjects();
    else if (this.recordObjects === "lazy") lazyRecords(event, json);
    return json;
  }

  /** The completed event's object: what its buffers held for it (argv pieces, raw bytes, names) set on it. */
  private finishEvent(open: OpenEvent): void {
    // once: sessions asks whether it reads an event's JSON (readsJson) of the finished event, then writes it
    if (open.finished) return;
    open.finished = true;
    const event = open.event;
    finishArgv(open);
    if (this.textAtEnd) this.textsAtEnd(open);
    if (open.part > 0) event.part = open.part;
    if (open.argvRaw !== undefined) event.argvRaw = open.argvRaw;
    if (open.proctitleRaw !== undefined) event.proctitleRaw = open.proctitleRaw;
    if (open.names !== 0) event.names = open.names === NAMES_LOG ? "log" : open.names === NAMES_LOCAL ? "local" : "mixed";
  }

  /** textAtEnd: the completed event's texts. */
  private textsAtEnd(open: OpenEvent): void {
    const event = open.event;
    event.time = this.time.text(open.timeMs);
    event.types = open.typesRead();
    if (open.buffers.argvCount >= 0) argvAsText(open);
    if (this.summaries) summariesAt(event, open.buffers);
  }

  /** rewrite() of the event, as EventJson calls it: made apart from finish(), as headWriter is. */
  private rewriteOf(open: OpenEvent): () => EventJson {
    return () => this.rewrite(open);
  }

  /**
   * detect: the event interpreted again from the record bodies its table kept, with its JSON written this
   * time (an alert prints it; a rule reads a record the table does not describe). The same code reads the
   * same bytes, so the line is the one the parse writes; the run's counts are left as they were.
   */
  private rewrite(open: OpenEvent): EventJson {
    const table = open.buffers.table!;
    const { node, timeMs, serial, sec, msDigits, shape } = open;
    const h = Object.assign(new Header(), { node, timeMs, serial, sec, msDigits, shape });
    const copy = this.begin(h, open.event.id!, open.tick);
    copy.part = open.part;
    const textRecords = this.textRecords;
    this.rewriting = true;
    try {
      for (let r = 0; r < table.count; r++) {
        h.type = table.types[r]!;
        h.bodyStart = table.lineStart(r);
        this.record(copy, h, table.bytes.buf, table.lineEnd(r));
      }
      this.rewritten.push(copy.buffers);
      return this.finish(copy);
    } finally {
      this.rewriting = false;
      this.textRecords = textRecords;
    }
  }

  /** An event's buffers back to the pool, unless it is full or they grew too large to keep. */
  private recycle(buffers: EventBuffers): void {
    buffers.reset();
    buffers.shrink();
    const size = buffers.byteLength();
    if (size > POOL_MAX_BYTES || this.poolBytes + size > POOL_BYTES) return;
    this.pool.push(buffers);
    this.poolBytes += size;
  }

  private pooled(): EventBuffers | undefined {
    const buffers = this.pool.pop();
    if (buffers !== undefined) this.poolBytes -= buffers.byteLength();
    return buffers;
  }

  private newBuffers(): EventBuffers {
    this.bufferSets++;
    return new EventBuffers();
  }

  /** Whether the record's ENRICHED part has braces (SADDR={ … }), which the table reads from the JSON. */
  private hasBraces(buf: Buffer, tokens: number): boolean {
    const offsets = this.offsets;
    for (let i = tokens * 4; offsets[i] !== -1; i += 4) if (buf[offsets[i + 2]!] === LBRACE) return true;
    return false;
  }

  unparsedLine(buf: Buffer, start: number, end: number): void {
    const event: AuditEvent = { id: null, time: null, serial: null, types: [], records: [], unparsed: [buf.toString("utf8", start, end)] };
    // never lost: bytes that are not UTF-8 (U+FFFD in `unparsed`) are kept exactly, as hex
    if (!isUtf8(buf.subarray(start, end))) event.unparsedRaw = [buf.toString("hex", start, end)];
    this.head.reset();
    this.head.text(JSON.stringify(event));
    const json = new EventJson(this.head, undefined);
    this.onEvent(event, json);
    json.release();
  }

  /** The event's RecordTable (recordObjects "table"), made with its buffers' first table record. */
  private tableOf(open: OpenEvent): RecordTable {
    open.buffers.table ??= new RecordTable();
    return open.buffers.table;
  }

  /** After a runaway line: token space back to its usual size, not held for the rest of the run. */
  private shrinkTokens(): void {
    this.offsets = new Int32Array(1024);
    this.infos.length = 0;
  }

  /** What is kept per record type: its JSON prefix, and the fields found at each position last time. */
  private typeInfo(type: string): TypeInfo {
    let info = this.types.get(type);
    if (info === undefined) {
      const json = jsonString(type);
      info = { json: constJson(json), prefix: constJson(`{"type":${json},"fields":{`), memo: [], nestedKey: undefined };
      // corrupt input could invent endless types: remember a bounded number
      if (this.types.size < 1024) this.types.set(type, info);
    }
    return info;
  }

  /**
   * Splits a body of plain `k=v k="v"` pairs (then, after 0x1d, the ENRICHED pairs) into this.offsets.
   * One `k='…'` of plain pairs (user-space records' msg) gives its pairs in its place, as the text path
   * does; they run from token nestedFrom to nestedTo. Returns the number of body pairs (the ENRICHED ones
   * follow them, ending at a -1), or -1 for any other shape: free text, braces, words or list punctuation
   * inside msg='…', an unterminated quote. Same token rules as tokenize().
   */
  private scan(buf: Buffer, from: number, to: number, typeInfo: TypeInfo, nestedOk: boolean, wordsOk: boolean): number {
    const memo = typeInfo.memo;
    let offsets = this.offsets;
    let n = 0;
    let bodyTokens = -1;
    let pos = from;
    // inside k='…': its opening quote, else -1
    let nestedOpen = -1;
    // and its closing quote once known (-1 before). Its pairs are read up to the ' that ends the body (see closeOf);
    // only a '(' or AVC words that do not end in a pair find the close first, by closeOf: one walk over a USER_AVC's
    // msg, not two (6 % of the instructions of a USER_AVC storm's parse, issue 23 Round 34)
    let nestedEnd = -1;
    // a '(' skipped inside it: the old PAM form's list, whose punctuation is not the values' (see endsList)
    let listOpen = false;
    let end = to;
    let joined = false;
    this.nestedFrom = -1;
    this.nestedTo = -1;
    this.wordCount = 0;
    this.outerCount = 0;
    this.nestedAvc = undefined;
    for (;;) {
      if (pos >= end) {
        // the line ended inside a msg='…' whose close was not found: unterminated
        if (nestedEnd < 0) return nestedOpen < 0 ? this.scanned(n, bodyTokens, joined) : -1;
        pos = nestedEnd + 1;
        end = to;
        nestedOpen = nestedEnd = -1;
        this.nestedTo = n >> 2;
        continue;
      }
      let c = buf[pos]!;
      if (c === SPACE) {
        pos++;
        continue;
      }
      if (nestedOpen >= 0 && nestedEnd < 0) {
        if (c === SQUOTE && closesAt(buf, pos, to)) {
          // the close, reached at a pair's start
          this.nestedTo = n >> 2;
          pos++;
          nestedOpen = -1;
          continue;
        }
        // a 0x1d before the close: the body does not end in one (closeOf), the record goes to the text path
        if (c === GS) return -1;
        if (c === LPAREN) {
          nestedEnd = end = closeOf(buf, nestedOpen, to);
          if (end < 0) return -1;
          continue;
        }
      }
      if (c === GS && bodyTokens < 0) {
        bodyTokens = n >> 2;
        pos++;
        continue;
      }
      // skipped between nested pairs, as the text path skips them (the old PAM form "(hostname=?, addr=?")
      if (nestedOpen >= 0 && (c === LPAREN || c === COMMA)) {
        if (c === LPAREN) listOpen = true;
        pos++;
        continue;
      }
      const keyStart = pos;
      // inside msg='…' before its close is known: a name or value also ends at the ' that ends the body
      const ahead = nestedOpen >= 0 && nestedEnd < 0;
      // in the body, 0x1d ends everything (the body is cut there); in the ENRICHED part it is a plain byte
      const cut = bodyTokens < 0 ? GS : -1;
      const t = n >> 2;
      let info = memo[t];
      let keyEnd: number;
      if (info !== undefined && namedAt(info, buf, keyStart, end)) {
        // the name this position had last time, followed by '=': no packing and no lookup (most records)
        keyEnd = keyStart + info.bytes.length;
        pos = keyEnd + 1;
      } else if (typeInfo.nestedKey !== undefined && namedAt(typeInfo.nestedKey, buf, keyStart, end)) {
        info = typeInfo.nestedKey;
        keyEnd = keyStart + info.bytes.length;
        pos = keyEnd + 1;
      } else {
        // the name's first eight bytes, packed as ByteNames.find wants them, while they are read anyway
        let head = 0;
        let mid = 0;
        while (pos < end) {
          c = buf[pos]!;
          if (c === EQUALS || c === SPACE || c === cut) break;
          if (ahead && c === SQUOTE && closesAt(buf, pos, to)) break;
          const k = pos - keyStart;
          if (k < 4) head |= c << (k * 8);
          else if (k < 8) mid |= c << ((k - 4) * 8);
          pos++;
        }
        if (pos >= end || c !== EQUALS) {
          // "subj=cri-containerd.apparmor.d (enforce)": an AppArmor label's mode joins the value before it
          if (nestedOpen < 0 && bodyTokens < 0 && n > 0 && this.joinsValue(buf, keyStart, pos, n)) {
            offsets[n - 1] = pos;
            joined = true;
            continue;
          }
          // a word of the body or inside msg='…' (old PAM: `user pid=… msg='PAM: session open acct=root : exe=…`)
          // goes to "text"; in the ENRICHED part, or one the text path reads otherwise, the record goes there
          if (
            nestedOpen >= 0
              ? !this.keepWord(
                  buf,
                  keyStart,
                  listOpen && buf[pos - 1] === RPAREN && endsListBytes(buf, keyStart, pos, end) ? pos - 1 : pos,
                  true,
                )
              : bodyTokens >= 0 || !wordsOk || !this.keepWord(buf, keyStart, pos, false)
          )
            return -1;
          continue;
        }
        keyEnd = pos++;
        info = fieldInfoAt.find(buf, keyStart, keyEnd, head, mid);
        if (t < 256) memo[t] = info;
      }
      this.infos[t] = info;
      const valueStart = pos;
      let valueEnd = -1;
      c = pos < end ? buf[pos]! : SPACE;
      if (c === DQUOTE) {
        // (0x1d is passed to wordsWithout also where it is no cut: the byte loop reads on past it then)
        pos = wordsWithout(buf, pos + 1, end, DQUOTE, GS, GS);
        while (pos < end && buf[pos] !== DQUOTE && buf[pos] !== cut) pos++;
        if (pos >= end || buf[pos] !== DQUOTE) return -1;
        pos++;
      } else if (c === LBRACE && bodyTokens >= 0) {
        // an ENRICHED `SADDR={ saddr_fam=inet laddr=… lport=443 }`: read here when it holds plain pairs only
        pos = plainBraces(buf, pos, to);
        if (pos < 0) return -1;
      } else if (c === SQUOTE && bodyTokens < 0 && nestedOpen < 0 && this.nestedFrom < 0 && nestedOk) {
        this.nestedKey = info;
        typeInfo.nestedKey = info;
        this.nestedFrom = t;
        nestedOpen = pos;
        pos++;
        // a USER_AVC's msg='avc:  denied  { start } for auid=…' (libselinux's avc_audit, systemd's): its words
        // read as a kernel AVC's, when they are all the record's words (the text path joins any others in)
        if (wordsOk && this.outerCount === 0) {
          let wordsEnd = avcWordsEnd(buf, pos, to, true);
          // words that end at the close, or do not read as an AVC's before it: read again up to the close
          if (wordsEnd < 0 && startsWith(buf, skipSpaces(buf, pos, to), to, AVC_WORD)) {
            nestedEnd = end = closeOf(buf, nestedOpen, to);
            if (end < 0) return -1;
            wordsEnd = avcWordsEnd(buf, pos, end, true);
          }
          if (wordsEnd >= 0) {
            this.nestedAvc = this.avcTexts.get(buf, pos, wordsEnd);
            pos = wordsEnd;
          }
        }
        continue;
      } else if ((c === SQUOTE && nestedOpen < 0) || c === LBRACE) {
        // inside msg='…' a ' starting a value is the value's, as the text path reads it (hostname='abc)
        return -1;
      } else if (ahead) {
        pos = wordsWithout(buf, pos, end, SPACE, GS, SQUOTE);
        while (pos < end) {
          c = buf[pos]!;
          if (c === SPACE || c === cut || (c === SQUOTE && closesAt(buf, pos, to))) break;
          pos++;
        }
      } else {
        pos = wordsWithout(buf, pos, end, SPACE, GS, GS);
        while (pos < end && buf[pos] !== SPACE && buf[pos] !== cut) pos++;
        // in the old PAM form's list a trailing ',' or the list's closing ')' is not the value's, as the text path
        // reads it ("addr=?," "res=success)"); elsewhere ("hostname=a)") and for its own '(' ("(null)") it is
        if (listOpen && endsListBytes(buf, valueStart, pos, end)) valueEnd = pos - 1;
      }
      if (n + 5 > offsets.length) {
        const grown = new Int32Array(offsets.length * 2);
        grown.set(offsets);
        this.offsets = offsets = grown;
      }
      offsets[n++] = keyStart;
      offsets[n++] = keyEnd;
      offsets[n++] = valueStart;
      offsets[n++] = valueEnd < 0 ? pos : valueEnd;
    }
  }

  /** scan()'s end: the -1 after the tokens, and the count it returns. */
  private scanned(n: number, bodyTokens: number, joined: boolean): number {
    this.offsets[n] = -1;
    // an empty ENRICHED part is "enriched":{} on the text path, which the byte path does not write: a record with a
    // joined value went there before joining was read here, and stays there
    if (joined && bodyTokens === n >> 2) return -1;
    return bodyTokens < 0 ? n >> 2 : bodyTokens;
  }

  /**
   * Whether buf[from, to), a word of the body, is a `(…)` the text tokenizer joins to the value before it, with the
   * one space it writes between: that value (the last of n offsets) ends just before the word's space (a msg='…'
   * pair's ends before its closing quote), is neither empty nor quoted, and the word is printable ASCII with no
   * quote or backslash.
   */
  private joinsValue(buf: Buffer, from: number, to: number, n: number): boolean {
    const offsets = this.offsets;
    const valueStart = offsets[n - 2]!;
    const valueEnd = offsets[n - 1]!;
    if (valueEnd !== from - 1 || buf[valueEnd] !== SPACE || valueEnd === valueStart || buf[valueStart] === DQUOTE) return false;
    if (to - from < 2 || buf[from] !== LPAREN || buf[to - 1] !== RPAREN) return false;
    for (let i = from; i < to; i++) if (!isWordByte(buf[i]!)) return false;
    return true;
  }

  /**
   * Keeps buf[from, end), a word of the body (outer) or between the pairs of a msg='…' (nested), for the record's
   * "text" as the text tokenizer collects it (nested: the caller has dropped the list's `)`, an empty one skipped). False for
   * a word it reads otherwise (`old`/`new` name the next pair; `(…)` joins the value before it; a first word
   * `avc:…` is an AVC's) or that needs escaping: that record stays on the text path.
   */
  private keepWord(buf: Buffer, from: number, end: number, nested: boolean): boolean {
    if (this.nestedAvc !== undefined) return false;
    if (end === from) return true;
    for (let i = from; i < end; i++) {
      const c = buf[i]!;
      if (!isWordByte(c)) return false;
    }
    if (!nested && buf[from] === LPAREN) return false;
    if (end - from === 3 && isOldNew(buf, from)) return false;
    const count = nested ? this.wordCount : this.outerCount;
    if ((count === 0 && startsWith(buf, from, end, AVC_PREFIX)) || count === MAX_WORDS) return false;
    const words = nested ? this.words : this.outerWords;
    words[count * 2] = from;
    words[count * 2 + 1] = end;
    if (nested) this.wordCount++;
    else this.outerCount++;
    return true;
  }

  /** `,"text":"…"` of the words keepWord() kept, the body's first: printable ASCII, one space between. */
  private wordsText(out: JsonBytes, buf: Buffer): void {
    out.bytes(TEXT_OPEN);
    for (let w = 0; w < this.outerCount; w++) {
      if (w > 0) out.byte(SPACE);
      out.append(buf, this.outerWords[w * 2]!, this.outerWords[w * 2 + 1]!);
    }
    for (let w = 0; w < this.wordCount; w++) {
      if (w > 0 || this.outerCount > 0) out.byte(SPACE);
      out.append(buf, this.words[w * 2]!, this.words[w * 2 + 1]!);
    }
    out.byte(DQUOTE);
  }

  /**
   * The msg='…' pairs of the last scan whose name the record has outside msg (or is msg itself) are named
   * msg.<name>, as the text path names them (USER_AVC's msg='avc: … for auid=… uid=…' after the outer auid= uid=).
   * True when it renamed one.
   */
  private renameNested(tokens: number): boolean {
    const infos = this.infos;
    const stamp = this.recordSeq;
    // the names outside marked once, not searched for each name inside (a USER_AVC has ~10 of each); a remembered
    // name is one FieldInfo, another is compared by name
    for (let j = 0; j < tokens; j++) if (j < this.nestedFrom || j >= this.nestedTo) infos[j]!.outsideIn = stamp;
    let renamed = false;
    for (let i = this.nestedFrom; i < this.nestedTo; i++) {
      const info = infos[i]!;
      const name = info.name;
      let outside = name === this.nestedKey!.name || info.outsideIn === stamp;
      for (let j = 0; j < tokens && !outside && !info.cached; j++)
        if ((j < this.nestedFrom || j >= this.nestedTo) && infos[j]!.name === name) outside = true;
      if (!outside) continue;
      info.inMsg ??= fieldInfo(`msg.${name}`);
      infos[i] = info.inMsg;
      renamed = true;
    }
    return renamed;
  }

  /** Writes a record read on the byte path; true when it has no fields (a PROCTITLE whose proctitle went to the event). */
  private fastRecord(open: OpenEvent, type: string, prefix: ConstJson, buf: Buffer, tokens: number, avc: AvcText | undefined): boolean {
    const out = this.out;
    const offsets = this.offsets;
    out.constant(prefix);
    this.logNames = offsets[tokens * 4] !== -1;
    this.logNameMap = undefined;
    this.line = buf;
    this.lineTokens = tokens;
    if (this.logNames) {
      // which uid/gid fields the ENRICHED part names, and where
      for (let i = tokens * 4; offsets[i] !== -1; i += 4) {
        const named = this.infos[i >> 2]!.names;
        if (named !== undefined && named.namedIn !== this.recordSeq) {
          named.namedIn = this.recordSeq;
          named.namedAt = i;
        }
      }
    }
    let noFields = false;
    if (type === "EXECVE") this.execveAt(open, buf, tokens);
    else if (type !== "PROCTITLE" || !this.proctitleAt(open, buf, tokens)) {
      const infos = this.infos;
      if (this.memberSpans === undefined) {
        for (let t = 0, i = 0; t < tokens; t++, i += 4) this.fastField(open, infos[t]!, buf, offsets[i + 2]!, offsets[i + 3]!);
      } else {
        const spans = this.spansFor(tokens);
        // a counted record's interpreted fields are written all the same: rules read them (RecordFlag.NoJson)
        const counted = out !== open.records;
        for (let t = 0, i = 0; t < tokens; t++, i += 4) {
          const info = infos[t]!;
          const written = counted && interpreted(info.kind) ? open.records : out;
          this.out = written;
          spans[t * 2] = written.length;
          this.fastField(open, info, buf, offsets[i + 2]!, offsets[i + 3]!);
          spans[t * 2 + 1] = written.length;
        }
        this.out = out;
      }
    } else noFields = true;
    let i = tokens * 4;
    if (avc !== undefined) {
      // where the text path writes them: after the pairs, then the words as "text" after raw
      if (avc.result !== undefined) {
        this.member(SERESULT);
        out.constant(avc.result);
      }
      if (avc.perms !== undefined) {
        this.member(SEPERMS);
        out.constant(avc.perms);
      }
    }
    out.byte(RBRACE);
    this.closeRaw();
    if (avc !== undefined) out.constant(avc.text);
    else if (this.wordCount + this.outerCount > 0) this.wordsText(out, buf);
    if (offsets[i] !== -1) {
      out.bytes(ENRICHED_OPEN);
      this.recordSeq = nextRecordSeq();
      this.uncachedNames = undefined;
      for (let first = true; offsets[i] !== -1; i += 4, first = false) {
        if (!first) out.byte(COMMA);
        this.writeKey(out, this.infos[i >> 2]!, false);
        let from = offsets[i + 2]!;
        let to = offsets[i + 3]!;
        if (buf[from] === LBRACE) {
          bracesJson(out, buf, from + 1, to - 1);
          continue;
        }
        if (to - from >= 2 && buf[from] === DQUOTE) {
          from++;
          to--;
        }
        out.copyString(buf, from, to);
      }
      out.byte(RBRACE);
    }
    out.byte(RBRACE);
    return noFields;
  }

  /** memberSpans with room for n tokens. */
  private spansFor(n: number): Int32Array {
    if (this.memberSpans!.length < n * 2) this.memberSpans = new Int32Array(n * 2);
    return this.memberSpans!;
  }

  /** EXECVE from byte tokens: the same rules as execve(), with strings made only for the arguments. */
  private execveAt(open: OpenEvent, buf: Buffer, tokens: number): void {
    const event = open.event;
    const json = open.buffers;
    if (event.argv === undefined && json.argvCount < 0) {
      if (this.argvText) event.argv = [];
      else json.argvCount = 0;
    }
    let argv = event.argv;
    const offsets = this.offsets;
    for (let t = 0; t < tokens * 4; t += 4) {
      const info = this.infos[t >> 2]!;
      const key = info.name;
      const from = offsets[t + 2]!;
      const to = offsets[t + 3]!;
      if (key.charCodeAt(0) !== 97 /* a */ || key === "argc") {
        if (key === "argc") {
          const n = Number(buf.toString("utf8", from, to));
          if (Number.isInteger(n)) event.argc = n;
        }
        this.member(info);
        this.out.copyString(buf, from, to);
        continue;
      }
      const bracket = key.indexOf("[");
      if (bracket > 0) {
        argv ??= argvAsText(open);
        const quoted = to - from >= 2 && buf[from] === DQUOTE && buf[to - 1] === DQUOTE;
        this.addChunk(open, key, bracket, quoted ? buf.toString("latin1", from + 1, to - 1) : buf.toString("latin1", from, to), quoted);
        continue;
      }
      if (key.endsWith("_len")) continue;
      const index = info.argIndex;
      if (!Number.isInteger(index) || index >= MAX_ARGS) continue;
      if (argv === undefined) {
        // a repeated aN keeps its first value: the arguments so far are a0 … a(argvCount-1) (a-1 is read as text)
        if (index >= 0 && index < json.argvCount) continue;
        if (index === json.argvCount) {
          const mark = json.argv.length;
          if (index > 0) json.argv.byte(COMMA);
          const weight = argJson(json.argv, buf, from, to);
          if (weight >= 0) {
            open.argvBytes += weight;
            json.argvCount++;
            continue;
          }
          json.argv.length = mark;
        }
        argv = argvAsText(open);
      }
      // a repeated aN keeps its first value, as every repeated field does
      if (argv[index] === undefined) {
        const arg = argAt(buf, from, to);
        argv[index] = arg;
        // hex (not quoted, nor "(null)"): as the decoded text's JSON
        open.argvBytes += buf[from] === DQUOTE || arg === "(null)" ? to - from : decodedJsonBytes(arg, (to - from) >> 1);
        if (arg.includes("\uFFFD")) {
          const bytes = buf.toString("latin1", from, to);
          keepLostBytes(open, index, arg, argHex(bytes, bytes));
        }
      }
    }
  }

  /** PROCTITLE from byte tokens; false when it has no proctitle field (then its fields are written). */
  private proctitleAt(open: OpenEvent, buf: Buffer, tokens: number): boolean {
    const offsets = this.offsets;
    for (let t = 0; t < tokens * 4; t += 4) {
      if (this.infos[t >> 2]!.name !== "proctitle") continue;
      const from = offsets[t + 2]!;
      const to = offsets[t + 3]!;
      // detect's table reads the proctitle as text (the event's), summaries or not
      const n = this.proctitleText || this.memberSpans !== undefined || buf[from] === DQUOTE ? -1 : decodeHex(buf, from, to);
      if (n >= 0) {
        // no one reads the event's proctitle as text: its JSON goes straight from the decoded bytes
        const bytes = hexBytes();
        proctitleJson(open.buffers.proctitle, bytes, n);
        open.event.proctitle = undefined;
        // the JSON has U+FFFD where bytes are not UTF-8: their hex is kept beside it
        open.proctitleRaw = utf8Bytes(bytes, n) ? undefined : buf.toString("latin1", from, to);
        return true;
      }
      const text =
        buf[from] === DQUOTE ? buf.toString("utf8", from + 1, to - 1) : (decodeHexAt(buf, from, to) ?? buf.toString("utf8", from, to));
      open.event.proctitle = proctitleParts(text);
      open.proctitleRaw = lostBytes(
        text,
        buf[from] === DQUOTE ? buf.toString("hex", from + 1, to - 1).toUpperCase() : buf.toString("latin1", from, to),
      );
      open.buffers.proctitle.reset();
      return true;
    }
    return false;
  }

  private fastField(open: OpenEvent, info: FieldInfo, buf: Buffer, valueStart: number, valueEnd: number): void {
    let from = valueStart;
    let to = valueEnd;
    const quoted = to - from >= 2 && buf[from] === DQUOTE && buf[to - 1] === DQUOTE;
    if (quoted) {
      from++;
      to--;
    } else if (isNullishAt(buf, from, to)) {
      this.member(info);
      this.out.bytes(NULL);
      this.rawMember();
      this.raw.copyString(buf, from, to);
      return;
    }
    if (info.plain || (info.kind === Kind.Encoded && quoted && info.slot < 0)) {
      this.member(info);
      if (!this.out.copyString(buf, from, to)) this.lostRaw(buf, from, to);
      if (info.status !== Status.None) this.status(open.event, info.status, buf, from, to);
      return;
    }
    if (info.kind === Kind.Arg) {
      this.argField(info, buf, from, to);
      return;
    }
    if (info.kind === Kind.Encoded && !quoted && info.slot < 0 && this.hexField(info, buf, from, to)) return;
    if (info.slot >= 0 && (info.kind === undefined || (info.kind === Kind.Encoded && quoted))) {
      // pid, ppid, a quoted comm/exe/cwd: written as they are, kept for the summary
      this.member(info);
      const at = this.out.length;
      if (!this.out.copyString(buf, from, to)) this.lostRaw(buf, from, to);
      this.summariseAt(open.event, info.slot, buf, from, to, at);
      return;
    }
    if (info.kind === Kind.Arch) {
      const r = this.arches.get(buf, from, to);
      this.arch = r.arch;
      const at = this.readValue(info, r.written, r.same, buf, from, to, r.lost, r.raw);
      if (this.firstOfSyscall(info)) {
        open.event.arch = r.text;
        this.span(Slot.Arch, at);
      }
      return;
    }
    if (info.kind === Kind.Syscall) {
      const name = syscallNumberName(this.arch ?? open.event.arch, idNumber(buf, from, to));
      if (name !== undefined) {
        if (this.sysName === undefined) {
          this.sysName = name;
          this.argReaders = argReaders(name);
        }
        this.member(info);
        const at = this.out.length;
        this.out.string(name);
        this.rawMember();
        this.raw.copyString(buf, from, to);
        if (this.firstOfSyscall(info)) {
          open.event.syscall = name;
          this.span(Slot.Syscall, at);
        }
        return;
      }
    }
    if (info.kind === Kind.Session && !bytesAre(buf, from, to, UNSET_ID)) {
      // a session id reads as itself (only 4294967295 is "unset"): no cache, as they are many (16 hosts' random
      // ids missed its 2,048 entries at nearly every record, each miss a reading and its JSON made, issue 23)
      this.member(info);
      const at = this.out.length;
      if (!this.out.copyString(buf, from, to)) this.lostRaw(buf, from, to);
      if (info.slot >= 0) this.summariseAt(open.event, info.slot, buf, from, to, at);
      return;
    }
    const readings = info.kind === undefined ? undefined : this.readings[info.kind];
    if (readings !== undefined) {
      const r = readings.get(buf, from, to);
      const at = this.readValue(info, r.written, r.same, buf, from, to, r.lost, r.raw);
      if (info.kind === Kind.Exit && this.firstOfSyscall(info)) {
        open.event.exit = r.text;
        this.span(Slot.Exit, at);
      }
      if (info.status !== Status.None) this.status(open.event, info.status, buf, from, to);
      if (info.slot >= 0) this.summarise(open.event, info.slot, r.text, at);
      return;
    }
    if (info.kind === Kind.User || info.kind === Kind.Group) {
      const id = idNumber(buf, from, to);
      if (id >= 0) {
        if (this.logNames) this.logIdField(open, info, buf, from, to);
        else this.idField(open, info, id, buf, from, to);
        return;
      }
    }
    if (info.kind === Kind.Key) {
      const r = this.keyLists.get(buf, valueStart, valueEnd);
      this.readValue(info, r.written, r.same, buf, from, to, r.lost, r.raw);
      // the event gets its own array: the cached one is shared by every event with this key
      if (this.firstOfSyscall(info) || open.event.keys === undefined) open.event.keys = [...r.list];
      return;
    }
    if (info.kind === Kind.Saddr) {
      const r = this.saddrs.get(buf, from, to);
      const at = this.readValue(info, r.written, r.same, buf, from, to, r.lost, r.raw);
      if (r.decoded !== undefined && open.event.sockaddr === undefined) {
        open.event.sockaddr = { ...r.decoded };
        this.span(Slot.Sockaddr, at);
      }
      return;
    }
    const text = buf.toString("utf8", from, to);
    const lost = quoted || text.includes("\uFFFD") ? lostAt(buf, from, to) : undefined;
    this.field(open.event, info, info.name, text, quoted, lost);
  }

  /**
   * A hex-encoded value of a name-like field with no summary slot (a PATH record's name=2F746D70…, which audit
   * writes so for any name with a space, a quote or a byte outside ASCII): decoded into scratch bytes and
   * escaped straight into the record, the hex copied to raw. field() does the same through three strings (the
   * hex, the decoded text, its JSON), which on PATH-heavy logs were a tenth of the parse (issue 23). False,
   * with nothing written, when the value is not hex or is longer than HEX_FIELD_MAX (field() reads it then).
   */
  private hexField(info: FieldInfo, buf: Buffer, from: number, to: number): boolean {
    if (to - from > HEX_FIELD_MAX) return false;
    const n = decodeHex(buf, from, to);
    if (n < 0) return false;
    this.member(info);
    // invalid UTF-8 becomes U+FFFD as in the decoded text; the raw hex keeps the bytes, as field() keeps them
    this.out.copyString(hexBytes(), 0, n);
    this.rawMember();
    this.raw.copyString(buf, from, to);
    return true;
  }

  /** A SYSCALL a0–a3: named as ausearch names it for the syscalls args.ts knows, else as logged. */
  private argField(info: FieldInfo, buf: Buffer, from: number, to: number): void {
    const reader = this.isSyscall ? this.argReaders?.[info.name.charCodeAt(1) - 48] : undefined;
    const text = reader === undefined ? undefined : readArg(reader, buf.toString("latin1", from, to));
    this.member(info);
    if (text === undefined) {
      if (!this.out.copyString(buf, from, to)) this.lostRaw(buf, from, to);
      return;
    }
    this.out.string(text);
    this.rawMember();
    this.raw.copyString(buf, from, to);
  }

  /** A numeric uid/gid: the name, from a cache keyed by the number, so no string is made per field. */
  private idField(open: OpenEvent, info: FieldInfo, id: number, buf: Buffer, from: number, to: number): void {
    const user = info.kind === Kind.User;
    if (id !== UNSET) open.names |= NAMES_LOCAL;
    const cache = user ? this.userNames : this.groupNames;
    let name = cache.get(id);
    if (name === undefined) {
      const value = buf.toString("latin1", from, to);
      const text = user ? this.ids.user(value) : this.ids.group(value);
      name = { text, json: constJson(jsonString(text)), same: text === value, raw: rawJson(value, text === value, undefined) };
      cache.set(id, name);
    }
    const at = this.readValue(info, name.json, name.same, buf, from, to, undefined, name.raw);
    if (info.slot >= 0) this.summarise(open.event, info.slot, name.text, at);
  }

  /**
   * A uid/gid of a record with an ENRICHED part: the name that part gives it (UID="alice"), which the host
   * that wrote the log resolved; the number when it gives none (never this host's passwd, which may differ).
   */
  private logIdField(open: OpenEvent, info: FieldInfo, buf: Buffer, from: number, to: number): void {
    this.member(info);
    const at = this.out.length;
    if (info.namedIn === this.recordSeq) {
      const offsets = this.offsets;
      let nameFrom = offsets[info.namedAt + 2]!;
      let nameTo = offsets[info.namedAt + 3]!;
      if (nameTo - nameFrom >= 2 && buf[nameFrom] === DQUOTE && buf[nameTo - 1] === DQUOTE) {
        nameFrom++;
        nameTo--;
      }
      this.out.copyString(buf, nameFrom, nameTo);
      this.rawMember();
      this.raw.copyString(buf, from, to);
      open.names |= NAMES_LOG;
      if (info.slot >= 0) this.summarise(open.event, info.slot, this.summaries ? buf.toString("utf8", nameFrom, nameTo) : "", at);
      return;
    }
    const unset = bytesAre(buf, from, to, UNSET_ID);
    if (unset) this.out.string("unset");
    else this.out.copyString(buf, from, to);
    if (unset) {
      this.rawMember();
      this.raw.copyString(buf, from, to);
    }
    if (info.slot >= 0) this.summarise(open.event, info.slot, unset ? "unset" : buf.toString("latin1", from, to), at);
  }

  /**
   * A field read from a cache: its JSON, and the value as logged under raw unless they are the same.
   * Returns where the JSON starts (for the event's summary).
   */
  private readValue(
    info: FieldInfo,
    json: ConstJson,
    same: boolean,
    buf: Buffer,
    from: number,
    to: number,
    lost: string | undefined,
    raw: ConstJson | undefined,
  ): number {
    this.member(info);
    const at = this.out.length;
    this.out.constant(json);
    if (lost !== undefined) {
      // bytes that are not UTF-8 (U+FFFD in the reading): their hex, as field() keeps them
      this.rawMember();
      this.raw.string(lost);
    } else if (!same) {
      this.rawMember();
      // the value's JSON as the cache made it with the reading (rawJson), not escaped again from the bytes
      if (raw !== undefined) this.raw.constant(raw);
      else this.raw.copyString(buf, from, to);
    }
    return at;
  }

  /** A SYSCALL record's field written under its own name (not a repeat): it sets the event's summary. */
  private firstOfSyscall(info: FieldInfo): boolean {
    return this.isSyscall && this.keyInfo === info;
  }

  /** success=yes of a syscall, res=success of a user-space record, as bytes. */
  private status(event: AuditEvent, status: Status, buf: Buffer, from: number, to: number): void {
    if (status === Status.Success) {
      if (this.isSyscall && this.repeatKey === undefined) event.success = bytesAre(buf, from, to, "yes");
    } else {
      const ok = bytesAre(buf, from, to, "success") || bytesAre(buf, from, to, "1") || bytesAre(buf, from, to, "yes");
      // as field() reads it: a record that says both (msg='… res=success res=failed') is not a success
      if (event.success === undefined || (this.resultIn === this.recordSeq && !ok)) event.success = ok && (event.success ?? true);
      this.resultIn = this.recordSeq;
    }
  }

  /** One field given as text: interpreted by kind, written with its raw value where they differ. */
  /** lost: the hex of the value's bytes when they are not UTF-8 (kept in raw, see lostValue). */
  private field(event: AuditEvent, info: FieldInfo, key: string, value: string, quoted: boolean, lost?: string): void {
    let v: string = value;
    let vJson: string | undefined;
    let slot = -1;
    this.member(info);
    const first = this.keyInfo === info;
    switch (info.kind) {
      case undefined:
        break;
      case Kind.User:
      case Kind.Group:
        if (isNumeric(value)) v = this.idText(info, key, value);
        break;
      case Kind.Encoded:
        if (!quoted) v = decodeHexString(value) ?? value;
        break;
      case Kind.Arch:
        this.arch = archName(value);
        v = this.arch ?? value;
        if (this.isSyscall && first) {
          event.arch = v;
          slot = Slot.Arch;
        }
        break;
      case Kind.Syscall:
        v = syscallName(this.arch ?? event.arch, value) ?? value;
        if (v !== value) this.sysName ??= v;
        if (this.isSyscall && first) {
          event.syscall = v;
          slot = Slot.Syscall;
        }
        break;
      case Kind.Saddr: {
        const decoded = decodeSockaddr(value);
        if (decoded) {
          vJson = JSON.stringify(decoded);
          if (event.sockaddr === undefined) {
            event.sockaddr = decoded;
            slot = Slot.Sockaddr;
          }
        }
        break;
      }
      case Kind.Arg:
        if (this.isSyscall && this.sysName !== undefined) v = syscallArg(this.sysName, info.name.charCodeAt(1) - 48, value) ?? value;
        break;
      case Kind.Key: {
        const list = keyList(value, quoted);
        v = list.join(",");
        if ((this.isSyscall && first) || event.keys === undefined) event.keys = list;
        break;
      }
      default: {
        const r = readingOf(info.kind, value);
        v = r.text;
        if (!r.same) vJson = r.json;
        if (info.kind === Kind.Exit && this.isSyscall && first) {
          event.exit = v;
          slot = Slot.Exit;
        }
      }
    }
    const at = this.out.length;
    if (vJson === undefined) this.out.string(v);
    else this.out.text(vJson);
    if (slot >= 0) this.span(slot, at);
    if (lost !== undefined) {
      this.rawMember();
      this.raw.string(lost);
    } else if (vJson !== undefined || v !== value) {
      this.rawMember();
      this.raw.string(value);
    }
    if (this.isSyscall && key === "success") {
      if (first) event.success = value === "yes";
    } else if (info.slot >= 0) this.summarise(event, info.slot, v, at);
    else if (key === "res" || key === "result") {
      const ok = v === "success" || v === "1" || v === "yes";
      // a record that says both (msg='… res=success' res=failed) is not a success: fail closed
      if (event.success === undefined || (this.resultIn === this.recordSeq && !ok)) event.success = ok && (event.success ?? true);
      this.resultIn = this.recordSeq;
    }
  }

  /** A numeric uid/gid as text: the log's ENRICHED name, else (raw logs only) the passwd/group name. */
  private idText(info: FieldInfo, key: string, value: string): string {
    const open = this.current!;
    if (this.logNames) {
      this.logNameMap ??= this.byteLogNames();
      const name = this.logNameMap.get(key.toUpperCase());
      if (name !== undefined) {
        open.names |= NAMES_LOG;
        return name;
      }
      return value === UNSET_ID ? "unset" : value;
    }
    if (value !== UNSET_ID) open.names |= NAMES_LOCAL;
    return info.kind === Kind.User ? this.ids.user(value) : this.ids.group(value);
  }

  /** The ENRICHED names of the record read on the byte path, as idText wants them (rare: a uid in odd digits). */
  private byteLogNames(): Map<string, string> {
    const map = new Map<string, string>();
    const buf = this.line!;
    const offsets = this.offsets;
    for (let i = this.lineTokens * 4; offsets[i] !== -1; i += 4) {
      let from = offsets[i + 2]!;
      let to = offsets[i + 3]!;
      if (to - from >= 2 && buf[from] === DQUOTE && buf[to - 1] === DQUOTE) {
        from++;
        to--;
      }
      const name = this.infos[i >> 2]!.name;
      if (!map.has(name)) map.set(name, buf.toString("utf8", from, to));
    }
    return map;
  }

  /**
   * Fills an empty summary slot with the value just written at `at`: the head copies those bytes, and the
   * event object gets the text unless nothing will read it (summaries off).
   */
  private summarise(event: AuditEvent, slot: number, v: string, at: number): void {
    if (this.spans[slot * 2]! >= 0) return;
    this.span(slot, at);
    if (this.summaries) setSummary(event, slot, v);
  }

  /** summarise() for a value given as bytes: no string is made when no one will read it. */
  private summariseAt(event: AuditEvent, slot: number, buf: Buffer, from: number, to: number, at: number): void {
    if (this.spans[slot * 2]! >= 0) return;
    this.span(slot, at);
    if (!this.summaries) return;
    if (!this.textAtEnd) {
      setSummary(event, slot, buf.toString("utf8", from, to));
      return;
    }
    const buffers = this.current!.buffers;
    buffers.lateSlots |= 1 << slot;
    // its JSON longer than the bytes and their quotes: an escape in it, or U+FFFD for bytes that are not UTF-8
    // (never shorter than what it stands for); read back with JSON.parse then (summariesAt)
    if (this.out.length - at !== to - from + 2) buffers.escapedSlots |= 1 << slot;
  }

  /** The JSON of a summary value is out[at, out.length): the head copies it from there. */
  private span(slot: Slot, at: number): void {
    this.spans[slot * 2] = at;
    this.spans[slot * 2 + 1] = this.out.length;
  }

  private member(info: FieldInfo): void {
    this.writeKey(this.out, info, this.fieldCount++ > 0);
  }

  /** `"name":` (after a comma unless first), the name as memberKey() gives it. */
  private writeKey(out: JsonBytes, info: FieldInfo, comma: boolean): void {
    const repeated = this.memberKey(info);
    if (repeated === undefined) {
      out.words(keyWordsOf(info, comma), comma ? info.nextKey.length : info.key.length);
      return;
    }
    if (comma) out.byte(COMMA);
    out.string(repeated);
    out.byte(COLON);
  }

  /**
   * The key a field is written under: its name, or `name#2`, `name#3` … when the record has it already. A
   * JSON object keeps one value per key (parsers keep the last, the summary the first): every value is kept
   * under its own key instead, the first under the name, as the event's summary reads it.
   */
  private memberKey(info: FieldInfo): string | undefined {
    let repeat = 0;
    if (info.cached) {
      if (info.seen === this.recordSeq) repeat = ++info.repeats;
      else {
        info.seen = this.recordSeq;
        info.repeats = 1;
      }
    } else {
      this.uncachedNames ??= new Map();
      const names = this.uncachedNames;
      repeat = (names.get(info.name) ?? 0) + 1;
      names.set(info.name, repeat);
      if (repeat === 1) repeat = 0;
    }
    // a repeat's name is written as text: a runaway line may repeat one name a million times
    if (repeat !== 0) this.repeated = true;
    this.keyInfo = repeat === 0 ? info : undefined;
    this.repeatKey = repeat === 0 ? undefined : `${info.name}#${repeat}`;
    return this.repeatKey;
  }

  /** The raw value of the member just written, under the same key. */
  /** A quoted value's bytes that are not UTF-8 (U+FFFD in the JSON): their hex in raw, so they are kept. */
  private lostRaw(buf: Buffer, from: number, to: number): void {
    this.rawMember();
    this.raw.string(buf.toString("hex", from, to).toUpperCase());
  }

  private rawMember(): void {
    const comma = this.rawCount++ > 0;
    if (this.repeatKey === undefined) {
      const info = this.keyInfo!;
      this.raw.words(keyWordsOf(info, comma), comma ? info.nextKey.length : info.key.length);
      return;
    }
    if (comma) this.raw.byte(COMMA);
    this.raw.string(this.repeatKey);
    this.raw.byte(COLON);
  }

  private closeRaw(): void {
    if (this.rawCount === 0) return;
    const out = this.out;
    out.constant(RAW_OPEN);
    out.copyFrom(this.raw, 0, this.raw.length);
    out.byte(RBRACE);
  }

  /**
   * A record of any shape, from its text tokens: free text, msg='…', braces, argv, proctitle. Its names map
   * (logNamesOf) and its tail (textRecordEnd) are apart: this path is rare, so TurboFan compiles it late in a long
   * run, on the main thread, and as one method that compile took 2.1 MB of zone memory at once — a 1.1 MB step
   * of peak RSS at 114 MiB of the ENRICHED corpus log (issue 23); each part takes about half.
   */
  private textRecord(open: OpenEvent, record: AuditRecord): void {
    const out = this.out;
    out.constant(this.typeInfo(record.type).prefix);
    this.nestedText = undefined;
    this.logNames = (record.enrichedKeys?.length ?? 0) > 0;
    this.logNameMap =
      this.logNames && record.enrichedKeys !== undefined && record.enrichedValues !== undefined
        ? logNamesOf(record.enrichedKeys, record.enrichedValues)
        : undefined;
    if (record.type === "EXECVE") this.execve(open, record);
    else if (record.type === "PROCTITLE") this.proctitle(open, record);
    else this.fields(open.event, record.keys, record.values, undefined, record.rawValues);
    // set by nested() inside this.fields() above (TypeScript still narrows it to the undefined set before)
    const nested = this.nestedText as string | undefined;
    let text = nested;
    if (record.text !== undefined) text = text === undefined ? record.text : `${record.text} ${text}`;
    // a kernel AVC's words, or a USER_AVC's msg='avc:  denied  { start } for …' (SELinux userspace's avc_audit):
    // the same fields; a userspace notice without a permission set (`avc:  received policyload notice`) decides nothing
    if (record.text?.startsWith("avc:")) this.avcResult(text!);
    else if (nested?.startsWith("avc:") && nested.includes("{")) this.avcResult(nested);
    out.byte(RBRACE);
    this.closeRaw();
    this.textRecordEnd(record, text);
  }

  /** After a text record's fields: its free text, ENRICHED names and unparsed rest. */
  private textRecordEnd(record: AuditRecord, text: string | undefined): void {
    const out = this.out;
    if (text !== undefined) out.text(`,"text":${jsonString(text)}`);
    if (record.enrichedKeys && record.enrichedValues) {
      out.text(`,"enriched":{${enrichedJson(record.enrichedKeys, record.enrichedValues)}}`);
    }
    if (record.unparsed !== undefined) out.text(`,"unparsed":${jsonString(record.unparsed)}`);
    out.byte(RBRACE);
  }

  private fields(
    event: AuditEvent,
    keys: string[],
    values: string[],
    outerKeys: string[] | undefined,
    rawValues: string[] | undefined,
  ): void {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let value = values[i]!;
      const q = value.charCodeAt(0);
      let quoted = false;
      if (q === 34 && value.length >= 2 && value.charCodeAt(value.length - 1) === 34) {
        value = value.slice(1, -1);
        quoted = true;
      } else if (q === 39 && outerKeys === undefined) {
        // a msg='…' of the record's own; inside one a ' is the value's (hostname='abc, as libaudit writes it)
        this.nested(event, value, keys, rawValues?.[i]);
        continue;
      }
      // inner msg='…' fields may repeat an outer name (pid, uid): keep both
      const info = fieldInfo(outerKeys?.includes(key) ? `msg.${key}` : key);
      if (!quoted && isNullish(value, q)) {
        this.member(info);
        this.out.bytes(NULL);
        this.rawMember();
        this.raw.string(value);
        continue;
      }
      this.field(event, info, key, value, quoted, lostValue(rawValues?.[i], quoted));
    }
  }

  /** msg='op=… acct="root" exe=… res=success' in user-space records: its fields join the record's. */
  private nested(event: AuditEvent, quotedValue: string, outerKeys: string[], rawValue: string | undefined): void {
    const end = quotedValue.charCodeAt(quotedValue.length - 1) === 39 ? quotedValue.length - 1 : quotedValue.length;
    const keys: string[] = [];
    const values: string[] = [];
    const sink = { text: undefined as string | undefined };
    tokenize(quotedValue, 1, end, keys, values, sink, true);
    if (sink.text !== undefined) this.nestedText = sink.text;
    let rawValues: string[] | undefined;
    if (rawValue !== undefined) {
      // the same tokens over the exact bytes (latin1): see rawValuesOf
      rawValues = [];
      const rawEnd = rawValue.charCodeAt(rawValue.length - 1) === 39 ? rawValue.length - 1 : rawValue.length;
      tokenize(rawValue, 1, rawEnd, [], rawValues, { text: undefined }, true);
    }
    this.fields(event, keys, values, outerKeys, rawValues);
  }

  /** a0…aN, including arguments split as aN_len/aN[i] and spread over several EXECVE records. */
  private execve(open: OpenEvent, record: AuditRecord): void {
    const event = open.event;
    if (open.buffers.argvCount >= 0) argvAsText(open);
    event.argv ??= [];
    const argv = event.argv;
    const { keys, values } = record;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = values[i]!;
      if (key.charCodeAt(0) !== 97 /* a */ || key === "argc") {
        if (key === "argc") {
          const n = Number(value);
          if (Number.isInteger(n)) event.argc = n;
        }
        this.member(fieldInfo(key));
        this.out.string(value);
        continue;
      }
      const bracket = key.indexOf("[");
      if (bracket > 0) {
        // chunks of one long argument may continue in the next EXECVE record: joined, decoded at the end
        const quoted = quotedLatin1(value, record.rawValues?.[i]);
        this.addChunk(open, key, bracket, quoted ?? value, quoted !== undefined);
        continue;
      }
      if (key.endsWith("_len")) continue;
      const index = Number(key.slice(1));
      if (Number.isInteger(index) && index < MAX_ARGS && argv[index] === undefined) {
        argv[index] = decodeArg(value);
        open.argvBytes +=
          value.charCodeAt(0) === DQUOTE || value === "(null)" ? value.length : decodedJsonBytes(argv[index], value.length >> 1);
        keepLostBytes(open, index, argv[index], argHex(value, record.rawValues?.[i]));
      }
    }
  }

  /**
   * aN[i]: chunks of one long argument may continue in the next EXECVE record; kept by chunk index as logged
   * (hex), or a quoted chunk's bytes as latin1 text, joined in index order and decoded at the end.
   */
  private addChunk(open: OpenEvent, key: string, bracket: number, text: string, quoted: boolean): void {
    const index = Number(key.slice(1, bracket));
    const close = key.indexOf("]", bracket);
    const part = Number(key.slice(bracket + 1, close < 0 ? undefined : close));
    // no bound on i (was 4096, past it chunks were dropped unsaid): the event's byte bounds hold them
    if (!Number.isInteger(index) || index >= MAX_ARGS || !Number.isInteger(part) || part < 0) return;
    open.chunks ??= new Map();
    let chunks = open.chunks.get(index);
    if (chunks === undefined) {
      chunks = { parts: [], texts: [], quoted: [], ascending: true };
      open.chunks.set(index, chunks);
    }
    const n = chunks.parts.length;
    if (n > 0 && part <= chunks.parts[n - 1]!) chunks.ascending = false;
    chunks.parts.push(part);
    chunks.texts.push(text);
    chunks.quoted.push(quoted);
    // the argument's bytes as its JSON writes them: a quoted chunk has no control byte (the kernel quotes none)
    open.argvBytes += quoted ? text.length : hexJsonBytes(text);
  }

  private proctitle(open: OpenEvent, record: AuditRecord): void {
    const i = record.keys.indexOf("proctitle");
    if (i < 0) {
      this.fields(open.event, record.keys, record.values, undefined, record.rawValues);
      return;
    }
    const value = record.values[i]!;
    const text = value.charCodeAt(0) === 34 ? value.slice(1, -1) : (decodeHexString(value) ?? value);
    open.event.proctitle = proctitleParts(text);
    open.proctitleRaw = lostBytes(text, quotedHex(value, record.rawValues?.[i]) ?? value);
    open.buffers.proctitle.reset();
  }

  /** "avc: denied { read write } for …" → seresult/seperms, the names ausearch uses. */
  private avcResult(text: string): void {
    const { result, perms } = avcParts(text);
    if (result !== undefined) {
      this.member(SERESULT);
      this.out.string(result);
    }
    if (perms !== undefined) {
      this.member(SEPERMS);
      this.out.string(perms);
    }
  }
}

/** A text record's ENRICHED names by field name (the first of each), their quotes taken off. */
function logNamesOf(keys: string[], values: string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = values[i]!;
    if (!names.has(k)) names.set(k, v.length >= 2 && v.charCodeAt(0) === 34 ? v.slice(1, -1) : v);
  }
  return names;
}

/** seresult and seperms of an AVC's free text (`avc: denied { read write } for …`), when it has them. */
function avcParts(text: string): { result: string | undefined; perms: string | undefined } {
  const open = text.indexOf("{");
  const close = text.indexOf("}", open);
  const result = text.slice(4, open < 0 ? undefined : open).trim();
  const perms =
    open >= 0 && close > open
      ? text
          .slice(open + 1, close)
          .trim()
          .split(/\s+/)
          .join(",")
      : undefined;
  return { result: result === "" ? undefined : result, perms };
}

/** What the byte path writes for an AVC's leading words: the JSON of seresult, seperms and `,"text":…`. */
interface AvcText {
  result: ConstJson | undefined;
  perms: ConstJson | undefined;
  text: ConstJson;
}

/** The words as the text tokenizer collects them (one space between), and what avcResult() makes of them. */
function avcText(words: string): AvcText {
  const text = words
    .split(" ")
    .filter((w) => w !== "")
    .join(" ");
  const { result, perms } = avcParts(text);
  return {
    result: result === undefined ? undefined : constJson(jsonString(result)),
    perms: perms === undefined ? undefined : constJson(jsonString(perms)),
    text: constJson(`,"text":${jsonString(text)}`),
  };
}

/** An AVC's first word and the space after it. */
const AVC_WORD = Buffer.from("avc: ", "latin1");

/** Kernel AVC openings RecentAvc keeps. */
const RECENT_AVCS = 8;

/**
 * The openings of the last few kernel AVC records that had pairs after them (`avc:  denied  { write } for  `), with
 * what avcTexts gave for them. A storm repeats a handful of them, and reading one again (avcWordsEnd's byte loop,
 * then avcTexts hashing its ~30 bytes) was ~3 % of the instructions of the testers' `avc` log (issue 23, Round 39).
 */
class RecentAvc {
  private readonly bytes: Buffer[] = [];
  /** Each opening's bytes as a DataView, read four at a time. */
  private readonly views: DataView[] = [];
  private readonly texts: AvcText[] = [];
  private next = 0;
  /** The opening's length, after find() found one. */
  length = 0;

  /**
   * The kept opening buf[from, …) starts with, if avcWordsEnd(buf, from, to, false) would end it where it ended
   * before: the same bytes, then a word that reaches its '=' with no byte that avcWordsEnd refuses (its state up to
   * there is the same, as it read the same bytes; a word with '=' ends it whatever came before). Else undefined.
   */
  find(buf: Buffer, from: number, to: number): AvcText | undefined {
    for (let k = 0; k < this.bytes.length; k++) {
      const kept = this.bytes[k]!;
      const n = kept.length;
      if (to - from <= n || buf[from + n] === SPACE || !sameBytes(kept, this.views[k]!, buf, from)) continue;
      if (!pairStarts(buf, from + n, to)) return undefined;
      this.length = n;
      return this.texts[k];
    }
    return undefined;
  }

  /** Keeps buf[from, end) (avcWordsEnd's words, a pair after them) and what avcTexts gave for it. */
  keep(buf: Buffer, from: number, end: number, text: AvcText): void {
    const at = this.next;
    this.next = (at + 1) % RECENT_AVCS;
    // its own memory, not a slice of node's shared 8 KiB slabs, which a kept slice would keep whole (see JsonBytes)
    const kept = Buffer.allocUnsafeSlow(end - from);
    buf.copy(kept, 0, from, end);
    this.bytes[at] = kept;
    this.views[at] = new DataView(kept.buffer, kept.byteOffset, kept.length);
    this.texts[at] = text;
  }
}

/** Whether kept's bytes are at buf[from, …) (the caller checked they fit): four at a time, the rest one by one. */
function sameBytes(kept: Buffer, keptView: DataView, buf: Buffer, from: number): boolean {
  const n = kept.length;
  const view = wordView(buf);
  let i = 0;
  for (; i + 4 <= n; i += 4) if (view.getInt32(from + i, true) !== keptView.getInt32(i, true)) return false;
  for (; i < n; i++) if (kept[i] !== buf[from + i]) return false;
  return true;
}

/**
 * Whether the word at buf[start] reaches an '=' before a space or `to`, every byte before it one avcWordsEnd lets
 * a word of an AVC's opening have (not nested): there avcWordsEnd returns `start`.
 */
function pairStarts(buf: Buffer, start: number, to: number): boolean {
  for (let pos = start; pos < to; pos++) {
    const c = buf[pos]!;
    if (c === EQUALS) return true;
    if (c === SPACE || !isWordByte(c) || c === LPAREN || c === RPAREN) return false;
  }
  return false;
}

/**
 * A byte a word of free text may hold and still be written as it is (keepWord, avcWordsEnd): printable ASCII,
 * not a quote or a backslash, which the text path would read otherwise or JSON escape.
 */
function isWordByte(c: number): boolean {
  return c > SPACE && c <= 0x7e && c !== DQUOTE && c !== SQUOTE && c !== BACKSLASH;
}

/**
 * The ' closing the k='…' whose opening quote is at buf[open]: the one that ends the body (only spaces or control
 * bytes after it, up to 0x1d or `to`), as the kernel writes msg='…' last, whatever ' or '"' libaudit left unencoded
 * inside it (hostname=it's.example, hostname=x'), and as singleQuoteEnd finds it. -1 when the body does not end in
 * one: a shape the kernel does not write, which the text path reads.
 */
function closeOf(buf: Buffer, open: number, to: number): number {
  let at = open + 1;
  while (at < to && buf[at] !== GS) at++;
  while (at > open + 1 && buf[at - 1]! <= SPACE) at--;
  return at - 1 > open && buf[at - 1] === SQUOTE ? at - 1 : -1;
}

/** Whether the ' at buf[at] ends the body: only spaces or control bytes after it, up to 0x1d or `to` (see closeOf). */
function closesAt(buf: Buffer, at: number, to: number): boolean {
  let next = at + 1;
  while (next < to && buf[next]! <= SPACE && buf[next] !== GS) next++;
  return next >= to || buf[next] === GS;
}

function skipSpaces(buf: Buffer, from: number, to: number): number {
  let at = from;
  while (at < to && buf[at] === SPACE) at++;
  return at;
}

/**
 * Where the leading words of a body end (the first `k=v` token, or the body's end) when they are a kernel AVC's
 * (`avc:  denied  { read write } for  `): the first word `avc:`, the rest printable ASCII with no quote, `\`,
 * `=` or parenthesis, `{` and `}` only as words of their own, and no `old`/`new` (the tokenizer reads those
 * as a prefix of the next name). Nested (the words of a msg='…', read with its list punctuation): no `,`
 * either, and a `{` among them, or the text path would not read seresult from them. Else -1: the record goes
 * to the text path as before.
 */
function avcWordsEnd(buf: Buffer, from: number, to: number, nested: boolean): number {
  let pos = from;
  while (pos < to && buf[pos] === SPACE) pos++;
  if (!startsWith(buf, pos, to, AVC_WORD)) return -1;
  pos += AVC_WORD.length;
  let opened = false;
  for (;;) {
    while (pos < to && buf[pos] === SPACE) pos++;
    if (pos >= to) return nested && !opened ? -1 : pos;
    const start = pos;
    let brace = false;
    for (; pos < to; pos++) {
      const c = buf[pos]!;
      if (c === SPACE) break;
      if (c === EQUALS) return nested && !opened ? -1 : start;
      if (!isWordByte(c) || c === LPAREN || c === RPAREN) return -1;
      if (nested && c === COMMA) return -1;
      if (c === LBRACE || c === RBRACE) brace = true;
    }
    const n = pos - start;
    if (brace && n !== 1) return -1;
    if (brace && buf[start] === LBRACE) opened = true;
    if (n === 3 && isOldNew(buf, start)) return -1;
  }
}

function isOldNew(buf: Buffer, at: number): boolean {
  const a = buf[at];
  const b = buf[at + 1];
  const c = buf[at + 2];
  return (a === 0x6f && b === 0x6c && c === 0x64) || (a === 0x6e && b === 0x65 && c === 0x77);
}

/**
 * `records` parsed from the event's JSON the first time it is read (during onEvent: see InterpreterOptions).
 * Defining the property turns the event into a dictionary (about 1 KB allocated per event): sessions reads
 * the EventJson's records instead; report, the event formats and filters that read records still come here.
 */
function lazyRecords(event: AuditEvent, json: EventJson): void {
  let records: OutputRecord[] | undefined;
  Object.defineProperty(event, "records", {
    configurable: true,
    enumerable: true,
    get: () => {
      records ??= json.recordObjects();
      return records;
    },
    set: (value: OutputRecord[]) => {
      records = value;
    },
  });
}

/**
 * The end of the braces opening at buf[open] when they hold only `k=v` pairs (no quotes, braces or bare words,
 * which the text tokenizer reads in ways of their own), else -1. Such a value is written as an object, as
 * enrichedJson() writes it.
 */
function plainBraces(buf: Buffer, open: number, to: number): number {
  let pos = open + 1;
  while (pos < to) {
    const c = buf[pos]!;
    if (c === RBRACE) return pos + 1;
    if (c === SPACE) {
      pos++;
      continue;
    }
    if (c === EQUALS || c === DQUOTE || c === SQUOTE || c === LBRACE) return -1;
    while (pos < to && buf[pos] !== EQUALS && buf[pos] !== SPACE && buf[pos] !== RBRACE && buf[pos] !== LBRACE) pos++;
    if (pos >= to || buf[pos] !== EQUALS) return -1;
    pos++;
    const v = pos < to ? buf[pos]! : SPACE;
    if (v === DQUOTE || v === SQUOTE || v === LBRACE) return -1;
    while (pos < to && buf[pos] !== SPACE && buf[pos] !== RBRACE) {
      if (buf[pos] === LBRACE) return -1;
      pos++;
    }
  }
  return -1;
}

/** The pairs of buf[from, to) (checked by plainBraces) as a JSON object. */
function bracesJson(out: JsonBytes, buf: Buffer, from: number, to: number): void {
  out.byte(LBRACE);
  let pos = from;
  for (let first = true; pos < to; first = false) {
    while (pos < to && buf[pos] === SPACE) pos++;
    if (pos >= to) break;
    const keyStart = pos;
    while (buf[pos] !== EQUALS) pos++;
    if (!first) out.byte(COMMA);
    out.copyString(buf, keyStart, pos);
    out.byte(COLON);
    const valueStart = ++pos;
    while (pos < to && buf[pos] !== SPACE) pos++;
    out.copyString(buf, valueStart, pos);
  }
  out.byte(RBRACE);
}

/**
 * Whether buf at `from` holds info's name and then '=' before `end`: what the scan would read there, as the name
 * has no byte the scan stops at (' ' and '=' end a name it reads; 0x1d, which only the ENRICHED part allows in
 * one, is excluded by info.scanLength).
 */
/**
 * The JSON of a cached value as logged (its text from bytes that are UTF-8: `lost` undefined), written under raw
 * when its reading differs (readValue): copyString escaped the same bytes again for every field, ~250
 * instructions a uid, an SELinux context or an arch (issue 23, Round 40). Undefined when raw is not written so.
 */
function rawJson(value: string, same: boolean, lost: string | undefined): ConstJson | undefined {
  return same || lost !== undefined ? undefined : constJson(jsonString(value));
}

function namedAt(info: FieldInfo, buf: Buffer, from: number, end: number): boolean {
  const n = info.scanLength;
  return n >= 0 && from + n < end && buf[from + n] === EQUALS && bytesAt(info.bytes, info.head, info.mid, buf, from);
}

/**
 * Writes the event's head if its line is read (see EventJson): the closure holds only what that needs, and is
 * made here, so that finish() allocates no context for the events whose head it writes at once.
 */
function headWriter(event: AuditEvent, buffers: EventBuffers, time: IsoTime, timeMs: number): (head: JsonBytes) => void {
  return (head) => writeHead(head, event, buffers, time, timeMs);
}

/** The line handed over with an event settled alone (readsJson): none, so reading it throws. */
const NO_LINE = new EventJson(undefined, undefined);

/** Event objects kept for reuse (reuseEvents): more than are open at once on the logs measured (~220). */
const EVENT_POOL = 512;

/**
 * An event object done with, as begin() makes a new one: every field the interpreter sets is cleared. Its `types`
 * is a new array when records add to it (`types`; not with lineAlone, nor textAtEnd, which sets it when the event
 * completes), and its `records` when it was given some.
 */
function resetEvent(event: AuditEvent, stamp: string, h: Header, time: string, types: boolean, records: boolean): AuditEvent {
  event.id = stamp;
  event.node = h.node === undefined ? undefined : nodeText(h.node);
  event.nodeRaw = h.node === undefined ? undefined : nodeRaw(h.node);
  event.time = time;
  event.serial = h.serial;
  event.part = undefined;
  if (types) event.types = [];
  event.syscall = event.arch = event.success = event.exit = undefined;
  event.pid = event.ppid = event.auid = event.uid = event.names = event.ses = undefined;
  event.comm = event.exe = event.keys = event.argc = event.argv = event.argvRaw = undefined;
  event.proctitle = event.proctitleRaw = event.cwd = event.sockaddr = event.unparsed = undefined;
  // an empty one kept: with no record objects (a pooled event's) it stays empty, and a new one per event lived
  // through scavenges with it on 16 hosts interleaved (issue 23)
  if (records && event.records.length > 0) event.records = [];
  return event;
}

/**
 * The arguments written as JSON so far (argvText off) made the event's argv text, for the rules that need it:
 * from here on this event's arguments are read as text. Parsing back what copyString wrote from UTF-8 gives the
 * text argAt would have made.
 */
function argvAsText(open: OpenEvent): string[] {
  const json = open.buffers;
  const argv: string[] = json.argvCount > 0 ? JSON.parse(`[${json.argv.buf.toString("utf8", 0, json.argv.length)}]`) : [];
  json.argv.reset();
  json.argvCount = -1;
  open.event.argv = argv;
  return argv;
}
