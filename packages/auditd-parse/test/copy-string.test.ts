import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { JsonBytes } from "../src/json";
import { random } from "./sigma-logs";

/** What copyString must write for b: the text path's JSON of the value read as UTF-8. */
function expected(b: Buffer): string {
  return JSON.stringify(b.toString("utf8"));
}

function copied(b: Buffer, pad = 0): { json: string; utf8: boolean } {
  const w = new JsonBytes(8);
  const src = Buffer.concat([Buffer.alloc(pad, 0x41), b, Buffer.alloc(pad, 0x41)]);
  const utf8 = w.copyString(src, pad, pad + b.length);
  return { json: w.buf.toString("utf8", 0, w.length), utf8 };
}

// Valid UTF-8 is copied byte for byte (PATH names with accents, issue 23): it must still be exactly what
// JSON.stringify writes, and everything that is not valid UTF-8 must still come out as U+FFFD.
describe("copyString above 0x7f", () => {
  const cases: [string, number[]][] = [
    ["2-byte é", [0x63, 0x61, 0x66, 0xc3, 0xa9]],
    ["3-byte €", [0xe2, 0x82, 0xac]],
    ["4-byte emoji", [0xf0, 0x9f, 0x98, 0x80]],
    ["U+2028 and U+2029", [0xe2, 0x80, 0xa8, 0x20, 0xe2, 0x80, 0xa9]],
    ["U+FFFD itself", [0xef, 0xbf, 0xbd]],
    ["U+FEFF, U+10FFFF", [0xef, 0xbb, 0xbf, 0xf4, 0x8f, 0xbf, 0xbf]],
    ["UTF-8 beside quote, backslash, control bytes", [0x22, 0xc3, 0xa9, 0x5c, 0x01, 0x0a, 0x7f, 0xc3, 0xbc, 0x22]],
    ["overlong /", [0xc0, 0xaf]],
    ["overlong 3-byte", [0xe0, 0x80, 0xaf]],
    ["encoded surrogate", [0xed, 0xa0, 0x80]],
    ["surrogate pair as two 3-byte sequences", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
    ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["cut 3-byte sequence at the end", [0x61, 0xe2, 0x82]],
    ["lone continuation byte", [0x61, 0x80, 0x62]],
    ["0xff, 0xfe", [0xff, 0xfe]],
    ["valid then invalid", [0xc3, 0xa9, 0x61, 0xc3]],
  ];
  it.each(cases)("%s: as JSON.stringify writes the text, and says whether it was UTF-8", (_, bytes) => {
    const b = Buffer.from(bytes);
    for (const pad of [0, 3]) {
      const { json, utf8 } = copied(b, pad);
      expect(json).toBe(expected(b));
      expect(utf8).toBe(isUtf8(b));
    }
  });

  it("on seeded random values of mixed UTF-8, ASCII and stray bytes", () => {
    const next = random(2112);
    const pieces = [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x22], [0x5c], [0x09], [0x80], [0xed, 0xa0, 0x80], [0xf8]];
    for (let i = 0; i < 3000; i++) {
      const bytes: number[] = [];
      const n = Math.floor(next() * 12);
      for (let k = 0; k < n; k++) {
        if (next() < 0.5) bytes.push(0x61 + Math.floor(next() * 26));
        else bytes.push(...pieces[Math.floor(next() * (next() < 0.9 ? 6 : pieces.length))]!);
      }
      const b = Buffer.from(bytes);
      const { json, utf8 } = copied(b, 1);
      expect(json, b.toString("hex")).toBe(expected(b));
      expect(utf8, b.toString("hex")).toBe(isUtf8(b));
    }
  });
});

// A long value (a class path of a java exec, 7-30 KB) took six bytes of room a byte: an 11 KB argument grew a set's
// argv to 128 KiB, dropped when the set was pooled, ~12 MB of such garbage per 60 MiB of T25's relay.log waiting
// for a mark-compact (issue 23). Its room is now its escaped length, counted: never less than what is written.
describe("copyString of a long value", () => {
  it("takes room for what it writes, not six bytes a byte", () => {
    const classPath = Buffer.from(Array.from({ length: 400 }, (_, i) => `/opt/app/lib/a${i}-1.2.3.jar`).join(":"));
    expect(classPath.length).toBeGreaterThan(10_000);
    const argv = new JsonBytes(256);
    expect(argv.copyString(classPath, 0, classPath.length)).toBe(true);
    expect(argv.buf.toString("utf8", 0, argv.length)).toBe(expected(classPath));
    expect(argv.buf.length).toBeLessThanOrEqual(16_384);
  });

  it("writes seeded long values of escapes, control bytes, UTF-8 and stray bytes whole, after other JSON", () => {
    const next = random(2327);
    const pieces = [[0x61], [0xc3, 0xa9], [0xf0, 0x9f, 0x98, 0x80], [0x22], [0x5c], [0x01], [0x0a], [0x1f], [0x7f], [0x80]];
    for (let i = 0; i < 200; i++) {
      const bytes: number[] = [];
      const n = 1000 + Math.floor(next() * 3000);
      // a fifth of them all control bytes (six written for one), a few with a stray byte (not UTF-8: the text path)
      const kinds = i % 5 === 0 ? [5, 6, 7] : i % 7 === 0 ? [0, 9] : [0, 1, 2, 3, 4, 5, 6, 7, 8];
      for (let k = 0; k < n; k++) bytes.push(...pieces[kinds[Math.floor(next() * kinds.length)]!]!);
      const b = Buffer.from(bytes);
      const w = new JsonBytes(8);
      w.text('{"a":1,"v":');
      const utf8 = w.copyString(b, 0, b.length);
      expect(w.buf.toString("utf8", 0, w.length), `value ${i}`).toBe(`{"a":1,"v":${expected(b)}`);
      expect(utf8).toBe(isUtf8(b));
    }
  });
});

// Plain runs of eight bytes or more are checked and copied four bytes at a time (issue 23, Round 29): a byte that
// needs escaping or is beyond ASCII, wherever it falls in or across the words, must still be caught.
describe("copyString four bytes at a time", () => {
  it("every byte value at every place of plain runs 8-19 long, in two sources taken in turn", () => {
    const other = Buffer.from("x".repeat(40));
    for (let n = 8; n < 20; n++)
      for (let at = 0; at < n; at++)
        for (let c = 0; c < 256; c++) {
          const b = Buffer.alloc(n, 0x61 + (at % 26));
          b[at] = c;
          const { json, utf8 } = copied(b, at % 3);
          expect(json, `${n} ${at} ${c}`).toBe(expected(b));
          expect(utf8).toBe(isUtf8(b));
          // another source in between: a view kept for the first must not be read for it
          const w = new JsonBytes(8);
          w.copyString(other, 1, 1 + n);
          expect(w.buf.toString("latin1", 0, w.length)).toBe(JSON.stringify(other.toString("latin1", 1, 1 + n)));
        }
  });
});
