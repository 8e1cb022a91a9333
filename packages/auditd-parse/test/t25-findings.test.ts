import { spawnSync } from "node:child_process";
import { closeSync, linkSync, mkdirSync, mkdtempSync, openSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

/** T25 findings of the independent tester: what a user of the plain parse, `sessions`, `report` and `detect` met. */

/** A USER_LOGIN record whose msg='…' holds `pairs` (gdm's and sshd's forms). */
const login = (serial: number, pairs: string) =>
  `type=USER_LOGIN msg=audit(1765000000.${String(serial).padStart(3, "0")}:${serial}): pid=3148 uid=0 auid=1000 ses=3 msg='${pairs}'\n`;

describe("finding 5: (null) and (none) inside a user-space msg='…' are no information, as outside it", () => {
  const log =
    login(1, 'op=login id=1000 exe="/usr/libexec/gdm-session-worker" hostname=(null) addr=? terminal=/dev/tty2 res=success') +
    login(2, 'op=login id=1000 exe="/usr/libexec/gdm-session-worker" hostname=(none) addr=(null) terminal=(null) res=success') +
    login(3, "op=login acct=(null) exe=(null) hostname=(null) addr=(null) terminal=(null) res=(null)");

  it("the plain parse gives null for each, first, middle and last in msg", async () => {
    const r = await run([], log);
    expect(r.code, r.stderr).toBe(0);
    const fields = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).records[0].fields);
    expect(fields[0]).toMatchObject({ hostname: null, addr: null, terminal: "/dev/tty2" });
    expect(fields[1]).toMatchObject({ hostname: null, addr: null, terminal: null });
    expect(fields[2]).toMatchObject({ acct: null, exe: null, hostname: null, addr: null, terminal: null, res: null });
  });

  it("a gdm login's session has no `from` (was `from (null`), and report lists no `(null` host or user", async () => {
    const sessions = await run(["sessions"], log);
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stdout).toContain("session 3  user");
    expect(sessions.stdout).not.toContain("(null");
    expect(sessions.stdout).not.toContain("from");
    const json = await run(["sessions", "--json"], log);
    const session = JSON.parse(json.stdout)[0];
    expect(session).not.toHaveProperty("from");
    expect(session).not.toHaveProperty("loginTerminal");
    const report = await run(["report"], log);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain("logins (3 events)");
    expect(report.stdout).not.toMatch(/\(null|\(none/);
  });
});

describe("finding 4: stdin that holds no log (a directory, closed) is no input, exit 66, as a directory named is", () => {
  /** The CLI as a process, its stdin `stdin` (a descriptor, or "ignore": /dev/null read-only), or closed (`<&-`). */
  const spawned = (args: string[], stdin: number | "ignore" | "closed") =>
    stdin === "closed"
      ? spawnSync("sh", ["-c", 'exec "$0" --import tsx "$@" <&-', process.execPath, CLI, ...args], { encoding: "utf8" })
      : spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: [stdin, "pipe", "pipe"], encoding: "utf8" });

  it("`detect --json < DIR` and `auditd-parse - < DIR`: one line naming stdin, exit 66, no output (was exit 0: a gate passed)", () => {
    const dir = openSync(mkdtempSync(join(tmpdir(), "auditd-parse-t25-")), "r");
    try {
      // plugin reads stdin itself (auditd's feed): the same (T26 #4)
      for (const args of [["detect", "--json"], ["-"], ["plugin"], ["plugin", "--detect"]]) {
        const r = spawned(args, dir);
        expect([r.status, r.stdout, r.stderr.trim().split("\n")], args.join(" ")).toEqual([
          66,
          "",
          [expect.stringMatching(/^auditd-parse: stdin is a directory \(pass the log files/)],
        ]);
      }
    } finally {
      closeSync(dir);
    }
  }, 60_000);

  it("`detect <&-` (stdin closed) is exit 66 too; `< /dev/null` is still an empty log, exit 0", () => {
    // named as /dev/stdin, the same stdin (T26 #4: read as an empty log, exit 0)
    for (const args of [["detect"], ["plugin"], ["/dev/stdin"], ["detect", "/dev/fd/0"]]) {
      const closed = spawned(args, "closed");
      expect([closed.status, closed.stderr.trim()], args.join(" ")).toEqual([66, expect.stringMatching(/^auditd-parse: stdin is closed /)]);
    }
    const empty = spawned(["detect", "--json"], "ignore");
    expect([empty.status, empty.stdout, empty.stderr]).toEqual([0, "", ""]);
    const named = spawned(["/dev/stdin"], "ignore");
    expect([named.status, named.stdout, named.stderr]).toEqual([0, "", ""]);
  }, 60_000);

  it("stdin open for writing only (`0>FILE`) says so, exit 66 (T26 #4: `cannot read -: EBADF` and root-only advice)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "auditd-parse-t26-")), "out");
    const fd = openSync(file, "w");
    try {
      for (const args of [[], ["/dev/stdin"], ["sessions"]]) {
        const r = spawned(args, fd);
        expect([r.status, r.stdout, r.stderr.trim().split("\n")], args.join(" ")).toEqual([
          66,
          "",
          [expect.stringMatching(/^auditd-parse: stdin is open for writing only \(pass the log files/)],
        ]);
      }
    } finally {
      closeSync(fd);
    }
  }, 60_000);
});

