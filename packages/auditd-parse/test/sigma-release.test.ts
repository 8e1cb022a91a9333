import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { AuditParser } from "../src/parser";
import { RELEASE_BYTES, SigmaEngine } from "../src/sigma/engine";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { IDS, ruleSet } from "./sigma-logs";

// The engine reuses one view (TableEvent) for every event, and its gates remember the last value they matched:
// what they read of an event must not outlive the matching. Held while the next event is parsed, an exec's argv
// (hundreds of arguments) and its documents were promoted to the old generation by each scavenge meanwhile:
// detect's collector took twice the parse's time on execs of 600 long arguments (SigmaEngine.release).

const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();

/** One exec of `n` arguments, a third of them long and hex-encoded, holding SigmaHQ's grep + password keywords. */
function exec(serial: number, n: number): string {
  const stamp = `msg=audit(1733400000.${String(serial).padStart(3, "0")}:${serial})`;
  const args = [
    "/usr/bin/grep",
    "-r",
    "password",
    ...Array.from({ length: n - 3 }, (_, i) => (i % 3 === 0 ? `with space ${"x".repeat(300)} ${i}` : `/srv/f${i}`)),
  ];
  const argv = args.map((a, i) => (a.includes(" ") ? `a${i}=${hex(a)}` : `a${i}="${a}"`)).join(" ");
  return [
    `type=SYSCALL ${stamp}: arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm="grep" exe="/usr/bin/grep" key=(null)`,
    `type=EXECVE ${stamp}: argc=${n} ${argv}`,
    `type=CWD ${stamp}: cwd="/home/alice"`,
    `type=PATH ${stamp}: item=0 name="/usr/bin/grep" inode=1 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
    `type=PROCTITLE ${stamp}: proctitle=${hex(args.slice(0, 3).join("\0"))}`,
    `type=EOE ${stamp}: `,
  ].join("\n");
}

/** A full collection (the flag set at run time: vitest's workers are not started with --expose-gc). */
function collect(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** The log through the engine as detect runs it, in a parser of its own (which is gone after): weak references to each event and its argv. */
function parse(engine: SigmaEngine, log: string): { events: WeakRef<object>[]; alerts: string[][]; bytes: number[] } {
  const events: WeakRef<object>[] = [];
  const alerts: string[][] = [];
  const bytes: number[] = [];
  const parser = new AuditParser(
    (event, json) => {
      alerts.push(engine.matchTable(event, json).map((m) => m.rule.title));
      events.push(new WeakRef(event), new WeakRef(event.argv!));
      bytes.push(json.recordTable()!.bytes.length);
    },
    { ids: IDS, recordObjects: "table", summaries: false },
  );
  parser.pushBytes(Buffer.from(`${log}\n`));
  parser.end();
  return { events, alerts, bytes };
}

describe("the engine after an event", () => {
  it("keeps nothing of the event it matched: its argv and the event are collected", async () => {
    const engine = new SigmaEngine(ruleSet(SIGMAHQ_RULES).rules);
    const { events, alerts, bytes } = parse(engine, exec(1, 400));
    // the exec was matched in full (its keyword rule's test read the command line): there was something to keep;
    // and it is large enough to be let go of (a small event's leftovers stay until the next, as cheaper)
    expect(alerts).toEqual([["Credentials In Files - Linux"]]);
    expect(bytes[0]).toBeGreaterThanOrEqual(RELEASE_BYTES);
    expect(events).toHaveLength(2);
    // WeakRef targets are kept until the job that made them ends
    await new Promise((resolve) => setTimeout(resolve, 0));
    collect();
    expect(events.map((ref) => ref.deref() === undefined)).toEqual([true, true]);
    // and the engine still matches the next event as the first (nothing it forgot was needed)
    expect(parse(engine, exec(2, 50)).alerts).toEqual([["Credentials In Files - Linux"]]);
  });
});
