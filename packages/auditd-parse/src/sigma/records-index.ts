import type { OutputRecord } from "../event";

/**
 * Field lookups on an event's records as the parser wrote them (its NDJSON `records` members), without
 * turning them into objects: detect asks a few fields of each record (`SYSCALL`, `exe`, `key`, PATH's
 * `name` …), and JSON.parse of every record — every field, raw value and security context as objects and
 * strings — cost as much as the parse itself and made most of the garbage (issue 24: "field lookups not per
 * rule per record"). One pass over the text notes where each member of `fields`, `raw` and `enriched` is;
 * a value becomes a string when a rule asks for it. The answers are those of JSON.parse on the same text
 * (the last of a repeated name, escapes decoded), which the differential test holds it to.
 *
 * Hand-written rather than a streaming JSON library: those hand over every key and value as strings (the
 * allocation this avoids), and the text is the parser's own output, one object per record.
 */

/** Member sections of a record: `fields`, `raw`, `enriched`. */
export const FIELDS = 0;
export const RAW = 1;
export const ENRICHED = 2;
export type Section = typeof FIELDS | typeof RAW | typeof ENRICHED;
/** Added to a member's section when its key has escapes. */
const ESCAPED = 4;

/** Per member: section, key start, key end, value start, value end (key and value spans include quotes). */
const STRIDE = 5;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COMMA = 44;
const COLON = 58;
const N = 110;

/** A value that is there but is not a string (an object, null …): enough for own()'s typeof tests. */
export const NOT_STRING = Symbol("not a string");

export class RecordsIndex {
  private text = "";
  private members = new Int32Array(64 * STRIDE);
  private count = 0;
  /** Per record: its span in the text, its members' range, its type. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly firstMember: number[] = [];
  private readonly lastMember: number[] = [];
  readonly types: string[] = [];

  /** Indexes the records text (the comma-separated record objects of one event); false if it is not that. */
  load(text: string): boolean {
    this.text = text;
    this.count = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.firstMember.length = 0;
    this.lastMember.length = 0;
    this.types.length = 0;
    let pos = 0;
    while (pos < text.length) {
      if (text.charCodeAt(pos) !== LBRACE) return false;
      const end = this.record(pos);
      if (end < 0) return false;
      pos = end;
      // records are separated by commas, with none after the last
      if (pos < text.length && (text.charCodeAt(pos++) !== COMMA || pos === text.length)) return false;
    }
    return true;
  }

  get records(): number {
    return this.starts.length;
  }

  /** Record r as an object (for what needs all of it: keyword search, the oracle's export). */
  object(r: number): OutputRecord {
    return JSON.parse(this.text.slice(this.starts[r], this.ends[r])) as OutputRecord;
  }

  /**
   * Where `name` is in each section of record r, in one pass: found[FIELDS], found[RAW], found[ENRICHED]
   * (member offsets, -1 when absent; the last of a repeated name, as JSON.parse keeps).
   */
  readonly found = new Int32Array(3);
  locate(r: number, name: string, quoted: string): void {
    const found = this.found;
    found.fill(-1);
    const members = this.members;
    const text = this.text;
    const length = quoted.length;
    for (let m = this.lastMember[r]! - STRIDE; m >= this.firstMember[r]!; m -= STRIDE) {
      const from = members[m + 1]!;
      const to = members[m + 2]!;
      const s = members[m]!;
      if (s & ESCAPED ? JSON.parse(text.slice(from, to)) !== name : to - from !== length || !text.startsWith(quoted, from)) continue;
      const section = s & 3;
      if (found[section] === -1) found[section] = m;
    }
  }

  /** The value of member m (from locate): a string, NOT_STRING for another value. */
  stringAt(m: number): string | typeof NOT_STRING {
    const members = this.members;
    const from = members[m + 3]!;
    const to = members[m + 4]!;
    const text = this.text;
    if (text.charCodeAt(from) !== QUOTE) return NOT_STRING;
    const inner = text.slice(from + 1, to - 1);
    return inner.includes("\\") ? (JSON.parse(text.slice(from, to)) as string) : inner;
  }

  /** The value of member m as JSON.parse reads it. */
  valueAt(m: number): unknown {
    return JSON.parse(this.text.slice(this.members[m + 3], this.members[m + 4]));
  }

