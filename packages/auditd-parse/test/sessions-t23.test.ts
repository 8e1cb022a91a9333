import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseText } from "../src/parser";
import { type Session, SessionTracker } from "../src/sessions";
import { runAuditdParse } from "./in-process";
import { sessionsOf, UNSET } from "./sessions-of";

const ids = { passwd: "/dev/null", group: "/dev/null" };

/** A PAM (or login) record of one process at second t (serial n), ses and auid as given. */
function pam(type: string, t: number, n: number, pid: number, auid: number, ses: number, msg: string): string {
  return `type=${type} msg=audit(${1_764_979_200 + t}.000:${n}): pid=${pid} uid=0 auid=${auid} ses=${ses} msg='${msg} res=success'`;
}

/** sshd's session_open of alice (auid 1000, ses 1, pid 100) at second 0, from 203.0.113.9. */
const ALICE_OPENS = pam(
  "USER_START",
  0,
  1,
  100,
  1000,
  1,
  'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh',
);

function exec(t: number, n: number, auid: number, ses: number, arg: string): string[] {
  return [
    `type=SYSCALL msg=audit(${1_764_979_200 + t}.000:${n}): arch=c000003e syscall=59 success=yes exit=0 ppid=9 pid=10 auid=${auid} uid=${auid} ses=${ses} comm="echo" exe="/usr/bin/echo"`,
    `type=EXECVE msg=audit(${1_764_979_200 + t}.000:${n}): argc=2 a0="echo" a1="${arg}"`,
    `type=EOE msg=audit(${1_764_979_200 + t}.000:${n}):`,
  ];
}

/** sshd's login of auid as ses 1: the kernel's LOGIN, then PAM's session_open from addr. */
function sshLogin(t: number, n: number, auid: number, addr: string): string[] {
  return [
    `type=LOGIN msg=audit(${1_764_979_200 + t}.000:${n}): pid=${n} uid=0 old-auid=${UNSET} auid=${auid} tty=(none) old-ses=${UNSET} ses=1 res=1`,
    pam(
      "USER_START",
      t + 1,
      n + 1,
      n,
      auid,
      1,
      `op=PAM:session_open acct="u${auid}" exe="/usr/sbin/sshd" hostname=${addr} addr=${addr} terminal=ssh`,
    ),
  ];
}

