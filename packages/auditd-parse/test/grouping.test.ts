import { describe, expect, it, vi } from "vitest";
import { HeldLines } from "../src/held-lines";
import { Assembler, AuditParser, type EventBuilder, type ParserOptions, type PendingEvent, parseText } from "../src/index";
import { heldLog } from "./held-log";

// When records become events, and when an event is handed over (mutation testing, issue 19, found these
// unpinned). Streaming matters here: `auditd-parse -F` and plugin mode write an event when it completes, so
// an event held too long is late output, and one let go too early is split in two.

const syscall = (serial: number, sec = "100.000", extra = "") =>
  `type=SYSCALL msg=audit(${sec}:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=${serial}${extra}`;
const path = (serial: number, sec = "100.000") => `type=PATH msg=audit(${sec}:${serial}): item=0 name="/bin/x${serial}"`;
const eoe = (serial: number, sec = "100.000") => `type=EOE msg=audit(${sec}:${serial}): `;

/** A parser fed line by line; `out` is what has been handed over so far, as serial/record-count pairs. */
function streaming(options: ParserOptions = {}) {
  const out: string[] = [];
  const parser = new AuditParser((e) => out.push(`${e.serial}:${e.records.length}`), options);
  return {
    out,
    parser,
    push: (...lines: string[]) => {
      for (const line of lines) parser.pushLine(line);
    },
  };
}

/**
 * The log's NDJSON lines as the parser writes them, and the buffer sets it made; with reuseEvents as the NDJSON
 * writer (pipeline.ts) parses, reading only the line (linesOnly).
 */
function ndjsonLines(log: readonly string[], reuseEvents: boolean): { lines: string[]; sets: number } {
  const lines: string[] = [];
  const parser = new AuditParser((_, json) => lines.push(String(json)), {
    recordObjects: false,
    summaries: false,
    reuseEvents,
    linesOnly: reuseEvents,
  });
  for (const line of log) parser.pushLine(line);
  parser.end();
  return { lines, sets: parser.bufferSets };
}

describe("what is an event", () => {
  it("blank, space-only and # comment lines are skipped, not events or malformed", () => {
    const { events, stats } = parseText(["", "   ", "# a comment", syscall(1), eoe(1), " "].join("\n"));
    expect(events.map((e) => e.serial)).toEqual([1]);
    expect(stats).toMatchObject({ lines: 6, records: 2, events: 1, malformed: 0 });
  });

  it("a line of only tabs, carriage returns or other white space is skipped like a space-only one, as ausearch skips it", () => {
    // ausearch -if skips every white-space-only line and laurel emits no event for any of them (it logs each,
    // blank ones included, as a header it cannot parse): neither tells a tab from a space.
    const lines = ["\t", " \t ", "\r", "\t\t", "\v", "\f", syscall(1), eoe(1), "\t"];
    const { events, stats } = parseText(lines.join("\n"));
    expect(events.map((e) => e.serial)).toEqual([1]);
    expect(stats).toMatchObject({ lines: 9, records: 2, events: 1, malformed: 0 });
    // Only white space is: a no-break space (not white space to C's isspace) is a line that is no record.
    expect(parseText(" \u00a0").stats).toMatchObject({ events: 1, malformed: 1 });
  });

  it("an EOE with no open event is dropped; a record after its event's EOE is an event of its own", () => {
    const s = streaming();
    s.push(eoe(9), syscall(1), path(2), eoe(1), path(1));
    expect(s.out).toEqual(["1:1"]);
    s.parser.end();
    // at the end, the open ones in the order they began
    expect(s.out).toEqual(["1:1", "2:1", "1:1"]);
    expect(s.parser.stats).toMatchObject({ events: 3, malformed: 0 });
  });

  it("the same serial at another second, or another millisecond, or another stamp text, is another event", () => {
    const { events } = parseText([syscall(5, "100.000"), path(5, "101.000"), path(5, "100.001")].join("\n"));
    expect(events.map((e) => [e.serial, e.records.length])).toEqual([
      [5, 1],
      [5, 1],
      [5, 1],
    ]);
    // "100.050" and "100.50" are different stamps (auditd always writes three digits: one is not auditd's)
    expect(parseText([syscall(5, "100.050"), path(5, "100.50")].join("\n")).events).toHaveLength(2);
    expect(parseText([syscall(5, "100.000"), path(5, "100.001")].join("\n")).events).toHaveLength(2);
  });

  it("an EOE completes its event even when another event's records came after it", () => {
    const s = streaming();
    s.push(syscall(1), syscall(2), path(1), eoe(1));
    expect(s.out).toEqual(["1:2"]);
    s.push(path(2), eoe(2));
    expect(s.out).toEqual(["1:2", "2:2"]);
  });
});

