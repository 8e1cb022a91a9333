import type { FieldValue, OutputRecord } from "./event";
import { startsWith } from "./record";

/**
 * A login record's result from its `res=`: true for `success…`, false for `fail…`, undefined (unknown) for any other
 * value or none. Not `=== "success"`: a damaged or hand-made `res=success)` showed as LOGIN FAILED, and in a login
 * with no session id it, or no res at all, dropped the login from sessions, while `aureport --login` counts it
 * (T27 #5). aureport reads `failed…` as failed and anything else as a success (`unset` when there is none): here
 * `fail…`/`failure` are failed too, and a value that says neither is listed with its result unknown, not a success.
 */
export function loginResult(res: string | undefined): boolean | undefined {
  if (res === undefined) return undefined;
  if (res.startsWith("success")) return true;
  return res.startsWith("fail") ? false : undefined;
}

/**
 * The fields sessions reads of a login, USER_CMD or failed login record, a refused exec's PATH (SessionTracker), and
 * an i386 socketcall's a0, the call it was (connectionOf).
 */
// saddr: a socket call's SOCKADDR that could not be read, listed with its value as logged (connectionOf, T57 F5), and
// the hex of one whose unix path is not UTF-8 (T57 F7)
const WANTED = ["addr", "hostname", "terminal", "exe", "res", "acct", "cmd", "id", "name", "a0", "saddr"].map((name) => ({
  name,
  bytes: Buffer.from(name),
}));

const NAMED_FROM = ["addr", "hostname"] as const;
const TYPE_OPEN = Buffer.from('{"type":"');
const RAW = Buffer.from("raw");
const UNPARSED = Buffer.from("unparsed");
const FIELDS_OPEN = Buffer.from(',"fields":{');

/**
 * An event's records as sessions reads them: each record's type and, of its fields, only those above, read from
 * the records' JSON bytes (as the interpreter writes them: `{"type":"…","fields":{…},…}` joined by commas, no
 * space) without making the rest. JSON.parse of each login event's records made every field, `raw` and `text` as
 * objects and strings, and the records' text first: ~12 MB allocated per 30 MiB of the second tester's interleaved
 * log (~4 MB this way), at ~4.5 µs an event (README sessions, round 20). Not a JSON reader: undefined when the bytes are not that shape,
 * and the caller parses them whole. A value with an escape or a byte past ASCII is read by JSON.parse alone.
 */
export function loginRecords(buf: Uint8Array, end: number): OutputRecord[] | undefined {
  const records: OutputRecord[] = [];
  let i = 0;
  while (i < end) {
    if (!startsWith(buf, i, end, TYPE_OPEN)) return undefined;
    i += TYPE_OPEN.length;
    const typeEnd = plainEnd(buf, i, end);
    if (typeEnd < 0) return undefined;
    const type = recentText(buf, i, typeEnd);
    i = typeEnd + 1;
    if (!startsWith(buf, i, end, FIELDS_OPEN)) return undefined;
    i += FIELDS_OPEN.length;
    const fields: Record<string, FieldValue> = {};
    i = members(buf, i, end, fields);
    // the record's own members after its fields (raw, text …), skipped but for raw's WANTED ones (a cmd= as logged:
    // its exact bytes when they are not UTF-8, T24 #5; likewise addr= and hostname=)
    if (i < 0 || i >= end) return undefined;
    const raw: Record<string, FieldValue> = {};
    const marks = { unparsed: false };
    if (buf[i] === 44) i = members(buf, i + 1, end, undefined, raw, marks);
    else if (buf[i] === 125) i++;
    else return undefined;
    if (i < 0) return undefined;
    const record: OutputRecord = { type, fields };
    // its body not read whole (a line cut mid-write): marked, for readWhole; the text itself is not needed
    if (marks.unparsed) record.unparsed = "";
    if (typeof raw.cmd === "string") record.raw = { cmd: raw.cmd };
    // a SOCKADDR's hex as logged: the bytes of a unix path that is not UTF-8 (connectionOf's addressRaw, T57 F7)
    if (typeof raw.saddr === "string") {
      record.raw ??= {};
      record.raw.saddr = raw.saddr;
    }
    // and an addr= or hostname= whose bytes are not UTF-8 (U+FFFD in its text): its hex, for the session's from (T24 #6)
    for (const name of NAMED_FROM) {
      const value = fields[name];
      if (typeof value === "string" && typeof raw[name] === "string" && value.includes("\uFFFD")) {
        record.raw ??= {};
        record.raw[name] = raw[name];
      }
    }
    records.push(record);
    if (i === end) break;
    if (buf[i] !== 44) return undefined;
    i++;
  }
  return records;
}

/**
 * Reads an object's members from `from` (after its `{`) through its `}`, keeping the WANTED ones' values in `into`
 * (the last of a name given twice, as JSON.parse keeps it), and those of a `raw` member's object in `raw`; the
 * index after the `}`, or -1.
 */