describe("sessions: the independent tester's findings (T23, round 23)", () => {
  it("a session id handed out again after a reboot starts a new session; the login that never ended is written open (#1)", () => {
    const end = pam(
      "USER_END",
      23,
      30,
      200,
      1001,
      1,
      'op=PAM:session_close acct="u1001" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh',
    );
    const sessions = sessionsOf([
      ...sshLogin(0, 1, 1000, "203.0.113.9"),
      ...exec(2, 3, 1000, 1, "alice"),
      // a crash: no USER_END for alice; after the reboot bob is given ses 1 again
      ...sshLogin(20, 200, 1001, "198.51.100.20"),
      ...exec(22, 210, 1001, 1, "bob"),
      end,
    ]);
    expect(sessions.map((s) => [s.user, s.from, s.end, s.commands.map((c) => c.argv[1])])).toEqual([
      ["1000", "203.0.113.9", undefined, ["alice"]],
      ["1001", "198.51.100.20", "2025-12-06T00:00:23.000Z", ["bob"]],
    ]);
  });

  it("lists a successful login with no session id (no pam_loginuid) as a session of its own, ended by its process's USER_END (#2)", () => {
    const sessions = sessionsOf([
      pam(
        "USER_START",
        0,
        1,
        100,
        UNSET,
        UNSET,
        'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh',
      ),
      pam(
        "USER_LOGIN",
        1,
        2,
        100,
        UNSET,
        UNSET,
        'op=login id=1000 exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=/dev/pts/0',
      ),
      pam("USER_LOGIN", 2, 3, 200, UNSET, UNSET, 'op=login id=1001 exe="/usr/sbin/sshd" hostname=? addr=198.51.100.20 terminal=/dev/pts/1'),
      pam("USER_END", 3, 4, 100, UNSET, UNSET, 'op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh'),
    ]);
    expect(sessions).toEqual([
      {
        ses: "unset",
        // the account its PAM records name, not USER_LOGIN's uid (T26 #7: "1000"); with none, the uid (below)
        user: "alice",
        start: "2025-12-06T00:00:01.000Z",
        end: "2025-12-06T00:00:03.000Z",
        from: "203.0.113.9",
        // PAM's terminal, and the device its USER_LOGIN names, as for a session with an id (T24 #7)
        terminal: "ssh",
        loginTerminal: "/dev/pts/0",
        via: "/usr/sbin/sshd",
        loginSuccess: true,
        commands: [],
        connections: [],
      },
      // still open at the end of input
      expect.objectContaining({ ses: "unset", user: "1001", from: "198.51.100.20", loginSuccess: true }),
    ]);
    expect(sessions[1]!.end).toBeUndefined();
  });

  it("a sudo inside a session whose login is not in the input stays nested: one session, ended by sshd (#4)", () => {
    const sudo = (type: string, t: number, n: number, op: string) =>
      pam(type, t, n, 1012, 1000, 1, `op=${op} acct="root" exe="/usr/bin/sudo" hostname=? addr=? terminal=/dev/pts/0`);
    const sessions = sessionsOf([
      ...exec(1, 10, 1000, 1, "before"),
      sudo("USER_START", 2, 11, "PAM:session_open"),
      sudo("USER_END", 3, 12, "PAM:session_close"),
      sudo("CRED_DISP", 3, 13, "PAM:setcred"),
      ...exec(4, 14, 1000, 1, "after"),
      pam("USER_END", 5, 15, 900, 1000, 1, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=/dev/pts/0'),
    ]);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      via: "/usr/sbin/sshd",
      start: "2025-12-06T00:00:01.000Z",
      end: "2025-12-06T00:00:05.000Z",
      nested: [{ via: "/usr/bin/sudo", user: "root", start: "2025-12-06T00:00:02.000Z", end: "2025-12-06T00:00:03.000Z" }],
    });
    expect(sessions[0]!.commands.map((c) => c.argv[1])).toEqual(["before", "after"]);
  });

  it("lists a failed attempt once, as aureport --login counts it: PAM's USER_AUTH and sshd's USER_LOGIN of one process (#5)", () => {
    const failed = (type: string, t: number, n: number, pid: number, acct: string) =>
      `type=${type} msg=audit(${1_764_979_200 + t}.000:${n}): pid=${pid} uid=0 auid=${UNSET} ses=${UNSET} msg='op=x acct="${acct}" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 terminal=ssh res=failed'`;
    const sessions = sessionsOf([
      failed("USER_AUTH", 0, 1, 5000, "dave"),
      failed("USER_LOGIN", 1, 2, 5000, "dave"),
      // a second attempt of the same process is a second failed login
      failed("USER_AUTH", 2, 3, 5000, "dave"),
      failed("USER_LOGIN", 3, 4, 5000, "dave"),
      // an invalid user: sshd's USER_LOGIN alone
      failed("USER_LOGIN", 4, 5, 5100, "(invalid user)"),
    ]);
    expect(sessions.map((s) => [s.user, s.start, s.loginSuccess])).toEqual([
      ["dave", "2025-12-06T00:00:00.000Z", false],
      ["dave", "2025-12-06T00:00:02.000Z", false],
      ["(invalid user)", "2025-12-06T00:00:04.000Z", false],
    ]);
  });

  it("past the open-sessions bound only the session written early is cut, not every session after it (#3)", () => {
    const logins = [1, 2, 3, 4].map((ses) =>
      pam(
        "USER_START",
        ses,
        ses,
        100 + ses,
        1000,
        ses,
        'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh',
      ),
    );
    const commands = [1, 2, 3, 4].flatMap((ses) => exec(10 + ses, 10 + ses, 1000, ses, `cmd${ses}`));
    const ends = [1, 2, 3, 4].map((ses) =>
      pam(
        "USER_END",
        20 + ses,
        20 + ses,
        100 + ses,
        1000,
        ses,
        'op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=? addr=? terminal=ssh',
      ),
    );
    const out: Session[] = [];
    const tracker = new SessionTracker((s) => out.push(s), { maxOpen: 3 });
    for (const e of parseText(`${[...logins, ...commands, ...ends].join("\n")}\n`, { ids, recordObjects: true }).events) tracker.add(e);
    tracker.flush();
    // session 1, the oldest, written early (open) when session 4 opened; its command and end found no room
    expect(out.map((s) => [s.ses, s.end !== undefined, s.commands.length])).toEqual([
      ["1", false, 0],
      ["2", true, 1],
      ["3", true, 1],
      ["4", true, 1],
    ]);
    expect([tracker.writtenEarly, tracker.laterEvents]).toEqual([1, 2]);
  });

  it("lists a su refused at its password inside a session as a failed nested session (#6)", () => {
    const sessions = sessionsOf([
      ...sshLogin(0, 1, 1000, "203.0.113.9"),
      `type=USER_AUTH msg=audit(1764979205.000:9): pid=2020 uid=1000 auid=1000 ses=1 msg='op=PAM:authentication acct="root" exe="/usr/bin/su" hostname=? addr=? terminal=/dev/pts/0 res=failed'`,
    ]);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.nested).toEqual([{ via: "/usr/bin/su", user: "root", start: "2025-12-06T00:00:05.000Z", success: false }]);
  });
});