  /** Reads one record object from `start`; its end, or -1 when it is not the shape the parser writes. */
  private record(start: number): number {
    const text = this.text;
    const first = this.count * STRIDE;
    let type: string | undefined;
    let pos = start + 1;
    if (text.charCodeAt(pos) === RBRACE) return -1;
    for (;;) {
      if (text.charCodeAt(pos) !== QUOTE) return -1;
      const keyEnd = skipString(text, pos);
      if (keyEnd < 0 || text.charCodeAt(keyEnd) !== COLON) return -1;
      const key = text.slice(pos + 1, keyEnd - 1);
      const valueStart = keyEnd + 1;
      const section = key === "fields" ? FIELDS : key === "raw" ? RAW : key === "enriched" ? ENRICHED : -1;
      let valueEnd: number;
      if (section >= 0 && text.charCodeAt(valueStart) === LBRACE) valueEnd = this.section(section as Section, valueStart);
      else {
        valueEnd = skipValue(text, valueStart);
        if (key === "type" && valueEnd > 0 && text.charCodeAt(valueStart) === QUOTE)
          type = JSON.parse(text.slice(valueStart, valueEnd)) as string;
      }
      if (valueEnd < 0) return -1;
      pos = valueEnd;
      const c = text.charCodeAt(pos++);
      if (c === RBRACE) break;
      if (c !== COMMA) return -1;
    }
    if (type === undefined) return -1;
    this.starts.push(start);
    this.ends.push(pos);
    this.firstMember.push(first);
    this.lastMember.push(this.count * STRIDE);
    this.types.push(type);
    return pos;
  }

  /** Notes each member of the object at `open` under `section`; returns the object's end. */
  private section(section: Section, open: number): number {
    const text = this.text;
    let pos = open + 1;
    if (text.charCodeAt(pos) === RBRACE) return pos + 1;
    for (;;) {
      if (text.charCodeAt(pos) !== QUOTE) return -1;
      const keyEnd = skipString(text, pos);
      if (keyEnd < 0 || text.charCodeAt(keyEnd) !== COLON) return -1;
      const valueEnd = skipValue(text, keyEnd + 1);
      if (valueEnd < 0) return -1;
      this.add(hasEscape(text, pos + 1, keyEnd - 1) ? section + ESCAPED : section, pos, keyEnd, keyEnd + 1, valueEnd);
      pos = valueEnd;
      const c = text.charCodeAt(pos++);
      if (c === RBRACE) return pos;
      if (c !== COMMA) return -1;
    }
  }

  private add(section: number, keyFrom: number, keyTo: number, valueFrom: number, valueTo: number): void {
    let at = this.count * STRIDE;
    if (at + STRIDE > this.members.length) {
      const grown = new Int32Array(this.members.length * 2);
      grown.set(this.members);
      this.members = grown;
    }
    const m = this.members;
    m[at++] = section;
    m[at++] = keyFrom;
    m[at++] = keyTo;
    m[at++] = valueFrom;
    m[at] = valueTo;
    this.count++;
  }
}

function hasEscape(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === BACKSLASH) return true;
  return false;
}

/** The end (after the closing quote) of the JSON string opening at `pos`, or -1. */
function skipString(text: string, pos: number): number {
  let at = pos + 1;
  for (;;) {
    const q = text.indexOf('"', at);
    if (q < 0) return -1;
    // escaped when an odd number of backslashes stands before it
    let b = q - 1;
    while (b > pos && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    at = q + 1;
  }
}

/** The end of the JSON value starting at `pos` (strings, objects, arrays, literals), or -1. */
function skipValue(text: string, pos: number): number {
  const c = text.charCodeAt(pos);
  if (c === QUOTE) return skipString(text, pos);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    let at = pos;
    while (at < text.length) {
      const d = text.charCodeAt(at);
      if (d === QUOTE) {
        at = skipString(text, at);
        if (at < 0) return -1;
        continue;
      }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) {
        depth--;
        if (depth === 0) return at + 1;
      }
      at++;
    }
    return -1;
  }
  if (c === N && text.startsWith("null", pos)) return pos + 4;
  // numbers, true, false: up to the next delimiter
  let at = pos;
  while (at < text.length) {
    const d = text.charCodeAt(at);
    if (d === COMMA || d === RBRACE || d === RBRACKET) break;
    at++;
  }
  return at > pos ? at : -1;
}
