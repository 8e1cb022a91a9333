import { describe, expect, it } from "vitest";
import { MAX_EVENT_BYTES, MAX_EVENT_RECORDS } from "../src/assemble";
import { AuditParser, parseText } from "../src/index";

// The grouping's edges the full mutation run of auditd-grouping (round 16, with parser.test.ts) found unpinned:
// a line that only looks blank, the event count of unparsed lines, an event at exactly its record bound and one
// past its byte bound, the live tick of an event that is not the newest, and the open bytes a completed event
// gives back. grouping.test.ts holds the rest.

const syscall = (serial: number, sec = "100.000", extra = "") =>
  `type=SYSCALL msg=audit(${sec}:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=${serial}${extra}`;
const path = (serial: number, item: number, name = `/bin/x${serial}`, sec = "100.000") =>
  `type=PATH msg=audit(${sec}:${serial}): item=${item} name="${name}"`;
const eoe = (serial: number, sec = "100.000") => `type=EOE msg=audit(${sec}:${serial}): `;

describe("lines that are not records", () => {
  it("a line that starts with a space but has text is an unparsed event, not skipped as blank", () => {
    const { events, stats } = parseText([" type=SYSCALL msg=garbled", syscall(1), eoe(1)].join("\n"));
    expect(events).toHaveLength(2);
    expect(stats).toMatchObject({ lines: 3, records: 2, events: 2, malformed: 1 });
  });

  it("each unparsed line counts as one event in the statistics", () => {
    const { events, stats } = parseText(["not a record", "neither is this", syscall(1), eoe(1)].join("\n"));
    expect(events).toHaveLength(3);
    expect(stats).toMatchObject({ events: 3, malformed: 2 });
  });
});

describe("an event's bounds", () => {
  const event = (serial: number, records: number) => [syscall(serial), ...Array.from({ length: records - 1 }, (_, i) => path(serial, i))];

  it(`exactly ${MAX_EVENT_RECORDS} records and its EOE: one event, nothing split`, () => {
    const { events, stats } = parseText([...event(1, MAX_EVENT_RECORDS), eoe(1)].join("\n"));
    expect(events.map((e) => e.records.length)).toEqual([MAX_EVENT_RECORDS]);
    expect(stats.split).toBe(0);
  });

  it("one record more: two parts, the split counted, and the EOE completes the second", () => {
    const out: number[] = [];
    const parser = new AuditParser((e) => out.push(e.records.length));
    for (const line of event(1, MAX_EVENT_RECORDS + 1)) parser.pushLine(line);
    // the first part goes as soon as the record that does not fit arrives
    expect(out).toEqual([MAX_EVENT_RECORDS]);
    parser.pushLine(eoe(1));
    expect(out).toEqual([MAX_EVENT_RECORDS, 1]);
    expect(parser.stats.split).toBe(1);
  });

  it("an event past its byte bound is written in parts, each under it", () => {
    const big = "x".repeat(60_000);
    const records = Math.ceil((2 * MAX_EVENT_BYTES) / big.length) + 1;
    const { events, stats } = parseText([...Array.from({ length: records }, (_, i) => path(1, i, big)), eoe(1)].join("\n"));
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.reduce((n, e) => n + e.records.length, 0)).toBe(records);
    // each part's JSON stays within the bound (one record alone larger than it would be the exception)
    for (const e of events) expect(JSON.stringify(e).length).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(stats.split).toBe(events.length - 1);
  });
});

describe("live mode", () => {
  it("an older open event that just got a record is not completed by the next tick, however many ticks went before", () => {
    const out: number[] = [];
    const parser = new AuditParser((e) => out.push(e.serial!));
    // ticks with nothing open: the tick count runs ahead of zero
    for (let i = 0; i < 5; i++) parser.tick(1000, 2000);
    parser.pushLine(syscall(1));
    parser.pushLine(syscall(2)); // event 1 is no longer the newest
    parser.tick(1000, 2000);
    expect(out).toEqual([]);
    parser.tick(1000, 2000);
    expect(out).toEqual([1, 2]);
  });
});

describe("the bytes open events hold", () => {
  it("are given back when an event completes: after more than 8 MiB of whole events, interleaved ones are not cut", () => {
    const big = "y".repeat(100_000);
    const lines: string[] = [];
    // 90 events of ~100 kB each, every one completed by its EOE
    for (let n = 1; n <= 90; n++) lines.push(path(n, 0, big), eoe(n));
    // then two events open at once, without EOE: neither is forced out for want of room
    lines.push(syscall(1000), syscall(1001), path(1000, 0), path(1001, 0));
    const { events, stats } = parseText(lines.join("\n"));
    expect(events.slice(90).map((e) => [e.serial, e.records.length])).toEqual([
      [1000, 2],
      [1001, 2],
    ]);
    expect(stats.split).toBe(0);
  });
});

describe("too many completed events waiting behind open ones", () => {
  it("the open event oldest in log time is completed to let them out, not another; the younger ones stay whole", () => {
    const out: string[] = [];
    const parser = new AuditParser((e) => out.push(`${e.serial}:${e.records.length}`));
    // three events open without EOE, the oldest in log time neither the first nor the last to begin
    parser.pushLine(syscall(2, "200.000"));
    parser.pushLine(syscall(1, "100.000"));
    parser.pushLine(syscall(3, "300.000"));
    // more whole events than may wait (256) behind event 1, which is older than each of them
    for (let n = 10; n < 310; n++) {
      parser.pushLine(syscall(n, "150.000"));
      parser.pushLine(eoe(n, "150.000"));
    }
    expect(out.slice(0, 2)).toEqual(["1:1", "10:1"]);
    // events 2 and 3 were left open: their late records join them
    parser.pushLine(path(2, 0, "/late", "200.000"));
    parser.pushLine(path(3, 0, "/late", "300.000"));
    parser.end();
    expect(out.filter((e) => /^[23]:/.test(e))).toEqual(["2:2", "3:2"]);
    expect(out).toHaveLength(3 + 300);
  });
});
