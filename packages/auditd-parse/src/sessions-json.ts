import { constJson, JsonBytes } from "./json";
import type { SessionCommand } from "./sessions";

/**
 * UTF-8 bytes held in a string, one character a byte (latin1): a one-byte string of the bytes' length. A command's
 * JSON kept as the text itself is a two-byte string, 2 bytes a character, as soon as one character in it is beyond
 * Latin-1: on the testers' longargv log nearly every exec has one (a hex argument with CJK in it), so the 12 MiB the
 * budget counted for the kept commands took 23 MB of heap and `sessions --json` peaked at 100-108 MB (README
 * sessions, round 22). Written out as bytes (sessionLine), never decoded.
 */
export type HeldBytes = string & { readonly heldBytes: unique symbol };

/** The text held bytes stand for. */
export function heldText(bytes: HeldBytes): string {
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/**
 * A command's JSON as `sessions --json` keeps it until its session is written: the same text as JSON.stringify's
 * (its fields in the order the tracker sets them, the same escapes: JsonBytes.string), written into one reused
 * buffer and read out as one flat string of its bytes (HeldBytes). JSON.stringify builds its result in growing
 * buffers and returns a tree of them, which had to be copied flat to be kept (`flatJson`): about three times the
 * text allocated per command, the largest item of what the tracker allocates on a log of many sessions (README
 * sessions, round 20b and 21).
 */
export function commandJson(c: SessionCommand): HeldBytes {
  out.reset();
  out.constant(TIME);
  out.string(c.time);
  out.constant(ID);
  out.string(c.id);
  out.constant(ARGV);
  for (let i = 0; i < c.argv.length; i++) {
    if (i > 0) out.byte(44 /* , */);
    out.string(c.argv[i]!);
  }
  out.byte(93 /* ] */);
  if (c.argvRaw !== undefined) {
    out.constant(ARGV_RAW);
    let first = true;
    // in the object's own key order (ascending indexes), as JSON.stringify writes it
    for (const [index, hex] of Object.entries(c.argvRaw)) {
      if (!first) out.byte(44 /* , */);
      first = false;
      out.string(index);
      out.byte(58 /* : */);
      out.string(hex);
    }
    out.byte(125 /* } */);
  }
  if (c.part !== undefined) {
    out.constant(PART);
    out.number(c.part);
  }
  for (const [key, json] of TEXT_FIELDS) {
    const value = c[key];
    if (value === undefined) continue;
    out.constant(json);
    out.string(value);
  }
  if (c.success !== undefined) out.constant(c.success ? SUCCEEDED : FAILED);
  if (c.exit !== undefined) {
    out.constant(EXIT);
    out.string(c.exit);
  }
  out.byte(125 /* } */);
  // its UTF-8 bytes, one a character (see HeldBytes)
  const json = out.buf.toString("latin1", 0, out.length) as HeldBytes;
  // a command of thousands of arguments grew it: not kept that big for the rest of the run
  if (out.buf.length > KEEP) out = new JsonBytes(START);
  return json;
}

const START = 1024;
const KEEP = 64 * 1024;
let out = new JsonBytes(START);

const TIME = constJson('{"time":');
const ID = constJson(',"id":');
const ARGV = constJson(',"argv":[');
const ARGV_RAW = constJson(',"argvRaw":{');
const PART = constJson(',"part":');
/**
 * The optional text fields in the order the tracker sets them (SessionTracker.track): an exec has exe, sudo's
 * USER_CMD via, never both; so JSON.stringify writes them in this order.
 */
const TEXT_FIELDS = [
  ["pid", constJson(',"pid":')],
  ["uid", constJson(',"uid":')],
  ["exe", constJson(',"exe":')],
  ["via", constJson(',"via":')],
  ["cwd", constJson(',"cwd":')],
] as const;
const SUCCEEDED = constJson(',"success":true');
const FAILED = constJson(',"success":false');
const EXIT = constJson(',"exit":');
