import { ascii } from "../ascii";
import { decodeHex as decodeHexLength, decodeHexString, hexBytes } from "../decode";
import type { AuditEvent, OutputRecord } from "../event";
import type { EventJson } from "../event-json";
import { type FieldInfo, fieldInfo, Kind } from "../fields";
import type { JsonBytes } from "../json";
import { interpreted, RecordFlag, type RecordTable } from "../record-table";
import { isNullishAt } from "../values";
import { slotCount } from "./compile";
import { Doc, EventShared, hasSpecial, isArgumentField, isExecveField, MISSING, RecordDoc, special, specialNames } from "./document";
import { commandLine } from "./pattern";

/**
 * What this file uses of the bin's modules, read once: detect's code is a chunk loaded lazily
 * (scripts/build.mjs), whose imports from the bin are two getter calls at every use (the chunk's
 * CommonJS copy of the bin's module, then the bin's own export); read per field that was ~5% of detect's
 * CPU on (a).
 */
const FALLBACK = RecordFlag.Fallback;
const NO_FIELDS = RecordFlag.NoFields;
const NO_JSON = RecordFlag.NoJson;
const KEY = Kind.Key;
const ENCODED = Kind.Encoded;
const isInterpreted = interpreted;
const isNullish = isNullishAt;
const infoOf = fieldInfo;
const decodeHex = decodeHexString;

const DQUOTE = 34;
const COMMA = 44;
const BACKSLASH = 92;

let nextEventId = 1;

/**
 * Whether b[from, to) holds `key` (whose first byte is a quote): searched here, as Buffer.indexOf has no end and
 * would read on through the rest of the records' buffer.
 */
function holds(b: Buffer, from: number, to: number, key: Buffer): boolean {
  const last = to - key.length;
  outer: for (let i = from; i <= last; i++) {
    if (b[i] !== DQUOTE) continue;
    for (let j = 1; j < key.length; j++) if (b[i + j] !== key[j]) continue outer;
    return true;
  }
  return false;
}

function pushValue(out: string[], v: string | readonly string[] | undefined): void {
  if (typeof v === "string") out.push(v);
  else if (v !== undefined) for (const x of v) out.push(x);
}

/** A field name that starts lower-case and is written in JSON as it is (TableEvent.fallbackOwn). */
const PLAIN_NAME = /^[a-z][A-Za-z0-9_.-]*$/;
/**
 * Per name asked of a record read from its JSON: `"name":` as bytes, the name's hash (keyHash) and whether it is
 * a PLAIN_NAME (tested once, not per record); bounded, as names come from rules and a rule set may be large.
 */
const keyBytes = new Map<string, { key: Buffer; hash: number; plain: boolean }>();
const COLON = 58;

/** A name's hash: of its characters, as keyHashes hashes a JSON member name's bytes (the same for a plain name). */
function keyHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) | 0;
  return h;
}

/**
 * The hashes (keyHash) of every name the JSON b[from, to) has a member of, at any depth (a string followed by a
 * colon), appended to `out` from `at`; returns where they end (out may be grown: read it from `into.hashes`).
 * One pass for a record read from its JSON, which the rules then ask for ~16 names it mostly lacks (a1 … a7,
 * key, for itself and as the event's). A 32-bit mask of them (det19) let through ~40% of the names an AVC
 * record lacks (its ~17 names set half the bits), each then searched for through its JSON: a fifth of detect's
 * CPU on an AVC log. A hash compared whole lets through only a name whose hash is a member's.
 */
function keyHashes(b: Buffer, from: number, to: number, into: { hashes: Int32Array }, at: number): number {
  let n = at;
  let i = from;
  while (i < to) {
    if (b[i] !== DQUOTE) {
      i++;
      continue;
    }
    let h = 0;
    let j = i + 1;
    for (; j < to; j++) {
      const c = b[j]!;
      if (c === DQUOTE) break;
      h = (Math.imul(h, 31) + c) | 0;
      // an escaped character (a quote among them) is part of the string
      if (c === BACKSLASH && j + 1 < to) h = (Math.imul(h, 31) + b[++j]!) | 0;
    }
    if (j + 1 < to && b[j + 1] === COLON) {
      if (n === into.hashes.length) into.hashes = growInts(into.hashes, n * 2);
      into.hashes[n++] = h;
    }
    i = j + 1;
  }
  return n;
}
function growInts(a: Int32Array, length: number): Int32Array {
  const grown = new Int32Array(length);
  grown.set(a);
  return grown;
}