describe("when an event without EOE is handed over", () => {
  it("once log time passes the window, except the four most recent events, which a straggler may still join", () => {
    const s = streaming({ windowMs: 1000 });
    s.push(syscall(1), syscall(2), syscall(3), syscall(4), syscall(5));
    expect(s.out).toEqual([]);
    s.push(syscall(6, "102.000"));
    // six open, two seconds on: 1 and 2 are out of the window; 3, 4, 5 and 6 are the four most recent
    expect(s.out).toEqual(["1:1", "2:1"]);
    s.push(path(3), path(1));
    s.parser.end();
    // the straggler of 1 is its own event; it goes out in log-time order, before 6
    expect(s.out).toEqual(["1:1", "2:1", "3:2", "4:1", "5:1", "1:1", "6:1"]);
  });

  it("not while log time stays inside the window, to the millisecond", () => {
    const s = streaming({ windowMs: 2000 });
    s.push(syscall(1), syscall(2), syscall(3), syscall(4), syscall(5), syscall(6, "101.999"), syscall(7, "102.000"));
    expect(s.out).toEqual([]);
    s.push(syscall(8, "102.001"));
    expect(s.out).toEqual(["1:1", "2:1", "3:1", "4:1"]);
  });

  it("per host: another host's clock running seconds ahead does not cut an event in two (red2.log)", () => {
    // the tester's multi-host log: h3's CWD and PROCTITLE came out as two events under one id, because h2's
    // record 4 s later in log time (another host, its clock ahead) passed the window for every host
    const lines = [
      'node=h3 type=CWD msg=audit(1700000040.568:334): cwd="/home/bob"',
      'node=h4 type=CWD msg=audit(1700000039.068:329): cwd="/home/carol"',
      "node=h5 type=PROCTITLE msg=audit(1700000041.068:336): proctitle=6964",
      'node=h0 type=EXECVE msg=audit(1700000041.569:339): argc=3 a0="x"',
      'node=h2 type=EXECVE msg=audit(1700000044.571:350): argc=1 a0="x"',
      "node=h3 type=PROCTITLE msg=audit(1700000040.568:334): proctitle=6964",
    ];
    const { events, stats } = parseText(lines.join("\n"));
    const h3 = events.filter((e) => e.node === "h3");
    expect(h3.map((e) => e.records.map((r) => r.type))).toEqual([["CWD", "PROCTITLE"]]);
    expect(stats).toMatchObject({ records: 6, events: 5, split: 0 });
  });

  it("per host: each host's events leave the window by its own clock, the caps on open events count every host", () => {
    const s = streaming({ windowMs: 1000 });
    // host a's clock runs 10 s ahead of b's; b has six events open, more than the four kept whatever their age
    s.push(...[1, 2, 3, 4, 5, 6].map((n) => `node=b ${syscall(n)}`));
    s.push(`node=a ${syscall(100, "110.000")}`);
    expect(s.out).toEqual([]);
    // b's late records still join their events
    s.push(`node=b ${path(1)}`, `node=b ${path(2)}`);
    expect(s.out).toEqual([]);
    // b's own clock passing the window does cut b's oldest (the four most recent stay open, a's among them)
    s.push(`node=b ${syscall(7, "102.000")}`);
    expect(s.out).toEqual(["1:2", "2:2", "3:1", "4:1"]);
    s.parser.end();
    expect(s.out).toEqual(["1:2", "2:2", "3:1", "4:1", "5:1", "6:1", "7:1", "100:1"]);

    // maxInFlight still bounds the open events of all hosts together, oldest first
    const capped = streaming({ maxInFlight: 2 });
    capped.push(`node=b ${syscall(1)}`, `node=a ${syscall(2, "110.000")}`, `node=c ${syscall(3, "120.000")}`);
    expect(capped.out).toEqual(["1:1"]);
  });

  it("per host: a host's open event still leaves by its window after many of its events came and went", () => {
    const s = streaming({ windowMs: 1000 });
    s.push(`node=a ${syscall(1)}`);
    // 150 events of a, each interleaved with one of b and ended by EOE: a's window passes over them all
    for (let n = 2; n <= 151; n++)
      s.push(`node=a ${syscall(n)}`, `node=b ${syscall(n + 1000)}`, `node=a ${eoe(n)}`, `node=b ${eoe(n + 1000)}`);
    s.push(...[3, 4, 5, 6].map((n) => `node=b ${syscall(n + 2000, "100.500")}`));
    expect(s.out).not.toContain("1:1");
    s.push(`node=a ${syscall(200, "101.001")}`);
    // a's clock past the window: its first event, open all along, goes out (the four most recent stay open)
    expect(s.out.filter((e) => e === "1:1")).toHaveLength(1);
    expect(s.out).toHaveLength(301);
  });

  it("the oldest first once more than maxInFlight are open", () => {
    const s = streaming({ maxInFlight: 2 });
    s.push(syscall(1), syscall(2));
    expect(s.out).toEqual([]);
    s.push(syscall(3));
    expect(s.out).toEqual(["1:1"]);
    s.push(syscall(4));
    expect(s.out).toEqual(["1:1", "2:1"]);
  });

  it("on the wall clock in live mode: after windowMs of ticks with no record for it", () => {
    const s = streaming();
    s.push(syscall(1), syscall(2));
    s.parser.tick(1000, 2000); // one tick of the two the window takes
    expect(s.out).toEqual([]);
    s.push(path(2)); // event 2 got a record: its idle time starts again
    s.parser.tick(1000, 2000);
    expect(s.out).toEqual(["1:1"]);
    s.parser.tick(1000, 2000);
    expect(s.out).toEqual(["1:1", "2:2"]);
  });

  it("a record of an event completed so, coming after, starts a part counted as split, once however many (T26 #1)", () => {
    const counted = (s: ReturnType<typeof streaming>) => [s.out.filter((o) => o.startsWith("1:")), s.parser.stats.split];
    // live mode: idle for the window's ticks
    const live = streaming();
    live.push(syscall(1), syscall(2));
    live.parser.tick(1000, 2000);
    live.parser.tick(1000, 2000);
    live.push(path(1), path(1), eoe(1), path(2));
    expect(counted(live)).toEqual([["1:1", "1:2"], 2]);
    // more open than maxInFlight: the earliest begun
    const crowded = streaming({ maxInFlight: 8 });
    for (let i = 1; i <= 9; i++) crowded.push(syscall(i));
    crowded.push(path(1), eoe(1));
    expect(counted(crowded)).toEqual([["1:1", "1:1"], 1]);
    // over 64 open, 256 of the host's events held behind its oldest (releaseHost): that one
    const held = streaming();
    for (let i = 1; i <= 70; i++) held.push(syscall(i));
    for (let i = 100; i < 400; i++) held.push(syscall(i, "100.500"), eoe(i, "100.500"));
    held.push(path(1));
    expect(counted(held)).toEqual([["1:1"], 1]);
    held.parser.end();
    expect(counted(held)).toEqual([["1:1", "1:1"], 1]);
    // and its EOE alone, late, is no part: the event was whole
    const whole = streaming({ maxInFlight: 8 });
    for (let i = 1; i <= 9; i++) whole.push(syscall(i));
    whole.push(eoe(1));
    expect(counted(whole)).toEqual([["1:1"], 0]);
  });
});