function members(
  buf: Uint8Array,
  from: number,
  end: number,
  into: Record<string, FieldValue> | undefined,
  raw?: Record<string, FieldValue>,
  marks?: { unparsed: boolean },
): number {
  let i = from;
  if (i < end && buf[i] === 125) return i + 1;
  for (;;) {
    if (i >= end || buf[i] !== 34) return -1;
    const keyEnd = plainEnd(buf, i + 1, end);
    if (keyEnd < 0 || keyEnd + 1 >= end || buf[keyEnd + 1] !== 58 /* : */) return -1;
    const value = keyEnd + 2;
    // a string (nearly every value) is read here, noting whether it is plain: read as it lies, without a second pass
    let plain = false;
    let valueEnd: number;
    if (value < end && buf[value] === 34) {
      plain = true;
      let j = value + 1;
      for (; j < end; j++) {
        const c = buf[j]!;
        if (c === 34) break;
        if (c === 92) {
          plain = false;
          j++;
        } else if (c >= 0x80) plain = false;
      }
      valueEnd = j < end ? j + 1 : -1;
    } else valueEnd = skipValue(buf, value, end);
    if (valueEnd < 0) return -1;
    if (into !== undefined) {
      // compared as bytes: a string made of every field's name was most of what this allocated
      const key = wanted(buf, i + 1, keyEnd);
      if (key !== undefined) into[key] = plain ? recentText(buf, value + 1, valueEnd - 1) : valueAt(buf, value, valueEnd);
    } else if (raw !== undefined && buf[keyEnd + 2] === 123 && keyEnd - i - 1 === RAW.length && startsWith(buf, i + 1, keyEnd, RAW)) {
      if (members(buf, keyEnd + 3, valueEnd, raw) !== valueEnd) return -1;
    } else if (marks !== undefined && keyEnd - i - 1 === UNPARSED.length && startsWith(buf, i + 1, keyEnd, UNPARSED)) {
      marks.unparsed = true;
    }
    i = valueEnd;
    if (i >= end) return -1;
    if (buf[i] === 125) return i + 1;
    if (buf[i] !== 44) return -1;
    i++;
  }
}

/**
 * Whether a record's body was read whole: one with `unparsed` (a line cut mid-write, `… addr=19` at the end of a copy
 * taken while auditd wrote) has values that may be cut and none that may be missing, so sessions and report read no
 * login, result or address from it, as aureport counts none (T47 F2: a second, "(open)" login from "19").
 */
export function readWhole(r: OutputRecord): boolean {
  return r.unparsed === undefined;
}

/**
 * WANTED by length, first and last byte (distinct for each): each key of a record is looked up, and a walk of all of
 * WANTED for each was a sixth of reading a login storm's records.
 */
const WANTED_BY_SHAPE = new Map(WANTED.map((w) => [shape(w.bytes, 0, w.bytes.length), w]));
if (WANTED_BY_SHAPE.size !== WANTED.length) throw new Error("sessions-login: two WANTED names share a length, first and last byte");

function shape(buf: Uint8Array, from: number, to: number): number {
  return ((to - from) << 16) | (buf[from]! << 8) | buf[to - 1]!;
}

/** The WANTED name buf[from, to) spells, else undefined. */
function wanted(buf: Uint8Array, from: number, to: number): string | undefined {
  if (to - from < 2) return undefined;
  const w = WANTED_BY_SHAPE.get(shape(buf, from, to));
  return w !== undefined && startsWith(buf, from, to, w.bytes) ? w.name : undefined;
}

function latin1(buf: Uint8Array, from: number, to: number): string {
  return Buffer.prototype.latin1Slice.call(buf, from, to) as string;
}

/** Texts read before, by a hash of their bytes: a login's type, exe, terminal, result and host recur. */
const RECENT = new Array<string | undefined>(512);
const RECENT_MAX = 32;

/** buf[from, to) (ASCII, no escape) as text: one read before when it is still in RECENT, else a new one kept there. */
function recentText(buf: Uint8Array, from: number, to: number): string {
  const n = to - from;
  if (n > RECENT_MAX) return latin1(buf, from, to);
  let h = n;
  for (let j = from; j < to; j++) h = (Math.imul(h, 31) + buf[j]!) | 0;
  const slot = (h ^ (h >>> 9)) & (RECENT.length - 1);
  const known = RECENT[slot];
  if (known !== undefined && known.length === n) {
    let k = 0;
    while (k < n && known.charCodeAt(k) === buf[from + k]) k++;
    if (k === n) return known;
  }
  const text = latin1(buf, from, to);
  RECENT[slot] = text;
  return text;
}

/** The closing quote of a string starting at `from` with neither escape nor byte past ASCII in it, else -1. */
function plainEnd(buf: Uint8Array, from: number, end: number): number {
  for (let j = from; j < end; j++) {
    const c = buf[j]!;
    if (c === 34) return j;
    if (c === 92 || c >= 0x80) return -1;
  }
  return -1;
}

/** The end of the JSON value at `from` (a string, object, array, number or literal), -1 if it does not end. */
function skipValue(buf: Uint8Array, from: number, end: number): number {
  let depth = 0;
  for (let j = from; j < end; j++) {
    const c = buf[j]!;
    if (c === 34) {
      j++;
      while (j < end && buf[j] !== 34) j += buf[j] === 92 ? 2 : 1;
      if (j >= end) return -1;
      if (depth === 0) return j + 1;
    } else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      if (depth === 0) return j;
      if (--depth === 0) return j + 1;
    } else if (c === 44 && depth === 0) return j;
  }
  return depth === 0 ? end : -1;
}

/** The value buf[from, to), no plain string: null (a field logged as "?") as it is, anything else as JSON.parse reads it. */
function valueAt(buf: Uint8Array, from: number, to: number): FieldValue {
  if (to - from === 4 && buf[from] === 110 && buf[from + 1] === 117) return null;
  return JSON.parse(Buffer.prototype.utf8Slice.call(buf, from, to) as string) as FieldValue;
}
