import { isUtf8 } from "node:buffer";
import {
  COLON,
  COMMA,
  DASH,
  DOT,
  DQUOTE,
  EQUALS,
  GREATER_THAN,
  LBRACE,
  LESS_THAN,
  LETTER_T,
  LPAREN,
  RBRACE,
  RPAREN,
  SPACE,
  SQUOTE,
} from "./ascii";
import { ByteNames } from "./byte-names";
import { wordView } from "./byte-words";
import { knownTypeName, recordTypeName } from "./record-types";

/** One audit record (one line), split into its header and raw key=value tokens. */
export interface AuditRecord {
  node: string | undefined;
  /** Record type name; `UNKNOWN[n]` when the number has no name. */
  type: string;
  /** The event id as written: `sec.ms:serial`. */
  stamp: string;
  /** Log time in epoch milliseconds. */
  timeMs: number;
  serial: number;
  /** Field names and their values as written (quotes kept, so hex and quoted strings stay distinguishable). */
  keys: string[];
  values: string[];
  /** Words that are not key=value (free-text bodies such as `avc:  denied  { read } for`). */
  text: string | undefined;
  /** ENRICHED-format fields after the 0x1d separator. */
  enrichedKeys: string[] | undefined;
  enrichedValues: string[] | undefined;
  /** Part of the body that could not be tokenised (e.g. an unterminated quote). */
  unparsed: string | undefined;
  /** When the body is not UTF-8: values[i]'s exact bytes (latin1, one char per byte), so none is lost. */
  rawValues?: string[] | undefined;
}

/** 9999-12-31T23:59:59Z: a later time has no RFC 3339 date-time (a five-digit year), so it is no audit time. */
const MAX_MS = 253_402_300_799_999;
const NODE = Buffer.from("node=");
const TYPE = Buffer.from("type=");
const MSG = Buffer.from("msg=");
const AUDIT = Buffer.from("audit(");
/** Their first four bytes as a little-endian word, for headerWord. */
const NODE_HEAD = NODE.readInt32LE(0);
const TYPE_HEAD = TYPE.readInt32LE(0);
const MSG_HEAD = MSG.readInt32LE(0);
const AUDIT_HEAD = AUDIT.readInt32LE(0);

/** Where one line's audit header ends and what it says, filled by parseHeader (one reused instance). */
export class Header {
  node: string | undefined = undefined;
  type = "";
  /** The stamp `sec.ms:serial` as a byte range of the line. */
  stampStart = 0;
  stampEnd = 0;
  timeMs = 0;
  serial = 0;
  /**
   * The stamp as numbers: seconds, the millisecond digits' value and where '.', ':' and ')' are. Two
   * stamps are the same text exactly when these and the serial are equal (a fixed-width run of digits
   * has one value per text), so records are matched to their event without comparing text.
   */
  sec = 0;
  msDigits = 0;
  shape = 0;
  bodyStart = 0;
}

const TYPE_NAMES = new ByteNames(typeName, 1024);
/**
 * node= names, one string per name: every record of a multi-host log made its own (a tenth of a PATH-heavy log's
 * header time, issue 23), and the grouping's maps hash the same string again each time. Bounded like the types.
 */
const NODE_NAMES = new ByteNames(nodeKey, 1024);

/**
 * A node= name as the grouping's key: its text, or when its bytes are not UTF-8 (two names differing only there
 * read alike) `\uD800<hex of the bytes>\uD800<text>`, which no decoded name can be (a lone surrogate) and which
 * keeps the bytes with the key; nodeName() splits it again. Made once per name (NODE_NAMES), not per line.
 */
function nodeKey(text: string, buf: Buffer, from: number, to: number): string {
  if (!text.includes("\uFFFD") || isUtf8(buf.subarray(from, to))) return text;
  return `\uD800${buf.toString("hex", from, to).toUpperCase()}\uD800${text}`;
}

/** A node key's text (see nodeKey). */
export function nodeText(key: string): string {
  return key.charCodeAt(0) === 0xd800 ? key.slice(key.indexOf("\uD800", 1) + 1) : key;
}

/** The hex of a node key's bytes when they are not UTF-8, else undefined (see nodeKey). */
export function nodeRaw(key: string): string | undefined {
  return key.charCodeAt(0) === 0xd800 ? key.slice(1, key.indexOf("\uD800", 1)) : undefined;
}

/**
 * Reads the header of the line buf[start, end) into `h`; false when it has no audit header at all (the
 * caller keeps the line as `unparsed`). Every scan is bounded by the line: this runs once per input line.
 */
