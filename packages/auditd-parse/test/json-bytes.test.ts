import { describe, expect, it } from "vitest";
import { constJson, JsonBytes, wordsOf } from "../src/json";
import { random } from "./sigma-logs";

// Keys, cached values and the copies into an event's head are written four bytes a store (src/json.ts,
// issue 23): what lands below `length` must be exactly the bytes, whatever the length, the offset it is written
// at, the room left in the buffer or where the copied run sits in its source.

function seededBytes(next: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
}

describe("JsonBytes writes words as the bytes they pack", () => {
  it("constant() and words() at every offset and length 0-70, growing from an empty buffer", () => {
    const next = random(23);
    for (let n = 0; n <= 70; n++) {
      const text = seededBytes(next, n).toString("latin1");
      const k = constJson(text);
      expect(k.words.length).toBe(Math.ceil(Buffer.byteLength(text) / 4));
      for (let offset = 0; offset < 9; offset++) {
        const w = new JsonBytes(0);
        const expected: number[] = [];
        for (let i = 0; i < offset; i++) {
          w.byte(0x61 + i);
          expected.push(0x61 + i);
        }
        w.constant(k);
        w.byte(0x2c);
        w.words(wordsOf(Buffer.from(text, "latin1")), Buffer.from(text, "latin1").length);
        w.byte(0x7d);
        expected.push(...Buffer.from(text), 0x2c, ...Buffer.from(text, "latin1"), 0x7d);
        expect(Buffer.from(w.buf.subarray(0, w.length)).toString("hex"), `n ${n} offset ${offset}`).toBe(
          Buffer.from(expected).toString("hex"),
        );
      }
    }
  });

  it("copyFrom() copies any run of another JsonBytes, up to the end of its buffer, short and long", () => {
    const next = random(29);
    for (let size = 1; size <= 140; size += 3) {
      const source = new JsonBytes(size);
      const bytes = seededBytes(next, size);
      source.append(bytes, 0, size);
      // runs that end at the source buffer's very end (no room to read a whole word past them) and inside it
      for (const [from, to] of [
        [0, size],
        [Math.floor(size / 3), size],
        [size - 1, size],
        [0, Math.floor(size / 2)],
        [Math.floor(size / 4), Math.floor((3 * size) / 4)],
      ] as const) {
        const w = new JsonBytes(0);
        w.byte(0x5b);
        w.copyFrom(source, from, to);
        w.byte(0x5d);
        const expected = Buffer.concat([Buffer.from("["), bytes.subarray(from, to), Buffer.from("]")]);
        expect(Buffer.from(w.buf.subarray(0, w.length)).toString("hex"), `size ${size} [${from}, ${to})`).toBe(expected.toString("hex"));
      }
    }
  });
});