describe("the order events are handed over in", () => {
  it("an event completed behind an older open one waits for it, so a timeline never goes backwards", () => {
    const s = streaming();
    s.push(syscall(1, "100.000"), syscall(2, "100.500"), eoe(2, "100.500"));
    expect(s.out).toEqual([]);
    s.push(eoe(1));
    expect(s.out).toEqual(["1:1", "2:1"]);
  });

  it("events of the same log time go out in the order they completed, at once", () => {
    const s = streaming();
    s.push(syscall(1), syscall(2), syscall(3), eoe(3), eoe(2));
    expect(s.out).toEqual(["3:1", "2:1"]);
    s.push(syscall(4, "100.500"), eoe(4, "100.500"), syscall(5, "100.500"), eoe(5, "100.500"));
    expect(s.out).toEqual(["3:1", "2:1"]); // behind 1, still open
    s.push(eoe(1));
    expect(s.out).toEqual(["3:1", "2:1", "1:1", "4:1", "5:1"]);
    // held behind an open event of the same log time: it goes once the older one is done
    const t = streaming();
    t.push(syscall(1), syscall(2, "100.500"), eoe(2, "100.500"), syscall(3, "100.500"));
    expect(t.out).toEqual([]);
    t.push(eoe(1));
    expect(t.out).toEqual(["1:1", "2:1"]);
  });

  it("an older event held behind newer ones goes before them, after those of its own log time", () => {
    // held behind 1 (open), in the order they complete: 2 at .500, 3 at .200 (before 2), 4 at .500 (after 2),
    // 5 at .200 (after 3, not before it: the same log time keeps completion order), 6 at .100 (first)
    const s = streaming();
    s.push(syscall(1, "100.000"));
    for (const [serial, sec] of [
      [2, "100.500"],
      [3, "100.200"],
      [4, "100.500"],
      [5, "100.200"],
      [6, "100.100"],
    ] as const) {
      s.push(syscall(serial, sec), eoe(serial, sec));
    }
    expect(s.out).toEqual([]);
    s.push(eoe(1));
    expect(s.out).toEqual(["1:1", "6:1", "3:1", "5:1", "2:1", "4:1"]);
  });

  it("at the end of input, open events go out in log-time order with the ones held behind them (no EOE)", () => {
    // rhel7-style: commands without EOE, then a one-record logout 0.2 s later, all inside the four kept open
    const logout = (serial: number, sec: string) =>
      `type=USER_END msg=audit(${sec}:${serial}): pid=900 uid=0 auid=1000 ses=5 msg='op=PAM:session_close res=success'`;
    const s = streaming();
    s.push(syscall(2, "101.000"), path(2, "101.000"), syscall(3, "102.000"), path(3, "102.000"), logout(10, "102.200"));
    s.push(syscall(102, "201.000"), syscall(103, "202.000"), logout(110, "202.200"));
    expect(s.out).toEqual([]);
    s.parser.end();
    expect(s.out).toEqual(["2:2", "3:2", "10:1", "102:1", "103:1", "110:1"]);
  });

  it("with more than 64 older events open, an event waits only for its own host's (T21 #1)", () => {
    const behind = (open: number, node = "") => {
      const s = streaming();
      for (let i = 1; i <= open; i++) s.push(syscall(i));
      s.push(node + syscall(100, "100.500"), node + eoe(100, "100.500"));
      return s.out;
    };
    expect(behind(64)).toEqual([]);
    // before T21 #1: ["100:1"], ahead of the 65 older events of its host
    expect(behind(65)).toEqual([]);
    expect(behind(65, "node=other ")).toEqual(["100:1"]);
  });

  it("no more than 256 completed events wait behind one open event: then it is completed", () => {
    const s = streaming();
    s.push(syscall(1, "100.000"));
    for (let i = 2; i <= 257; i++) s.push(syscall(i, "100.500"), eoe(i, "100.500"));
    expect(s.out).toEqual([]);
    s.push(syscall(258, "100.500"), eoe(258, "100.500"));
    expect(s.out).toHaveLength(258);
    expect(s.out.slice(0, 3)).toEqual(["1:1", "2:1", "3:1"]);
  });

  it("an event still getting its records is not cut for them, though oldest in log time (T25 #1)", () => {
    const s = streaming();
    s.push(syscall(1, "100.000")); // no EOE: the next 256 wait behind it
    for (let i = 2; i <= 257; i++) s.push(syscall(i, "100.500"), eoe(i, "100.500"));
    // a host whose clock is behind begins an event older than all, and one more completes while it is written
    s.push(`node=b ${syscall(9000, "99.000")}`, syscall(258, "100.500"), eoe(258, "100.500"));
    expect(s.out).toEqual([]);
    s.push(`node=b ${path(9000, "99.000")}`, `node=b ${eoe(9000, "99.000")}`);
    // before: it was completed at its SYSCALL, and its PATH was a second event 9000 (split not counted); whole, it
    // goes out first, then the one open since 100.000, as 257 are held behind it
    expect(s.out.slice(0, 3)).toEqual(["9000:2", "1:1", "2:1"]);
    expect(s.out).toHaveLength(259);
    expect(s.parser.stats.split).toBe(0);
  });

  it("one whose records keep coming between others' is cut past 512 held, counted as split", () => {
    const s = streaming();
    const login = (serial: number) => `type=USER_LOGIN msg=audit(100.500:${serial}): pid=1 uid=0 res=success`;
    s.push(syscall(1, "100.000"));
    for (let i = 2; i <= 257; i++) s.push(syscall(i, "100.500"), eoe(i, "100.500"));
    s.push(`node=b ${syscall(9000, "99.000")}`);
    for (let i = 1000; i < 1300; i++) s.push(login(i), `node=b ${path(9000, "99.000")}`);
    expect(s.parser.stats.split).toBe(1);
    expect(s.out[0]).toBe("9000:257");
  });

  it("nor more than 4 MiB of them", () => {
    const s = streaming();
    const big = ` comm="${"x".repeat(200_000)}"`;
    s.push(syscall(1, "100.000"));
    for (let i = 2; i <= 40; i++) s.push(syscall(i, "100.500", big), eoe(i, "100.500"));
    expect(s.out.length).toBeGreaterThan(0);
    expect(s.out[0]).toBe("1:1");
  });
});

