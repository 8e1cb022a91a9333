import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { untilEvent, untilFile } from "@opsguard/lab/wait";
import { beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse } from "./in-process";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
/** Each line of NDJSON output as its value (a line that is not JSON on its own throws). */
const ndjson = (text: string) =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { ses: string; end?: string });

/** The CLI started as a process on `args`, its stdout collected as it comes (the tests of -F and signals). */
function started(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/** A PAM record of sshd's session `ses` (its pid), serial n, type as given. */
const sshdRecord = (serial: number, type: string, ses: number) =>
  `type=${type} msg=audit(1700000000.${serial}00:${serial}): pid=${ses} uid=0 auid=1000 ses=${ses} msg='op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=success'`;

// In-process (issue #21); the tests about the process itself (a failing stdout, -F, the plugin and signals) spawn it.
const run = runAuditdParse;

const SESSION_LOG = [
  "type=USER_LOGIN msg=audit(1700000000.000:10): pid=900 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'",
  'type=USER_START msg=audit(1700000000.010:11): pid=900 uid=0 auid=1000 ses=7 msg=\'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success\'',
  'type=SYSCALL msg=audit(1700000001.000:12): arch=c000003e syscall=59 success=yes exit=0 ppid=900 pid=901 auid=1000 uid=1000 ses=7 comm="cat" exe="/usr/bin/cat" key="exec"',
  `type=EXECVE msg=audit(1700000001.000:12): argc=2 a0="cat" a1=${hex("my notes.txt")}`,
  'type=CWD msg=audit(1700000001.000:12): cwd="/home/alice"',
  "type=EOE msg=audit(1700000001.000:12):",
  'type=SYSCALL msg=audit(1700000002.000:13): arch=c000003e syscall=42 success=no exit=-115 pid=902 auid=1000 uid=1000 ses=7 comm="curl" exe="/usr/bin/curl" key="net"',
  "type=SOCKADDR msg=audit(1700000002.000:13): saddr=020001BB5DB8D8220000000000000000",
  "type=EOE msg=audit(1700000002.000:13):",
  'type=USER_END msg=audit(1700000009.000:14): pid=900 uid=0 auid=1000 ses=7 msg=\'op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success\'',
].join("\n");

let dir: string;
let passwd: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-cli-"));
  passwd = join(dir, "passwd");
  writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\n");
  writeFileSync(join(dir, "audit.log.1"), `${SESSION_LOG.split("\n").slice(0, 6).join("\n")}\n`);
  writeFileSync(join(dir, "corrupt.gz"), gzipSync(SESSION_LOG).subarray(0, 40));
  writeFileSync(join(dir, "audit.log"), gzipSync(`${SESSION_LOG.split("\n").slice(6).join("\n")}\n`));
});

