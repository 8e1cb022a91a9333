import { describe, expect, it } from "vitest";
import { decodeHex, decodeHexString, hexBytes, utf8Bytes } from "../src/decode";

// decodeHexString decodes into a reused scratch buffer (issue 23: a Buffer per hex argument grew peak RSS with
// the input); these hold it to what Buffer.from(hex, "hex") gives, whatever the length and the bytes
describe("decodeHexString", () => {
  it("decodes seeded random bytes (invalid UTF-8 included) of every size the scratch grows through or bypasses", () => {
    let seed = 19;
    const byte = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    // short after long: what a longer value left in the scratch must not show through
    // (audit writes upper-case hex; lower case is taken too)
    for (const size of [1, 7, 4095, 4096, 4097, 3, 70_000, 12, 262_144, 262_145, 600_000, 5]) {
      const bytes = Buffer.from(Array.from({ length: size }, byte));
      const hex = bytes.toString("hex");
      expect(decodeHexString(size % 2 ? hex.toUpperCase() : hex)).toBe(bytes.toString("utf8"));
    }
  });

  it("refuses what is not whole hex, and leaves a decodeHex result in use intact", () => {
    expect(decodeHexString("414")).toBeUndefined();
    expect(decodeHexString("41zz")).toBeUndefined();
    const line = Buffer.from("x616263");
    expect(decodeHex(line, 1, line.length - 1)).toBe(-1);
    expect(decodeHex(line, 1, 1)).toBe(-1);
    const n = decodeHex(line, 1, line.length);
    expect(decodeHexString("78797a")).toBe("xyz");
    expect(hexBytes().toString("utf8", 0, n)).toBe("abc");
  });

  it("tells UTF-8 from bytes that are not, in the first `length` bytes alone", () => {
    const bytes = Buffer.from([0x61, 0xc3, 0xa9, 0xff]);
    expect(utf8Bytes(bytes, 3)).toBe(true);
    expect(utf8Bytes(bytes, 4)).toBe(false);
    expect(utf8Bytes(bytes, 2)).toBe(false);
    expect(utf8Bytes(bytes, 0)).toBe(true);
  });
});