describe("finding 6: a rule file reached twice through --rules runs once, by its real path", () => {
  const whoami = [
    "title: whoami run",
    "id: 6f3a1b8e-0000-4000-8000-000000000001",
    "level: high",
    "logsource:",
    "  product: linux",
    "  service: auditd",
    "detection:",
    "  sel:",
    "    type: EXECVE",
    "    a0: whoami",
    "  condition: sel",
    "",
  ].join("\n");
  const stamp = "msg=audit(1765000000.100:100):";
  const log = [
    `type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=1000 uid=1000 ses=3 comm="whoami" exe="/usr/bin/whoami" key=(null)`,
    `type=EXECVE ${stamp} argc=1 a0="whoami"`,
    `type=EOE ${stamp} `,
    "",
  ].join("\n");

  it("one alert for `F F`, `D D`, `F ./x/../F`, `D D/F` and a symbolic or hard link to F elsewhere (each gave two); a broken file named once", async () => {
    const root = mkdtempSync(join(tmpdir(), "auditd-parse-t25-rules-"));
    const dir = join(root, "rules");
    const other = join(root, "other");
    mkdirSync(dir);
    mkdirSync(other);
    const file = join(dir, "whoami.yml");
    writeFileSync(file, whoami);
    symlinkSync(file, join(other, "alias.yml"));
    const hard = join(root, "hard");
    mkdirSync(hard);
    linkSync(file, join(hard, "same.yml"));
    for (const paths of [
      [file, file],
      [dir, dir],
      [file, join(dir, "..", "rules", "whoami.yml")],
      [dir, file],
      [file, dir],
      [file, other],
      [file, join(hard, "same.yml")],
      [hard, dir],
    ]) {
      const r = await run(["detect", "--json", ...paths.flatMap((p) => ["--rules", p]), "-"], log);
      const titles = r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).rule.title);
      expect([r.code, titles, r.stderr], paths.join(" ")).toEqual([0, ["whoami run"], ""]);
    }
    const listed = await run(["detect", "--list-rules", "--rules", file, "--rules", file]);
    expect([listed.code, listed.stdout.trim().split("\n").length]).toEqual([0, 1]);
    // a file that cannot be compiled, in a directory given twice: named once, counted once
    writeFileSync(join(dir, "broken.yml"), whoami.replace("a0: whoami", "a0|nosuch: whoami").replace("0001", "0002"));
    const broken = await run(["detect", "--json", "--rules", dir, "--rules", dir, "-"], log);
    expect(broken.code).toBe(65);
    expect(broken.stderr.match(/broken\.yml/g)).toHaveLength(1);
  });
});
