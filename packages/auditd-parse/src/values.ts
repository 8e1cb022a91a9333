import { isUtf8 } from "node:buffer";
import { capabilityName, filterList, nfFamily, promiscuous, resultText, seccompAction } from "./args";
import { COMMA, DQUOTE } from "./ascii";
import {
  capNames,
  decodeHex,
  decodeHexAt,
  decodeHexString,
  errnoName,
  hexBytes,
  modeText,
  permText,
  securityContext,
  signalName,
} from "./decode";
import { Kind } from "./fields";
import { UNSET_ID } from "./ids";
import { type ConstJson, type JsonBytes, jsonString, member } from "./json";
import { digits, tokenize } from "./record";
import { isHex } from "./sockaddr";

/** Value-level helpers of the interpreter: readings by kind, bytes tests, argv and proctitle decoding. */

const UNSET = 4_294_967_295;

/**
 * uid/gid → name: ids below 65536 in pages of 256 made on first use (an index instead of a hash; a log names
 * a few ids, and one flat array was 512 KB of every run's RSS), a bounded map above.
 */
export class IdCache {
  private readonly pages: ((IdName | undefined)[] | undefined)[] = new Array(256).fill(undefined);
  private readonly large = new Map<number, IdName>();

  /** 4294967295 ("unset", on most records' auid and ses) kept apart from the Map the other large ids take. */
  private unset: IdName | undefined;

  get(id: number): IdName | undefined {
    if (id < 65_536) return this.pages[id >> 8]?.[id & 255];
    return id === UNSET ? this.unset : this.large.get(id);
  }

  set(id: number, name: IdName): void {
    if (id === UNSET) this.unset = name;
    else if (id < 65_536) {
      let page = this.pages[id >> 8];
      if (page === undefined) {
        page = new Array(256).fill(undefined);
        this.pages[id >> 8] = page;
      }
      page[id & 255] = name;
    } else if (this.large.size < 65_536) this.large.set(id, name);
  }
}

export interface IdName {
  text: string;
  json: ConstJson;
  /** The name is the number itself (no passwd/group entry). */
  same: boolean;
  /** The number's JSON, for raw (undefined when same). */
  raw: ConstJson | undefined;
}

/** Kinds whose reading depends on the value alone, so it can be cached by the value's bytes. */
export const VALUE_KINDS = [
  Kind.Exit,
  Kind.Mode,
  Kind.Perm,
  Kind.Cap,
  Kind.Context,
  Kind.Session,
  Kind.Signal,
  Kind.Result,
  Kind.NfFamily,
  Kind.FilterList,
  Kind.Promiscuous,
  Kind.Seccomp,
  Kind.Capability,
] as const;

/** A value read by its kind: the text, its JSON, and whether that is the value itself. */
export interface Reading {
  text: string;
  json: string;
  same: boolean;
}

export function readingOf(kind: Kind, value: string): Reading {
  let v = value;
  let json: string | undefined;
  switch (kind) {
    case Kind.Exit:
      v = errnoName(value) ?? value;
      break;
    case Kind.Mode:
      v = modeText(value) ?? value;
      break;
    case Kind.Perm:
      v = permText(value) ?? value;
      break;
    case Kind.Cap:
      v = capNames(value) ?? value;
      break;
    case Kind.Context: {
      const ctx = securityContext(value);
      json = ctx === undefined ? jsonString(value) : JSON.stringify(ctx);
      break;
    }
    case Kind.Session:
      if (value === UNSET_ID) v = "unset";
      break;
    case Kind.Signal:
      v = signalName(value) ?? value;
      break;
    case Kind.Result:
      v = resultText(value) ?? value;
      break;
    case Kind.NfFamily:
      v = nfFamily(value) ?? value;
      break;
    case Kind.FilterList:
      v = filterList(value) ?? value;
      break;
    case Kind.Promiscuous:
      v = promiscuous(value) ?? value;
      break;
    case Kind.Seccomp:
      v = seccompAction(value) ?? value;
      break;
    case Kind.Capability:
      v = capabilityName(value) ?? value;
      break;
  }
  return { text: v, json: json ?? jsonString(v), same: json === undefined && v === value };
}

/** A `key=` value: one quoted name, or hex of names joined by 0x01 (several -k rules matched). */
export function keyList(value: string, quoted: boolean): string[] {
  return quoted ? [value] : (decodeHexString(value)?.split("\x01") ?? [value]);
}

/** The command line at its NULs, without the trailing empty parts. */
export function proctitleParts(text: string): string[] {
  const parts = text.split("\0");
  while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** proctitleParts() as a JSON array, written from the decoded bytes[0, length): parts at NULs, trailing NULs dropped. */
export function proctitleJson(out: JsonBytes, bytes: Buffer, length: number): void {
  out.reset();
  let end = length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  out.byte(91);
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i < end && bytes[i] !== 0) continue;
    if (start > 0) out.byte(COMMA);
    out.copyString(bytes, start, i);
    start = i + 1;
  }
  out.byte(93);
}

