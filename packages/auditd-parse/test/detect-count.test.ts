import { createStyle } from "@opsguard/core/tty";
import { describe, expect, it } from "vitest";
import { Detector, loadRuleSet } from "../src/detect";
import { AuditParser } from "../src/parser";

// detect counts the records' JSON instead of writing it (an alert's event is then interpreted again to print
// it) while few alerts print, and writes it while alerts print much of the log (Detector.countJson): the
// alerts are the same bytes either way, whenever it switches.

/** Execs of `grep password` (SigmaHQ's credentials-in-files rule alerts on each) or of `ls` (none does). */
function execs(from: number, count: number, alerting: boolean): string {
  const lines: string[] = [];
  for (let e = from; e < from + count; e++) {
    const stamp = `msg=audit(1700000000.${String(e % 1000).padStart(3, "0")}:${e + 1}):`;
    const args = alerting ? ["grep", "-r", "password", "/etc"] : ["ls", "-l", "/srv/data"];
    // long enough arguments that a few thousand events fill the detector's window of logged bytes
    args.push("x".repeat(200), `/var/lib/app/${e}`);
    lines.push(
      `type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=0 a3=0 items=1 ppid=1 pid=${e} auid=1000 uid=0 gid=0 euid=0 ses=1 comm="${args[0]}" exe="/usr/bin/${args[0]}" key="exec"`,
      `type=EXECVE ${stamp} argc=${args.length} ${args.map((a, i) => `a${i}="${a}"`).join(" ")}`,
      `type=PATH ${stamp} item=0 name="/usr/bin/${args[0]}" inode=1 nametype=NORMAL`,
      `type=EOE ${stamp}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** detect's NDJSON alerts on the log; `adaptive`: the parse counts or writes as the detector says. */
function alerts(log: Buffer, adaptive: boolean): { lines: string[]; switches: boolean[] } {
  const detector = new Detector(loadRuleSet(undefined).rules, {
    minRank: 0,
    failRank: undefined,
    format: "ndjson",
    style: createStyle(false),
  });
  const lines: string[] = [];
  const switches: boolean[] = [];
  const parser = new AuditParser(
    (event, json) => {
      detector.event(event, json, (line) => lines.push(line));
      if (switches.at(-1) !== detector.countJson.on) switches.push(detector.countJson.on);
    },
    { recordObjects: "table", summaries: false, ...(adaptive ? { countJson: detector.countJson } : {}) },
  );
  parser.pushBytes(log);
  parser.end();
  return { lines, switches };
}

describe("detect's JSON counted or written as alerts print", () => {
  it("gives the same alerts when it switches to writing under many alerts and back to counting under few", () => {
    const log = Buffer.from(execs(0, 2000, false) + execs(2000, 4000, true) + execs(6000, 6000, false) + execs(12000, 300, true));
    const adaptive = alerts(log, true);
    // it switched both ways (each event's answer counted; the window is 1 MiB of logged bytes)
    expect(adaptive.switches).toEqual([true, false, true]);
    const counted = alerts(log, false);
    expect(adaptive.lines.length).toBe(4300);
    expect(adaptive.lines).toEqual(counted.lines);
    // an alert carries the event as the parse prints it
    const plain: string[] = [];
    const parse = new AuditParser((_e, json) => plain.push(String(json)), { recordObjects: false, summaries: false });
    parse.pushBytes(log);
    parse.end();
    expect(adaptive.lines[0]).toContain(`"event":${plain[2000]}}`);
  });
});
