import { describe, expect, it } from "vitest";
import { EventJson } from "../src/event-json";
import { HeldLines } from "../src/held-lines";
import { EventBuffers } from "../src/open-event";
import { Output } from "../src/output";
import { AuditParser } from "../src/parser";
import { tickStdout } from "./tick-stdout";

// Issue 23 (Round 19): Buffers made per event or per burst of output outlive the scavenges (their events wait
// for the window) and are freed only by a mark-compact, which a run of small NDJSON events rarely triggers, so
// peak RSS grew with the input. These hold the reuse that stops it, by count: no timing involved.

/** `rounds` seconds of 7 hosts' events, 10 per host per second, records interleaved across hosts, no EOE. */
function interleavedLog(rounds: number): string {
  const lines: string[] = [];
  for (let n = 0; n < rounds * 10; n++) {
    const stamp = `${1700000000 + Math.floor(n / 10)}.${String(n % 1000).padStart(3, "0")}:${n + 1}`;
    const records = (h: number) => [
      `node=host${h} type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=${h * 100 + (n % 100)} auid=100${h} uid=100${h} gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=${h} comm="ls" exe="/bin/ls" key=(null)`,
      `node=host${h} type=EXECVE msg=audit(${stamp}): argc=3 a0="ls" a1="-la" a2="/tmp/x${n}"`,
      `node=host${h} type=CWD msg=audit(${stamp}): cwd="/root"`,
      `node=host${h} type=PROCTITLE msg=audit(${stamp}): proctitle=6C73002D6C61`,
    ];
    const byHost = Array.from({ length: 7 }, (_, h) => records(h));
    for (let r = 0; r < 4; r++) for (let h = 0; h < 7; h++) lines.push(byHost[h]![r]!);
  }
  return `${lines.join("\n")}\n`;
}

describe("event buffers on interleaved hosts without EOE", () => {
  it("are reused once the window is full: as many sets made as events open at once, not one per event past 64", () => {
    let events = 0;
    const hosts = new Set<string>();
    const parser = new AuditParser((event) => {
      events++;
      hosts.add(String(event.node));
    });
    // 60 seconds: ~210 events wait for the 2 s window at any time, 4,200 pass through
    const log = Buffer.from(interleavedLog(60));
    for (let at = 0; at < log.length; at += 65536) parser.pushBytes(log.subarray(at, at + 65536));
    parser.end();
    expect(events).toBe(4200);
    expect(hosts.size).toBe(7);
    // with a pool of 64 sets, each second's 70 events leaving the window dropped 6 and made 6 again: ~560 here
    expect(parser.bufferSets).toBeGreaterThan(140);
    expect(parser.bufferSets).toBeLessThanOrEqual(250);
  });
});

describe("Output's buffers under bursts of writes", () => {
  it("reuses its buffers when a burst flushes several in one tick (the stream calls back a tick later)", async () => {
    const written: Buffer[] = [];
    // as a file or /dev/null stdout does: the bytes taken at once, the callback on the next tick
    const output = new Output(undefined, tickStdout(written));
    const lines: string[] = [];
    for (let burst = 0; burst < 30; burst++) {
      // 4 lines of 40 KB (counted at 3 bytes a character: one to a 128 KiB buffer): 3-4 buffers in flight at its end
      for (let i = 0; i < 4; i++) {
        const line = String.fromCharCode(97 + ((burst + i) % 26)).repeat(40_000);
        lines.push(line);
        void output.line(line);
      }
      await new Promise(setImmediate);
    }
    await output.close();
    expect(Buffer.concat(written).toString()).toBe(lines.map((l) => `${l}\n`).join(""));
    expect(output.flushes).toBeGreaterThanOrEqual(119);
    // keeping 2 of them, each burst made 2 new buffers (60 here) and dropped 2 as garbage
    expect(output.buffersMade).toBeLessThanOrEqual(5);
  });
});

