import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@opsguard/lab/wait";
import { beforeAll, describe, expect, it } from "vitest";
import { parseText } from "../src/index";

/** Defects of issue 16 a user hits from the command line: unreadable input, terminal injection, far-future times. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const hex = (s: string | Buffer) => Buffer.from(s).toString("hex").toUpperCase();
const isRoot = process.getuid?.() === 0;

/** The CLI's argv; as root, dropped to nobody (root reads any file, so "unreadable" needs another user). */
function argvAs(unprivileged: boolean, args: string[]): [string, string[]] {
  const node = [process.execPath, "--import", "tsx", CLI, ...args];
  if (unprivileged && isRoot) return ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...node]];
  return [node[0]!, node.slice(1)];
}

function run(args: string[], options: { input?: string; unprivileged?: boolean } = {}) {
  const [cmd, argv] = argvAs(options.unprivileged ?? false, args);
  const r = spawnSync(cmd, argv, { input: options.input, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let secret: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-hostile-"));
  chmodSync(dir, 0o755);
  secret = join(dir, "audit.log");
  writeFileSync(secret, "type=USER_LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 res=success\n");
  // root reads any file: the CLI then runs as nobody (argvAs), for whom 0600 is unreadable; others get 0000
  chmodSync(secret, isRoot ? 0o600 : 0o000);
});

describe("unreadable input", () => {
  for (const mode of [[], ["sessions"], ["net"]]) {
    it(`${mode[0] ?? "events"}: one line naming the file and the fix, exit 66, no stack trace`, () => {
      const r = run([...mode, secret], { unprivileged: true });
      expect(r.code).toBe(66);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`cannot read ${secret}: EACCES`);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    });
  }

  it("a file name holding a newline is shown escaped: one line on stderr, no forged second one", () => {
    const name = join(dir, "missing\nauditd-parse: forged.log");
    // the audit input: no input (66); the passwd file: a configuration error (78, T21 #6)
    for (const [args, code] of [
      [[name], 66],
      [["--passwd", name, secret], 78],
    ] as const) {
      const r = run([...args]);
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`cannot read ${join(dir, "missing")}\\nauditd-parse: forged.log: ENOENT`);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });

  it("-F on an unreadable file exits 66 at once instead of spinning", () => {
    const r = run(["-F", secret], { unprivileged: true });
    expect(r.code).toBe(66);
    expect(r.stderr).toContain("EACCES");
  });

  /** `auditd-parse ...args -F log` as nobody (when root), its output so far and its exit code. */
  function follower(args: string[], log: string) {
    const [cmd, argv] = argvAs(true, [...args, "-F", log]);
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    const out = { stdout: "", stderr: "" };
    child.stdout.on("data", (d: Buffer) => {
      out.stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      out.stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, out, exited };
  }

  /** Rotates log: the new file, holding `text`, is one the user running -F cannot read. */
  function rotateToUnreadable(log: string, text: string): void {
    renameSync(log, `${log}.1`);
    writeFileSync(log, text);
    chmodSync(log, isRoot ? 0o600 : 0o000);
  }

  it("-F waits without spinning for a rotated file it cannot read yet; stopped blind, the run is incomplete (T49 N2)", async () => {
    const log = join(dir, "follow.log");
    writeFileSync(log, "");
    chmodSync(log, 0o644);
    const { child, out, exited } = follower([], log);
    writeFileSync(log, "type=USER_LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 res=success\n");
    await untilEvent(child.stdout, "data", () => out.stdout.includes('"serial":1'), "the first event");
    // rotated: the new file is not readable (yet) by the user running -F
    rotateToUnreadable(log, "");
    // said once, not at every poll
    await untilEvent(child.stderr, "data", () => out.stderr.includes("(rotated in)"), "the warning");
    // CPU over a stretch of real time: the measure itself, which no event or fake clock can stand in for
    await new Promise((r) => setTimeout(r, 500));
    const before = cpuTicks(child.pid!);
    await new Promise((r) => setTimeout(r, 2500));
    // a busy loop would use up to 250 ticks (2.5 s of CPU); a poll every 250 ms uses next to none
    expect(cpuTicks(child.pid!) - before).toBeLessThan(30);
    child.kill("SIGTERM");
    // nothing after the rotation was read: not a clean run (the old one exited 0, saying nothing)
    expect(await exited).toBe(65);
    expect(out.stderr.match(/cannot read .*follow\.log: EACCES \(rotated in\)/g)).toHaveLength(1);
  });

  it("sessions -F: reads on once the rotated-in file can be read; stopped blind, the timeline ends 'incomplete' (T49 N2)", async () => {
    const start = (ses: number, serial: number) =>
      `type=USER_START msg=audit(1700000000.000:${serial}): pid=9 uid=0 auid=1000 ses=${ses} msg='op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=success'`;
    const end = (ses: number, serial: number) =>
      `type=USER_END msg=audit(1700000001.000:${serial}): pid=9 uid=0 auid=1000 ses=${ses} msg='op=PAM:session_close acct="alice" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=success'`;
    for (const readable of [true, false]) {
      const log = join(dir, `follow-sessions-${readable}.log`);
      writeFileSync(log, `${start(1, 1)}\n${end(1, 2)}\n${start(2, 3)}\n`);
      chmodSync(log, 0o644);
      const { child, out, exited } = follower(["sessions"], log);
      await untilEvent(child.stdout, "data", () => out.stdout.includes("session 1"), "session 1");
      rotateToUnreadable(log, `${end(2, 4)}\n`);
      await untilEvent(child.stderr, "data", () => out.stderr.includes("(rotated in)"), "the warning");
      if (readable) {
        chmodSync(log, 0o644);
        await untilEvent(child.stdout, "data", () => out.stdout.includes("session 2"), "session 2, ended");
      }
      child.kill("SIGTERM");
      expect(await exited).toBe(readable ? 0 : 65);
      const last = out.stdout.trimEnd().split("\n").at(-1);
      if (readable) expect(out.stdout).toMatch(/session 2 .* \.\. 2023-11-14T22:13:21\.000Z/);
      else expect(last).toBe("incomplete: 1 input(s) could not be read whole (named on stderr); what precedes covers only what was read.");
    }
  });
});

/** utime + stime of a process, in clock ticks (1/100 s). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

describe("quotes inside msg='…'", () => {
  it("a double-quoted acct holding ' is one value, and the pairs after it are read", () => {
    const line = `type=USER_AUTH msg=audit(1700000000.000:5): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="system-property('xsl:vendor')/>" exe="/usr/sbin/sshd" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=failed'`;
    // the byte path (plain pairs) and the text tokenizer (a free word makes it take the record) agree
    for (const log of [line, line.replace("pid=1", "word pid=1")]) {
      const [e] = parseText(log).events;
      expect(e!.records[0]!.fields).toMatchObject({
        acct: "system-property('xsl:vendor')/>",
        exe: "/usr/sbin/sshd",
        terminal: "ssh",
        res: "failed",
      });
      expect(e!.success).toBe(false);
      expect(e!.records[0]!.text ?? "").not.toContain("res");
    }
  });
});

describe("terminal injection", () => {
  const evil = "ls\x1b[2J\rforged line\nuser=root \u202egnp.exe";
  const log = [
    "type=USER_LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=h addr=1.2.3.4 terminal=ssh res=success'",
    `type=SYSCALL msg=audit(1700000001.000:2): arch=c000003e syscall=59 success=yes exit=0 pid=5 auid=1000 uid=1000 ses=7 comm=${hex("e\x1bvil")} exe="/bin/ls"`,
    `type=EXECVE msg=audit(1700000001.000:2): argc=1 a0=${hex(evil)}`,
    "type=EOE msg=audit(1700000001.000:2):",
    `type=SYSCALL msg=audit(1700000002.000:3): arch=c000003e syscall=42 success=yes exit=0 pid=6 auid=1000 uid=1000 ses=7 comm=${hex("c\x1b]0;x\x07")} exe="/bin/nc"`,
    "type=SOCKADDR msg=audit(1700000002.000:3): saddr=01002F746D702F611B5B324A0000",
    "type=EOE msg=audit(1700000002.000:3):",
  ].join("\n");
  for (const args of [["--format", "text"], ["--format", "table"], ["sessions"], ["net"]]) {
    it(`${args.join(" ")} writes no control character from the log, escaped as ausearch does`, () => {
      const r = run(args, { input: `${log}\n` });
      expect(r.code).toBe(0);
      // one newline per line of output, and no ESC, CR, BEL or bidi override anywhere
      expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f\u202e]/);
      expect(r.stdout).toContain("\\033");
      if (args[0] !== "net") expect(r.stdout).toContain("\\033[2J\\015forged line\\012user=root \\u202egnp.exe");
      expect(r.stdout.split("\n").filter((l) => l.startsWith("forged") || l.startsWith("user=root"))).toEqual([]);
    });
  }

  it("JSON keeps the exact text (JSON escapes it itself)", () => {
    const r = run([], { input: `${log}\n` });
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events[1].argv).toEqual([evil]);
  });
});

describe("timestamps past year 9999", () => {
  it("are not audit times: the line is kept unparsed, never a five-digit year", () => {
    const r = run(["-v"], {
      input:
        "type=USER_LOGIN msg=audit(253402300800.000:1): pid=1 res=success\ntype=USER_LOGIN msg=audit(253402300799.999:2): pid=1 res=success\n",
    });
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.time)).toEqual([null, "9999-12-31T23:59:59.999Z"]);
    expect(events[0].unparsed[0]).toContain("253402300800.000:1");
    expect(r.stderr).toContain("1 malformed");
  });
});
