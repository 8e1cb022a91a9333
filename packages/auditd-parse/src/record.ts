import { recordTypeName } from "./record-types";

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
}

const MAX_SECONDS = 8.64e12;
const SPACE = 32;
const EQUALS = 61;
const DQUOTE = 34;
const SQUOTE = 39;
const LBRACE = 123;
const RBRACE = 125;
const LPAREN = 40;
const RPAREN = 41;
const COMMA = 44;

/**
 * Parses one line; returns undefined when it has no audit header at all (the caller keeps the line as
 * `unparsed`). Header parsing uses indexOf and charCode scans only: this runs once per input line.
 */
export function parseRecord(line: string): AuditRecord | undefined {
  let node: string | undefined;
  let pos = 0;
  if (line.startsWith("node=")) {
    const sp = line.indexOf(" ", 5);
    if (sp < 0) return undefined;
    node = line.slice(5, sp);
    pos = sp + 1;
  }
  if (!line.startsWith("type=", pos)) {
    // syslog-wrapped kernel line: "… kernel: [ 12.3] audit: type=1400 audit(…): …"
    const at = line.indexOf(" type=", pos);
    if (at < 0) return undefined;
    pos = at + 1;
  }
  const typeEnd = line.indexOf(" ", pos + 5);
  if (typeEnd < 0) return undefined;
  const type = typeName(line.slice(pos + 5, typeEnd));
  pos = typeEnd + 1;
  if (line.startsWith("msg=", pos)) pos += 4;
  if (!line.startsWith("audit(", pos)) return undefined;
  const close = line.indexOf(")", pos + 6);
  if (close < 0) return undefined;
  const stamp = line.slice(pos + 6, close);
  const colon = stamp.indexOf(":");
  const dot = stamp.indexOf(".");
  if (colon < 0 || dot < 0 || dot > colon) return undefined;
  const sec = digits(stamp, 0, dot);
  const ms = digits(stamp, dot + 1, colon);
  const serial = digits(stamp, colon + 1, stamp.length);
  // beyond what a Date can hold (year 275760) is not a real audit time
  if (sec < 0 || sec > MAX_SECONDS || ms < 0 || serial < 0) return undefined;
  pos = close + 1;
  if (line.charCodeAt(pos) === 58) pos++;
  const record: AuditRecord = {
    node,
    type,
    stamp,
    timeMs: sec * 1000 + (colon - dot - 1 === 3 ? ms : Math.round(ms * 10 ** (3 - (colon - dot - 1)))),
    serial,
    keys: [],
    values: [],
    text: undefined,
    enrichedKeys: undefined,
    enrichedValues: undefined,
    unparsed: undefined,
  };
  const gs = line.indexOf("\x1d", pos);
  const bodyEnd = gs < 0 ? line.length : gs;
  const bad = tokenize(line, pos, bodyEnd, record.keys, record.values, record, false);
  if (bad >= 0) record.unparsed = line.slice(bad, bodyEnd);
  if (gs >= 0) {
    record.enrichedKeys = [];
    record.enrichedValues = [];
    tokenize(line, gs + 1, line.length, record.enrichedKeys, record.enrichedValues, undefined, false);
  }
  return record;
}

function typeName(raw: string): string {
  const c = raw.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const nr = digits(raw, 0, raw.length);
    return (nr >= 0 && recordTypeName(nr)) || `UNKNOWN[${raw}]`;
  }
  if (raw.startsWith("UNKNOWN[") && raw.endsWith("]")) {
    const nr = digits(raw, 8, raw.length - 1);
    return (nr >= 0 && recordTypeName(nr)) || raw;
  }
  return raw;
}

/** A non-negative decimal integer in s[from, to), or -1. */
function digits(s: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Splits `k=v k="v" k='v' k={ … }` into keys/values; words without '=' become free text. In nested mode
 * (inside msg='…') a trailing ',' or ')' is not part of a value and keys may start after '(' — the old PAM
 * form `(hostname=?, addr=?, terminal=cron res=success)`. Returns the offset of an unterminated quote, else -1.
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
  while (pos < to) {
    let c = s.charCodeAt(pos);
    if (c === SPACE || (nested && (c === LPAREN || c === COMMA))) {
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
      if (nested && word.endsWith(")")) word = word.slice(0, -1);
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
    if (c === DQUOTE || c === SQUOTE) {
      end = s.indexOf(c === DQUOTE ? '"' : "'", pos + 1);
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
    // nested: "addr=?," and "res=success)" end in list punctuation; "grantors=pam_env,pam_unix" keeps its commas
    let valueEnd = end;
    if (nested) {
      c = s.charCodeAt(valueEnd - 1);
      if ((c === COMMA || c === RPAREN) && valueEnd > pos) valueEnd--;
    }
    values.push(s.slice(pos, valueEnd));
    pos = end;
  }
  return -1;
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