describe("sessions keeps what the plain parse and aureport --login show (T23 #7, round 24)", () => {
  const T23 = new URL("t23/", import.meta.url).pathname;
  const base = ["--passwd", join(T23, "passwd"), join(T23, "base.log")];
  type Json = Session & { hostname?: string; loginTerminal?: string };

  it("the login's remote host name and its terminal from USER_LOGIN, next to the address and PAM's terminal", async () => {
    const r = await runAuditdParse(["sessions", "--json", ...base]);
    expect(r.code, r.stderr).toBe(0);
    const by = new Map((JSON.parse(r.stdout) as Json[]).map((s) => [s.ses, s]));
    // carol: sshd resolved her address (hostname=laptop.example.com addr=2001:db8::5), as aureport --login shows it
    expect(by.get("4")).toMatchObject({
      from: "2001:db8::5",
      hostname: "laptop.example.com",
      terminal: "ssh",
      loginTerminal: "/dev/pts/1",
    });
    // alice: hostname= is her address, nothing to add; her pts from USER_LOGIN
    expect(by.get("1")).toMatchObject({ from: "203.0.113.9", terminal: "ssh", loginTerminal: "/dev/pts/0" });
    expect(by.get("1")).not.toHaveProperty("hostname");
    // bob on the console: login(1)'s USER_LOGIN names the terminal PAM did
    expect(by.get("2")).toMatchObject({ terminal: "/dev/tty1" });
    expect(by.get("2")).not.toHaveProperty("loginTerminal");
    const text = await runAuditdParse(["sessions", ...base]);
    expect(text.stdout).toContain(
      "session 4  user carol  from 2001:db8::5 (laptop.example.com)  via /usr/sbin/sshd  tty ssh (/dev/pts/1)  ",
    );
    expect(text.stdout).toContain("session 2  user bob  via /usr/bin/login  tty /dev/tty1  ");
  });

  it("a login with an empty addr= comes from its host name, as aureport --login shows it (T24 #3)", () => {
    const [s] = sessionsOf([
      `type=LOGIN msg=audit(${1_764_979_200}.000:1): pid=7 uid=0 old-auid=${UNSET} auid=1000 tty=(none) old-ses=${UNSET} ses=1 res=1`,
      pam(
        "USER_START",
        1,
        2,
        7,
        1000,
        1,
        'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=laptop.example.com addr= terminal=ssh',
      ),
      pam(
        "USER_END",
        9,
        3,
        7,
        1000,
        1,
        'op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=laptop.example.com addr= terminal=ssh',
      ),
    ]);
    expect(s).toMatchObject({ ses: "1", from: "laptop.example.com" });
    // its JSON has none (the tracker's session has every field, undefined until its records give it)
    expect(JSON.parse(JSON.stringify(s))).not.toHaveProperty("hostname");
  });

  it("a command's arguments that are not UTF-8 keep their exact bytes (argvRaw), as the plain parse does", async () => {
    const log = `${[
      ALICE_OPENS,
      `type=SYSCALL msg=audit(1764979201.000:2): arch=c000003e syscall=59 success=yes exit=0 ppid=9 pid=10 auid=1000 uid=1000 ses=1 comm="cat" exe="/usr/bin/cat"`,
      // "\xc3(bad\xff\xfeutf8": not UTF-8, so U+FFFD in argv
      'type=EXECVE msg=audit(1764979201.000:2): argc=3 a0="cat" a1=C328626164FFFE75746638 a2="ok"',
      "type=EOE msg=audit(1764979201.000:2):",
      ...exec(2, 3, 1000, 1, "plain"),
    ].join("\n")}\n`;
    const plain = JSON.parse((await runAuditdParse([], log)).stdout.split("\n")[1]!) as { argvRaw: unknown };
    expect(plain.argvRaw).toEqual({ "1": "C328626164FFFE75746638" });
    // --json (each command held as its JSON bytes) and --pretty (as objects) alike
    for (const args of [["--json"], ["--json", "--pretty"]]) {
      const r = await runAuditdParse(["sessions", ...args], log);
      expect(r.code, r.stderr).toBe(0);
      const [s] = JSON.parse(r.stdout) as Session[];
      expect(s!.commands.map((c) => [c.argv, c.argvRaw])).toEqual([
        [["cat", "\ufffd(bad\ufffd\ufffdutf8", "ok"], plain.argvRaw],
        [["echo", "plain"], undefined],
      ]);
    }
    const text = await runAuditdParse(["sessions"], log);
    expect(text.stdout).toContain("exec cat \ufffd(bad\ufffd\ufffdutf8 ok  (bytes a1=C328626164FFFE75746638)\n");
    // kept within the open sessions' bound too (packed as JSON there): the same command once the session is written
    const lines = log.split("\n").slice(0, 4);
    const packed = sessionsOf(lines);
    expect(packed[0]!.commands[0]!.argvRaw).toEqual(plain.argvRaw);
  });
});

