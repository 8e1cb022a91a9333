import { describe, expect, it, vi } from "vitest";
import { IsoTime, isoSecond } from "../src/event-json";
import { JsonBytes } from "../src/json";

// the parser writes every event's time through IsoTime; these hold its arithmetic to Date#toISOString
describe("isoSecond", () => {
  it("writes the same date and time as toISOString across leap years, month ends and the range's ends", () => {
    // 1970, 2000-02-29, 2100-03-01 (not a leap year), 2024-02-29, the last second of 9999
    const edges = [0, 59, 86399, 86400, 951782400, 951868799, 4107542400, 1700000000, 1709164800, 253402300798];
    for (const second of [...edges, ...edges.map((s) => s + 1), 946684799, 4102444800])
      expect(isoSecond(second)).toBe(new Date(second * 1000).toISOString().slice(0, 20));
  });

  it("agrees with toISOString on 20000 seeded random seconds from 1970 to 9999", () => {
    let seed = 23;
    for (let i = 0; i < 20000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const second = Math.floor((seed / 2 ** 32) * 253402300800);
      expect(isoSecond(second)).toBe(new Date(second * 1000).toISOString().slice(0, 20));
    }
  });

  it("gives IsoTime's text the milliseconds of the stamp", () => {
    const t = new IsoTime();
    expect(t.text(1700000000007)).toBe("2023-11-14T22:13:20.007Z");
    expect(t.text(1700000001230)).toBe("2023-11-14T22:13:21.230Z");
  });

  it("writes the same time as JSON bytes, its date part rewritten in place as seconds alternate (hosts interleaved)", () => {
    const t = new IsoTime();
    const w = new JsonBytes(16);
    // two hosts' stamps alternating, a second and a year apart, back and forth, and the range's ends
    // and seconds that share a kept slot (8 apart) or not, read back after others took their slots
    const stamps = [1700000000007, 1731536000999, 1700000000123, 1731536001000, 0, 253402300799999, 1700000000007];
    for (let i = 0; i < 40; i++) stamps.push(1700000000000 + ((i * 7919) % 20) * 1000 + i, 1700000008000 + i);
    for (const ms of stamps) {
      w.reset();
      t.writeMember(w, ms);
      expect(w.buf.toString("latin1", 0, w.length)).toBe(`,"time":${JSON.stringify(new Date(ms).toISOString())}`);
      expect(t.text(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it("makes a second's date part once while 40 hosts' clocks, seconds apart, take turns (issue 23)", () => {
    const t = new IsoTime();
    const w = new JsonBytes(16);
    // 40 hosts, each clock 0-239 s off the others, one event each in turn, each host's clock ticking every 10 turns
    const offsets = Array.from({ length: 40 }, (_, h) => (h * 97) % 240);
    const write = vi.spyOn(Buffer.prototype, "write");
    try {
      const seconds = new Set<number>();
      for (let turn = 0; turn < 50; turn++)
        for (const offset of offsets) {
          const ms = 1764990000000 + (offset + Math.floor(turn / 10)) * 1000 + turn;
          seconds.add(Math.floor(ms / 1000));
          w.reset();
          t.writeMember(w, ms);
          expect(w.buf.toString("latin1", 0, w.length)).toBe(`,"time":${JSON.stringify(new Date(ms).toISOString())}`);
        }
      // once a second in use, not again at each turn (with 8 kept seconds: once an event, 2,000 times)
      expect(write.mock.calls.length).toBe(seconds.size);
    } finally {
      write.mockRestore();
    }
  });
});
