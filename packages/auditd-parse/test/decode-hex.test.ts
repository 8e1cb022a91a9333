import { describe, expect, it } from "vitest";
import { decodeHexBytes, decodeHexString } from "../src/decode";

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

  it("refuses what is not whole hex, and leaves a decodeHexBytes result in use intact", () => {
    expect(decodeHexString("414")).toBeUndefined();
    expect(decodeHexString("41zz")).toBeUndefined();
    const line = Buffer.from("616263");
    const held = decodeHexBytes(line, 0, line.length);
    expect(decodeHexString("78797a")).toBe("xyz");
    expect(held?.toString()).toBe("abc");
  });
});