/**
 * The hex of an argument or proctitle (as logged) when the text it decoded to cannot hold its bytes: they
 * are not UTF-8, so the text has U+FFFD in their place. Undefined when the text is exact. Only text with a
 * U+FFFD is checked, so valid values cost one scan.
 */
export function lostBytes(text: string, hex: string): string | undefined {
  if (!text.includes("\uFFFD") || hex.length % 2 !== 0 || !isHex(hex)) return undefined;
  return isUtf8(Buffer.from(hex, "hex")) ? undefined : hex;
}

/**
 * A "quoted" value as the hex of its bytes (uppercase, as the kernel logs hex): from its exact bytes (latin1,
 * see rawValuesOf) when the line was not UTF-8, else from its text. Undefined when the value is not quoted.
 */
export function quotedHex(value: string, rawValue: string | undefined): string | undefined {
  const bytes = quotedLatin1(value, rawValue);
  return bytes === undefined ? undefined : kernelHex(Buffer.from(bytes, "latin1"));
}

/** A "quoted" value's bytes (see quotedHex) as latin1 text, one character a byte; undefined when not quoted. */
export function quotedLatin1(value: string, rawValue: string | undefined): string | undefined {
  if (value.charCodeAt(0) !== DQUOTE) return undefined;
  const end = value.length > 1 && value.charCodeAt(value.length - 1) === DQUOTE ? -1 : undefined;
  return rawValue === undefined ? Buffer.from(value.slice(1, end), "utf8").toString("latin1") : rawValue.slice(1, end);
}

/**
 * An EXECVE argument's bytes as hex, for argvRaw: a quoted one's (see quotedHex), a hex one as logged, and one
 * that is neither (a bare `a1=` holding raw bytes, which the kernel never writes but a forged log can) as the hex
 * of its own bytes, so they are kept too (T25 #7). rawValue: the value's exact bytes as latin1 text, if known.
 */
export function argHex(value: string, rawValue: string | undefined): string {
  const quoted = quotedHex(value, rawValue);
  if (quoted !== undefined) return quoted;
  if (isHex(value)) return value;
  return kernelHex(Buffer.from(rawValue ?? value, rawValue === undefined ? "utf8" : "latin1"));
}

/** The hex of buf[from, to) when those bytes are not UTF-8 (shown as U+FFFD), for raw; else undefined. */
export function lostAt(buf: Buffer, from: number, to: number): string | undefined {
  const bytes = buf.subarray(from, to);
  return isUtf8(bytes) ? undefined : kernelHex(bytes);
}

/**
 * The hex of a value's exact bytes (latin1 text; a quoted one's quotes kept, and left out here) when they are not
 * UTF-8, else undefined: a bare `hostname=`, `tty=` or `subj=` loses them to U+FFFD as a quoted one does (T25 #7).
 */
export function lostValue(rawValue: string | undefined, quoted: boolean): string | undefined {
  if (rawValue === undefined) return undefined;
  const bytes = quoted
    ? Buffer.from(rawValue.slice(1, rawValue.charCodeAt(rawValue.length - 1) === DQUOTE ? -1 : undefined), "latin1")
    : Buffer.from(rawValue, "latin1");
  return isUtf8(bytes) ? undefined : kernelHex(bytes);
}

/** Bytes as hex in upper case, as the kernel logs a value it does not quote (raw, argvRaw, proctitleRaw). */
export function kernelHex(bytes: Buffer): string {
  return bytes.toString("hex").toUpperCase();
}

/** decodeArg() for a value given as bytes. */
export function argAt(buf: Buffer, from: number, to: number): string {
  if (buf[from] === DQUOTE) return buf.toString("utf8", from + 1, to - (to - from > 1 && buf[to - 1] === DQUOTE ? 1 : 0));
  if (bytesAre(buf, from, to, "(null)")) return "(null)";
  return decodeHexAt(buf, from, to) ?? buf.toString("utf8", from, to);
}

/**
 * argAt()'s text of buf[from, to) written to `out` as a JSON string, with no string made (the NDJSON of execs of
 * 5-60 arguments: a string an argument was ~10% of the parse); the bytes execveAt counts for it in the event's
 * weight. -1, with nothing written, when the text would have lost bytes (not UTF-8: argvRaw keeps their hex) or
 * the value is neither quoted, "(null)" nor hex: argAt reads those.
 */
