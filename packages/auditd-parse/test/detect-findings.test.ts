import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse } from "./in-process";

// What an independent black-box try of `auditd-parse detect` found (r17, T-aud17), each as a user meets it.
const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const CASES = new URL("sigma/cases/", import.meta.url).pathname;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-detfix-"));
});

/** Runs the program with a stdout whose reader is gone before it writes a byte (`| true`). */
async function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--conditions=@opsguard/source", "--import", "tsx", CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // the read end is closed at once, before the program has even started: its first write meets EPIPE
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  return { code, stderr };
}

describe("a closed stdout (finding 1: the gate failed open)", () => {
  it("detect --fail-level with matches does not exit 0 when nobody reads its alerts: 74, named on stderr", async () => {
    const r = await withClosedStdout(["detect", "--json", "--fail-level", "low", join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(74);
    expect(r.stderr).toContain("cannot write standard output: its reader closed it (EPIPE)");
  }, 20_000);

  it("the plain parse says the same: its events were not delivered", async () => {
    const r = await withClosedStdout([join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(74);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^auditd-parse: cannot write standard output: its reader closed it/),
    ]);
  }, 20_000);
});

/** One execve of `argv` as the kernel logs it: EXECVE records of at most 7.5 KB, argc in the first. */
function execveLog(serial: number, argv: string[]): string {
  const stamp = `audit(1700000005.000:${serial})`;
  const lines = [
    `type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=0 ppid=900 pid=105 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=7 comm="${argv[0]}" exe="/usr/bin/${argv[0]}" subj=unconfined key=(null)`,
  ];
  let line = `type=EXECVE msg=${stamp}: argc=${argv.length}`;
  argv.forEach((arg, i) => {
    const item = ` a${i}="${arg}"`;
    if (line.length + item.length > 7500) {
      lines.push(line);
      line = `type=EXECVE msg=${stamp}:`;
    }
    line += item;
  });
  lines.push(line, `type=EOE msg=${stamp}: `);
  return `${lines.join("\n")}\n`;
}

describe("an event over 1 MiB (finding 2: matched in parts, keyword rules missed it)", () => {
  it("a 1.2 MB grep for passwords (45,000 paths, under Linux's 2 MiB argument limit) raises Credentials In Files", async () => {
    const paths = Array.from({ length: 45_000 }, (_, i) => `/srv/junk/file${String(i).padStart(6, "0")}.txt`);
    const log = join(dir, "grep45000.log");
    writeFileSync(log, execveLog(105, ["grep", "-r", ...paths, "password"]));
    const r = await runAuditdParse(["detect", "--json", "--fail-level", "high", log]);
    const alerts = r.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(alerts.map((a) => a.rule.title)).toContain("Credentials In Files - Linux");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toContain("in parts");
    // the alert carries the event whole: its argv, first to last
    const alert = alerts.find((a) => a.rule.title === "Credentials In Files - Linux");
    expect([alert.event.argv.length, alert.event.argv[0], alert.event.argv.at(-1)]).toEqual([45_003, "grep", "password"]);
  }, 20_000);

  it("a keyword after the 100,000th argument is seen (150,000 one-letter arguments: 1.5 MB of execve's 2 MiB)", async () => {
    const log = join(dir, "grep150k.log");
    writeFileSync(log, execveLog(106, ["grep", ...Array.from({ length: 150_000 }, () => "x"), "password"]));
    const r = await runAuditdParse(["detect", "--json", log]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"title":"Credentials In Files - Linux"');
  }, 20_000);

  it("an event too big to hold whole is matched in parts and the run fails closed: exit 65, said on stderr", async () => {
    // 5000 records under one stamp: past the 4096 records detect holds in one event
    const stamp = "audit(1700000009.000:300)";
    const records = Array.from({ length: 5000 }, (_, i) => `type=PATH msg=${stamp}: item=${i} name="/tmp/f${i}" nametype=NORMAL`);
    const log = join(dir, "parts.log");
    writeFileSync(log, `${execveLog(299, ["id"])}${records.join("\n")}\n`);
    const r = await runAuditdParse(["detect", "--json", log]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain("1 event(s) too big to match whole (over 4096 records or 16 MiB) were matched in parts");
    // the other events' alerts are still written
    expect(r.stdout).toContain("System Owner or User Discovery");
  }, 20_000);
});

const RULE = (id: string, extra = "") =>
  `title: rule ${id}\nid: ${id}\nlevel: high\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {type: EXECVE, a0: whoami}, condition: sel}\n${extra}`;
const ID_LOG = join(CASES, "lnx_auditd_user_discovery/hit.log");

function rulesDir(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(d, file), text);
  return d;
}

describe("rule files (findings 4, 8, 10)", () => {
  it("a FIFO in --rules (or named by it) is refused with one line naming it, not waited on forever", async () => {
    const d = rulesDir("fifo", { "good.yml": RULE("good-1") });
    expect(spawnSync("mkfifo", [join(d, "fifo.yml")]).status).toBe(0);
    const r = await runAuditdParse(["detect", "--json", "--rules", d, ID_LOG]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`rule file ${join(d, "fifo.yml")} is a FIFO, not a regular file: its rules are not run`);
    expect(r.stdout).toContain('"id":"good-1"'); // the others ran
    const alone = await runAuditdParse(["detect", "--rules", join(d, "fifo.yml"), ID_LOG]);
    expect(alone.code).toBe(66);
    expect(alone.stderr).toContain("is a FIFO, not a regular file");
    expect(alone.stderr).toContain("no rule to run");
  }, 20_000);

  it("a symlink loop in --rules is walked once: each rule loaded once, one alert, no 'id used twice'", async () => {
    const d = rulesDir("loop/sub", { "ca.yml": RULE("loop-1") });
    symlinkSync("..", join(d, "up"));
    // a second name for the same file is the same rule, loaded once
    symlinkSync(join(d, "ca.yml"), join(d, "also.yml"));
    const r = await runAuditdParse(["detect", "--json", "--rules", join(dir, "loop"), ID_LOG]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toContain("used twice");
  }, 20_000);

  it("exit codes as for inputs: some rules unusable 65 (the others run), none to run 66, --list-rules alike", async () => {
    const locked = rulesDir("locked", { "good.yml": RULE("good-2"), "locked.yml": RULE("locked-1") });
    chmodSync(join(locked, "locked.yml"), 0o000);
    const canRead = process.getuid?.() === 0; // root reads it anyway
    const r = await runAuditdParse(["detect", "--json", "--rules", locked, ID_LOG]);
    expect(r.code).toBe(canRead ? 0 : 65);
    expect(r.stdout).toContain('"id":"good-2"');
    if (!canRead) expect(r.stderr).toContain("locked.yml cannot be read (permission denied)");
    // unreadable for root too: a link to nothing (it made the whole run exit 66, no rule run, like EACCES did)
    symlinkSync(join(dir, "nothing-there.yml"), join(locked, "dangling.yml"));
    const dangling = await runAuditdParse(["detect", "--json", "--rules", locked, ID_LOG]);
    expect(dangling.code).toBe(65);
    expect(dangling.stdout).toContain('"id":"good-2"');
    expect(dangling.stderr).toContain(
      `rule file ${join(locked, "dangling.yml")} cannot be read (no such file or directory): its rules are not run`,
    );

    const other = rulesDir("other", { "w.yml": "title: w\nlogsource: {product: windows}\ndetection: {sel: {Image: x}, condition: sel}\n" });
    const none = await runAuditdParse(["detect", "--rules", other, ID_LOG]);
    expect(none.code).toBe(66);
    // only the reasons there are (T27 #6: was "0 failed (named above), 1 are for …")
    expect(none.stderr).toContain("no rule to run: 1 is for other log sources than linux/auditd (give --rules");

    const bad = rulesDir("bad", { "good.yml": RULE("good-3"), "bad.yml": RULE("bad-3").replace("a0: whoami", "a0|nosuch: whoami") });
    const list = await runAuditdParse(["detect", "--rules", bad, "--list-rules"]);
    expect(list.code).toBe(65);
    expect(list.stdout).toMatch(/^FAILED\s+bad-3\s+.*unknown modifier "nosuch"/m);
    expect((await runAuditdParse(["detect", "--rules", other, "--list-rules"])).code).toBe(66);
    expect((await runAuditdParse(["detect", "--rules", join(locked, "good.yml"), "--list-rules"])).code).toBe(0);
  }, 20_000);
});

describe("a regex the README called not exponential (finding 3)", () => {
  it("`^(a|a)*$` on 'a'×40 + '!' finishes (it was 28 s at 32, doubling per letter) and still matches what it should", async () => {
    const rules = rulesDir("aa", {
      "aa.yml": `title: AA\nid: aa-1\nlogsource: {product: linux, service: auditd}\ndetection:\n  sel:\n    type: EXECVE\n    a1|re: '^(a|a)*$'\n  condition: sel\nlevel: low\n`,
    });
    const log = join(dir, "aa.log");
    writeFileSync(log, `${execveLog(201, ["x", `${"a".repeat(40)}!`])}${execveLog(202, ["x", "a".repeat(40)])}`);
    const r = await runAuditdParse(["detect", "--json", "--rules", rules, log]);
    expect(r.code, r.stderr).toBe(0);
    // the evil value does not match; the plain one does
    expect(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).event.serial),
    ).toEqual([202]);
  }, 20_000);
});

describe("an alert's host (finding 9)", () => {
  it("is the event's node=, never the machine reading the log: null in NDJSON, no host.name in ECS, as for events", async () => {
    const log = readFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), "utf8");
    const plain = await runAuditdParse(["detect", "--json", "--min-level", "critical"], log);
    expect(JSON.parse(plain.stdout).host).toBeNull();
    const ecs = await runAuditdParse(["detect", "--format", "ecs", "--min-level", "critical"], log);
    expect(JSON.parse(ecs.stdout).host).toBeUndefined();
    const noded = log.replace(/^type=/gm, "node=web7 type=");
    expect(JSON.parse((await runAuditdParse(["detect", "--json", "--min-level", "critical"], noded)).stdout).host).toBe("web7");
    expect(JSON.parse((await runAuditdParse(["detect", "--format", "ecs", "--min-level", "critical"], noded)).stdout).host).toEqual({
      name: "web7",
    });
  });
});

