import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/**
 * T34 #3: a legitimate command line over 1 MiB (under the kernel's default 2 MiB ARG_MAX) is written in parts
 * (README: 1024 records or 1 MiB an event). The later parts have no SYSCALL record, so no key, comm or uid: a filter
 * that matched the first part dropped them unsaid, `report` counted one exec as two commands (one under user `?`),
 * and `sessions` dropped them without counting them anywhere.
 */

/** The tester's generator (argv12.py): one execve of `count` arguments of ~2 KB, in EXECVE records of ≤ 7000 bytes. */
function bigExec(count: number): { log: string; args: string[] } {
  const stamp = "1700000000.000:44";
  const args = [
    "cc",
    ...Array.from({ length: count - 1 }, (_, i) => `-I/src/include/dir${String(i).padStart(4, "0")}/${"y".repeat(2000)}`),
  ];
  const records = [
    `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1 pid=5 auid=1000 uid=1000 gid=0 euid=1000 suid=1000 fsuid=1000 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="cc" exe="/usr/bin/cc" key="exec"`,
  ];
  let current = `argc=${args.length}`;
  args.forEach((arg, i) => {
    const item = ` a${i}="${arg}"`;
    if (current.length + item.length > 7000) {
      records.push(`type=EXECVE msg=audit(${stamp}): ${current.trim()}`);
      current = "";
    }
    current += item;
  });
  records.push(`type=EXECVE msg=audit(${stamp}): ${current.trim()}`);
  records.push(`type=PATH msg=audit(${stamp}): item=0 name="/usr/bin/cc" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 nametype=NORMAL`);
  records.push(`type=EOE msg=audit(${stamp}): `);
  return { log: `${records.join("\n")}\n`, args };
}

/** The command line the parts hold between them: each index from the part that has it (argv at the same indexes). */
function joined(parts: { argv: string[] }[]): string[] {
  const argv: string[] = [];
  for (const part of parts) {
    part.argv.forEach((arg, i) => {
      argv[i] = (argv[i] ?? "") + arg;
    });
  }
  return argv;
}

const SHAPES = [
  { name: "1.2 MB", count: 600, parts: 2 },
  { name: "4 MB", count: 2000, parts: 4 },
];

let passwd: string;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "auditd-parse-parts-"));
  passwd = join(dir, "passwd");
  writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\n");
});

describe.each(SHAPES)("a $name command line written in parts (T34 #3)", ({ count, parts }) => {
  const { log, args } = bigExec(count);

  it("is numbered in parts, which hold every argument once between them", async () => {
    const r = await run(["--passwd", passwd], log);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.part)).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.id)).size).toBe(1);
    expect(joined(events)).toEqual(args);
  });

  it.each([
    ["--key", "exec"],
    ["--comm", "cc"],
    ["--user", "1000"],
    ["--auid", "alice"],
    ["--pid", "5"],
    ["--success", "yes"],
  ])("%s %s keeps every part of the event its first part matched", async (flag, value) => {
    const r = await run([flag, value, "--passwd", passwd], log);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(parts);
    expect(joined(events)).toEqual(args);
  });

  it("a filter its first part does not match drops every part", async () => {
    const r = await run(["--key", "other", "--passwd", passwd], log);
    expect(r.stdout).toBe("");
  });

  it("filters its parts meet only together (the user in the first, the PATH in the last) find the exec, and say how to see it whole (T36 A1)", async () => {
    const r = await run(["--user", "1000", "--file", "/usr/bin/cc", "--passwd", passwd], log);
    expect(r.code, r.stderr).toBe(0);
    // the last part holds the PATH; the parts before it were passed over before it came, and the run says so
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.id, e.part])).toEqual([["1700000000.000:44", parts]]);
    expect(r.stderr).toContain(
      `event 1700000000.000:44 matched the filters only with its part ${parts} (a command line over 1 MiB is written in parts): its earlier part(s) were not written; see it whole with --event 1700000000.000:44`,
    );
    // a filter neither part meets finds nothing, and says nothing of it
    const none = await run(["--user", "1000", "--file", "/etc/shadow", "--passwd", passwd], log);
    expect([none.stdout, none.stderr]).toEqual(["", expect.not.stringContaining("matched the filters")]);
  });

  it("report counts the exec once, under its user, and its file under its syscall", async () => {
    const r = await run(["report", "--json", "--passwd", passwd], log);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.commands.rows).toHaveLength(1);
    expect(report.commands.rows[0]).toMatchObject({ count: 1, key: { auid: "alice", uid: "alice" } });
    expect(report.commands.rows[0].key.command).toMatch(/^cc -I\/src\/include\/dir0000\/y+ .* … \(continued in the event's later parts\)$/);
    expect(report.keys.rows).toEqual([expect.objectContaining({ key: { key: "exec", result: "success" }, count: 1 })]);
    expect(report.executables.rows).toEqual([expect.objectContaining({ count: 1 })]);
    expect(report.files.rows).toEqual([expect.objectContaining({ key: { file: "/usr/bin/cc", syscall: "execve", result: "success" } })]);
  });

  it("sessions lists every part in the exec's session", async () => {
    const r = await run(["sessions", "--json", "--passwd", passwd], log);
    expect(r.code, r.stderr).toBe(0);
    const [session, ...others] = JSON.parse(r.stdout);
    expect(others).toEqual([]);
    expect(session.omitted).toBeUndefined();
    expect(session.commands.map((c: { part: number }) => c.part)).toEqual(Array.from({ length: parts }, (_, i) => i + 1));
    expect(joined(session.commands)).toEqual(args);
    const text = await run(["sessions", "--passwd", passwd], log);
    expect(text.stdout).toContain("(command line continued in its next part)");
    expect(text.stdout).toContain(`exec (part 2, from argument ${session.commands[1].argv.findIndex((a: string) => a !== "")}) -I/src/`);
  });
});