describe("sessions keeps the exact bytes of a sudo command that is not UTF-8 (T24 #5)", () => {
  it("a USER_CMD whose hex cmd= is not UTF-8 keeps them as argvRaw, as an exec's arguments; UTF-8 ones carry none", async () => {
    const cmd = (n: number, hex: string) =>
      `type=USER_CMD msg=audit(${1_764_979_200 + n}.000:${n}): pid=13${n} uid=1000 auid=1000 ses=1 msg='cwd="/home/alice" cmd=${hex} exe="/usr/bin/sudo" terminal=pts/1 res=success'`;
    const log = `${[
      ALICE_OPENS,
      // "rm -rf /tmp/\xff\xfe" and "rm -rf /tmp/x"
      cmd(2, "726D202D7266202F746D702FFFFE"),
      cmd(3, "726D202D7266202F746D702F78"),
    ].join("\n")}\n`;
    for (const args of [["--json"], ["--json", "--pretty"]]) {
      const [s] = JSON.parse((await runAuditdParse(["sessions", ...args], log)).stdout) as Session[];
      expect(s!.commands.map((c) => [c.argv, c.argvRaw])).toEqual([
        [["rm -rf /tmp/\ufffd\ufffd"], { "0": "726D202D7266202F746D702FFFFE" }],
        [["rm -rf /tmp/x"], undefined],
      ]);
    }
    expect((await runAuditdParse(["sessions"], log)).stdout).toContain(
      "(via /usr/bin/sudo)  (cwd /home/alice)  (bytes a0=726D202D7266202F746D702FFFFE)\n",
    );
  });

  it("a cmd= logged in lower-case hex keeps it so, as the plain parse's raw.cmd (T25 #8: was upper-cased)", async () => {
    const log = `${ALICE_OPENS}\ntype=USER_CMD msg=audit(1764979202.000:2): pid=132 uid=1000 auid=1000 ses=1 msg='cwd="/home/alice" cmd=726d202d7266202f746d702fff exe="/usr/bin/sudo" terminal=pts/1 res=failed'\n`;
    const plain = (await runAuditdParse([], log)).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const rawCmd = plain.find((e) => e.types.includes("USER_CMD")).records[0].raw.cmd;
    expect(rawCmd).toBe("726d202d7266202f746d702fff");
    const [s] = JSON.parse((await runAuditdParse(["sessions", "--json"], log)).stdout) as Session[];
    expect(s!.commands.map((c) => c.argvRaw)).toEqual([{ "0": rawCmd }]);
  });
});

