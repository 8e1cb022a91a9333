import { describe, expect, it } from "vitest";
import { type AuditEvent, AuditParser } from "../src/index";

// Round 23 (rec23): with only the NDJSON line read (argvText off) an exec's arguments are written as JSON straight
// from the EXECVE bytes; they must give the line, and the event's weight (where a long event is split), that the
// arguments made text give.

/** A seeded generator of integers below n (an LCG), so a failing seeded case repeats. */
function seeded(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
}

/** Each NDJSON line of the log, whole, for the given parser options. */
function lines(log: Buffer, options: ConstructorParameters<typeof AuditParser>[1]): string[] {
  const out: string[] = [];
  const parser = new AuditParser((_e: AuditEvent, json) => out.push(String(json)), options);
  // odd chunk sizes: lines and UTF-8 sequences split across chunks
  for (let i = 0; i < log.length; i += 41) parser.pushBytes(log.subarray(i, i + 41));
  parser.end();
  return out;
}

const hex = (b: Buffer | string) => Buffer.from(b).toString("hex").toUpperCase();

/** Argument values as the kernel and forged logs write them: quoted, hex of every kind of byte, and odd ones. */
const VALUES: string[] = [
  '"ls"',
  '"-la"',
  '""',
  '"',
  '"unterminated',
  '"caf\u00e9"',
  "(null)",
  hex("a b"),
  hex('q"uote\\back'),
  hex("tab\there\nnewline\u0001\u001f\u007f"),
  hex("\u00fc\u2028\u{1f600}"),
  hex("\ufffd literal"),
  hex(Buffer.from([0xff, 0x41, 0xc3])),
  hex(Buffer.from([0xc3, 0x0a, 0x22])),
  "2F7",
  "ZZ",
  "plain",
  "(none)",
];

/** Keys: in order, repeated, skipped, chunks, lengths, names Number() reads as an index, and other fields. */
function keyFor(next: (n: number) => number, at: number): string {
  switch (next(14)) {
    case 0:
      return `a${next(4)}`;
    case 1:
      return `a${at + 1 + next(3)}`;
    case 2:
      return `a${at}[${next(3)}]`;
    case 3:
      return `a${at}_len`;
    case 4:
      return ["a", "a01", "a1e1", "a-1", "ax", "argc", "arch", `a${100000 + next(3)}`][next(8)]!;
    default:
      return `a${at}`;
  }
}

/** A log of execs whose EXECVE records take random keys and values, some records on the text path. */
function execLog(seed: number, events: number): Buffer {
  const next = seeded(seed);
  const parts: Buffer[] = [];
  for (let e = 1; e <= events; e++) {
    const stamp = `audit(1700000000.${String(e % 1000).padStart(3, "0")}:${e})`;
    parts.push(Buffer.from(`type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 pid=${e} comm="x"\n`));
    let at = 0;
    for (let r = 1 + next(3); r > 0; r--) {
      // a free word sends the record through the text tokenizer (and its "text" into the record)
      const body = [next(6) === 0 ? "(word)" : `argc=${1 + next(60)}`];
      for (let k = next(12); k > 0; k--) {
        const key = keyFor(next, at);
        if (/^a\d+$/.test(key) && Number(key.slice(1)) >= at) at = Number(key.slice(1)) + 1;
        body.push(`${key}=${VALUES[next(VALUES.length)]!}`);
      }
      parts.push(Buffer.from(`type=EXECVE msg=${stamp}: `), Buffer.from(body.join(" "), "latin1"), Buffer.from("\n"));
    }
    if (next(2) === 0) parts.push(Buffer.from(`type=EOE msg=${stamp}:\n`));
  }
  return Buffer.concat(parts);
}

describe("argv written from the EXECVE bytes", () => {
  const plain = { recordObjects: false as const, summaries: false };

  it("writes the line the arguments made text write, whatever their keys and values", () => {
    const log = execLog(23, 1500);
    const withText = lines(log, { ...plain, argvText: true });
    expect(withText.length).toBeGreaterThan(1000);
    expect(lines(log, { ...plain, argvText: false })).toEqual(withText);
    // the argvText default for the NDJSON writer (linesOnly, reused events): the same
    expect(lines(log, { ...plain, linesOnly: true, reuseEvents: true })).toEqual(withText);
  }, 60_000);

  it("splits a long exec where the arguments made text split it (the same weight)", () => {
    const log = execLog(230, 80);
    const whole = lines(log, { ...plain, argvText: true }).length;
    // a bound every few bytes: an argument counted a few bytes off moves some split
    let splitting = 0;
    for (let bytes = 400; bytes < 1600; bytes += 4) {
      const bounds = { records: 10_000, bytes, openBytes: 1 << 30 };
      const withText = lines(log, { ...plain, argvText: true, bounds });
      if (withText.length > whole) splitting++;
      expect(lines(log, { ...plain, argvText: false, bounds }), `bound ${bytes}`).toEqual(withText);
    }
    expect(splitting).toBeGreaterThan(100);
  }, 60_000);

  it("keeps the bytes of an argument that is not UTF-8, and reads the usual exec as before", () => {
    const log = Buffer.from(
      [
        'type=EXECVE msg=audit(1.000:1): argc=4 a0="cc" a1=2D6F2061206220 a2=FF41 a3="x"',
        'type=EXECVE msg=audit(1.000:2): argc=2 a0="git" a1=2D6D0A22715C',
        // Number("-1") is an integer: the text path keeps its bytes under "-1" (a forged log's), and so must this
        'type=EXECVE msg=audit(1.000:3): a0="x" a-1=FF41',
        "",
      ].join("\n"),
      "latin1",
    );
    const [first, second, third] = lines(log, { ...plain, argvText: false }).map((l) => JSON.parse(l));
    expect(third).toMatchObject({ argv: ["x"], argvRaw: { "-1": "FF41" } });
    expect(first).toMatchObject({ argc: 4, argv: ["cc", "-o a b ", "\ufffdA", "x"], argvRaw: { 2: "FF41" } });
    expect(second).toMatchObject({ argc: 2, argv: ["git", '-m\n"q\\'] });
  });
});
