import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import type { AuditEvent } from "../src/event";
import { IsoTime } from "../src/event-json";
import { AuditParser, type ParserOptions } from "../src/parser";

// Issue 23 (avc20b): the plain NDJSON parse reuses its event objects (reuseEvents). A field the reset misses
// would show in a later event's line (the head is written from the event), or in what a filter reads.

const GOLDEN = ["enriched", "exec", "net", "nodes", "user"].map((name) =>
  readFileSync(new URL(`golden/${name}.log`, import.meta.url), "utf8"),
);

/** Rich events (every summary field, argv, proctitle, sockaddr, keys) of 5 hosts interleaved with poor ones. */
function mixedLog(): string {
  const lines: string[] = [];
  for (let n = 0; n < 400; n++) {
    const h = n % 5;
    const stamp = `audit(${1700000000 + Math.floor(n / 20)}.${String(n % 1000).padStart(3, "0")}:${n + 1})`;
    const node = `node=host${h} `;
    if (n % 3 === 0) {
      lines.push(
        `${node}type=USER_LOGIN msg=${stamp}: pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="x" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.${h} terminal=ssh res=failed'`,
      );
      continue;
    }
    lines.push(
      `${node}type=SYSCALL msg=${stamp}: arch=c000003e syscall=${n % 2 ? 59 : 42} success=${n % 4 ? "yes" : "no"} exit=${n % 4 ? 0 : -13} a0=3 a1=7ffc a2=10 a3=0 items=2 ppid=${n} pid=${n + 1} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=${n % 7} comm="c${n}" exe="/bin/c${n}" key="k${n}"`,
    );
    if (n % 2)
      lines.push(`${node}type=EXECVE msg=${stamp}: argc=2 a0="c${n}" a1=${Buffer.from(`arg ${n}\u00e9`).toString("hex").toUpperCase()}`);
    else lines.push(`${node}type=SOCKADDR msg=${stamp}: saddr=02000050C0A80001${"0".repeat(16)}`);
    lines.push(`${node}type=CWD msg=${stamp}: cwd="/home/u${n}"`);
    lines.push(`${node}type=PROCTITLE msg=${stamp}: proctitle=${Buffer.from(`c${n}\0-x`).toString("hex").toUpperCase()}`);
    if (n % 5 === 0) lines.push(`${node}type=EOE msg=${stamp}:`);
  }
  return `${lines.join("\n")}\n`;
}

/** Each event's line and its fields as the callback sees them, and how many distinct objects carried them. */
function run(log: string | Buffer, options: ParserOptions): { lines: string[]; fields: string[]; objects: number } {
  const lines: string[] = [];
  const fields: string[] = [];
  const objects = new Set<AuditEvent>();
  const parser = new AuditParser((event, json) => {
    lines.push(String(json));
    fields.push(JSON.stringify(event));
    objects.add(event);
  }, options);
  parser.pushBytes(Buffer.from(log));
  parser.end();
  return { lines, fields, objects: objects.size };
}

