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

/** Execs of grep by user `uid`: `grep password` (an alert) or `grep error` (none), with a few PATH records. */
function greps(e: number, uid: number, alerting: boolean): string {
  const stamp = `msg=audit(1700000100.${String(e % 1000).padStart(3, "0")}:${e + 1}):`;
  const args = ["grep", "-r", alerting ? "password" : "error", "/etc"];
  return [
    `type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=0 a3=0 items=3 ppid=1 pid=${e} auid=${uid} uid=${uid} gid=0 euid=${uid} ses=1 comm="grep" exe="/usr/bin/grep" key="exec"`,
    `type=EXECVE ${stamp} argc=${args.length} ${args.map((a, i) => `a${i}="${a}"`).join(" ")}`,
    `type=CWD ${stamp} cwd="/srv/www"`,
    ...[0, 1, 2].map((i) => `type=PATH ${stamp} item=${i} name="/etc/app/${e}/${i}.conf" inode=${i + 1} nametype=NORMAL`),
    `type=PROCTITLE ${stamp} proctitle=${Buffer.from(args.join("\0")).toString("hex")}`,
    `type=EOE ${stamp}`,
  ].join("\n");
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

describe("detect's JSON written in the first pass for events like those it prints", () => {
  it("writes the JSON of a user's and program's events that alert, counts the others', and prints the same alerts", () => {
    // uid 33's greps always alert, uid 1000's one in four, uid 0's never: each its own print key
    const events: string[] = [];
    const users: number[] = [];
    for (let e = 0; e < 1200; e++) {
      const uid = [33, 1000, 0][e % 3]!;
      users.push(uid);
      events.push(greps(e, uid, uid === 33 || (uid === 1000 && Math.floor(e / 3) % 4 === 3)));
    }
    const log = Buffer.from(`${events.join("\n")}\n`);
    const detector = new Detector(loadRuleSet(undefined).rules, {
      minRank: 0,
      failRank: undefined,
      format: "ndjson",
      style: createStyle(false),
    });
    const lines: string[] = [];
    // per uid, events whose line came from the first pass (full() is the line itself, not a second interpretation)
    const firstPass = new Map<number, number>();
    let n = 0;
    const parser = new AuditParser(
      (event, json) => {
        detector.event(event, json, (line) => lines.push(line));
        const uid = users[n++]!;
        if (json.full() === json) firstPass.set(uid, (firstPass.get(uid) ?? 0) + 1);
      },
      { recordObjects: "table", summaries: false, countJson: detector.countJson },
    );
    parser.pushBytes(log);
    parser.end();
    expect(n).toBe(1200);
    // www-data's after its first event (not yet known to print), none of the others'
    expect(firstPass.get(33)).toBe(399);
    expect(firstPass.get(1000)).toBeUndefined();
    expect(firstPass.get(0)).toBeUndefined();
    // the same alerts, byte for byte, as with every event counted and interpreted again to print
    // uid 33's twice (credentials in files, and a web server's user running grep), uid 1000's once
    expect(lines.length).toBe(400 * 2 + 100);
    expect(lines).toEqual(alerts(log, false).lines);
    // and each alert carries its event as the plain parse prints it
    const plain = new Map<string, string>();
    const parse = new AuditParser((event, json) => plain.set(event.id!, String(json)), { recordObjects: false, summaries: false });
    parse.pushBytes(log);
    parse.end();
    for (const line of lines) expect(line.endsWith(`"event":${plain.get(JSON.parse(line).event.id)}}`)).toBe(true);
  });
});