export function parseHeader(buf: Buffer, start: number, end: number, h: Header): boolean {
  let pos = start;
  h.node = undefined;
  // what comes before a line and is no text hid its node= (T34 #2, T35 N3): a UTF-8 byte order mark (a log saved by
  // an editor), a zero-width space, NUL bytes (blocks a crash left allocated but never written before the next
  // boot's first record)
  while (pos < end && (buf[pos] === 0 || buf[pos] === 0xef || buf[pos] === 0xe2)) {
    const skip = invisibleAt(buf, pos, end);
    if (skip === 0) break;
    pos += skip;
  }
  if (headerWord(buf, pos, end, NODE, NODE_HEAD)) {
    const sp = find(buf, SPACE, pos + 5, end);
    if (sp < 0) return false;
    h.node = NODE_NAMES.get(buf, pos + 5, sp);
    pos = sp + 1;
  }
  if (!headerWord(buf, pos, end, TYPE, TYPE_HEAD)) {
    // syslog-wrapped kernel line: "… kernel: [ 12.3] audit: type=1400 audit(…): …"
    const at = findType(buf, pos, end);
    if (at < 0) return false;
    if (h.node === undefined) h.node = syslogNode(buf, pos, at);
    pos = at + 1;
  }
  const typeEnd = find(buf, SPACE, pos + 5, end);
  if (typeEnd < 0) return false;
  h.type = TYPE_NAMES.get(buf, pos + 5, typeEnd);
  pos = typeEnd + 1;
  if (headerWord(buf, pos, end, MSG, MSG_HEAD)) pos += 4;
  if (!headerWord(buf, pos, end, AUDIT, AUDIT_HEAD)) return false;
  const stampStart = pos + 6;
  // one pass over `sec.ms:serial)`, the numbers read as the digits go by (each 1-15 digits, as digits() reads)
  const dot = stampPart(buf, stampStart, end, DOT);
  if (dot < 0) return false;
  const sec = partValue;
  const colon = stampPart(buf, dot + 1, end, COLON);
  if (colon < 0) return false;
  const ms = partValue;
  const close = stampPart(buf, colon + 1, end, RPAREN);
  if (close < 0) return false;
  const serial = partValue;
  // past year 9999 is not a real audit time, and could not be written as a date-time: the line is kept unparsed
  // the kernel's serial is 32 bits: a larger one is no audit stamp (and not a schema-valid serial)
  if (serial > 0xffff_ffff) return false;
  const timeMs = sec * 1000 + (colon - dot - 1 === 3 ? ms : Math.round(ms * 10 ** (3 - (colon - dot - 1))));
  if (timeMs > MAX_MS) return false;
  h.stampStart = stampStart;
  h.stampEnd = close;
  h.timeMs = timeMs;
  h.serial = serial;
  h.sec = sec;
  h.msDigits = ms;
  h.shape = (dot - stampStart) | ((colon - stampStart) << 8) | ((close - stampStart) << 16);
  h.bodyStart = close + 1 < end && buf[close + 1] === COLON ? close + 2 : close + 1;
  return true;
}

/** The record of a parsed header and its body text (everything after the header, decoded). */
export function recordOf(h: Header, stamp: string, body: string): AuditRecord {
  const record: AuditRecord = {
    node: h.node === undefined ? undefined : nodeText(h.node),
    type: h.type,
    stamp,
    timeMs: h.timeMs,
    serial: h.serial,
    keys: [],
    values: [],
    text: undefined,
    enrichedKeys: undefined,
    enrichedValues: undefined,
    unparsed: undefined,
  };
  const gs = body.indexOf("\x1d");
  const bodyEnd = gs < 0 ? body.length : gs;
  const bad = tokenize(body, 0, bodyEnd, record.keys, record.values, record, false);
  if (bad >= 0) record.unparsed = body.slice(bad, bodyEnd);
  if (gs >= 0) {
    record.enrichedKeys = [];
    record.enrichedValues = [];
    tokenize(body, gs + 1, body.length, record.enrichedKeys, record.enrichedValues, undefined, false);
  }
  return record;
}

/**
 * The values of a body that is not UTF-8, read from its latin1 text (one char per byte): the same tokens as
 * the UTF-8 text (every delimiter is ASCII), each holding its exact bytes.
 */
export function rawValuesOf(body: Buffer): string[] {
  const text = body.toString("latin1");
  const gs = text.indexOf("\x1d");
  const keys: string[] = [];
  const values: string[] = [];
  tokenize(text, 0, gs < 0 ? text.length : gs, keys, values, { text: undefined }, false);
  return values;
}