describe("sessions: a login whose sshd records carry no ses= (round 24)", () => {
  // sshd's old `PAM: …` form, as on the testers' sessions and interleaved16 logs: no ses= in its records
  const old = (type: string, t: number, n: number, auid: number, msg: string) =>
    `type=${type} msg=audit(${1_764_979_200 + t}.000:${n}): user pid=4000 uid=0 auid=${auid} msg='PAM: ${msg} acct=alice : exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'`;
  const log = [
    old("USER_AUTH", 0, 1, UNSET, "authentication"),
    `type=LOGIN msg=audit(${1_764_979_200 + 1}.000:2): pid=4000 uid=0 old-auid=${UNSET} auid=1000 tty=(none) old-ses=${UNSET} ses=7 res=1`,
    old("USER_START", 2, 3, 1000, "session open"),
    old("USER_LOGIN", 3, 4, 1000, "login"),
    ...exec(4, 5, 1000, 7, "hello"),
    old("USER_END", 5, 6, 1000, "session close"),
    old("CRED_DISP", 6, 7, 1000, "setcred"),
  ];

  it("is one session, the one its LOGIN record opened, described by its USER_LOGIN and ended by its USER_END", async () => {
    const want = {
      ses: "7",
      user: "1000",
      from: "203.0.113.9",
      terminal: "ssh",
      via: "/usr/sbin/sshd",
      loginSuccess: true,
      start: "2025-12-06T00:00:01.000Z",
      end: "2025-12-06T00:00:05.000Z",
    };
    const tracked = sessionsOf(log);
    expect(tracked).toHaveLength(1);
    expect(tracked[0]).toMatchObject({ ...want, commands: [expect.objectContaining({ argv: ["echo", "hello"] })] });
    // the CLI holds an ended session for late commands (the window): the same one session
    const r = await runAuditdParse(["sessions", "--json", "--passwd", "/dev/null"], `${log.join("\n")}\n`);
    expect(r.code, r.stderr).toBe(0);
    const cli = JSON.parse(r.stdout) as Session[];
    expect(cli).toHaveLength(1);
    expect(cli[0]).toMatchObject(want);
  });

  it("is one session too when the kernel wrote LOGIN in its pre-3.14 text (`new auid=… new ses=…`, T24 #4)", () => {
    const preKernel314 = `type=LOGIN msg=audit(${1_764_979_200 + 1}.000:2): login pid=4000 uid=0 old auid=${UNSET} new auid=1000 old ses=${UNSET} new ses=7`;
    const tracked = sessionsOf(log.map((line) => (line.startsWith("type=LOGIN ") ? preKernel314 : line)));
    expect(tracked).toHaveLength(1);
    expect(tracked[0]).toMatchObject({ ses: "7", user: "1000", from: "203.0.113.9", start: "2025-12-06T00:00:01.000Z" });
    expect(tracked[0]?.commands).toEqual([expect.objectContaining({ argv: ["echo", "hello"] })]);
  });

  it("has PAM's terminal as `terminal` and its USER_LOGIN's device as `loginTerminal`, as a session with an id (T24 #7)", async () => {
    const device = log.map((line) => (line.startsWith("type=USER_LOGIN ") ? line.replace("terminal=ssh", "terminal=/dev/pts/3") : line));
    expect(sessionsOf(device)[0]).toMatchObject({ ses: "7", terminal: "ssh", loginTerminal: "/dev/pts/3" });
    // a container's login (no pam_loginuid: every record ses-unset, #2 above) in the text table
    const container = [
      pam(
        "USER_START",
        0,
        1,
        700,
        UNSET,
        UNSET,
        'op=PAM:session_open acct="zed" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 terminal=ssh',
      ),
      pam(
        "USER_LOGIN",
        1,
        2,
        700,
        UNSET,
        UNSET,
        'op=login acct="zed" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 terminal=/dev/pts/5',
      ),
    ];
    const r = await runAuditdParse(["sessions", "--passwd", "/dev/null"], `${container.join("\n")}\n`);
    expect(r.stdout).toContain("tty ssh (/dev/pts/5)");
  });
});