describe("reused event objects (reuseEvents)", () => {
  for (const summaries of [false, true]) {
    it(`give the lines and fields of new objects, summaries ${summaries ? "on" : "off"}`, () => {
      for (const log of [mixedLog(), ...GOLDEN]) {
        const fresh = run(log, { recordObjects: false, summaries });
        const reused = run(log, { recordObjects: false, summaries, reuseEvents: true });
        expect(reused.lines).toEqual(fresh.lines);
        expect(reused.fields).toEqual(fresh.fields);
        expect(fresh.objects).toBe(fresh.lines.length);
      }
      // the objects are reused (not a pass by leaving the option off)
      const reused = run(mixedLog(), { recordObjects: false, summaries, reuseEvents: true });
      expect(reused.objects).toBeLessThan(reused.lines.length / 2);
    });
  }

  it("are reused by detect's parse (records read from the table), its lines and fields those of new objects", () => {
    // detect's sink keeps nothing of an event (issue 24): each of its objects was garbage, ~18 MB per 40 MiB of (b).
    // Each line read here is the event interpreted again (countJson), which takes an object of its own
    for (const log of [mixedLog(), ...GOLDEN]) {
      const fresh = run(log, { recordObjects: "table" });
      const reused = run(log, { recordObjects: "table", reuseEvents: true });
      expect(reused.lines).toEqual(fresh.lines);
      expect(reused.fields).toEqual(fresh.fields);
    }
    // as detect reads most events: the table, not the line (a line read takes an object for the copy)
    const objects = new Set<AuditEvent>();
    const parser = new AuditParser((event, json) => objects.add(event) && json.recordTable(), {
      recordObjects: "table",
      reuseEvents: true,
    });
    parser.pushBytes(Buffer.from(mixedLog()));
    parser.end();
    expect(parser.stats.events).toBe(400);
    expect(objects.size).toBeLessThan(200);
  });

  it("are not reused when records are objects (records would be emptied under the caller)", () => {
    const { objects, lines } = run(mixedLog(), { recordObjects: "lazy", reuseEvents: true });
    expect(objects).toBe(lines.length);
  });

  it("by the NDJSON writer (linesOnly) make no time text, types or records array or head closure per event: its lines are the same", () => {
    // its line is all that is read of an event: the ISO time string and the grown types array each event got
    // were a fifth of the AVC log's scavenges, and the closure that wrote its head when read a tenth of the rest
    // (issue 23, Round 24); the head is written when the event completes
    const text = vi.spyOn(IsoTime.prototype, "text");
    const write = vi.spyOn(IsoTime.prototype, "writeMember");
    try {
      // and a reused object keeps its (empty) types and records arrays: no new ones per event
      const objects = new Set<AuditEvent>();
      const arrays = new Set<unknown[]>();
      const lazyHeads = new AuditParser(
        (event, json) => {
          const before = write.mock.calls.length;
          String(json);
          expect(write.mock.calls.length).toBe(before);
          objects.add(event);
          arrays.add(event.types).add(event.records);
        },
        { recordObjects: false, summaries: false, reuseEvents: true, linesOnly: true },
      );
      lazyHeads.pushBytes(Buffer.from(mixedLog()));
      lazyHeads.end();
      expect(lazyHeads.stats.events).toBe(400);
      expect(objects.size).toBeLessThan(200);
      expect(arrays.size).toBe(2 * objects.size);
      // more events than the pool keeps (512), so new objects and reused ones are both seen
      const big = Array.from({ length: 3 }, () => mixedLog()).join("");
      for (const log of [mixedLog(), big, ...GOLDEN]) {
        const fresh = run(log, { recordObjects: false, summaries: false });
        text.mockClear();
        const plain = run(log, { recordObjects: false, summaries: false, reuseEvents: true, linesOnly: true });
        expect(plain.lines).toEqual(fresh.lines);
        expect(text).not.toHaveBeenCalled();
        // (a line with no audit header is an event of its own: time null, as before)
        for (const fields of plain.fields.map((f) => JSON.parse(f)).filter((e) => e.id !== null))
          expect(fields).toMatchObject({ time: "", types: [], records: [] });
        // a filter reads the NDJSON writer's event objects (linesOnly, summaries on), and sessions reuses them
        // without linesOnly: their events keep their time and types
        const withText = run(log, { recordObjects: false, summaries: true }).fields;
        expect(run(log, { recordObjects: false, summaries: true, reuseEvents: true, linesOnly: true }).fields).toEqual(withText);
        expect(run(log, { recordObjects: false, summaries: true, reuseEvents: true }).fields).toEqual(withText);
        expect(text).toHaveBeenCalled();
      }
    } finally {
      text.mockRestore();
      write.mockRestore();
    }
  });

  it("made when the event completes (textAtEnd, sessions) are the texts made as its records are read", () => {
    // issue 23: sessions on 16 hosts interleaved without EOE held every open event's time, types, summary and argv
    // texts through scavenges until promoted; made at the end from the JSON written for them, they are the same
    const hex = (text: string | Buffer) => Buffer.from(text).toString("hex").toUpperCase();
    const hostile: string[] = [];
    for (let n = 0; n < 60; n++) {
      const stamp = `audit(${1700000000 + (n % 3 === 0 ? 0 : n)}.${String(n).padStart(3, "0")}:${n + 1})`;
      // three hosts, one of them a window behind: its events are held back for order (settled)
      const node = `node=h${n % 3} `;
      // quoted, a backslash is the kernel's as it is (it hex-encodes only quotes, spaces, controls and bytes past 0x7e):
      // escaped in the JSON the text is made from
      const exe = n % 4 === 0 ? hex('/tmp/a"b\\c') : n % 4 === 1 ? hex(Buffer.from([0x2f, 0x78, 0xff, 0xfe])) : `"/bin/c\\${n}"`;
      const cwd = n % 2 ? hex("/t\tab\u00e9") : `"/home/u\\${n}\u00e9"`;
      const comm = n % 5 === 0 ? hex("c\tx") : `"c${n}"`;
      hostile.push(
        `${node}type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=${n} pid=${n + 7} auid=${n % 2 ? 1000 : 4294967295} uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=${n % 2 ? n : 4294967295} comm=${comm} exe=${exe} key=(null)`,
      );
      if (n % 3 === 0)
        hostile.push(
          `${node}type=EXECVE msg=${stamp}: argc=3 a0="x" a1_len=8 a1[0]=${hex("abcd")} a1[1]="efgh" a2=${hex(Buffer.from([0x61, 0xff]))}`,
        );
      else if (n % 3 === 1) {
        hostile.push(`${node}type=EXECVE msg=${stamp}: argc=4 a0="sh" a1="-c"`);
        hostile.push(`${node}type=EXECVE msg=${stamp}: a2=${hex('echo "\\"')} a3=""`);
      } else hostile.push(`${node}type=EXECVE msg=${stamp}: argc=5 a0="y" a2="gap"`);
      hostile.push(`${node}type=CWD msg=${stamp}: cwd=${cwd}`);
      if (n % 4 === 3)
        hostile.push(
          `${node}type=USER_CMD msg=${stamp}: pid=${n} uid=1000 auid=1000 ses=${n} msg='cwd="/r" cmd=${hex("ls -l")} exe="/usr/bin/sudo" terminal=pts/0 res=success'`,
        );
    }
    const log = `${hostile.join("\n")}\n`;
    // quoted values with bytes that are not UTF-8 (a lone 0xFF; F0 90 80, three bytes read as one U+FFFD of three):
    // their JSON has U+FFFD, the text made from it the same
    const syscall = hostile.find((l) => l.includes("type=SYSCALL") && l.includes(' comm="'))!;
    const [head, tail] = syscall.split(/ comm=\S+/) as [string, string];
    const [, node, stamp] = /^(node=\S+) type=SYSCALL msg=(audit\([^)]*\))/.exec(head)!;
    const bytes = Buffer.concat([
      Buffer.from(`${head} comm="a`),
      Buffer.from([0xff, 0x62, 0x22]),
      Buffer.from(`${tail}\n${node} type=CWD msg=${stamp}: cwd="/x`),
      Buffer.from([0xf0, 0x90, 0x80, 0x22, 0x0a]),
    ]);
    for (const text of [mixedLog(), log, bytes, ...GOLDEN]) {
      for (const summaries of [true, false]) {
        const options: ParserOptions = { recordObjects: false, summaries, reuseEvents: true };
        const asRead = run(text, options);
        const atEnd = run(text, { ...options, textAtEnd: true });
        expect(atEnd.fields).toEqual(asRead.fields);
        expect(atEnd.lines).toEqual(asRead.lines);
        // sessions' events held back for order give their buffers back at once when their JSON is not read
        // (readsJson): their texts are made then
        for (const reads of [() => false, (e: AuditEvent) => e.types.includes("USER_CMD")]) {
          const held = fieldsOf(text, { ...options, readsJson: reads });
          expect(fieldsOf(text, { ...options, readsJson: reads, textAtEnd: true })).toEqual(held);
          expect(held).toEqual(asRead.fields);
        }
      }
    }
  });
});

/** The fields of each event handed over, its line not read (an event settled alone has none to read). */
function fieldsOf(log: string | Buffer, options: ParserOptions): string[] {
  const fields: string[] = [];
  const parser = new AuditParser((event) => fields.push(JSON.stringify(event)), options);
  parser.pushBytes(Buffer.from(log));
  parser.end();
  return fields;
}