export function argJson(out: JsonBytes, buf: Buffer, from: number, to: number): number {
  const start = out.length;
  if (buf[from] === DQUOTE) {
    if (out.copyString(buf, from + 1, to - (to - from > 1 && buf[to - 1] === DQUOTE ? 1 : 0))) return to - from;
  } else if (bytesAre(buf, from, to, "(null)")) {
    out.copyString(buf, from, to);
    return to - from;
  } else {
    const length = decodeHex(buf, from, to);
    const bytes = hexBytes();
    if (length >= 0 && out.copyString(bytes, 0, length)) {
      let n = length;
      // nothing escaped (most arguments): no second pass
      if (out.length - start === n + 2) return n;
      // as decodedJsonBytes counts the text: a control byte takes six, a quote or backslash two
      for (let i = 0; i < length; i++) {
        const c = bytes[i]!;
        if (c < 0x20) n += 5;
        else if (c === 34 || c === 92) n++;
      }
      return n;
    }
  }
  out.length = start;
  return -1;
}

/**
 * The bytes hex digits decode to take in the JSON line: a control byte (high digit 0 or 1) is written as \u00XX
 * (six), a quote or backslash escaped (two), any other byte one. An event's size is counted so (its line bound):
 * counted as the decoded bytes, 2 MiB of control bytes made lines of 6 MB (T22 #2).
 */
export function hexJsonBytes(hex: string): number {
  let n = hex.length >> 1;
  for (let i = 0; i + 1 < hex.length; i += 2) {
    const high = hex.charCodeAt(i);
    if (high === 48 || high === 49) n += 5;
    else if ((high === 50 && hex.charCodeAt(i + 1) === 50) || (high === 53 && (hex.charCodeAt(i + 1) | 32) === 99)) n++;
  }
  return n;
}

/** What JSON escapes: a control character (as \u00XX), a quote or a backslash. */
const JSON_ESCAPED = /[\u0000-\u001f"\\]/;

/**
 * The JSON bytes of `text` decoded from `bytes` bytes of hex, as hexJsonBytes counts them. Most hex-encoded
 * arguments (a space, a non-ASCII letter) have nothing to escape: one native test, not a loop over the digits
 * (that loop cost the testers' longargv log +5 % of the parse's instructions).
 */
export function decodedJsonBytes(text: string, bytes: number): number {
  if (!JSON_ESCAPED.test(text)) return bytes;
  let n = bytes;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) n += 5;
    else if (c === 34 || c === 92) n++;
  }
  return n;
}

export function bytesAre(buf: Buffer, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** "?", "(null)" or "(none)" as bytes: no information. */
export function isNullishAt(buf: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n === 1) return buf[from] === 63;
  if (n !== 6 || buf[from] !== 40 || buf[from + 5] !== 41 || buf[from + 1] !== 110) return false;
  // compared as bytes: a string made of every `(…)` value (tty=(none) key=(null) on each SYSCALL) was garbage
  const c2 = buf[from + 2];
  const c3 = buf[from + 3];
  const c4 = buf[from + 4];
  return (c2 === 117 && c3 === 108 && c4 === 108) /* "ull" */ || (c2 === 111 && c3 === 110 && c4 === 101) /* "one" */;
}

/** A uid/gid written in canonical decimal (no sign, no leading zero), or -1. */
export function idNumber(buf: Buffer, from: number, to: number): number {
  const n = to - from;
  return n > 10 || (n > 1 && buf[from] === 48) ? -1 : digits(buf, from, to);
}

export function isNullish(value: string, first: number): boolean {
  // "(null)", "(none)" and "?" carry no information
  if (first === 63) return value.length === 1;
  return first === 40 && (value === "(null)" || value === "(none)");
}

export function decodeArg(value: string): string {
  if (value.charCodeAt(0) === 34) return value.slice(1, value.length - (value.endsWith('"') ? 1 : 0));
  if (value === "(null)") return value;
  return decodeHexString(value) ?? value;
}

export function isNumeric(s: string): boolean {
  for (let i = s.charCodeAt(0) === 45 ? 1 : 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** ENRICHED fields as JSON members: values unquoted, braced values (`SADDR={ … }`) as nested objects. */
export function enrichedJson(keys: string[], values: string[]): string {
  let out = "";
  // a repeated name is kept as name#2 … (one value per JSON key), as the record's own fields are
  const seen = new Map<string, number>();
  for (let i = 0; i < keys.length; i++) {
    const repeat = (seen.get(keys[i]!) ?? 0) + 1;
    seen.set(keys[i]!, repeat);
    const value = values[i]!;
    const c = value.charCodeAt(0);
    let json: string;
    if (c === 123 /* { */) {
      const innerKeys: string[] = [];
      const innerValues: string[] = [];
      tokenize(value, 1, value.length - 1, innerKeys, innerValues, undefined, false);
      json = `{${enrichedJson(innerKeys, innerValues)}}`;
    } else {
      json = jsonString(c === 34 && value.length >= 2 ? value.slice(1, -1) : value);
    }
    out = member(out, repeat === 1 ? keys[i]! : `${keys[i]!}#${repeat}`, json);
  }
  return out;
}
