import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Session } from "../src/sessions";
import { runAuditdParse } from "./in-process";
import { sessionsOf, UNSET } from "./sessions-of";

const T0 = 1_765_000_000;

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

describe("sessions lists an exec the kernel refused (T47 F6)", () => {
  /** alice's shell (pid 2003) in session 7 trying /tmp/.x/exploit on a noexec /tmp: no EXECVE, as the kernel logs it. */
  const REFUSED = [
    `type=SYSCALL msg=audit(${T0 + 3}.000:120): arch=c000003e syscall=59 success=no exit=-13 a0=55d0 a1=55d1 a2=55d2 a3=0 items=1 ppid=2002 pid=2003 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=7 comm="bash" exe="/usr/bin/bash" key="exec"`,
    `type=CWD msg=audit(${T0 + 3}.000:120): cwd="/tmp"`,
    `type=PATH msg=audit(${T0 + 3}.000:120): item=0 name="/tmp/.x/exploit" inode=77 dev=00:2d mode=0100755 ouid=1000 ogid=1000 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`,
    `type=PROCTITLE msg=audit(${T0 + 3}.000:120): proctitle=2D62617368`,
    `type=EOE msg=audit(${T0 + 3}.000:120): `,
  ];

  it("as the program it named, failed, with its errno and cwd, and not as the shell that tried it", () => {
    const sessions = sessionsOf([...LOGIN, ...REFUSED]);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.commands).toEqual([
      {
        time: "2025-12-06T05:46:43.000Z",
        id: `${T0 + 3}.000:120`,
        argv: ["/tmp/.x/exploit"],
        pid: "2003",
        uid: "1000",
        cwd: "/tmp",
        success: false,
        exit: "EACCES",
      },
    ]);
  });

  it("with no PATH record either (a cut event), as an exec whose program is not in the log (T49 N1)", async () => {
    const noPath = REFUSED.filter((line) => !line.startsWith("type=PATH"));
    expect(sessionsOf([...LOGIN, ...noPath])[0]!.commands).toMatchObject([{ argv: [], success: false, exit: "EACCES" }]);
    const r = await runAuditdParse(["sessions", "--passwd", "/dev/null"], `${[...LOGIN, ...noPath].join("\n")}\n`);
    expect(r.stdout).toContain("exec (program not in the log)  (cwd /tmp) (failed: EACCES)");
  });

  it("in the CLI's timeline too, and under --success no", async () => {
    const log = `${[...LOGIN, ...REFUSED].join("\n")}\n`;
    for (const args of [["sessions"], ["sessions", "--success", "no"]]) {
      const r = await runAuditdParse([...args, "--passwd", "/dev/null"], log);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/exec \/tmp\/\.x\/exploit .*failed/);
    }
  });
});

describe("the sessions timeline says when an input could not be read (T47 F10)", () => {
  it("ends with the incomplete line the page and the report open with; --json keeps its shape", async () => {
    const dir = mkdtempSync(join(tmpdir(), "t47-f10-"));
    const log = join(dir, "audit.log");
    writeFileSync(log, `${LOGIN.join("\n")}\n`);
    const missing = join(dir, "audit.log.1");
    const partial = await runAuditdParse(["sessions", "--passwd", "/dev/null", missing, log]);
    expect(partial.code).toBe(65);
    expect(partial.stdout).toContain("session 7");
    expect(partial.stdout.trimEnd().split("\n").at(-1)).toBe(
      "incomplete: 1 input(s) could not be read whole (named on stderr); what precedes covers only what was read.",
    );
    const whole = await runAuditdParse(["sessions", "--passwd", "/dev/null", log]);
    expect([whole.code, whole.stdout.includes("incomplete")]).toEqual([0, false]);
    const json = await runAuditdParse(["sessions", "--json", "--passwd", "/dev/null", missing, log]);
    expect(json.code).toBe(65);
    expect(JSON.parse(json.stdout)).toHaveLength(1);
  });
});

describe("a login record cut mid-write is no login (T47 F2)", () => {
  // bob's failed attempt, its USER_LOGIN cut where a copy of the log was taken while auditd wrote it
  const CUT = [
    `type=USER_AUTH msg=audit(${T0}.000:101): pid=2100 uid=0 auid=${UNSET} ses=${UNSET} msg='op=PAM:authentication grantors=pam_unix acct="bob" exe="/usr/sbin/sshd" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'`,
    `type=USER_LOGIN msg=audit(${T0 + 2}.000:102): pid=2100 uid=0 auid=${UNSET} ses=${UNSET} msg='op=login acct="bob" exe="/usr/sbin/sshd" hostname=? addr=19`,
  ].join("\n");

  it("sessions lists the failed attempt once, from its whole records, and no second login from the cut address", async () => {
    const r = await runAuditdParse(["sessions", "--json", "--passwd", "/dev/null"], CUT);
    const sessions = JSON.parse(r.stdout) as Session[];
    expect(sessions.map((s) => [s.user, s.from, s.loginSuccess])).toEqual([["bob", "198.51.100.7", false]]);
  });

  it("report counts no login from it; the plain parse keeps the record, its rest unparsed", async () => {
    const report = JSON.parse((await runAuditdParse(["report", "--json", "--passwd", "/dev/null"], CUT)).stdout) as {
      logins: { rows: unknown[] };
      authentications: { rows: unknown[] };
    };
    expect([report.logins.rows.length, report.authentications.rows.length]).toEqual([0, 1]);
    const parse = await runAuditdParse(["--passwd", "/dev/null"], CUT);
    expect(parse.stdout).toContain('"unparsed":"msg=\'op=login acct=\\"bob\\"');
  });
});

describe("a session whose end the filters left out is not shown open (T47 F4)", () => {
  const ENDED = [
    ...LOGIN,
    inSession("USER_AUTH", 2, 110, 2050, "root", "/usr/bin/su", "failed"),
    `type=USER_END msg=audit(${T0 + 5}.000:111): pid=2000 uid=0 auid=1000 ses=7 msg='op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'`,
  ].join("\n");

  it("says no end was among the events selected, in the timeline and on the page; unfiltered, the end is there", async () => {
    const failedOnly = await runAuditdParse(["sessions", "--success", "no", "--passwd", "/dev/null"], ENDED);
    expect(failedOnly.stdout).toContain(".. (no end among the events selected)");
    expect(failedOnly.stdout).not.toContain("(open)");
    const page = await runAuditdParse(["sessions", "--format", "html", "--success", "no", "--passwd", "/dev/null"], ENDED);
    expect(page.stdout).toContain(".. (no end among the events selected)</small>");
    const all = await runAuditdParse(["sessions", "--passwd", "/dev/null"], ENDED);
    expect(all.stdout).toContain(".. 2025-12-06T05:46:45.000Z");
    // unfiltered and never ended: still open at the end of the input
    const open = await runAuditdParse(["sessions", "--passwd", "/dev/null"], LOGIN.join("\n"));
    expect(open.stdout).toContain(".. (open)");
  });
});