describe("lost and skipped serials", () => {
  const run = (serials: number[]) => parseText(serials.flatMap((n) => [syscall(n), eoe(n)]).join("\n")).stats;

  it("a gap after eight consecutive serials is lost events; before that, an excerpt's omission", () => {
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 12])).toMatchObject({ lost: 2, skipped: 2 });
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 11])).toMatchObject({ lost: 0, skipped: 2 });
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10])).toMatchObject({ lost: 0, skipped: 0 });
    // a repeated older serial (not a gap it fills) changes neither count
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 5])).toMatchObject({ lost: 0, skipped: 0 });
  });

  it("a late event fills the gap it was counted in, and a filled gap keeps the stream contiguous", () => {
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 10])).toMatchObject({ lost: 0, skipped: 0 });
    // after the gap is filled the run counts as contiguous: the next gap is lost at once
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 10, 14])).toMatchObject({ lost: 2, skipped: 2 });
    // half a gap filled: the stream is not contiguous yet, so the next gap is an omission
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 15])).toMatchObject({ lost: 1, skipped: 3 });
    // a gap outside a contiguous run is not lost; a late event still fills the counted gap it belongs to, even
    // after that later gap (events out of order are not lost ones): 11 is still missing
    expect(run([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 10])).toMatchObject({ lost: 1, skipped: 3 });
  });

  it("a jump of 100000 or more is an auditd restart, not lost events; backwards too", () => {
    const dense = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(run([...dense, 100_010])).toMatchObject({ lost: 0, skipped: 0 });
    expect(run([...dense, 100_009])).toMatchObject({ lost: 99_999, skipped: 99_999 });
    expect(run([...dense.map((n) => n + 200_000), 5, 6, 7, 8, 9, 10, 11, 12, 13, 15])).toMatchObject({ lost: 1 });
    // exactly 100000 back is still a late event, not a restart: the stream goes on from the newest serial
    const late = Array.from({ length: 10 }, (_, i) => 100_009 + i);
    expect(run([...dense.map((n) => n + 200_000), ...late, 100_020])).toMatchObject({ lost: 0 });
  });

  it("auditd's own DAEMON_* records, numbered by auditd, are no gap in the kernel's stream", () => {
    // as auditd writes them: a DAEMON_ROTATE at a rotation, DAEMON_END and DAEMON_START around a restart (the
    // corpus' go-libaudit auparse-testdata/audit-rhel7.log: DAEMON_START …:7798 among kernel events :385, :389)
    const kernel = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => [syscall(from + i), eoe(from + i)]).flat();
    const daemon = (type: string, serial: number) => `type=${type} msg=audit(100.000:${serial}): op=rotate-logs auid=0 pid=1 res=success`;
    const rotated = [...kernel(101, 111), daemon("DAEMON_ROTATE", 7800), ...kernel(112, 116)];
    expect(parseText(rotated.join("\n")).stats).toMatchObject({ lost: 0, skipped: 0 });
    const restarted = [...kernel(101, 111), daemon("DAEMON_END", 7799), daemon("DAEMON_START", 7800), ...kernel(112, 116)];
    expect(parseText(restarted.join("\n")).stats).toMatchObject({ lost: 0, skipped: 0 });
    // a real gap beside them is still lost events
    expect(parseText([...rotated, ...kernel(120, 121)].join("\n")).stats).toMatchObject({ lost: 3 });
  });

  it("counts per node: two hosts' interleaved serials are two contiguous streams", () => {
    const lines = [];
    for (let n = 1; n <= 10; n++)
      lines.push(`node=a ${syscall(n)}`, `node=a ${eoe(n)}`, `node=b ${syscall(n + 500)}`, `node=b ${eoe(n + 500)}`);
    expect(parseText(lines.join("\n")).stats).toMatchObject({ lost: 0, skipped: 0 });
  });
});