describe("buffers kept for the bursts of held events (issue 23, Round 25)", () => {
  it("Output keeps the buffers of a burst of 8 in flight: made once, not per burst", async () => {
    const written: Buffer[] = [];
    const output = new Output(undefined, tickStdout(written));
    let expected = 0;
    for (let burst = 0; burst < 30; burst++) {
      // 8 lines of 40 KB, one to a 128 KiB buffer: 7-8 buffers in flight at the burst's end
      for (let i = 0; i < 8; i++) {
        const line = String.fromCharCode(97 + ((burst + i) % 26)).repeat(40_000);
        expected += line.length + 1;
        void output.line(line);
      }
      await new Promise(setImmediate);
    }
    await output.close();
    expect(Buffer.concat(written).length).toBe(expected);
    // with 4 kept, each burst made 4 new buffers (~120 here) and dropped 4 as garbage
    expect(output.buffersMade).toBeLessThanOrEqual(9);
  });

  it("HeldLines keeps the chunks of 256 held lines of ~2.6 KB let go together: made once, not per burst", () => {
    // a build host's exec (`mixed`: 256 held behind an open event, lines of 1.3-8 KB)
    const held = heldInBursts(2600, 256);
    // 256 lines of 2.6 KB fill 10 chunks and part of an eleventh: with 8 spares kept, 2-3 were made per burst
    expect(held.chunksMade).toBeLessThanOrEqual(12);
  });

  it("HeldLines keeps the chunks of 512 held lines of ~4 KB let go together: the grouping's 4 MiB bound of them", () => {
    // T25's relay.log: up to 512 events (MAX_HELD_YOUNG) of 2-14 KB wait behind a lone LOGIN, then go together
    const held = heldInBursts(4000, 512);
    // 512 lines of 4 KB fill 32 chunks and part of a 33rd: with 16 spares kept, 16 were made per burst
    expect(held.chunksMade).toBeLessThanOrEqual(34);
  });

  it("an event's buffers start small, and a long argv's room goes back to that size once it is pooled", () => {
    const first = new EventBuffers().byteLength();
    // records 2 KiB (an open event's records are 0.5-1.4 KB on the testers' multi-host logs), the rest 256 bytes
    expect(first).toBeLessThanOrEqual(2048 + 3 * 256);
    const grown = new EventBuffers();
    grown.argv.reserve(9000);
    grown.reset();
    grown.shrink();
    expect(grown.byteLength()).toBe(first);
    // an argv of 1.5 KB (a third of a build host's execs) and records of any size keep their room: no garbage per
    // such event (records of 6-36 KB are every event on the testers' `manypath`)
    const kept = new EventBuffers();
    kept.argv.reserve(1500);
    kept.records.reserve(30_000);
    const size = kept.byteLength();
    kept.reset();
    kept.shrink();
    expect(kept.byteLength()).toBe(size);
  });

  it("an event's buffers are their own memory, not slices of node's shared 8 KiB pool, grown or not", () => {
    // a pooled set lives for the whole run, and a slice kept its whole slab alive, whatever else was cut from it:
    // 358 sets held 5.4 MB of backing stores on the testers' `corpus16`, ~1 MB of them the sets' own bytes
    const buffers = new EventBuffers();
    buffers.argv.reserve(700);
    for (const json of [buffers.records, buffers.argv, buffers.proctitle, buffers.types]) {
      expect(json.buf.buffer.byteLength).toBe(json.buf.length);
    }
  });
});

/**
 * HeldLines after 20 bursts of `perBurst` lines of ~`idBytes` bytes held together, each read back whole and let go
 * together, as the grouping lets go of the events held behind an open one.
 */
function heldInBursts(idBytes: number, perBurst: number): HeldLines {
  const held = new HeldLines();
  const line = Buffer.from(`{"id":"${"x".repeat(idBytes)}"}`);
  for (let burst = 0; burst < 20; burst++) {
    const placed = Array.from({ length: perBurst }, () => {
      const chunk = held.put(EventJson.held(line, 0, line.length));
      return { chunk, start: chunk.used - line.length, end: chunk.used };
    });
    for (const { chunk, start, end } of placed) {
      expect(held.line(chunk, start, end).lineLength).toBe(line.length + 1);
      held.free(chunk);
    }
  }
  return held;
}