describe("auditd-parse CLI", () => {
  it("reads rotated and gzipped files oldest first and filters by key, user and success", async () => {
    const r = await run([join(dir, "audit.log"), join(dir, "audit.log.1"), "--passwd", passwd, "--key", "exec,net", "--user", "alice"]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.serial, e.syscall, e.auid])).toEqual([
      [12, "execve", "alice"],
      [13, "connect", "alice"],
    ]);
    expect(events[0].argv).toEqual(["cat", "my notes.txt"]);
    const failed = await run([join(dir, "audit.log.1"), join(dir, "audit.log"), "--success", "no"]);
    expect(
      failed.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).serial),
    ).toEqual([13]);
  });

  it("tells a refused connect from a nonblocking one still under way", async () => {
    const refused = SESSION_LOG.split("\n")
      .slice(6, 9)
      .map((l) => l.replaceAll(":13)", ":20)").replace("exit=-115", "exit=-111"))
      .join("\n");
    const r = await run(["net", "--passwd", passwd], `${SESSION_LOG}\n${refused}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      "2023-11-14T22:13:22.000Z alice curl[902] connect -> inet 93.184.216.34:443 (in progress: nonblocking connect)",
      "2023-11-14T22:13:22.000Z alice curl[902] connect -> inet 93.184.216.34:443 (failed: ECONNREFUSED)",
    ]);
    const text = (await run(["--format", "text", "--syscall", "connect", "--passwd", passwd], `${SESSION_LOG}\n${refused}\n`)).stdout;
    expect(text).toContain(" connect=EINPROGRESS (in progress) ");
    expect(text).toContain(" connect=ECONNREFUSED ");
    const json = JSON.parse((await run(["net", "--json", "--passwd", passwd], `${SESSION_LOG}\n${refused}\n`)).stdout);
    expect(json.map((c: { inProgress?: boolean; exit?: string }) => [c.inProgress, c.exit])).toEqual([
      [true, "EINPROGRESS"],
      [undefined, "ECONNREFUSED"],
    ]);
  });

  it("--user finds a failed login by the account it named (no auid yet; uid is sshd's root) (T23 #8)", async () => {
    const failed = [
      `type=USER_AUTH msg=audit(1700000100.700:157): pid=5000 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=pam_unix acct="dave" exe="/usr/sbin/sshd" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'`,
      `type=USER_LOGIN msg=audit(1700000100.800:158): pid=5000 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="dave" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.7 terminal=ssh res=failed'`,
    ].join("\n");
    const log = `${SESSION_LOG}\n${failed}\n`;
    const dave = await run(["sessions", "--user", "dave", "--passwd", passwd], log);
    expect([dave.code, dave.stdout]).toEqual([0, expect.stringMatching(/user dave .*LOGIN FAILED/)]);
    expect((await run(["sessions", "--user", "alice", "--passwd", passwd], log)).stdout).not.toContain("dave");
    const events = (await run(["--user", "dave", "--passwd", passwd], log)).stdout.trim().split("\n");
    expect(events.map((l) => (JSON.parse(l) as { serial: number }).serial)).toEqual([157, 158]);
  });

  it("net lists every socket call with an address: families it does not decode and short addresses with their bytes, socketcall(2) (T34 #7, T35 N7)", async () => {
    const sockaddrs = [
      "0200005001020304000000000000000000", // inet 1.2.3.4:80
      "0A00001600000000FE80000000000000000000000000000102000000", // inet6 fe80::1 on interface 2
      "1100000302000000000000000000000000000000", // packet
      "2800000002000000D204000000000000", // vsock
      "0200005001", // inet, cut short
      "0000", // unspec: a datagram socket's peer dissolved
    ];
    const log = sockaddrs
      .flatMap((saddr, i) => [
        `type=SYSCALL msg=audit(1700000000.00${i}:${i + 1}): arch=c000003e syscall=42 success=yes exit=0 pid=2 auid=0 uid=0 ses=1 comm="x" exe="/x"`,
        `type=SOCKADDR msg=audit(1700000000.00${i}:${i + 1}): saddr=${saddr}`,
        `type=EOE msg=audit(1700000000.00${i}:${i + 1}): `,
      ])
      .join("\n");
    // a 32-bit program's connect is socketcall(2) with SYS_CONNECT (3) in a0 (T35 N7)
    const socketcall = [
      'type=SYSCALL msg=audit(1700000001.000:9): arch=40000003 syscall=102 success=yes exit=0 a0=3 a1=ffd0 a2=0 a3=0 pid=3 auid=0 uid=0 ses=1 comm="m32" exe="/m32"',
      "type=SOCKADDR msg=audit(1700000001.000:9): saddr=020001BB05060708",
      "type=EOE msg=audit(1700000001.000:9): ",
    ].join("\n");
    const withSocketcall = await run(["net", "--json"], `${log}\n${socketcall}\n`);
    expect(JSON.parse(withSocketcall.stdout).at(-1)).toMatchObject({
      syscall: "socketcall(connect)",
      direction: "outbound",
      address: "5.6.7.8",
      port: 443,
    });
    const r = await run(["net", "--json"], `${log}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((c: { family: string; address: string; port?: number }) => [c.family, c.address, c.port])).toEqual([
      ["inet", "1.2.3.4", 80],
      ["inet6", "fe80::1%2", 22],
      ["packet", "undecoded 1100000302000000000000000000000000000000", undefined],
      ["vsock", "undecoded 2800000002000000d204000000000000", undefined],
      ["inet", "undecoded 0200005001", undefined],
      ["unspec", "-", undefined],
    ]);
    expect((await run(["net"], `${log}\n`)).stdout).toContain("connect -> inet6 [fe80::1%2]:22\n");
  });

  it("--user reads 01000, +1000, 1000.0 and 0x3e8 as 1000 (as ausearch) and finds a failed login sshd logged as id=1000, by number and name (T35 N9)", async () => {
    const failed =
      "type=USER_LOGIN msg=audit(1700000103.000:503): pid=80 uid=0 auid=4294967295 ses=4294967295 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=? addr=10.0.0.1 terminal=ssh res=failed'";
    const serials = async (...args: string[]) =>
      ndjson((await run([...args, "--passwd", passwd], `${SESSION_LOG}\n${failed}\n`)).stdout).map(
        (e) => (e as unknown as { serial: number }).serial,
      );
    const all = await serials("--user", "1000");
    expect(all).toContain(503);
    for (const number of ["01000", "+1000", "1000.0", "0x3e8", " 1000"]) expect(await serials("--user", number), number).toEqual(all);
    expect(await serials("--user", "alice")).toEqual(all);
    expect(await serials("--auid", "0001000")).toEqual(await serials("--auid", "1000"));
  });

  it("--user with a number finds an ENRICHED log's events by the number logged, whatever names this host has (T34 #1)", async () => {
    // the logging host named auid 1000 "carol"; this host's passwd names 1000 "alice" and has no 1001
    const enriched = [
      'type=SYSCALL msg=audit(1700000100.000:500): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=77 auid=1000 uid=1001 ses=3 comm="id" exe="/usr/bin/id" key=(null)\x1dAUID="carol" UID="bob"',
      'type=EXECVE msg=audit(1700000100.000:500): argc=1 a0="id"',
      "type=EOE msg=audit(1700000100.000:500): ",
      'type=USER_CMD msg=audit(1700000101.000:501): pid=78 uid=1001 auid=1000 ses=3 msg=\'cwd="/" cmd=6964 exe="/usr/bin/sudo" terminal=pts/0 res=success\'\x1dUID="bob" AUID="carol"',
    ].join("\n");
    const serials = async (...args: string[]) =>
      ndjson((await run([...args, "--passwd", passwd], `${enriched}\n`)).stdout).map((e) => (e as unknown as { serial: number }).serial);
    for (const user of ["1000", "1001", "carol", "bob"]) expect(await serials("--user", user)).toEqual([500, 501]);
    // the names this host would give are not the log's: they match nothing
    expect(await serials("--user", "alice")).toEqual([]);
    const sessions = await run(["sessions", "--json", "--user", "1000", "--passwd", passwd], `${enriched}\n`);
    expect(JSON.parse(sessions.stdout)).toHaveLength(1);
  });

  it("builds a session timeline with commands and connections, as text and JSON", async () => {
    const text = await run(["sessions", "--passwd", passwd], SESSION_LOG);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("session 7");
    expect(text.stdout).toContain("user alice");
    expect(text.stdout).toContain("from 203.0.113.9");
    expect(text.stdout).toContain("exec cat my notes.txt");
    // exit=-115 on a nonblocking socket: the connection is under way, not refused
    expect(text.stdout).toContain("connect -> inet 93.184.216.34:443 (in progress: nonblocking connect)");
    expect(text.stdout).not.toContain("(failed");
    const json = JSON.parse((await run(["sessions", "--json", "--passwd", passwd], SESSION_LOG)).stdout);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({
      ses: "7",
      user: "alice",
      start: "2023-11-14T22:13:20.000Z",
      end: "2023-11-14T22:13:29.000Z",
      via: "/usr/sbin/sshd",
    });
    expect(json[0].commands[0].argv).toEqual(["cat", "my notes.txt"]);
    expect(json[0].connections[0]).toMatchObject({ direction: "outbound", address: "93.184.216.34", port: 443, success: false });
  });

  it("writes sessions --json as one valid array when an open session outgrows the output buffer", async () => {
    const log: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const stamp = `${1700000100 + i}.000:${100 + i}`;
      log.push(
        `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 pid=${2000 + i} auid=1000 uid=1000 ses=9 comm="ls" exe="/usr/bin/ls"`,
        `type=EXECVE msg=audit(${stamp}): argc=2 a0="ls" a1="/home/alice/${"d".repeat(60)}/${i}"`,
        `type=EOE msg=audit(${stamp}):`,
      );
    }
    const r = await run(["sessions", "--json", "--passwd", passwd], `${SESSION_LOG}\n${log.join("\n")}\n`);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const sessions = JSON.parse(r.stdout);
    expect(sessions.map((s: { ses: string; commands: unknown[] }) => [s.ses, s.commands.length])).toEqual([
      ["7", 1],
      ["9", 1500],
    ]);
  });

  it("lists connections with net --json", async () => {
    const r = await run(["net", "--json"], SESSION_LOG);
    expect(JSON.parse(r.stdout)).toEqual([
      expect.objectContaining({
        syscall: "connect",
        direction: "outbound",
        family: "inet",
        address: "93.184.216.34",
        port: 443,
        comm: "curl",
        pid: "902",
      }),
    ]);
  });

  it("reports malformed input on stderr, keeps it as unparsed, and fails only with --strict", async () => {
    const input = `${SESSION_LOG}\nthis is not audit\n`;
    const lax = await run([], input);
    expect(lax.code).toBe(0);
    expect(lax.stderr).toContain("1 malformed input line");
    expect(lax.stdout).toContain('"unparsed":["this is not audit"]');
    const strict = await run(["--strict"], input);
    expect(strict.code).toBe(65);
    expect(strict.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it("rejects bad flags and missing files with one line and a documented code", async () => {
    const missing = await run([join(dir, "nope.log")]);
    expect(missing.code).toBe(66);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect((await run(["--since", "yesterday-ish"], "")).code).toBe(64);
    expect((await run(["--format", "xml"], "")).code).toBe(64);
    const typo = await run(["--type", "SYSCAL"], SESSION_LOG);
    expect([typo.code, typo.stderr.trim()]).toEqual([
      64,
      expect.stringMatching(/^auditd-parse: --type "SYSCAL" is not an audit record type/),
    ]);
    expect((await run(["--window", "abc"], "")).code).toBe(64);
    expect((await run(["--since", "99999999999999999999"], "")).code).toBe(64);
    for (const bad of [dir, join(dir, "corrupt.gz")]) {
      const r = await run([bad]);
      expect([r.code, r.stderr.trim().split("\n").length]).toEqual([66, 1]);
    }
  });

  it("a --since/--until that is not ISO 8601 is a usage error, not a date Date.parse guessed (secret-12 as 2001)", async () => {
    // Nor is a day that does not exist (Date.parse rolls 2016-02-30 over to March), an ordinal date or nothing at all.
    for (const value of ["secret-12", "x 2020", "May 1 2024", "2016-02-30", "2016-13", "2016-001", ""]) {
      const r = await run(["--since", value], SESSION_LOG);
      expect([r.code, r.stdout, r.stderr.trim()], value).toEqual([64, "", expect.stringContaining(`--since "${value}" is not a time`)]);
    }
    expect((await run(["--until", "2100-01-01 00:00"], SESSION_LOG)).stdout.trim().split("\n")).toHaveLength(5);
    // ISO 8601's month form and a value with spaces around it (a quoted shell variable) are times.
    expect((await run(["--until", "2100-01"], SESSION_LOG)).stdout.trim().split("\n")).toHaveLength(5);
    expect((await run(["--since", " 2100-01-01 "], SESSION_LOG)).stdout).toBe("");
  });

  it("writes an event larger than its output buffer whole, between its neighbours", async () => {
    const big = "x".repeat(1_500_000);
    const log = [
      "type=SYSCALL msg=audit(1700000001.000:12): syscall=59 pid=1",
      "type=EOE msg=audit(1700000001.000:12):",
      `type=PATH msg=audit(1700000003.000:20): name="${big}" nametype=NORMAL`,
      "type=EOE msg=audit(1700000003.000:20):",
      "type=SYSCALL msg=audit(1700000004.000:21): syscall=59 pid=2",
      "type=EOE msg=audit(1700000004.000:21):",
    ];
    const r = await run(["-q"], `${log.join("\n")}\n`);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.id)).toEqual(["1700000001.000:12", "1700000003.000:20", "1700000004.000:21"]);
    expect(events[1].records[0].fields.name).toBe(big);
  });

  it("filters --type by name or number", async () => {
    const byNumber = await run(["--type", "1112"], SESSION_LOG);
    expect(
      byNumber.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).serial),
    ).toEqual([10]);
    expect((await run(["--type", "user_login"], SESSION_LOG)).stdout).toBe(byNumber.stdout);
  });

  it("exits 74 with one line when the output cannot be written (full disk), not a stack trace", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const toStdout = spawnSync(process.execPath, ["--import", "tsx", CLI], {
        input: SESSION_LOG,
        stdio: ["pipe", full, "pipe"],
        encoding: "utf8",
      });
      expect([toStdout.status, toStdout.stderr.trim()]).toEqual([
        74,
        "auditd-parse: cannot write standard output: ENOSPC: no space left on device, write",
      ]);
    } finally {
      closeSync(full);
    }
    const toFile = await run(["-o", "/dev/full"], SESSION_LOG);
    expect([toFile.code, toFile.stderr.trim().split("\n")]).toEqual([
      74,
      [expect.stringContaining("cannot write /dev/full: no space left on its device (ENOSPC)")],
    ]);
  });

  /** `auditd-parse --follow log`, its stdout so far, a wait for n events, and a stop with SIGTERM (its exit code). */
  function follow(log: string) {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--follow", log], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const events = () =>
      out
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { serial: number; records: { fields: { op?: string } }[] });
    // a failed wait must not leave a follower running
    const failed = (error: unknown) => {
      child.kill("SIGKILL");
      throw error;
    };
    const waitFor = (n: number) =>
      untilEvent(child.stdout, "data", () => out.split("\n").filter(Boolean).length >= n, `${n} events on stdout`).catch(failed);
    const stop = () => {
      child.kill("SIGTERM");
      return new Promise((resolve) => child.on("exit", resolve));
    };
    return { events, waitFor, stop };
  }

  const login = (serial: number, op: string) =>
    `type=USER_LOGIN msg=audit(1700000000.000:${serial}): pid=1 uid=0 auid=0 ses=1 msg='op=${op} res=success'`;

  it("follows a growing file across rotation and exits cleanly on SIGTERM", async () => {
    const log = join(dir, "follow.log");
    writeFileSync(log, `${login(1, "a")}\n`);
    const f = follow(log);
    await f.waitFor(1);
    appendFileSync(log, `${login(2, "b")}\n`);
    await f.waitFor(2);
    renameSync(log, `${log}.1`);
    writeFileSync(log, `${login(3, "c")}\n`);
    await f.waitFor(3);
    expect(await f.stop()).toBe(0);
    expect(f.events().map((e) => e.records[0]!.fields.op)).toEqual(["a", "b", "c"]);
  });

  it("follows across a rotation whose old file ends without a newline: its last line is read alone, not joined to the new file's first", async () => {
    const log = join(dir, "follow-partial.log");
    writeFileSync(log, `${login(1, "a")}\n`);
    const f = follow(log);
    await f.waitFor(1);
    // a writer that stopped mid-line (a crash, a full disk) before the file was rotated
    appendFileSync(log, login(2, "b"));
    renameSync(log, `${log}.1`);
    writeFileSync(log, `${login(3, "c")}\n`);
    await f.waitFor(3);
    expect(await f.stop()).toBe(0);
    expect(f.events().map((e) => [e.serial, e.records.map((r) => r.fields.op)])).toEqual([
      [1, ["a"]],
      [2, ["b"]],
      [3, ["c"]],
    ]);
  });

  it("-F ends on SIGHUP (its terminal hung up) as on SIGTERM: exit 0, the open session written, the JSON whole (T23 #11)", async () => {
    const log = join(dir, "follow-hup.log");
    // session 1 ends (its element is written when read: the sign the follower runs); session 2 stays open
    writeFileSync(log, `${[sshdRecord(1, "USER_START", 1), sshdRecord(2, "USER_END", 1), sshdRecord(3, "USER_START", 2)].join("\n")}\n`);
    const { child, out, exited } = started(["sessions", "--json", "--follow", log]);
    await untilEvent(child.stdout, "data", () => out().includes('"ses":"1"'), "session 1 on stdout").catch((error: unknown) => {
      child.kill("SIGKILL");
      throw error;
    });
    child.kill("SIGHUP");
    expect(await exited).toBe(0);
    // with -F one session a line (NDJSON)
    expect(ndjson(out()).map((x) => x.ses)).toEqual(["1", "2"]);
  });

  it("sessions -F --json writes one session a line, whole and readable while it follows, not one array closed at exit (T23 #10)", async () => {
    const log = join(dir, "follow-ndjson.log");
    writeFileSync(log, `${[sshdRecord(1, "USER_START", 1), sshdRecord(2, "USER_END", 1), sshdRecord(3, "USER_START", 2)].join("\n")}\n`);
    const { child, out, exited } = started(["sessions", "--json", "--follow", log]);
    try {
      await untilEvent(child.stdout, "data", () => out().endsWith("\n"), "session 1 on stdout");
      // while it runs, what it wrote is whole: each line one session a consumer can read now
      expect(ndjson(out()).map((x) => [x.ses, x.end])).toEqual([["1", "2023-11-14T22:13:20.200Z"]]);
      appendFileSync(log, `${sshdRecord(4, "USER_END", 2)}\n`);
      await untilEvent(child.stdout, "data", () => out().split("\n").length === 3, "session 2 on stdout");
      expect(ndjson(out()).map((x) => [x.ses, x.end])).toEqual([
        ["1", "2023-11-14T22:13:20.200Z"],
        ["2", "2023-11-14T22:13:20.400Z"],
      ]);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    // nothing more at the end: no closing bracket
    expect(ndjson(out())).toHaveLength(2);
  });

  it("net -F --json writes one connection a line, readable while it follows, as sessions -F --json does", async () => {
    const log = join(dir, "follow-net.log");
    const connect = (serial: number, ip: string) =>
      [
        `type=SYSCALL msg=audit(1700000000.${serial}00:${serial}): arch=c000003e syscall=42 success=yes exit=0 pid=9${serial} auid=1000 uid=1000 ses=7 comm="curl" exe="/usr/bin/curl" key="net"`,
        `type=SOCKADDR msg=audit(1700000000.${serial}00:${serial}): saddr=020001BB${ip}0000000000000000`,
        `type=EOE msg=audit(1700000000.${serial}00:${serial}):`,
      ].join("\n");
    writeFileSync(log, `${connect(1, "5DB8D822")}\n`);
    const { child, out, exited } = started(["net", "--json", "--follow", log]);
    const addresses = () =>
      out()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { address: string }).address);
    try {
      await untilEvent(child.stdout, "data", () => out().endsWith("\n"), "the first connection on stdout");
      expect(addresses()).toEqual(["93.184.216.34"]);
      appendFileSync(log, `${connect(2, "C0000201")}\n`);
      await untilEvent(child.stdout, "data", () => out().split("\n").length === 3, "the second connection on stdout");
      expect(addresses()).toEqual(["93.184.216.34", "192.0.2.1"]);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(addresses()).toHaveLength(2);
  });

  it("-F -o FILE reopens the file on SIGHUP, for logrotate, and goes on following", async () => {
    const log = join(dir, "follow-hup-o.log");
    const out = join(dir, "follow-hup-o.ndjson");
    writeFileSync(log, `${login(1, "a")}\n`);
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--follow", "-o", out, log], { stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await untilFile(out, (text) => text?.includes('"serial":1') === true, "the first event in the file");
      renameSync(out, `${out}.1`);
      child.kill("SIGHUP");
      await untilFile(out, (text) => text !== undefined, "the file made again");
      appendFileSync(log, `${login(2, "b")}\n`);
      await untilFile(out, (text) => text?.includes('"serial":2') === true, "the next event in the new file");
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect([readFileSync(`${out}.1`, "utf8"), readFileSync(out, "utf8")].map((t) => t.trim().split("\n").length)).toEqual([1, 1]);
  });

  it("with --follow completes an event on the wall clock even when the host's clock is off (log time in 2100)", async () => {
    const log = join(dir, "skewed.log");
    // a syscall event whose EOE never comes, stamped far ahead of this machine's clock
    writeFileSync(
      log,
      'type=SYSCALL msg=audit(4102444800.000:7): arch=c000003e syscall=2 success=yes exit=3 pid=5 auid=0 uid=0 comm="cat"\n',
    );
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--follow", "--window", "300", log], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const seenWhileRunning = await untilEvent(child.stdout, "data", () => out !== "", "the event, completed while still running")
      .then(() => out)
      .finally(() => child.kill("SIGTERM"));
    await exited;
    expect(JSON.parse(seenWhileRunning)).toMatchObject({ serial: 7, syscall: "open", time: "2100-01-01T00:00:00.000Z" });
  });

  it("runs as an auditd plugin: events from stdin, output file reopened on SIGHUP", async () => {
    const outFile = join(dir, "plugin.json");
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "-o", outFile], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.write("type=USER_LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 auid=0 ses=1 msg='op=a res=success'\n");
    await untilFile(outFile, (text) => text?.includes('"op":"a"') === true, "the first event");
    renameSync(outFile, `${outFile}.1`);
    child.kill("SIGHUP");
    // reopening creates the file again: wait for that rather than a fixed time
    await untilFile(outFile, (text) => text !== undefined, "the output file reopened after SIGHUP");
    child.stdin.end("type=USER_LOGIN msg=audit(1700000000.000:2): pid=1 uid=0 auid=0 ses=1 msg='op=b res=success'\n");
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(readFileSync(`${outFile}.1`, "utf8")).toContain('"op":"a"');
    expect(readFileSync(outFile, "utf8")).toContain('"op":"b"');
  });

  it("plugin mode exits 0 on SIGTERM with what it read written", async () => {
    const outFile = join(dir, "plugin-term.json");
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "-o", outFile], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.write("type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=1 success=yes exit=1\n");
    await untilFile(outFile, (text) => text?.includes('"write"') === true, "the event written");
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(outFile, "utf8").trim())).toMatchObject({ serial: 5, syscall: "write" });
  });
});

describe("filters ausearch users reach for", async () => {
  const LOG = [
    'node=web1 type=SYSCALL msg=audit(1700000001.000:21): arch=c000003e syscall=59 success=yes exit=0 ppid=10 pid=11 auid=1000 uid=0 gid=0 ses=7 tty=pts0 comm="sudo" exe="/usr/bin/sudo"',
    'node=web1 type=PATH msg=audit(1700000001.000:21): item=0 name="/usr/bin/sudo" nametype=NORMAL',
    "node=web1 type=EOE msg=audit(1700000001.000:21):",
    'node=db1 type=SYSCALL msg=audit(1700000002.000:22): arch=c000003e syscall=2 success=no exit=-13 ppid=11 pid=12 auid=1000 uid=1000 gid=1000 ses=7 tty=pts0 comm="cat" exe="/usr/bin/cat"',
    'node=db1 type=PATH msg=audit(1700000002.000:22): item=0 name="/etc/shadow" nametype=NORMAL',
    "node=db1 type=EOE msg=audit(1700000002.000:22):",
    "type=USER_LOGIN msg=audit(1700000003.000:23): pid=900 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=h addr=203.0.113.9 terminal=ssh res=failed'",
  ].join("\n");
  const serials = async (args: string[]) => {
    const r = await run([...args, "--passwd", passwd], `${LOG}\n`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim() === ""
      ? []
      : r.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).serial);
  };
  it("--uid, --auid and --gid each match their own field, by name or number", { timeout: 120_000 }, async () => {
    expect(await serials(["--uid", "0"])).toEqual([21, 23]);
    expect(await serials(["--uid", "alice"])).toEqual([22]);
    expect(await serials(["--auid", "alice"])).toEqual([21, 22, 23]);
    expect(await serials(["--gid", "1000"])).toEqual([22]);
  });
  it("--auid finds a pre-3.14 kernel's LOGIN by its `new auid=`, as ausearch -ua does (T26 #3)", async () => {
    const login =
      "type=LOGIN msg=audit(1700000004.000:24): login pid=900 uid=0 old auid=4294967295 new auid=1000 old ses=4294967295 new ses=7";
    for (const auid of ["1000", "alice"]) {
      const r = await run(["--auid", auid, "--passwd", passwd], `${login}\n`);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ serial: 24, auid: "alice", ses: "7" });
    }
  });
  it("--pid, --ppid, --comm, --exe, --file, --node, --event, --terminal, --success", { timeout: 120_000 }, async () => {
    expect(await serials(["--pid", "12"])).toEqual([22]);
    expect(await serials(["--ppid", "10"])).toEqual([21]);
    expect(await serials(["--comm", "cat"])).toEqual([22]);
    expect(await serials(["--exe", "/usr/bin/sudo"])).toEqual([21]);
    expect(await serials(["--file", "/etc/shadow"])).toEqual([22]);
    expect(await serials(["--node", "web1,db1"])).toEqual([21, 22]);
    expect(await serials(["--event", "23"])).toEqual([23]);
    expect(await serials(["--event", "1700000002.000:22"])).toEqual([22]);
    expect(await serials(["--terminal", "ssh"])).toEqual([23]);
    expect(await serials(["--terminal", "pts0", "--success", "no"])).toEqual([22]);
  });
  it("--since/--until take ausearch's time keywords", { timeout: 120_000 }, async () => {
    expect(await serials(["--since", "this-year"])).toEqual([]);
    expect(await serials(["--until", "today"])).toEqual([21, 22, 23]);
    expect((await run(["--since", "last-tuesday"], "")).code).toBe(64);
  });
});

describe("--format csv", () => {
  it("one RFC 4180 row per event; a cell a spreadsheet would run as a formula is defused", { timeout: 120_000 }, async () => {
    const log = [
      'type=SYSCALL msg=audit(1700000001.000:21): arch=c000003e syscall=59 success=yes exit=0 pid=11 auid=0 uid=0 comm="sh" exe="/bin/sh"',
      `type=EXECVE msg=audit(1700000001.000:21): argc=3 a0="sh" a1="-c" a2=${hex('x, "y"\nz')}`,
      "type=EOE msg=audit(1700000001.000:21):",
      `type=SYSCALL msg=audit(1700000002.000:22): arch=c000003e syscall=59 success=yes exit=0 pid=12 auid=0 uid=0 comm=${hex("=HYPERLINK(1)")} exe="/bin/x"`,
      "type=EOE msg=audit(1700000002.000:22):",
    ].join("\n");
    const r = await run(["--format", "csv", "--passwd", passwd], `${log}\n`);
    expect(r.code).toBe(0);
    const [header, first, ...rest] = r.stdout
      .split("\r\n")
      .join("\n")
      .split(/\n(?=\d{4}-|$)/);
    expect(header).toBe("time,node,serial,id,types,syscall,success,exit,auid,uid,pid,ppid,ses,comm,exe,keys,detail");
    expect(first).toBe(
      '2023-11-14T22:13:21.000Z,,21,1700000001.000:21,SYSCALL EXECVE,execve,yes,0,0,0,11,,,sh,/bin/sh,,"sh -c x, ""y""\\012z"',
    );
    expect(rest[0]).toContain(",'=HYPERLINK(1),/bin/x,");
  });
});

describe("report", () => {
  it("aureport's summaries as JSON and as readable tables", { timeout: 120_000 }, async () => {
    const json = await run(["report", "--json", "--passwd", passwd], `${SESSION_LOG}\n`);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report)).toEqual(["logins", "authentications", "executables", "keys", "files", "anomalies", "commands"]);
    expect(report.logins.rows).toEqual([
      {
        key: { user: "alice", from: "203.0.113.9", terminal: "ssh", exe: "/usr/sbin/sshd", result: "success" },
        count: 1,
        first: expect.any(String),
        last: expect.any(String),
      },
    ]);
    expect(report.executables.rows.map((r: { key: { exe: string; result: string } }) => [r.key.exe, r.key.result])).toEqual([
      ["/usr/bin/cat", "success"],
      ["/usr/bin/curl", "failed"],
    ]);
    expect(report.keys.rows.map((r: { key: { key: string } }) => r.key.key).sort()).toEqual(["exec", "net"]);
    expect(report.commands.rows[0].key).toEqual({ auid: "alice", uid: "alice", command: "cat my notes.txt" });
    const text = await run(["report", "--passwd", passwd], `${SESSION_LOG}\n`);
    expect(text.stdout).toMatch(/^logins \(1 events\)\n {2}count {2}user/);
    expect(text.stdout).toContain("anomalies (0 events)\n  none");
    expect((await run(["report", "--top", "0"], "")).code).toBe(64);
  });

  it("a login with an empty addr= comes from its host name, as aureport --login shows it (T24 #3)", async () => {
    const login =
      "type=USER_LOGIN msg=audit(1700000000.000:10): pid=900 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=laptop.example.com addr= terminal=/dev/pts/1 res=success'";
    const report = JSON.parse((await run(["report", "--json", "--passwd", passwd], `${login}\n`)).stdout);
    expect(report.logins.rows.map((r: { key: { from: string } }) => r.key.from)).toEqual(["laptop.example.com"]);
  });
});
