import { describe, expect, it } from "vitest";
import { constJson, JsonBytes } from "../src/json";
import { JsonCount } from "../src/json-count";
import { random } from "./sigma-logs";

// detect counts most records' JSON instead of writing it (src/json-count.ts), and the assembler cuts events
// by that count: each method must count exactly the bytes its JsonBytes twin writes, and say the same.

describe("JsonCount counts what JsonBytes writes", () => {
  it("for every byte value and seeded random byte strings, strings and numbers", () => {
    const next = random(17);
    const samples: Buffer[] = Array.from({ length: 256 }, (_, c) => Buffer.from([0x61, c, 0x62]));
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(next() * 40);
      // mostly ASCII, with control bytes, quotes, backslashes and (sometimes invalid) UTF-8
      samples.push(Buffer.from(Array.from({ length: n }, () => (next() < 0.8 ? 32 + Math.floor(next() * 95) : Math.floor(next() * 256)))));
    }
    samples.push(Buffer.from("caf\u00e9 \u{1f600} \ud800", "utf8"));
    for (const b of samples) {
      const [w, c] = [new JsonBytes(16), new JsonCount()];
      expect(c.copyString(b, 0, b.length), b.toString("hex")).toBe(w.copyString(b, 0, b.length));
      const text = b.toString("latin1");
      w.string(text);
      c.string(text);
      const utf8 = b.toString("utf8");
      w.string(utf8);
      c.string(utf8);
      w.text(utf8);
      c.text(utf8);
      w.bytes(b);
      c.bytes(b);
      const from = Math.min(1, b.length);
      w.append(b, from, b.length);
      c.append(b, from, b.length);
      w.byte(44);
      c.byte(44);
      const k = constJson(b.toString("latin1"));
      w.constant(k);
      c.constant(k);
      w.words(k.words, k.length);
      c.words(k.words, k.length);
      const source = new JsonBytes(4);
      source.copyString(b, 0, b.length);
      w.copyFrom(source, 1, source.length);
      c.copyFrom(source, 1, source.length);
      for (const n of [0, 7, 42, 1234567, -1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
        w.number(n);
        c.number(n);
      }
      expect(c.length, b.toString("hex")).toBe(w.length);
    }
  });
});