const NO_PLACES = new Int32Array(0);
const NO_BYTES = Buffer.alloc(0);

/**
 * b[from, to) as a one-byte string (the callers checked the bytes are ASCII): Buffer's latin1Slice without
 * toString's argument handling, which cost as much as the copy for these short values.
 */
function latin1(b: Buffer, from: number, to: number): string {
  return (b as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(from, to);
}

/** Where a record has a field (TableEvent.resolve): codes, 0 meaning not worked out yet. */
enum Place {
  Type = 1,
  /** Not among its tokens, and a lower-case name: RecordDoc's special names (argv, proctitle, address). */
  Special,
  None,
  /** Plus the token's index in the record: a body field, an ENRICHED one, the field an upper-case name interprets. */
  Body = 16,
  Enriched = Body + (1 << 24),
  Upper = Enriched + (1 << 24),
}

/** Per record layout (RecordTable.layout), the Place of each field slot; bounded (corrupt input, endless layouts). */
export class Places {
  private readonly byLayout = new Map<number, Int32Array>();
  private readonly byName = new Map<number, Map<string, number>>();

  /**
   * The places of a layout by field name, for names asked without a slot (keywords read every name of an
   * EXECVE record twice: names(), then own()); bounded per layout, as argv's names have no bound.
   */
  named(layout: number): Map<string, number> | undefined {
    if (layout === 0) return undefined;
    let names = this.byName.get(layout);
    if (names === undefined || names.size >= 1024) {
      if (this.byName.size >= 4096) this.byName.clear();
      names = new Map();
      this.byName.set(layout, names);
    }
    return names;
  }

  of(layout: number): Int32Array | undefined {
    if (layout === 0) return undefined;
    let where = this.byLayout.get(layout);
    if (where === undefined) {
      if (this.byLayout.size >= 4096) this.byLayout.clear();
      where = new Int32Array(slotCount());
      this.byLayout.set(layout, where);
    }
    return where;
  }
}

/**
 * One event's records as Sigma reads them, from the interpreter's RecordTable (src/record-table.ts): values
 * made strings from the logged bytes when a rule asks, no JSON parsed back. It answers as RecordDoc does on
 * the record's JSON (held to it by test/sigma-table.test.ts on every known log and random events), and
 * leaves to a RecordDoc, made from that record's JSON when first needed, what it does not describe: records
 * read on the text path, repeated names, ENRICHED braces, values with bytes beyond ASCII (U+FFFD, and the
 * hex kept in `raw`). Records are numbers here: the engine's gate reads a record's fields without a
 * document, made (TableDoc) only for a record whose rules are worth testing.
 */
/** The event of a view released (TableEvent.release): none, until the next reset. */
const RELEASED: AuditEvent = { id: null, time: null, serial: null, types: [], records: [] };

export class TableEvent {
  /**
   * The records that have a document, records[0, count): all but the EXECVE records after the first (they fold
   * into it). Overwritten per event, never emptied: an array set to length 0 lets go of its backing store and the
   * next push makes one again (10 MB of detect's garbage per 40 MiB of the corpus, issue 24).
   */
  records = new Int32Array(16);
  count = 0;
  /** Per record, its layout's places (Places.of), looked up once. */
  private readonly wheres: (Int32Array | undefined)[] = [];
  /** Unique per event (the gate keeps what it worked out for one event by it, and so does eventValue). */
  id = 0;
  /** What the event's documents share (made with the first document). */
  private shared: EventShared | undefined;
  private objects: (RecordDoc | undefined)[] | undefined;
  /** Documents made for keywords in the gate, kept for the full tests. */
  private docs: (TableDoc | undefined)[] | undefined;
  /** eventValue's answers by slot, each valid for the event whose id is beside it (no array made per event). */
  private readonly slotValues: (string | readonly string[] | typeof MISSING | undefined)[] = [];
  private slotEvents = new Float64Array(0);
  private commandLine: string | undefined;
  event!: AuditEvent;
  table!: RecordTable;
  private json!: JsonBytes;
  private line: EventJson | undefined;

  /**
   * `line`, the event's EventJson, is needed when the interpreter only counted some records' JSON
   * (RecordFlag.NoJson): reading one of them from its JSON reads the event interpreted again (EventJson.full).
   */
  constructor(
    event: AuditEvent,
    table: RecordTable,
    json: JsonBytes,
    private readonly places: Places,
    line?: EventJson,
  ) {
    this.reset(event, table, json, line);
  }

  /**
   * The same view for another event: the engine reads every event through one, so its arrays are made once,
   * not per event (a tenth of detect's garbage on the corpus). Nothing read of the last event is kept.
   */
  reset(event: AuditEvent, table: RecordTable, json: JsonBytes, line?: EventJson): void {
    this.id = nextEventId++;
    for (let r = 0; r < this.wheres.length; r++) this.wheres[r] = undefined;
    this.count = 0;
    if (table.count > this.records.length) this.records = new Int32Array(Math.max(table.count, 2 * this.records.length));
    this.shared = undefined;
    this.objects = undefined;
    this.docs = undefined;
    this.commandLine = undefined;
    this.event = event;
    this.table = table;
    this.json = json;
    this.line = line;
    let execve = false;
    for (let r = 0; r < table.count; r++) {
      if (table.types[r] === "EXECVE") {
        if (execve) continue;
        execve = true;
      }
      this.records[this.count++] = r;
    }
  }

  /**
   * Lets go of what the view read of its event once the engine is done with it: the view outlives the event
   * (reused for the next), and an exec's argv, its command line and documents held while the next event is
   * parsed were promoted to the old generation by every scavenge meanwhile (42 MB per 30 MiB of 600-argument
   * execs, against the parse's 7).
   */
  release(): void {
    this.shared = undefined;
    this.objects = undefined;
    this.docs = undefined;
    this.commandLine = undefined;
    this.event = RELEASED;
    this.line = undefined;
    this.slotValues.fill(undefined);
    // what eventValue kept is gone: no answer is stamped with a live id
    this.id = nextEventId++;
  }

  /** A field's value for record r as Doc.at gives it: the record's own, else the event's first (kept by slot). */
  value(r: number, slot: number, field: string): string | readonly string[] | undefined {
    const own = this.ownAt(r, slot, field);
    if (own !== undefined) return own;
    return this.eventValue(slot, field);
  }

  /** The value of the first of the event's records that has the field (what a record lacking it sees), kept by slot. */
  eventValue(slot: number, field: string): string | readonly string[] | undefined {
    if (slot >= this.slotEvents.length) {
      const grown = new Float64Array(Math.max(slot + 1, slotCount()));
      grown.set(this.slotEvents);
      this.slotEvents = grown;
    }
    let v: string | readonly string[] | typeof MISSING | undefined;
    if (this.slotEvents[slot] === this.id) v = this.slotValues[slot];
    else {
      v = this.firstHaving(field, slot) ?? MISSING;
      this.slotValues[slot] = v;
      this.slotEvents[slot] = this.id;
    }
    return v === MISSING ? undefined : v;
  }

  /** The first of the event's records that has the field: its value (Doc.firstHaving; none for an argument field). */
  firstHaving(field: string, slot = -1): string | readonly string[] | undefined {
    if (isArgumentField(field)) return undefined;
    for (let i = 0; i < this.count; i++) {
      const r = this.records[i]!;
      const v = slot < 0 ? this.own(r, field) : this.ownAt(r, slot, field);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Record r's own values, for keywords (Doc.values): the gate's and its document's, made once. */
  values(r: number): readonly string[] {
    this.docs ??= [];
    let doc = this.docs[r];
    if (doc === undefined) {
      doc = this.doc(r);
      this.docs[r] = doc;
    }
    return doc.values();
  }

  /** The document of record r (one of `records`), for a rule's full test. */
  doc(r: number): TableDoc {
    const made = this.docs?.[r];
    if (made !== undefined) return made;
    this.shared ??= new EventShared();
    return new TableDoc(this, r, this.shared, this.table.types[r] === "EXECVE" ? this.argvText() : undefined);
  }

  /** The event's argv joined by spaces: what keywords search in an EXECVE record besides its values (Doc's text). */
  argvText(): string | undefined {
    if (this.commandLine === undefined && this.event.argv !== undefined) this.commandLine = commandLine(this.event.argv);
    return this.commandLine;
  }

  /**
   * The keyword values (values()) of EXECVE record r that are not arguments: those of its logged names (argc
   * …), each name once. Its other values are the arguments and argvText(), each argument a substring of that
   * text. Undefined for any other record, or one read from its JSON.
   */
  execveOthers(r: number): readonly string[] | undefined {
    const table = this.table;
    const flags = table.flags(r);
    if (table.types[r] !== "EXECVE" || (flags & FALLBACK) !== 0) return undefined;
    const out = this.others;
    out.length = 0;
    // most EXECVE records log argc and arguments only: their names are walked here, without the list and
    // Set of loggedNames (a rsync's 60 arguments were 3 µs of its record's matching); an ENRICHED part or an
    // interpreted field takes the general way
    const first = table.firstToken(r);
    const body = (flags & NO_FIELDS) !== 0 ? 0 : table.bodyTokens(r);
    let general = table.enrichedTokens(r) > 0;
    for (let k = first; k < first + body && !general; k++) {
      const info = table.infos[k]!;
      if (!isExecveField(info.name)) continue;
      if (isInterpreted(info.kind) || this.find(info.name, first, k - first) >= 0) general = true;
      else pushValue(out, this.own(r, info.name));
    }
    if (!general) return out;
    out.length = 0;
    for (const name of new Set(this.loggedNames(r))) if (name !== "type") pushValue(out, this.own(r, name));
    return out;
  }

  /** execveOthers' list, reused (read before the next call). */
  private readonly others: string[] = [];

  /** Record r's own value of `field` (RecordDoc.own). */
  own(r: number, field: string): string | readonly string[] | undefined {
    if ((this.table.flags(r) & FALLBACK) !== 0) return this.fallbackOwn(r, field);
    return this.valueOf(r, this.placeNamed(r, field), field);
  }

  /** The Place of a field in record r (not a fallback record) by its name, worked out once per layout. */
  private placeNamed(r: number, field: string): number {
    const names = this.places.named(this.table.layout(r));
    if (names === undefined) return this.resolve(r, field);
    let code = names.get(field);
    if (code === undefined) {
      code = this.resolve(r, field);
      names.set(field, code);
    }
    return code;
  }

  /** own() for a field with a slot: where the field is in record r is worked out once per layout. */
  ownAt(r: number, slot: number, field: string): string | readonly string[] | undefined {
    if ((this.table.flags(r) & FALLBACK) !== 0) return this.fallbackOwn(r, field);
    return this.valueOf(r, this.placeOf(r, slot, field), field);
  }

  /** The buffer, and start and end in it, of the value plainAt found. */
  spanBuf: Buffer = NO_BYTES;
  spanFrom = 0;
  spanTo = 0;

  /**
   * Whether record r's own value of a field, at `code` (placeOf: where its layout has the field, worked out by
   * the gate once per layout), is ASCII bytes that are its text as they are, which the gate can look at
   * before a string is made of them: then spanBuf, spanFrom and spanTo hold where. Those are the logged bytes
   * (quotes removed) or those a hex-encoded value stands for, or for an interpretation (SYSCALL, UID …) its JSON
   * string's when it has no escapes. False for any other value (the keys, hex of bytes beyond ASCII, argv …), a
   * record read from its JSON, a field it lacks.
   */
  plainAt(r: number, code: number): boolean {
    const table = this.table;
    if (code < Place.Body || (table.flags(r) & FALLBACK) !== 0) return false;
    if (code >= Place.Upper) return table.types[r] !== "EXECVE" && this.plainMember(table.firstToken(r) + code - Place.Upper);
    const b = table.bytes.buf;
    this.spanBuf = b;
    if (code >= Place.Enriched) {
      const e = table.firstToken(r) + code - Place.Enriched;
      let from = table.valueStart(e);
      let to = table.valueEnd(e);
      if (!ascii(b, from, to)) return false;
      if (to - from >= 2 && b[from] === DQUOTE) {
        from++;
        to--;
      }
      return this.span(from, to);
    }
    const k = table.firstToken(r) + code - Place.Body;
    const info = table.infos[k]!;
    if (info.kind === KEY && this.event.keys !== undefined) return false;
    const from = table.valueStart(k);
    const to = table.valueEnd(k);
    if (!ascii(b, from, to)) return false;
    if (table.types[r] === "EXECVE") return this.span(from, to);
    if (to - from >= 2 && b[from] === DQUOTE && b[to - 1] === DQUOTE) return this.span(from + 1, to - 1);
    if (info.kind === ENCODED && !isNullish(b, from, to)) return this.decodedSpan(b, from, to);
    return this.span(from, to);
  }

  /**
   * A hex-encoded value (a PATH name with a space) whose bytes are ASCII: those bytes, decoded into the
   * decoder's scratch buffer (valid until its next use), are its text (fieldValue decodes them as UTF-8), so
   * the gate compares them in place instead of a string decoded and lower-cased. Not hex, or a byte beyond
   * ASCII: false (the value is then read as a string).
   */
  private decodedSpan(b: Buffer, from: number, to: number): boolean {
    const n = decodeHexLength(b, from, to);
    const bytes = hexBytes();
    if (n < 0 || !ascii(bytes, 0, n)) return false;
    this.spanBuf = bytes;
    return this.span(0, n);
  }

  private span(from: number, to: number): true {
    this.spanFrom = from;
    this.spanTo = to;
    return true;
  }

  /** The Place of a field with a slot in record r (not a fallback record), worked out once per layout. */
  placeOf(r: number, slot: number, field: string): number {
    let where = this.wheres[r];
    if (where === undefined) {
      where = this.places.of(this.table.layout(r)) ?? NO_PLACES;
      this.wheres[r] = where;
    }
    if (slot >= where.length) return this.resolve(r, field);
    let code = where[slot]!;
    if (code === 0) {
      code = this.resolve(r, field);
      where[slot] = code;
    }
    return code;
  }

  /**
   * Whether record r may have its own value of the field (slot): false when the field is none of its tokens and
   * no name its type derives (argv, proctitle, address parts), so it sees the event's. The same for the
   * record's whole layout; undefined for a record read from its JSON (no layout).
   */
  mayOwn(r: number, slot: number, field: string): boolean | undefined {
    const table = this.table;
    if ((table.flags(r) & FALLBACK) !== 0 || table.layout(r) === 0) return undefined;
    const code = this.placeOf(r, slot, field);
    if (code === Place.None) return false;
    return code !== Place.Special || hasSpecial(table.types[r]!, field);
  }

  /** Where record r has `field` (a Place code), from its tokens' names alone: the same for its whole layout. */
  private resolve(r: number, field: string): number {
    const table = this.table;
    const flags = table.flags(r);
    const type = table.types[r]!;
    if (field === "type") return Place.Type;
    const first = table.firstToken(r);
    const body = (flags & NO_FIELDS) !== 0 ? 0 : table.bodyTokens(r);
    const execve = type === "EXECVE";
    const k = execve && !isExecveField(field) ? -1 : this.find(field, first, body);
    if (k >= 0) return Place.Body + k - first;
    const e = this.find(field, first + table.bodyTokens(r), table.enrichedTokens(r));
    if (e >= 0) return Place.Enriched + e - first;
    const c = field.charCodeAt(0);
    if (c < 65 || c > 90) return Place.Special;
    // SYSCALL, UID …: the interpretation of the lower-case field (RecordDoc.derived)
    const lower = field.toLowerCase();
    const l = execve && !isExecveField(lower) ? -1 : this.find(lower, first, body);
    if (l < 0) return Place.None;
    const kind = table.infos[l]!.kind;
    return !isInterpreted(kind) ? Place.None : Place.Upper + l - first;
  }

  /** The value at a Place of record r (not a fallback record). */
  private valueOf(r: number, code: number, field: string): string | readonly string[] | undefined {
    const table = this.table;
    const type = table.types[r]!;
    if (code >= Place.Upper) {
      const l = table.firstToken(r) + code - Place.Upper;
      if (type !== "EXECVE") return this.memberValue(l, table.infos[l]!);
      const b = table.bytes.buf;
      const from = table.valueStart(l);
      const to = table.valueEnd(l);
      return ascii(b, from, to) ? latin1(b, from, to) : this.recordDoc(r).own(field);
    }
    if (code >= Place.Enriched) {
      const e = table.firstToken(r) + code - Place.Enriched;
      let from = table.valueStart(e);
      let to = table.valueEnd(e);
      const b = table.bytes.buf;
      if (!ascii(b, from, to)) return this.recordDoc(r).own(field);
      // as the interpreter writes an ENRICHED value: a leading quote and the last character dropped
      if (to - from >= 2 && b[from] === DQUOTE) {
        from++;
        to--;
      }
      return latin1(b, from, to);
    }
    if (code >= Place.Body) return this.fieldValue(r, table.firstToken(r) + code - Place.Body, field, type === "EXECVE");
    if (code === Place.Type) return type;
    if (code === Place.Special) return special(type, this.event, field, undefined);
    return undefined;
  }

  /** The names record r has a value for (RecordDoc.names). */
  names(r: number): string[] {
    if ((this.table.flags(r) & FALLBACK) !== 0) return this.recordDoc(r).names();
    const names = this.loggedNames(r);
    return [...new Set(specialNames(this.table.types[r]!, this.event, names))].filter((n) => this.own(r, n) !== undefined);
  }

  /** names() before the names special() derives (argv's, proctitle, address parts), for a record not read from its JSON. */
  private loggedNames(r: number): string[] {
    const table = this.table;
    const flags = table.flags(r);
    const type = table.types[r]!;
    const first = table.firstToken(r);
    const body = (flags & NO_FIELDS) !== 0 ? 0 : table.bodyTokens(r);
    const names = ["type"];
    const upper: string[] = [];
    for (let k = first; k < first + body; k++) {
      const info = table.infos[k]!;
      if (type === "EXECVE" && !isExecveField(info.name)) continue;
      names.push(info.name);
      if (isInterpreted(info.kind)) upper.push(info.name.toUpperCase());
    }
    names.push(...upper);
    const enriched = first + table.bodyTokens(r);
    for (let k = enriched; k < enriched + table.enrichedTokens(r); k++) names.push(table.infos[k]!.name);
    return names;
  }

  /**
   * RecordDoc.own for a record read from its JSON, which is parsed only when the field may be there: the rules
   * ask every record for the fields of the rules that name no type (a1 … a7, key), and most records read on
   * the text path (USER_*, DAEMON_*, AVC …) have none of them. A lower-case name whose JSON is itself (letters,
   * digits, `_`, `-`, `.`) is a member of the record's fields or ENRICHED part only if `"name":` is in the
   * record's JSON; one the record type derives (argv's, proctitle, address parts) is not a member, so those,
   * upper-case names (derived from the lower-case field) and records whose JSON was only counted are parsed.
   */
  private fallbackOwn(r: number, field: string): string | readonly string[] | undefined {
    const table = this.table;
    if (this.objects?.[r] === undefined && (table.flags(r) & NO_JSON) === 0 && field !== "type") {
      let key = keyBytes.get(field);
      if (key === undefined) {
        if (keyBytes.size >= 1024) keyBytes.clear();
        key = { key: Buffer.from(`"${field}":`, "latin1"), hash: keyHash(field), plain: PLAIN_NAME.test(field) };
        keyBytes.set(field, key);
      }
      if (
        key.plain &&
        !hasSpecial(table.types[r]!, field) &&
        (!this.hasKeyHash(r, key.hash) || !holds(this.json.buf, table.jsonStart(r), table.jsonEnd(r), key.key))
      )
        return undefined;
    }
    return this.recordDoc(r).own(field);
  }

  /** Whether record r's JSON has a member name of hash h (keyHashes, worked out once per event and record). */
  private hasKeyHash(r: number, h: number): boolean {
    if (r >= this.hashEvents.length) {
      const grown = new Float64Array(Math.max(r + 1, this.hashEvents.length * 2));
      grown.set(this.hashEvents);
      this.hashEvents = grown;
      this.hashFrom = growInts(this.hashFrom, grown.length);
      this.hashTo = growInts(this.hashTo, grown.length);
    }
    if (this.hashEvents[r] !== this.id) {
      // the pool holds one event's hashes: the first record read in an event starts it again
      if (this.poolEvent !== this.id) {
        this.poolEvent = this.id;
        this.poolUsed = 0;
        // a record of a MiB of names grew it: not kept for every event after
        if (this.pool.hashes.length > 1 << 16) this.pool.hashes = new Int32Array(256);
      }
      this.hashEvents[r] = this.id;
      this.hashFrom[r] = this.poolUsed;
      this.poolUsed = keyHashes(this.json.buf, this.table.jsonStart(r), this.table.jsonEnd(r), this.pool, this.poolUsed);
      this.hashTo[r] = this.poolUsed;
    }
    const hashes = this.pool.hashes;
    for (let i = this.hashFrom[r]!, end = this.hashTo[r]!; i < end; i++) if (hashes[i] === h) return true;
    return false;
  }

  /** hasKeyHash's hashes: record r's are pool.hashes[hashFrom[r], hashTo[r]), valid for the event hashEvents[r] names. */
  private readonly pool: { hashes: Int32Array } = { hashes: new Int32Array(256) };
  private poolUsed = 0;
  private poolEvent = 0;
  private hashEvents = new Float64Array(0);
  private hashFrom: Int32Array = new Int32Array(0);
  private hashTo: Int32Array = new Int32Array(0);

  /** Record r as an object, from its JSON: RecordDoc's answers for what the table does not describe. */
  private recordDoc(r: number): RecordDoc {
    this.objects ??= [];
    let doc = this.objects[r];
    if (doc === undefined) {
      if ((this.table.flags(r) & NO_JSON) !== 0) this.rewritten();
      const text = this.json.buf.toString("utf8", this.table.jsonStart(r), this.table.jsonEnd(r));
      doc = new RecordDoc(JSON.parse(text) as OutputRecord, this.event, [], new EventShared(), undefined);
      this.objects[r] = doc;
    }
    return doc;
  }

  /**
   * From now on the event interpreted again with every record's JSON written: the same records, tokens and
   * layouts (the same code read the same bytes), spans that mean something.
   */
  private rewritten(): void {
    if (this.line === undefined) throw new Error("TableEvent: a record's JSON was only counted, and no EventJson was given to rewrite it");
    const full = this.line.full();
    this.table = full.recordTable()!;
    this.json = full.recordsJson()!;
  }

  /** The first token from `from` on (of count) named `name`, or -1. */
  private find(name: string, from: number, count: number): number {
    if (count === 0) return -1;
    const infos = this.table.infos;
    const info = infoOf(name);
    // a remembered name is one object wherever it was read: compared as such, not as text
    if (info.cached) {
      for (let k = from; k < from + count; k++) if (infos[k] === info) return k;
      return -1;
    }
    for (let k = from; k < from + count; k++) if (infos[k]!.name === name) return k;
    return -1;
  }

  /**
   * Body token k's value as RecordDoc reads the record: the keys for `key`, the decoded text of a hex-encoded
   * field, else the value as logged (quotes removed: `raw` holds it wherever the interpretation differs).
   */
  private fieldValue(r: number, k: number, field: string, execve: boolean): string | readonly string[] | undefined {
    const table = this.table;
    const info = table.infos[k]!;
    if (info.kind === KEY && this.event.keys !== undefined) return this.event.keys;
    const b = table.bytes.buf;
    const from = table.valueStart(k);
    const to = table.valueEnd(k);
    if (!ascii(b, from, to)) return this.recordDoc(r).own(field);
    // EXECVE's fields other than argv are written as logged, quotes and all
    if (execve) return latin1(b, from, to);
    if (to - from >= 2 && b[from] === DQUOTE && b[to - 1] === DQUOTE) return latin1(b, from + 1, to - 1);
    if (info.kind === ENCODED && !isNullish(b, from, to)) {
      const logged = latin1(b, from, to);
      return decodeHex(logged) ?? logged;
    }
    return latin1(b, from, to);
  }

  /** Whether body token k's member is a JSON string without escapes or bytes beyond ASCII: its span then. */
  private plainMember(k: number): boolean {
    const b = this.json.buf;
    const end = this.table.memberEnd(k);
    const start = this.table.memberStart(k);
    const info = this.table.infos[k]!;
    const from = start + (b[start] === COMMA ? info.nextKey.length : info.key.length);
    if (b[from] !== DQUOTE || end - from < 2) return false;
    for (let i = from + 1; i < end - 1; i++) {
      const c = b[i]!;
      if (c === BACKSLASH || c >= 128) return false;
    }
    this.spanBuf = b;
    this.spanFrom = from + 1;
    this.spanTo = end - 1;
    return true;
  }

  /** Body token k's interpreted value from the JSON the interpreter wrote for it, when a string. */
  private memberValue(k: number, info: FieldInfo): string | undefined {
    const b = this.json.buf;
    const end = this.table.memberEnd(k);
    const start = this.table.memberStart(k);
    const from = start + (b[start] === COMMA ? info.nextKey.length : info.key.length);
    if (b[from] === DQUOTE) {
      let plain = true;
      for (let i = from + 1; i < end - 1; i++) {
        const c = b[i]!;
        if (c === BACKSLASH || c >= 128) {
          plain = false;
          break;
        }
      }
      if (plain) return latin1(b, from + 1, end - 1);
    }
    const v: unknown = JSON.parse(b.toString("utf8", from, end));
    return typeof v === "string" ? v : undefined;
  }
}

/** A record's document read through its TableEvent. */
export class TableDoc extends Doc {
  readonly type: string;

  constructor(
    private readonly view: TableEvent,
    /** The record (its number in the view's table). */
    readonly r: number,
    shared: EventShared,
    text: string | undefined,
  ) {
    super(view.event, [], shared, text);
    this.type = view.table.types[r]!;
  }

  /** Field values by slot, read once. */
  private readonly read: (string | readonly string[] | typeof MISSING | undefined)[] = [];

  override at(slot: number, field: string): string | readonly string[] | undefined {
    let v = this.read[slot];
    if (v === undefined) {
      v = this.view.value(this.r, slot, field) ?? MISSING;
      this.read[slot] = v;
    }
    return v === MISSING ? undefined : v;
  }

  own(field: string): string | readonly string[] | undefined {
    return this.view.own(this.r, field);
  }

  /** Doc.searchList from the record's tokens (TableEvent.execveOthers), without a name made per argument. */
  protected override searchList(text: string): readonly string[] {
    const others = this.view.execveOthers(this.r);
    return others === undefined ? super.searchList(text) : [...others, text];
  }

  names(): string[] {
    return this.view.names(this.r);
  }

  protected override firstHaving(field: string): string | readonly string[] | undefined {
    return this.view.firstHaving(field);
  }
}

/** The documents of an event read from its table, one per record (EXECVE records after the first fold into it). */
export function tableDocs(event: AuditEvent, line: EventJson, places = new Places()): TableDoc[] {
  const view = new TableEvent(event, line.recordTable()!, line.recordsJson()!, places, line);
  return Array.from(view.records.subarray(0, view.count), (r) => view.doc(r));
}
