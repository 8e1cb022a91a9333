import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/** T27 findings of the independent tester: what a user of the installed bin met. */

const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const EXEC = readFileSync(new URL("golden/exec.log", import.meta.url));
const { NODE_OPTIONS: _workspaceConditions, ...userEnv } = process.env;

describe("finding 1: gzip on a pipe or FIFO named as a file is decompressed, as on stdin", () => {
  const gz = gzipSync(EXEC);

  it("`cat x.gz | auditd-parse /dev/stdin` and a FIFO give the events of the plain log (were lines of compressed bytes, exit 0)", async () => {
    expect(existsSync(BUNDLE), `${BUNDLE}: run "node scripts/build.mjs auditd-parse" first`).toBe(true);
    const plain = spawnSync(process.execPath, [BUNDLE, "-"], { input: EXEC, encoding: "utf8", env: userEnv });
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).not.toBe("");
    // a shell's pipe, and a socket (node's spawn gives one: Linux cannot open it by name, ENXIO)
    const gzFile = join(mkdtempSync(join(tmpdir(), "auditd-parse-t27-gz-")), "exec.log.gz");
    writeFileSync(gzFile, gz);
    const shellPipe = spawnSync("sh", ["-c", 'cat "$2" | exec "$0" "$1" /dev/stdin', process.execPath, BUNDLE, gzFile], {
      encoding: "utf8",
      env: userEnv,
    });
    expect([shellPipe.status, shellPipe.stderr, shellPipe.stdout]).toEqual([0, "", plain.stdout]);
    for (const name of ["/dev/stdin", "/dev/fd/0"]) {
      const socket = spawnSync(process.execPath, [BUNDLE, name], { input: gz, encoding: "utf8", env: userEnv });
      expect([socket.status, socket.stderr, socket.stdout], name).toEqual([0, "", plain.stdout]);
    }

    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-t27-"));
    const fifo = join(dir, "feed");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = spawn("sh", ["-c", 'cat > "$0"', fifo], { stdio: ["pipe", "ignore", "ignore"] });
    writer.stdin.end(gz);
    const viaFifo = await run([fifo]);
    expect([viaFifo.code, viaFifo.stderr, viaFifo.stdout]).toEqual([0, "", plain.stdout]);
  }, 30_000);
});

describe("finding 4: run from a directory that was removed", () => {
  it("reads the log as anywhere else (was exit 70, `internal error: ENOENT … uv_cwd` from the config search)", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-t27-cwd-"));
    const gone = join(dir, "gone");
    mkdirSync(gone);
    const log = join(dir, "exec.log");
    writeFileSync(log, EXEC);
    const r = spawnSync("sh", ["-c", 'cd "$1" && rmdir "$1" && exec "$0" "$2" "$3"', process.execPath, gone, BUNDLE, log], {
      encoding: "utf8",
      env: userEnv,
    });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain('"types":["SYSCALL"');
  });
});

describe("T28 #2: a run that could read nothing writes no csv or table header either", () => {
  it("`--format csv missing.log`: exit 66, nothing on stdout (was the header line); an empty log still has its header", async () => {
    const missing = join(mkdtempSync(join(tmpdir(), "auditd-parse-t28-")), "missing.log");
    for (const format of ["csv", "table"]) {
      const none = await run(["--format", format, missing]);
      expect([none.code, none.stdout], format).toEqual([66, ""]);
      const empty = await run(["--format", format], "");
      expect([empty.code, empty.stdout.split("\n").length], format).toEqual([0, 2]);
      const one = await run(["--format", format], EXEC);
      expect(one.stdout.split("\n")[0], format).toBe(empty.stdout.split("\n")[0]);
    }
  });
});

describe("finding 5: a login whose res= is neither success nor failed is listed, never dropped or called failed", () => {
  const newForm = (serial: number, res: string) =>
    `type=USER_LOGIN msg=audit(1765000000.${String(serial).padStart(3, "0")}:${serial}): pid=31${serial} uid=0 auid=1000 ses=${serial} msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=h${serial} addr=10.0.0.${serial} terminal=ssh${res}'`;
  const oldForm = (serial: number, tail: string) =>
    `type=USER_LOGIN msg=audit(1765000001.${serial}:${serial}): user pid=4${serial} uid=0 auid=1000 msg='PAM: session open acct="alice" : exe="/usr/sbin/sshd" (hostname=h${serial}, addr=10.0.0.${serial}, ${tail})'`;

  it("old PAM form, no ses=: `res=success))` and no res are sessions, as aureport --login lists them (were dropped unsaid)", async () => {
    const log = [oldForm(101, "terminal=ssh res=success)"), oldForm(103, "terminal=ssh res=success))"), oldForm(112, "terminal=ssh")].join(
      "\n",
    );
    const r = await run(["sessions", "--json"], log);
    expect(r.code, r.stderr).toBe(0);
    const sessions = JSON.parse(r.stdout) as { hostname: string; loginSuccess?: boolean }[];
    expect(sessions.map((s) => [s.hostname, s.loginSuccess ?? null])).toEqual([
      ["h101", true],
      ["h103", true],
      ["h112", null],
    ]);
  });

  it("`res=success)` is a success, `res=failure` a failure, anything else unknown (was LOGIN FAILED in sessions and report)", async () => {
    const log = [newForm(4, " res=success)"), newForm(5, " res=failure"), newForm(6, " res=weird"), newForm(7, "")].join("\n");
    const sessions = await run(["sessions"], log);
    expect(sessions.stdout.split("\n").filter((l) => l.includes("LOGIN FAILED"))).toEqual([expect.stringContaining("session 5 ")]);
    const json = JSON.parse((await run(["sessions", "--json"], log)).stdout) as { ses: string; loginSuccess?: boolean }[];
    expect(json.map((s) => [s.ses, s.loginSuccess ?? null])).toEqual([
      ["4", true],
      ["5", false],
      ["6", null],
      ["7", null],
    ]);
    const report = JSON.parse((await run(["report", "--json"], log)).stdout) as {
      logins: { rows: { key: { from: string; result: string } }[] };
    };
    expect(report.logins.rows.map((row) => [row.key.from, row.key.result])).toEqual([
      ["10.0.0.4", "success"],
      ["10.0.0.5", "failed"],
      ["10.0.0.6", "?"],
      ["10.0.0.7", "?"],
    ]);
  });
});