describe("Sigma null and auditd's (null) (finding 7)", () => {
  it("`key: null` matches an event logged with key=(null) (its JSON shows null) or without key, not one with a key", async () => {
    const rules = rulesDir("null", {
      "n.yml":
        "title: no key\nid: null-1\nlogsource: {product: linux, service: auditd}\ndetection:\n  sel: {type: SYSCALL, key: null}\n  condition: sel\nlevel: low\n",
    });
    const syscall = (serial: number, key: string) =>
      `type=SYSCALL msg=audit(1700000017.000:${serial}): arch=c000003e syscall=59 success=yes exit=0 pid=117 auid=1000 uid=1000 comm="true" exe="/usr/bin/true"${key}\ntype=EOE msg=audit(1700000017.000:${serial}): \n`;
    const log = `${syscall(1, " key=(null)")}${syscall(2, ' key="exec"')}${syscall(3, "")}`;
    const r = await runAuditdParse(["detect", "--json", "--rules", rules], log);
    expect(r.code, r.stderr).toBe(0);
    const hits = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(hits.map((a) => a.event.serial)).toEqual([1, 3]);
    expect(hits[0].event.records[0].fields.key).toBeNull();
  });
});

describe("an alert's records (finding 11)", () => {
  it("names the records whose own fields matched: the coinminer's EXECVE, not SYSCALL, CWD and PROCTITLE borrowing its a7", async () => {
    const r = await runAuditdParse(["detect", "--json", join(CASES, "lnx_auditd_coinminer/hit.log")]);
    const miner = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .find((a) => a.rule.title.includes("Coin"));
    expect(miner.records).toEqual(["EXECVE"]);
    // a rule joining EXECVE's argv with SYSCALL's key still names the record it was written for
    const rce = await runAuditdParse(["detect", "--json", "--min-level", "critical", join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(JSON.parse(rce.stdout).records).toEqual(["SYSCALL"]);
  });
});
