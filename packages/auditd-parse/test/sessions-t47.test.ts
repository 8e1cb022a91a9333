import { describe, expect, it } from "vitest";
import { parseText } from "../src/parser";
import { type Session, SessionTracker } from "../src/sessions";

const ids = { passwd: "/dev/null", group: "/dev/null" };
const UNSET = 4294967295;
const T0 = 1_765_000_000;

/** Sessions as written: during the input, then those still open at its end. */
function sessionsOf(lines: string[]): Session[] {
  const out: Session[] = [];
  const tracker = new SessionTracker((s) => out.push(s));
  for (const e of parseText(`${lines.join("\n")}\n`, { ids, recordObjects: true }).events) tracker.add(e);
  tracker.flush();
  return out;
}

/** alice's ssh login (auid 1000, ses 7, sshd pid 2000) at T0 from 203.0.113.9: LOGIN and USER_START. */
const LOGIN = [
  `type=LOGIN msg=audit(${T0}.010:104): pid=2000 uid=0 old-auid=${UNSET} auid=1000 tty=(none) old-ses=${UNSET} ses=7 res=1`,
  `type=USER_START msg=audit(${T0}.020:105): pid=2000 uid=0 auid=1000 ses=7 msg='op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'`,
];

/** A PAM record (op, acct, exe, res) of alice's process pid inside session 7 at T0 + t, serial n. */
function inSession(type: string, t: number, n: number, pid: number, acct: string, exe: string, res: string): string {
  const op = type === "USER_AUTH" ? "authentication" : type === "USER_ACCT" ? "accounting" : "session_open";
  return `type=${type} msg=audit(${T0 + t}.000:${n}): pid=${pid} uid=1000 auid=1000 ses=7 msg='op=PAM:${op} grantors=pam_unix acct="${acct}" exe="${exe}" hostname=? addr=? terminal=pts/0 res=${res}'`;
}

describe("sessions: the independent tester's findings (T47, session 35)", () => {
  it("lists a su refused at PAM's account stage (the password right, the target expired) as a failed nested session (F7)", () => {
    const sessions = sessionsOf([
      ...LOGIN,
      inSession("USER_AUTH", 7, 114, 2060, "oracle", "/usr/bin/su", "success"),
      inSession("USER_ACCT", 7, 115, 2060, "oracle", "/usr/bin/su", "failed"),
    ]);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.nested).toEqual([{ via: "/usr/bin/su", user: "oracle", start: "2025-12-06T05:46:47.000Z", success: false }]);
  });

  it("names no target for a sudo refused at the invoking user's password: PAM checked alice, not the target (F7)", () => {
    const sessions = sessionsOf([
      ...LOGIN,
      inSession("USER_AUTH", 2, 110, 2050, "alice", "/usr/bin/sudo", "failed"),
      inSession("USER_ACCT", 3, 111, 2051, "alice", "/usr/bin/sudo", "failed"),
    ]);
    expect(sessions[0]!.nested).toEqual([
      { via: "/usr/bin/sudo", start: "2025-12-06T05:46:42.000Z", success: false },
      { via: "/usr/bin/sudo", start: "2025-12-06T05:46:43.000Z", success: false },
    ]);
  });

  it("still names the target of a sudo that opened its session (USER_START's acct is the target)", () => {
    const sessions = sessionsOf([
      ...LOGIN,
      inSession("USER_ACCT", 2, 110, 2050, "alice", "/usr/bin/sudo", "success"),
      inSession("USER_START", 2, 111, 2050, "root", "/usr/bin/sudo", "success"),
    ]);
    expect(sessions[0]!.nested).toEqual([{ via: "/usr/bin/sudo", user: "root", start: "2025-12-06T05:46:42.000Z", success: true }]);
  });
});
