import { describe, expect, it } from "vitest";
import { parseText } from "../src/parser";
import { type Session, SessionTracker } from "../src/sessions";

const ids = { passwd: "/dev/null", group: "/dev/null" };

/**
 * The tester's make-sessions-starve.py shape (T21 #2), scaled down: `open` sessions log in and run `cmds` commands
 * each, round robin, and never log out; then one ordinary session logs in, runs 5 commands and logs out.
 */
function starve(open: number, cmds: number): string[] {
  let ms = 0;
  let serial = 1000;
  const stamp = () => {
    ms += 3;
    serial++;
    return `msg=audit(${1_765_000_000 + Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}):`;
  };
  const pam = (type: string, op: string, uid: number, ses: number) =>
    `node=srv type=${type} ${stamp()} pid=${uid} uid=0 auid=${uid} ses=${ses} msg='op=${op} acct="u${uid}" exe="/usr/sbin/sshd" hostname=192.0.2.9 addr=192.0.2.9 terminal=ssh res=success'`;
  const cmd = (uid: number, ses: number, k: number) => {
    const s = stamp();
    return [
      `node=srv type=SYSCALL ${s} arch=c000003e syscall=59 success=yes exit=0 ppid=9 pid=${5000 + k} auid=${uid} uid=${uid} ses=${ses} comm="make" exe="/usr/bin/make"`,
      // an argument beyond Latin-1 (hex, as the kernel logs it): what share takes out is weighed as it was kept
      `node=srv type=EXECVE ${s} argc=4 a0="make" a1="-j4" a2="target${k}" a3=${Buffer.from("日本語").toString("hex").toUpperCase()}`,
      `node=srv type=EOE ${s}`,
    ];
  };
  const lines: string[] = [];
  for (let i = 0; i < open; i++) lines.push(pam("USER_START", "PAM:session_open", 2000 + i, 100 + i));
  for (let k = 0; k < cmds; k++) for (let i = 0; i < open; i++) lines.push(...cmd(2000 + i, 100 + i, k));
  lines.push(pam("USER_START", "PAM:session_open", 4242, 999));
  for (let k = 0; k < 5; k++) lines.push(...cmd(4242, 999, k));
  lines.push(pam("USER_END", "PAM:session_close", 4242, 999), pam("CRED_DISP", "PAM:setcred", 4242, 999));
  return lines;
}

type Bounds = { maxKept?: number; maxBytes?: number; maxSessionBytes?: number; commandsJson?: boolean };

/** Runs the lines through a tracker, checking after every event that the items kept stay within the bounds. */
function track(lines: string[], options: Bounds) {
  const written: Session[] = [];
  const tracker = new SessionTracker((s) => written.push(s), options);
  const internals = tracker as unknown as { kept: number; keptBytes: number };
  let mostKept = 0;
  let mostBytes = 0;
  for (const e of parseText(`${lines.join("\n")}\n`, { ids, recordObjects: true }).events) {
    tracker.add(e);
    mostKept = Math.max(mostKept, internals.kept);
    mostBytes = Math.max(mostBytes, internals.keptBytes);
  }
  tracker.flush();
  return { written, mostKept, mostBytes, left: internals };
}

const targets = (s: Session) => s.commands.map((c) => c.argv[2]);
const targetsUpTo = (n: number) => Array.from({ length: n }, (_, k) => `target${k}`);

describe("sessions that never end do not starve a new one of its commands (T21 #2)", () => {
  it("past the shared maxKept, the stale sessions give up their latest commands, and the new one lists its 5", () => {
    const { written, mostKept, left } = track(starve(4, 30), { maxKept: 60 });
    const last = written.find((s) => s.ses === "999")!;
    expect([last.end !== undefined, targets(last), last.omitted ?? 0]).toEqual([true, targetsUpTo(5), 0]);
    // each stale session is still one entry, written at the end of input (still open), keeping its first commands
    const stale = written.filter((s) => s.ses !== "999");
    expect(stale.map((s) => [s.ses, s.end])).toEqual(["100", "101", "102", "103"].map((ses) => [ses, undefined]));
    for (const s of stale) {
      expect(targets(s)).toEqual(targetsUpTo(s.commands.length));
      // nothing lost silently: every command is listed or counted in omitted
      expect(s.commands.length + (s.omitted ?? 0)).toBe(30);
    }
    expect(mostKept).toBeLessThanOrEqual(60);
    expect(left.kept).toBe(0);
  });

  it("does the same past the shared maxBytes, in both ways commands are kept; a session's own share still omits its excess", () => {
    for (const commandsJson of [false, true]) {
      const { written, mostBytes, left } = track(starve(4, 30), { maxBytes: 30_000, maxSessionBytes: 30_000, commandsJson });
      const last = written.find((s) => s.ses === "999")!;
      expect(last.omitted ?? 0).toBe(0);
      expect(written.filter((s) => s.ses !== "999").every((s) => s.end === undefined && (s.omitted ?? 0) > 0)).toBe(true);
      expect(mostBytes).toBeLessThanOrEqual(30_000);
      // what was taken out was weighed as it was kept: the count of bytes comes back to 0
      expect([left.kept, left.keptBytes]).toEqual([0, 0]);
    }
    // one session alone past its own share: its excess is omitted, nothing taken from it for itself
    const own = track(starve(1, 60), { maxBytes: 100_000, maxSessionBytes: 2_000 });
    const stale = own.written.find((s) => s.ses === "100")!;
    expect(stale.omitted).toBeGreaterThan(0);
    expect(stale.commands.length + stale.omitted!).toBe(60);
    expect(targets(stale)).toEqual(targetsUpTo(stale.commands.length));
  });

  it("a new session is given room only down to its own level: then it is one of equals, and its excess is omitted", () => {
    // 20 places, 4 stale sessions of 5 each: the new one takes them down to 4 each, and keeps 4 itself
    const { written } = track(starve(4, 5), { maxKept: 20 });
    const last = written.find((s) => s.ses === "999")!;
    expect(last.commands.length + (last.omitted ?? 0)).toBe(5);
    expect(targets(last)).toEqual(targetsUpTo(4));
    for (const s of written.filter((x) => x.ses !== "999")) expect([targets(s), s.omitted]).toEqual([targetsUpTo(4), 1]);
  });
});
