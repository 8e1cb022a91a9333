import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DETECT_BOUNDS } from "../src/assemble";
import { AuditParser } from "../src/index";
import { runAuditdParse } from "./in-process";

// issue 24: detect matches an event the grouping holds back for log-time order when it is held, not when it goes
// out, and keeps only what its alerts write: the held event's buffers and record table go back to the pool while
// it waits. Its alerts must still come out in its turn.

/**
 * 16 hosts' execs interleaved event by event, 10 ms apart; every other event of a host has no EOE and waits for
 * its host's window (2 s): ~100 open, and the events ended by EOE wait behind them (per host above 64 open).
 * Every seventh runs `whoami` (the built-in rule "System Owner/User Discovery" matches it), the rest `cc`.
 */
function heldLog(events: number): string {
  const lines: string[] = [];
  for (let i = 0; i < events; i++) {
    const host = i % 16;
    const serial = 1000 + Math.floor(i / 16);
    const ms = 1700000000000 + i * 10;
    const stamp = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
    const node = `node=web${host}.example.net`;
    const argv = i % 7 === 0 ? `argc=1 a0="whoami"` : `argc=3 a0="cc" a1="-c" a2="src/file${i}.c"`;
    lines.push(
      `${node} type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} comm="cc" exe="/usr/bin/cc"`,
    );
    lines.push(`${node} type=EXECVE msg=audit(${stamp}): ${argv}`);
    lines.push(`${node} type=CWD msg=audit(${stamp}): cwd="/home/build"`);
    if (Math.floor(i / 16) % 2 === 1) lines.push(`${node} type=EOE msg=audit(${stamp}): `);
  }
  return `${lines.join("\n")}\n`;
}

const USER_DISCOVERY = "9a0d8ca0-2385-4020-b6c6-cb6153ca56f3";
const EVENTS = 4000;
let log: string;
beforeAll(() => {
  log = join(mkdtempSync(join(tmpdir(), "auditd-parse-held-")), "held.log");
  writeFileSync(log, heldLog(EVENTS));
});

describe("detect on events held back for order (issue 24)", () => {
  it("writes each alert in its event's turn, with the event's line as the parse writes it", async () => {
    const parsed = await runAuditdParse([log]);
    expect(parsed.code, parsed.stderr).toBe(0);
    const whoami = parsed.stdout.split("\n").filter((l) => l.includes('"argv":["whoami"]'));
    expect(whoami).toHaveLength(Math.ceil(EVENTS / 7));
    const r = await runAuditdParse(["-v", "detect", "--json", log]);
    expect(r.code, r.stderr).toBe(0);
    const alerts = r.stdout.trim().split("\n");
    expect(alerts.map((a) => JSON.parse(a).rule.id)).toEqual(whoami.map(() => USER_DISCOVERY));
    // the parse's order (each host in log-time order) and its bytes: the alert ends with the event's line
    expect(alerts.map((a) => a.slice(a.indexOf(',"event":') + 9, -1))).toEqual(whoami);
    expect(r.stderr).toContain(`detect: ${EVENTS} events, ${whoami.length} alerts (${whoami.length} low)`);
  });

  it("the same with a filter that reads the event, and as ECS documents", async () => {
    const filtered = await runAuditdParse(["detect", "--json", "--pid", "0", "--pid", "3507", log]);
    expect(filtered.code, filtered.stderr).toBe(0);
    expect(
      filtered.stdout
        .trim()
        .split("\n")
        .map((a) => JSON.parse(a).event.pid),
    ).toEqual(["0", "3507"]);
    const parsed = await runAuditdParse([log]);
    const ids = parsed.stdout
      .split("\n")
      .filter((l) => l.includes('"argv":["whoami"]'))
      .map((l) => JSON.parse(l).id);
    const ecs = await runAuditdParse(["detect", "--format", "ecs", log]);
    expect(ecs.code, ecs.stderr).toBe(0);
    const docs = ecs.stdout
      .trim()
      .split("\n")
      .map((d) => JSON.parse(d));
    expect(docs.map((d) => d.rule.id)).toEqual(ids.map(() => USER_DISCOVERY));
    expect(docs.map((d) => `${d.auditd.sequence}`)).toEqual(ids.map((id: string) => id.split(":")[1]));
  });

  it("gives a held event's buffers back while it waits: buffer sets for about the open events alone", () => {
    const text = heldLog(EVENTS);
    const run = (early: boolean) => {
      let matched = 0;
      let written = 0;
      const parser = new AuditParser(() => written++, {
        recordObjects: "table",
        summaries: false,
        bounds: DETECT_BOUNDS,
        // what detect's sink does: the event handled now, its output written in its turn
        ...(early ? { early: () => (++matched % 2 === 0 ? () => written++ : undefined) } : {}),
      });
      for (const line of text.split("\n")) if (line !== "") parser.pushLine(line);
      parser.end();
      return { sets: parser.bufferSets, matched, written };
    };
    const held = run(false);
    const early = run(true);
    expect(held.written).toBe(EVENTS);
    // the events held back are handled early, once each; the others go to onEvent
    expect(early.matched).toBeGreaterThan(1000);
    expect(early.written).toBe(EVENTS - early.matched + Math.floor(early.matched / 2));
    // every held event kept its buffer set (8.7 KB or more) and its record table until it went out
    expect(held.sets).toBeGreaterThan(200);
    expect(early.sets).toBeLessThan(130);
  });
});
