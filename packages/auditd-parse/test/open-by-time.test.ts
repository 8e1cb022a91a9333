import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/event";
import { OpenByTime } from "../src/open-by-time";
import { EventBuffers, OpenEvent } from "../src/open-event";
import { Header } from "../src/record";

// A host's open events by log time (the grouping's per-host order, T21 #1). The NDJSON writer hands an event's
// object out again once it is written (reuseEvents, issue 23 Round 24): the heap's entries left for it must keep
// the time and seq they had, or the object's new time moves them and the earliest open event is missed.

type Ev = {
  node: string | undefined;
  stamp: string;
  seq: number;
  timeMs: number;
  serial: number;
  sec: number;
  msDigits: number;
  shape: number;
  tick: number;
  lastRecord: number;
  weight: number;
  recordCount: number;
  part: number;
};

describe("OpenByTime with event objects reused", () => {
  it("finds the earliest open event while done entries' objects come back as later events", () => {
    let seed = 24;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const heap = new OpenByTime<Ev>();
    const open = new Set<Ev>();
    const done: Ev[] = [];
    let seq = 0;
    let now = 0;
    for (let step = 0; step < 20_000; step++) {
      if (random() < 0.55) {
        // a new event, a few ms either side of the newest: a done object handed out again when there is one
        const e: Ev = done.pop() ?? {
          node: "h",
          stamp: "",
          seq: 0,
          timeMs: 0,
          serial: 0,
          sec: 0,
          msDigits: 0,
          shape: 0,
          tick: 0,
          lastRecord: 0,
          weight: 0,
          recordCount: 0,
          part: 0,
        };
        now += 1;
        e.timeMs = now + Math.floor(random() * 40) - 20;
        e.seq = ++seq;
        open.add(e);
        heap.push(e);
      } else if (open.size > 0) {
        const expected = Math.min(...[...open].map((e) => e.timeMs));
        expect(heap.oldestMs()).toBe(expected);
        // the oldest taken, or any one completed (EOE): its entry left behind, its seq 0 as the assembler leaves it
        const oldest = random() < 0.5 ? heap.oldest() : undefined;
        if (oldest !== undefined) heap.dropOldest();
        const e = oldest ?? [...open][Math.floor(random() * open.size)]!;
        open.delete(e);
        e.seq = 0;
        done.push(e);
      }
      if (heap.size > 2 * open.size + 64) heap.compact();
    }
  });
});

describe("an OpenEvent kept for reuse (issue 23, Round 24)", () => {
  it("holds nothing of the event it was: not its buffers (maybe dropped from a full pool), line chunk or argv pieces", () => {
    const h = new Header();
    const buffers = new EventBuffers();
    const event: AuditEvent = { id: "1.000:1", time: null, serial: 1, types: [], records: [] };
    const open = new OpenEvent(event, h, buffers, 0);
    open.chunks = new Map();
    open.argvRaw = { 1: "ff" };
    open.settle({ buf: Buffer.alloc(64 << 10), used: 10, lines: 1 }, 0, 10);
    open.clear();
    expect(open.buffers).not.toBe(buffers);
    expect(open.records).not.toBe(buffers.records);
    expect([open.line, open.chunks, open.argvRaw, open.settled, open.weight]).toEqual([undefined, undefined, undefined, false, 0]);
    const next = new EventBuffers();
    open.reopen(h, next, 3);
    expect([open.buffers, open.records, open.tick]).toEqual([next, next.records, 3]);
  });
});
