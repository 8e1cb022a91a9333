import { describe, expect, it } from "vitest";
import { decodeHexAt, decodeHexBytes, decodeHexLength, decodeHexString, hexBytes } from "../src/decode";

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

// decodeHexLength and decodeHexAt decode into the scratch with no Buffer view per value (issue 23, avc20b): only
// the first n bytes of a scratch that a longer value grew may be read
describe("decodeHexLength / decodeHexAt", () => {
  it("give Buffer.from(hex)'s bytes and text, short values after long ones, on both cases of hex", () => {
    let seed = 23;
    const byte = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (const size of [9000, 1, 4096, 2, 70_000, 3, 4097, 17]) {
      const bytes = Buffer.from(Array.from({ length: size }, byte));
      const hex = size % 2 ? bytes.toString("hex").toUpperCase() : bytes.toString("hex");
      const line = Buffer.from(` x=${hex} `);
      const n = decodeHexLength(line, 3, 3 + hex.length);
      expect(n).toBe(size);
      expect(hexBytes().subarray(0, n).equals(bytes)).toBe(true);
      expect(decodeHexAt(line, 3, 3 + hex.length)).toBe(bytes.toString("utf8"));
      expect(decodeHexBytes(line, 3, 3 + hex.length)?.equals(bytes)).toBe(true);
    }
  });

  it("refuse empty, odd and non-hex values wherever the bad digit is", () => {
    for (const bad of ["", "4", "414", "4G", "G4", "41424g", " 41", "4142 "]) {
      const line = Buffer.from(bad);
      expect(decodeHexLength(line, 0, line.length)).toBe(-1);
      expect(decodeHexAt(line, 0, line.length)).toBeUndefined();
      expect(decodeHexBytes(line, 0, line.length)).toBeUndefined();
    }
  });
});