/** How many times the grouping read the stamp of the events it handed over. */
function stampReads(out: { reads: number }[]): number {
  return out.reduce((sum, e) => sum + e.reads, 0);
}

/** An Assembler fed lines, with a builder that keeps only what grouping needs; `out` is what it handed over. */
function bareAssembler() {
  type Bare = PendingEvent & { weight: number; recordCount: number; reads: number };
  const out: Bare[] = [];
  const builder: EventBuilder<Bare> = {
    begin: (h, stamp, tick) => {
      const event: Bare = { ...h, node: h.node, stamp, seq: 0, tick, lastRecord: 0, weight: 0, recordCount: 0, reads: 0, part: 0 };
      // counts the grouping's reads of the stamp (stampReads)
      Object.defineProperty(event, "stamp", {
        get: () => {
          event.reads++;
          return stamp;
        },
      });
      return event;
    },
    record: (e) => {
      e.recordCount++;
      e.weight += 100;
      return true;
    },
    complete: (e) => out.push(e),
    unparsedLine: () => {},
  };
  const assembler = new Assembler(builder);
  const push = (line: string) => {
    const buf = Buffer.from(line, "latin1");
    assembler.push(buf, 0, buf.length);
  };
  return { assembler, out, push };
}

describe("what the grouping keeps per host (T20 #1: the plain parse's memory grew with the number of hosts)", () => {
  it("on 10,000 hosts without EOE, each logging once: windows only for hosts with open events, the rest bounded", () => {
    const { assembler, out, push } = bareAssembler();
    // each host's serials run 1..9 then skip 4 (a counted gap, as in a stream that lost events)
    for (let n = 0; n < 10_000; n++) {
      const sec = (100 + n / 1000).toFixed(3);
      for (let s = 1; s <= 10; s++) push(`node=host${n} ${syscall(s < 10 ? s : 14, sec)}`);
    }
    const state = assembler.hostState();
    // before: a window per host seen (4096 kept, each with its done events) and a serial state per host (20,000)
    // a host silent for 256 records has its events completed: not the 2048 open events of ~205 hosts
    expect(state.windows).toBeLessThanOrEqual(64);
    expect(state.idle).toBeLessThanOrEqual(4096);
    expect(state.serials).toBeLessThanOrEqual(4096);
    expect(state.gaps).toBeLessThanOrEqual(4096);
    assembler.flush();
    expect(out.length).toBe(100_000);
    expect(assembler.stats.lost).toBe(40_000);
    expect(assembler.hostState().windows).toBe(0);
  });
});