/** Parses one line given as text; undefined when it has no audit header. */
export function parseRecord(line: string): AuditRecord | undefined {
  const buf = Buffer.from(line, "utf8");
  const h = new Header();
  if (!parseHeader(buf, 0, buf.length, h)) return undefined;
  return recordOf(h, buf.toString("latin1", h.stampStart, h.stampEnd), buf.toString("utf8", h.bodyStart));
}

function typeName(raw: string): string {
  const c = raw.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const nr = textDigits(raw);
    return (nr >= 0 && recordTypeName(nr)) || `UNKNOWN[${raw}]`;
  }
  if (raw.startsWith("UNKNOWN[") && raw.endsWith("]")) {
    const nr = textDigits(raw.slice(8, -1));
    return (nr >= 0 && recordTypeName(nr)) || raw;
  }
  return knownTypeName(raw);
}

function textDigits(s: string): number {
  return /^\d{1,15}$/.test(s) ? Number(s) : -1;
}

/** A non-negative decimal integer of at most 15 digits in buf[from, to), or -1. */
/** The value of the digits stampPart() read last. */
let partValue = 0;

/** Where the run of 1-15 digits from `from` ends at the byte `stop` (partValue its value), or -1. */
function stampPart(buf: Buffer, from: number, end: number, stop: number): number {
  let n = 0;
  let i = from;
  for (; i < end; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  if (i >= end || buf[i] !== stop || i === from || i - from > 15) return -1;
  partValue = n;
  return i;
}

export function digits(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function find(buf: Buffer, byte: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (buf[i] === byte) return i;
  return -1;
}

/**
 * startsWith for the header's words (node=, type=, msg=, audit(), four bytes or more, whose first four are `head`:
 * those in one compare. Every line's header has three or four, and a byte compare costs ~10-24 instructions
 * once optimized (issue 23, Round 39). `end` is within buf, so the word read is too.
 */
function headerWord(buf: Buffer, pos: number, end: number, prefix: Uint8Array, head: number): boolean {
  const n = prefix.length;
  if (end - pos < n || wordView(buf).getInt32(pos, true) !== head) return false;
  for (let i = 4; i < n; i++) if (buf[pos + i] !== prefix[i]) return false;
  return true;
}

/** Whether buf[pos, end) begins with prefix's bytes. */
export function startsWith(buf: Uint8Array, pos: number, end: number, prefix: Uint8Array): boolean {
  if (end - pos < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[pos + i] !== prefix[i]) return false;
  return true;
}

/** The length of an invisible prefix unit at pos (NUL, U+FEFF, U+200B as UTF-8), else 0. */
function invisibleAt(buf: Buffer, pos: number, end: number): number {
  if (buf[pos] === 0) return 1;
  if (pos + 3 >= end) return 0;
  if (buf[pos] === 0xef && buf[pos + 1] === 0xbb && buf[pos + 2] === 0xbf) return 3;
  if (buf[pos] === 0xe2 && buf[pos + 1] === 0x80 && buf[pos + 2] === 0x8b) return 3;
  return 0;
}

/**
 * The host of a syslog-wrapped record (type= at `at`, after the syslog header): the `node=` just before type=, as
 * audisp-syslog forwards a multi-host log, else the host of the syslog header itself. Without it, two hosts'
 * records under one stamp were grouped into one event and --node found neither (T34 #2, T35 N2). Undefined for any
 * other prefix, and for RFC 5424's nil host `-`.
 */
function syslogNode(buf: Buffer, from: number, at: number): string | undefined {
  let word = at;
  while (word > from && buf[word - 1] !== SPACE) word--;
  // the node= that ends the word before type=, whatever came before it in the word (a control sequence, a no-break
  // or zero-width space, a CR: T36 A2)
  const node = at - NODE.length < word ? -1 : buf.lastIndexOf(NODE, at - NODE.length);
  if (node >= word) return node + 5 < at ? NODE_NAMES.get(buf, node + 5, at) : undefined;
  // a relay that wraps a line it received in a header of its own puts the origin's header after it: the last one
  // read names the host that logged the record
  let host = -1;
  let hostEnd = -1;
  for (let p = from; ; ) {
    const start = syslogHostStart(buf, p, at);
    const end = start < 0 ? -1 : find(buf, SPACE, start, at);
    if (end <= start) break;
    host = start;
    hostEnd = end;
    p = end + 1;
  }
  if (host < 0 || (hostEnd - host === 1 && buf[host] === DASH)) return undefined;
  return NODE_NAMES.get(buf, host, hostEnd);
}

/**
 * Where the host of a syslog header at `from` begins, else -1. The header: an optional `<PRI>` (a line stored as
 * received), RFC 5424's version (`<85>1 2023-11-14T22:13:20.123Z host …`), then a time — RFC 3164's
 * `Mmm dd hh:mm:ss` (`.123456` with journalctl's short-precise, a year before it with some relays) or an ISO 8601
 * date-time (`2023-11-14T22:13:20…`, rsyslog's file format).
 */
function syslogHostStart(buf: Buffer, from: number, to: number): number {
  let p = from;
  if (buf[p] === LESS_THAN) {
    let q = p + 1;
    while (q < to && q - p <= 3 && isDigit(buf[q])) q++;
    if (q === p + 1 || buf[q] !== GREATER_THAN) return -1;
    p = q + 1;
  }
  // RFC 5424's version, with or without the PRI before it (a relay that dropped it)
  if (isDigit(buf[p]) && buf[p + 1] === SPACE && isDigit(buf[p + 2])) p += 2;
  if (to - p > 20 && isDigit(buf[p]) && isDigit(buf[p + 3]) && buf[p + 4] === SPACE && isLetter(buf[p + 5])) p += 5;
  if (to - p > 16 && isLetter(buf[p]) && buf[p + 3] === SPACE && buf[p + 6] === SPACE) {
    const clock = p + 7;
    if (!isDigit(buf[clock]) || buf[clock + 2] !== COLON || buf[clock + 5] !== COLON || !isDigit(buf[clock + 7])) return -1;
    let q = clock + 8;
    if (buf[q] === DOT) {
      q++;
      while (q < to && isDigit(buf[q])) q++;
    }
    return buf[q] === SPACE ? q + 1 : -1;
  }
  if (to - p > 20 && isDigit(buf[p]) && isDigit(buf[p + 3]) && buf[p + 4] === DASH) {
    // `2023-11-14T22:13:20…`, or with a space for the T (`2023-11-14 22:13:20 host`: T36 A2)
    const time = buf[p + 10] === LETTER_T ? p + 11 : buf[p + 10] === SPACE && buf[p + 13] === COLON ? p + 11 : -1;
    const space = time < 0 ? -1 : find(buf, SPACE, time, to);
    return space < 0 ? -1 : space + 1;
  }
  return -1;
}

const isLetter = (c: number | undefined) => c !== undefined && ((c >= 65 && c <= 90) || (c >= 97 && c <= 122));
const isDigit = (c: number | undefined) => c !== undefined && c >= 48 && c <= 57;

/** The offset of " type=" in buf[from, to), or -1. */
function findType(buf: Buffer, from: number, to: number): number {
  for (let i = find(buf, SPACE, from, to); i >= 0; i = find(buf, SPACE, i + 1, to)) {
    if (startsWith(buf, i + 1, to, TYPE)) return i;
  }
  return -1;
}

/**
 * Splits `k=v k="v" k='v' k={ … }` into keys/values; words without '=' become free text. In nested mode
 * (inside msg='…') keys may start after '(' or ',' — the old PAM form `(hostname=?, addr=?, terminal=cron
 * res=success)` — and once that list's '(' is open, a value's (or word's) trailing ',' is the list's, as is the
 * ')' ending the last one (see closesList); anywhere else they are the value's (PAM_RHOST `hostname=a)` is logged
 * as the client gave it). Returns the offset of an unterminated quote, else -1.
 */
export function tokenize(
  s: string,
  from: number,
  to: number,
  keys: string[],
  values: string[],
  textSink: { text: string | undefined } | undefined,
  nested: boolean,
): number {
  let pos = from;
  let prefix = "";
  let listOpen = false;
  while (pos < to) {
    let c = s.charCodeAt(pos);
    if (c === SPACE || (nested && (c === LPAREN || c === COMMA))) {
      if (c === LPAREN) listOpen = true;
      pos++;
      continue;
    }
    const start = pos;
    while (pos < to) {
      c = s.charCodeAt(pos);
      if (c === EQUALS || c === SPACE) break;
      pos++;
    }
    if (pos >= to || c === SPACE) {
      let word = s.slice(start, pos);
      if (listOpen && word.endsWith(")") && endsList(s, start, pos, to)) word = word.slice(0, -1);
      // "subj=/usr/bin/man (enforce)": a parenthesised word belongs to the value before it.
      const last = values.length - 1;
      if (word === "old" || word === "new") {
        // legacy LOGIN: "old auid=4294967295 new auid=1000 old ses=… new ses=…"
        prefix = `${word}-`;
      } else if (word.charCodeAt(0) === LPAREN && word.charCodeAt(word.length - 1) === RPAREN && last >= 0 && values[last] !== "") {
        values[last] = `${values[last]} ${word}`;
      } else if (textSink && word.length > 0) {
        textSink.text = textSink.text === undefined ? word : `${textSink.text} ${word}`;
      }
      continue;
    }
    const key = prefix === "" ? s.slice(start, pos) : prefix + s.slice(start, pos);
    prefix = "";
    pos++;
    c = s.charCodeAt(pos);
    let end: number;
    // inside msg='…' a ' is a byte of the value (libaudit writes hostname= as given: hostname='abc)
    if (c === DQUOTE || (c === SQUOTE && !nested)) {
      end = c === DQUOTE ? s.indexOf('"', pos + 1) : singleQuoteEnd(s, pos + 1, to);
      // inside msg='…' a '"' that is never closed is the value's (libaudit writes hostname= as given:
      // hostname="evil addr=… res=failed' kept res, as ausearch reads it), not the rest of msg
      if (nested && c === DQUOTE && (end < 0 || end >= to)) {
        end = pos;
        while (end < to && s.charCodeAt(end) !== SPACE) end++;
        keys.push(key);
        values.push(s.slice(pos, end));
        pos = end;
        continue;
      }
      if (end < 0 || end >= to) {
        keys.push(key);
        values.push(s.slice(pos, to));
        return start;
      }
      end++;
    } else if (c === LBRACE) {
      end = matchBrace(s, pos, to);
    } else {
      end = pos;
      while (end < to && s.charCodeAt(end) !== SPACE) end++;
    }
    keys.push(key);
    // in the old PAM list "addr=?," and "res=success)" end in its punctuation; "grantors=pam_env,pam_unix" keeps
    // its commas and "hostname=(null)" its own parenthesis
    let valueEnd = end;
    if (listOpen && endsList(s, pos, end, to)) valueEnd--;
    values.push(s.slice(pos, valueEnd));
    pos = end;
  }
  return -1;
}

/**
 * Whether the token s[from, end) of a msg='…' ending at `to`, read while the old PAM form's list is open, ends
 * in that list's punctuation: a ',' between its pairs, or the ')' closing it — after the list's last pair, so
 * with only spaces up to `to`, and not closing a '(' of the value's own ("res=success)", "terminal=(null))",
 * but "terminal=a) res=success)" keeps the first ')' and "(…, res=(null)" the one of "(null)").
 */
export function endsList(s: string, from: number, end: number, to: number): boolean {
  if (end === from) return false;
  const c = s.charCodeAt(end - 1);
  if (c === COMMA) return true;
  if (c !== RPAREN) return false;
  for (let i = end; i < to; i++) if (s.charCodeAt(i) !== SPACE) return false;
  let depth = 0;
  for (let i = from; i < end - 1; i++) {
    const b = s.charCodeAt(i);
    if (b === LPAREN) depth++;
    else if (b === RPAREN && depth > 0) depth--;
  }
  return depth === 0;
}

/** endsList over the byte path's buffer. */
export function endsListBytes(buf: Uint8Array, from: number, end: number, to: number): boolean {
  if (end === from) return false;
  const c = buf[end - 1];
  if (c === COMMA) return true;
  if (c !== RPAREN) return false;
  for (let i = end; i < to; i++) if (buf[i] !== SPACE) return false;
  let depth = 0;
  for (let i = from; i < end - 1; i++) {
    if (buf[i] === LPAREN) depth++;
    else if (buf[i] === RPAREN && depth > 0) depth--;
  }
  return depth === 0;
}

/**
 * The `'` closing a `k='…'` value that starts at `from`: the one that ends the text read (only spaces or control
 * bytes after it, up to `to`), as the kernel writes a user-space record's msg='…' last, whatever `'` or `"` libaudit
 * left unencoded inside it (hostname= and terminal= are written as given: `hostname=it's.example`, `hostname=x'`;
 * ausearch reads them so). A body that does not end in one (not the kernel's shape) is read as it always was: the
 * first `'` outside a "…", since a quoted name may hold a `'` (acct="system-property('xsl:vendor')/>"), or with
 * unpaired quotes the first `'` at all; -1 when there is none.
 */
export function singleQuoteEnd(s: string, from: number, to: number): number {
  let last = to;
  while (last > from && s.charCodeAt(last - 1) <= SPACE) last--;
  if (last > from && s.charCodeAt(last - 1) === SQUOTE) return last - 1;
  let inQuotes = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE) inQuotes = !inQuotes;
    else if (c === SQUOTE && !inQuotes) return i;
  }
  return inQuotes ? s.indexOf("'", from) : -1;
}

function matchBrace(s: string, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === LBRACE) depth++;
    else if (c === RBRACE && --depth === 0) return i + 1;
  }
  return to;
}
