import type { SessionCommand } from "./sessions";

/**
 * A command an open session keeps, as one flat string until the session is written (issue 23): as an object a
 * command of 20 arguments is ~25 heap objects (its argv array, a string an argument, its time as a string of
 * parts) that live as long as its session, scattered among the events' short-lived objects in the heap's old
 * pages, which then cannot be given back. Its fields joined by NUL, which no field of a command the kernel logged
 * has (a C string ends there); a command with one (a log can hex-encode anything) is kept as its JSON instead.
 * Joined, not JSON: half the CPU of JSON.stringify and JSON.parse, and Array#join makes the string flat.
 */
const SEP = "\u0000";

// the optional text fields, each with its flag, in the order they follow time and id in the packed text (and are
// set on the command given back, so its JSON is the same); success is in the flags alone, exit after these
const TEXT_FIELDS = [
  ["pid", 1],
  ["uid", 2],
  ["exe", 4],
  ["via", 8],
  ["cwd", 16],
] as const;
const SUCCESS = 32;
const SUCCEEDED = 64;
const EXIT = 128;

export function packCommand(c: SessionCommand): string {
  // the exact bytes of an argument not UTF-8 (argvRaw) and a command line in parts are rare: such a command is kept
  // as its JSON
  if (c.argvRaw !== undefined || c.part !== undefined) return narrow(JSON.stringify(c));
  let flags = 0;
  const parts: string[] = ["", c.time, c.id];
  for (const [key, flag] of TEXT_FIELDS) {
    const value = c[key];
    if (value === undefined) continue;
    flags |= flag;
    parts.push(value);
  }
  if (c.success !== undefined) flags |= c.success ? SUCCESS | SUCCEEDED : SUCCESS;
  if (c.exit !== undefined) {
    flags |= EXIT;
    parts.push(c.exit);
  }
  for (const arg of c.argv) parts.push(arg);
  for (let i = 1; i < parts.length; i++) if (parts[i]!.includes(SEP)) return narrow(JSON.stringify(c));
  parts[0] = String(flags);
  return narrow(parts.join(SEP));
}

/**
 * Marks a packed text held as its UTF-8 bytes, one a character: neither the flags (digits) nor JSON (`{`) begin
 * with it.
 */
const AS_BYTES = 126; /* ~ */
/** A character V8 stores in two bytes. A one-byte string is answered without a scan. */
export const WIDE = /[^\u0000-\u00ff]/;
/** A surrogate not in a pair (read as code points, a pair is one character, not a surrogate). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * text as one byte a character: a two-byte string takes 2 bytes for every character as soon as one is beyond
 * Latin-1 (a CJK argument in an exec of 500), twice what the budget counts for the command; its UTF-8 bytes, held
 * as latin1, take about what it counts (README sessions, round 22, as for `--json`'s HeldBytes).
 */
function narrow(text: string): string {
  // a lone surrogate has no UTF-8 (it would come back as U+FFFD): such a text is kept as it is
  if (!WIDE.test(text) || LONE_SURROGATE.test(text)) return text;
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(text) + 1);
  bytes[0] = AS_BYTES;
  bytes.write(text, 1);
  return bytes.toString("latin1");
}

/**
 * Marks a command held as its line of the text timeline (packLine): neither the flags (digits), JSON (`{`) nor
 * bytes (AS_BYTES) begin with it.
 */
const LINE = 1;

/**
 * A command `sessions`' text timeline keeps as the line it will write (its commandText, escaped), with the bytes
 * the budget weighed it at (commandBytes: dropped, its bytes are given back): packed, it was split again into an
 * object with an argv array only to be formatted into this line when its session was written, a fifth of what
 * `sessions` allocated over the parse on `interleaved16` (round 38). After a LINE its bytes as four characters
 * (big-endian, 0-255 each), then the line; beyond Latin-1 narrowed as a packed command is.
 */
export function packLine(line: string, bytes: number): string {
  const weight = String.fromCharCode((bytes >>> 24) & 255, (bytes >>> 16) & 255, (bytes >>> 8) & 255, bytes & 255);
  // flat, as Array#join makes a packed command: the line is a template's tree of its parts
  return narrow([LINE_MARK, weight, line].join(""));
}

const LINE_MARK = String.fromCharCode(LINE);

/** A held command's line of the timeline, or undefined when it was packed (packCommand). */
export function heldLine(held: string): string | undefined {
  const text = asText(held);
  return text.charCodeAt(0) === LINE ? text.slice(5) : undefined;
}

/** The bytes a command held as its line was weighed at, or undefined when it was packed (packCommand). */
export function lineBytes(held: string): number | undefined {
  const text = asText(held);
  if (text.charCodeAt(0) !== LINE) return undefined;
  return ((text.charCodeAt(1) << 24) | (text.charCodeAt(2) << 16) | (text.charCodeAt(3) << 8) | text.charCodeAt(4)) >>> 0;
}

/** The text a held string stands for: its UTF-8 bytes decoded when narrow() kept it as them. */
function asText(held: string): string {
  return held.charCodeAt(0) === AS_BYTES ? Buffer.from(held, "latin1").toString("utf8", 1) : held;
}

/** The command packCommand was given: the same fields with the same values, in the same order (so the same JSON). */
export function unpackCommand(held: string): SessionCommand {
  const text = asText(held);
  if (text.charCodeAt(0) === 123 /* { */) return JSON.parse(text) as SessionCommand;
  const parts = text.split(SEP);
  const flags = Number(parts[0]);
  // argv third, as the tracker makes a command; set below
  const c: SessionCommand = { time: parts[1]!, id: parts[2]!, argv: [] };
  let i = 3;
  for (const [key, flag] of TEXT_FIELDS) if (flags & flag) c[key] = parts[i++];
  if (flags & SUCCESS) c.success = (flags & SUCCEEDED) !== 0;
  if (flags & EXIT) c.exit = parts[i++];
  // an empty argv adds no part, [""] one empty part: split tells them apart
  c.argv = parts.slice(i);
  return c;
}