describe("open events found by serial, not by a key made per event (issue 23, Round 24)", () => {
  it("events of one host sharing a serial (an auditd restart, a forged log) each get their own records, interleaved", () => {
    // three events open under serial 7 at three stamps, on a host and without one, their records interleaved
    for (const node of ["node=h1 ", ""]) {
      const stamps = ["100.000", "100.500", "100.900", "100.90"];
      const lines = [
        ...stamps.map((sec) => syscall(7, sec)),
        path(7, "100.500"),
        path(7, "100.000"),
        path(7, "100.90"),
        path(7, "100.900"),
        path(7, "100.500"),
        eoe(7, "100.500"),
        path(7, "100.900"),
        eoe(7, "100.900"),
        eoe(7, "100.000"),
      ].map((line) => node + line);
      const { events, stats } = parseText(lines.join("\n"));
      expect(events.map((e) => [e.id, e.records.length])).toEqual([
        ["100.000:7", 2],
        ["100.500:7", 3],
        ["100.900:7", 3],
        ["100.90:7", 2],
      ]);
      expect(stats).toMatchObject({ events: 4, records: 13, malformed: 0 });
    }
  });

  it("events reused once written (the NDJSON writer) leave the same lines as new ones, one host with hundreds open", () => {
    // one host, events a few to a millisecond, some late, 40% ended by EOE: hundreds open, its oldest completed
    // past the bound (takeHostOldest) while the objects of those written are handed out again for new events
    let seed = 24;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const log: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const ms = 1700000000000 + Math.floor(i / 2) - (random() < 0.2 ? Math.floor(random() * 50) : 0);
      const stamp = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${1000 + i}`;
      log.push(`node=build01 type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 pid=${i}`);
      if (random() < 0.5) log.push(`node=build01 type=CWD msg=audit(${stamp}): cwd="/home/build"`);
      if (random() < 0.4) log.push(`node=build01 type=EOE msg=audit(${stamp}): `);
    }
    const run = (reuseEvents: boolean) => ndjsonLines(log, reuseEvents).lines;
    const reused = run(true);
    expect(reused).toHaveLength(6000);
    expect(reused).toEqual(run(false));
  });

  it("a stamp is read (a key made) only for an event whose serial another open event of its host has", () => {
    const { assembler, out, push } = bareAssembler();
    // 16 hosts interleaved record by record without EOE: ~all their events open at once, none sharing a serial
    for (let s = 1; s <= 200; s++) {
      for (const type of ["SYSCALL", "PATH"]) {
        for (let n = 0; n < 16; n++) push(`node=h${n} type=${type} msg=audit(100.${String(s).padStart(3, "0")}:${s}): x=1`);
      }
    }
    expect(stampReads(out)).toBe(0);
    // h0's serial 200 again at another stamp: that event alone gets a key (read once to set it, once to drop it)
    push("node=h0 type=SYSCALL msg=audit(101.000:200): x=1");
    push("node=h0 type=PATH msg=audit(101.000:200): x=1");
    push("node=h1 type=PATH msg=audit(101.000:201): x=1");
    assembler.flush();
    expect(out.length).toBe(3_202);
    expect(stampReads(out)).toBe(2);
  });
});

describe("each host's events in log-time order however many hosts are open (T20 #2)", () => {
  /** 70 hosts with an event open (no EOE yet): more than the 64 kept in one order across hosts. */
  function manyOpen() {
    const out: string[] = [];
    const parser = new AuditParser((e) => out.push(`${e.node} ${e.serial}`));
    for (let n = 0; n < 70; n++) parser.pushLine(`node=h${n} ${syscall(n + 1)}`);
    return { out, parser, host: (node: string) => out.filter((line) => line.startsWith(`${node} `)) };
  }

  it("an event ended by EOE waits for its host's older event without EOE", () => {
    const { out, parser, host } = manyOpen();
    // h13: 1101 without EOE, 1102 and 1103 ended by EOE (before: 1102 and 1103 went out first, then 14, 1101)
    parser.pushLine(`node=h13 ${syscall(1101, "100.100")}`);
    parser.pushLine(`node=h13 ${syscall(1102, "100.200")}`);
    parser.pushLine(`node=h13 ${eoe(1102, "100.200")}`);
    parser.pushLine(`node=h13 ${syscall(1103, "100.300")}`);
    parser.pushLine(`node=h13 ${eoe(1103, "100.300")}`);
    // another host's events are not held behind h13's (across hosts, completion order above 64 open)
    parser.pushLine(`node=h5 ${eoe(6)}`);
    expect(out).toEqual(["h5 6"]);
    parser.end();
    expect(host("h13")).toEqual(["h13 14", "h13 1101", "h13 1102", "h13 1103"]);
    expect(out).toHaveLength(73);
  });

  it("back under 64 open, a host's events held per host keep their place among those held for all hosts", () => {
    const { out, parser, host } = manyOpen();
    parser.pushLine(`node=h13 ${syscall(1101, "100.100")}`);
    parser.pushLine(`node=h13 ${syscall(1102, "100.200")}`);
    parser.pushLine(`node=h13 ${eoe(1102, "100.200")}`);
    // every other event ends: 64 or fewer open again, one order for all hosts
    for (let n = 0; n < 70; n++) parser.pushLine(`node=h${n} ${eoe(n + 1)}`);
    parser.pushLine(`node=h13 ${syscall(1103, "100.300")}`);
    parser.pushLine(`node=h13 ${eoe(1103, "100.300")}`);
    parser.pushLine(`node=h13 ${eoe(1101, "100.100")}`);
    // before: 1103 (held for all hosts) went out with 1101, ahead of 1102 (held for its host)
    expect(host("h13")).toEqual(["h13 14", "h13 1101", "h13 1102", "h13 1103"]);
    expect(out).toHaveLength(73);
  });

  it("a host's held events go as soon as its older event completes, not at the end", () => {
    const { out, parser, host } = manyOpen();
    parser.pushLine(`node=h13 ${syscall(1102, "100.200")}`);
    parser.pushLine(`node=h13 ${eoe(1102, "100.200")}`);
    expect(host("h13")).toEqual([]);
    parser.pushLine(`node=h13 ${eoe(14)}`);
    expect(host("h13")).toEqual(["h13 14", "h13 1102"]);
    expect(out).toHaveLength(2);
  });

  it("past 256 held for their hosts, an event still getting its records is not the one cut (T25 #1)", () => {
    const { out, parser, host } = manyOpen();
    for (let i = 2000; i < 2256; i++) {
      const node = `node=h${1 + (i % 64)} `;
      parser.pushLine(node + syscall(i, "100.500"));
      parser.pushLine(node + eoe(i, "100.500"));
    }
    // h0 begins an event older than its open one, another of its events completes meanwhile: 257 held
    parser.pushLine(`node=h0 ${syscall(9000, "99.000")}`);
    parser.pushLine(`node=h0 ${syscall(9001, "100.500")}`);
    parser.pushLine(`node=h0 ${eoe(9001, "100.500")}`);
    parser.pushLine(`node=h0 ${path(9000, "99.000")}`);
    parser.pushLine(`node=h0 ${eoe(9000, "99.000")}`);
    parser.end();
    // before: ["h0 1", "h0 9000", "h0 9001", "h0 9000"], 9000 cut at its SYSCALL, its PATH a second event (h0 1 went
    // first as ever: h0 silent for 256 records when 9000 began)
    expect(host("h0")).toEqual(["h0 1", "h0 9000", "h0 9001"]);
    expect(out).toHaveLength(70 + 256 + 2);
    expect(parser.stats.split).toBe(0);
  });
});

describe("events held back for order keep their line, not their buffers (issue 23, Round 21)", () => {
  it("the NDJSON writer's lines are the same, with buffer sets for about the open events alone", () => {
    const log = heldLog(4000);
    // reuseEvents and linesOnly: the NDJSON writer (pipeline.ts), which reads only the line
    const run = (reuseEvents: boolean) => ndjsonLines(log, reuseEvents);
    const settled = run(true);
    const kept = run(false);
    expect(settled.lines).toHaveLength(4000);
    expect(settled.lines).toEqual(kept.lines);
    // each host's events in log-time order
    for (let host = 0; host < 16; host++) {
      const times = settled.lines.filter((l) => l.includes(`"node":"web${host}.example.net"`)).map((l) => JSON.parse(l).time as string);
      expect(times).toEqual([...times].sort());
    }
    // every held event kept its buffer set (8.7 KB or more) until it went out
    expect(kept.sets).toBeGreaterThan(200);
    expect(settled.sets).toBeLessThan(130);
  });
});

describe("events held for order copied no more than order needs (issue 23, Round 23)", () => {
  /** The NDJSON writer's lines of the log, and how many lines were written into the held lines. */
  const ndjson = (log: string[]) => {
    const put = vi.spyOn(HeldLines.prototype, "put");
    try {
      const lines: string[] = [];
      const parser = new AuditParser((_, json) => lines.push(String(json)), {
        recordObjects: false,
        summaries: false,
        reuseEvents: true,
        linesOnly: true,
      });
      for (const line of log) parser.pushLine(line);
      parser.end();
      return { lines, settled: put.mock.calls.length };
    } finally {
      put.mockRestore();
    }
  };

  it("an event that goes out behind the held ones at once is not written into the held lines first", () => {
    // one host: each exec ended by EOE completes while the older one without EOE is open for the window (2 s),
    // and may go out as soon as that one completes: 100 ms apart ~20 are open (one order for all hosts), 10 ms
    // apart ~200 (each host's order, above 64 open), as on heldLog's 16 hosts
    const execs = (gapMs: number) => {
      const log: string[] = [];
      for (let i = 0; i < 200; i++) {
        const ms = 1700000000000 + i * gapMs;
        const stamp = (serial: number) => `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
        log.push(`node=h1 type=SYSCALL msg=audit(${stamp(2 * i)}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} comm="cc"`);
        log.push(`node=h1 type=SYSCALL msg=audit(${stamp(2 * i + 1)}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} comm="ld"`);
        log.push(`node=h1 type=EOE msg=audit(${stamp(2 * i + 1)}): `);
      }
      return log;
    };
    for (const input of [execs(100), execs(10), heldLog(4000)]) {
      const { lines, settled } = ndjson(input);
      const kept = parseText(input.join("\n"), { recordObjects: false, summaries: false }).events.map((e) => e.id);
      // every event once, each host's in log-time order
      expect(lines.map((l) => (JSON.parse(l) as { id: string }).id).sort()).toEqual(kept.sort());
      const times = lines.map((l) => JSON.parse(l) as { node: string; time: string });
      for (const node of new Set(times.map((t) => t.node))) {
        const own = times.filter((t) => t.node === node).map((t) => t.time);
        expect(own).toEqual([...own].sort());
      }
      // the EOE-ended half waits; the other half goes out as it completes, and was written into the held
      // lines and read back out too (398 of 400, 4000 of 4000) before Round 23
      expect(settled).toBeLessThanOrEqual(lines.length / 2);
    }
  });
});
