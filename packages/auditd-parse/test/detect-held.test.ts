import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DETECT_BOUNDS } from "../src/assemble";
import { AuditParser } from "../src/index";
import { ccArgv, heldLog } from "./held-log";
import { runAuditdParse } from "./in-process";

// issue 24: detect matches an event the grouping holds back for log-time order when it is held, not when it goes
// out, and keeps only what its alerts write: the held event's buffers and record table go back to the pool while
// it waits. Its alerts must still come out in its turn.

/**
 * heldLog's 16 hosts' execs held back for order; every seventh runs `whoami` (the built-in rule "System Owner/User
 * Discovery" matches it), the rest `cc`.
 */
function detectLog(events: number): string {
  return `${heldLog(events, (i) => (i % 7 === 0 ? `argc=1 a0="whoami"` : ccArgv(i))).join("\n")}\n`;
}

const USER_DISCOVERY = "9a0d8ca0-2385-4020-b6c6-cb6153ca56f3";
const EVENTS = 4000;
let log: string;
beforeAll(() => {
  log = join(mkdtempSync(join(tmpdir(), "auditd-parse-held-")), "held.log");
  writeFileSync(log, detectLog(EVENTS));
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
    const text = detectLog(EVENTS);
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
