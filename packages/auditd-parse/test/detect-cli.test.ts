import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStyle } from "@opsguard/core/tty";
import { beforeAll, describe, expect, it } from "vitest";
import { Detector, loadRuleSet } from "../src/detect";
import { parseText } from "../src/parser";
import { runAuditdParse } from "./in-process";

// `auditd-parse detect` as a user runs it: alerts out, exit codes, rule errors named, hostile input.
const CASES = new URL("sigma/cases/", import.meta.url).pathname;
const WEB_RCE = "c0d3734d-330f-4a03-aae2-65dacc6a8222"; // critical
const USER_DISCOVERY = "9a0d8ca0-2385-4020-b6c6-cb6153ca56f3"; // low

// In-process (issue #21): the program as a user runs it, without a process per call.
const run = runAuditdParse;
const alerts = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** A low-level rule matching an exec whose a0 is `a0`, titled `title` (its id by default). */
const execRule = (id: string, a0: string, title = id) =>
  `title: ${title}\nid: ${id}\nlevel: low\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {type: EXECVE, a0: ${a0}}, condition: sel}\n`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-detect-"));
});

describe("auditd-parse detect", () => {
  it("writes one NDJSON alert per matching rule with the rule, host and the event as auditd-parse prints it", async () => {
    const r = await run(["detect", join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code, r.stderr).toBe(0);
    const out = alerts(r.stdout);
    expect(out.map((a) => a.rule.id).sort()).toEqual([USER_DISCOVERY, WEB_RCE].sort());
    const rce = out.find((a) => a.rule.id === WEB_RCE);
    expect(rce.rule).toMatchObject({ level: "critical", title: "Webshell Remote Command Execution", attack: ["T1505.003"] });
    expect(rce.rule.author).toContain("Ilyas Ochkov");
    expect(rce.records).toEqual(["SYSCALL"]);
    expect(rce.event).toMatchObject({ syscall: "execve", argv: ["id"], exe: "/usr/bin/id" });
    expect(rce.host).toBeNull(); // the log names no node=: the event's host is not known (not this machine's)
    expect(rce.time).toBe(rce.event.time);
  });

  it("takes stdin, and --min-level hides lower alerts", async () => {
    const r = await run(["detect", "--min-level", "high"], readFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), "utf8"));
    expect(r.code, r.stderr).toBe(0);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual([WEB_RCE]);
  });

  it("--fail-level: exit 1 when a rule at or above it matched, 0 when only lower ones did", async () => {
    const log = join(CASES, "lnx_auditd_web_rce/hit.log");
    const hit = await run(["detect", "--fail-level", "critical", log]);
    expect(hit.code).toBe(1);
    expect(hit.stderr).toContain("--fail-level critical");
    expect(alerts(hit.stdout)).toHaveLength(2); // the alerts are still written
    expect((await run(["detect", "--fail-level", "critical", join(CASES, "lnx_auditd_web_rce/miss.log")])).code).toBe(0);
  });

  it("a near miss gives no alert and exit 0", async () => {
    const r = await run(["detect", "--fail-level", "low", join(CASES, "lnx_auditd_disable_system_firewall/miss.log")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("--rules DIR: a rule that cannot be compiled is named with its reason and makes the run exit 65; the others still run", async () => {
    const rules = join(dir, "rules");
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, "good.yml"), execRule("good-1", "id", "id run"));
    writeFileSync(
      join(rules, "bad.yml"),
      "title: bad\nid: bad-1\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {a0|nosuch: x}, condition: sel}\n",
    );
    writeFileSync(
      join(rules, "win.yml"),
      "title: win\nid: win-1\nlogsource: {product: windows}\ndetection: {sel: {Image: x}, condition: sel}\n",
    );
    const r = await run(["detect", "--rules", rules, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain("rule bad-1 (");
    expect(r.stderr).toContain('unknown modifier "nosuch"');
    expect(r.stderr).toContain("1 rule(s) are for another log source");
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual(["good-1"]);
    const list = await run(["detect", "--rules", rules, "--list-rules", "--json"]);
    expect(list.code).toBe(65); // the list names the failed rule, and exits as the run would
    const listed = JSON.parse(list.stdout);
    expect(listed.rules.map((x: { id: string }) => x.id)).toEqual(["good-1"]);
    expect(listed.failed[0].rule).toBe("bad-1");
    expect(listed.skipped[0].reason).toContain("windows");
  });

  it("--rules that is missing, unreadable or empty: one line and exit 66", async () => {
    expect(await run(["detect", "--rules", join(dir, "nope"), "/dev/null"])).toMatchObject({ code: 66 });
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    const r = await run(["detect", "--rules", empty, "/dev/null"]);
    expect(r.code).toBe(66);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked.yml");
      writeFileSync(locked, "title: x\n");
      chmodSync(locked, 0o000);
      expect((await run(["detect", "--rules", locked, "/dev/null"])).code).toBe(66);
    }
  });

  it("a value under a YAML tag the loader does not know is a compile failure by file and rule id, not its plain text", async () => {
    const rules = join(dir, "tagged");
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, "good.yml"), execRule("good-1", "id", "id run"));
    // read as the text "id", this rule matched the same exec as the good one
    writeFileSync(
      join(rules, "tag.yml"),
      "title: tagged\nid: tag-1\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {type: EXECVE, a0: !foo id}, condition: sel}\n",
    );
    const r = await run(["detect", "--rules", rules, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`rule tag-1 (${join(rules, "tag.yml")}) cannot be compiled: Unresolved tag: !foo`);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual(["good-1"]);
    // YAML 1.1's own tags too: !!binary made a byte array of the value
    writeFileSync(
      join(rules, "tag.yml"),
      "title: b\nid: tag-2\nlogsource: {product: linux, service: auditd}\ndetection: {sel: {a0: !!binary aWQ=}, condition: sel}\n",
    );
    expect((await run(["detect", "--rules", rules, "/dev/null"])).stderr).toContain("rule tag-2 (");
  });

  it("an empty rule file: named by --rules, one line and exit 66; in a directory, one warning and the others run", async () => {
    const rules = join(dir, "with-empty");
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, "good.yml"), execRule("good-1", "id", "id run"));
    writeFileSync(join(rules, "zero.yml"), "");
    writeFileSync(join(rules, "comments.yaml"), "# the rule was here\n---\n# and here\n");
    for (const name of ["zero.yml", "comments.yaml"]) {
      const file = join(rules, name);
      const alone = await run(["detect", "--rules", file, join(CASES, "lnx_auditd_web_rce/hit.log")]);
      expect(alone.code).toBe(66);
      expect(alone.stdout).toBe("");
      expect(alone.stderr.trim().split("\n")).toEqual([expect.stringContaining(`--rules ${file}: holds no rule`)]);
    }
    const r = await run(["detect", "--rules", rules, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code, r.stderr).toBe(0);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual(["good-1"]);
    expect(r.stderr.trim().split("\n").sort()).toEqual([
      expect.stringContaining(`warn: rule file ${join(rules, "comments.yaml")} holds no rule`),
      expect.stringContaining(`warn: rule file ${join(rules, "zero.yml")} holds no rule`),
    ]);
    // fail closed: a directory of empty files is no rule to run, never a clean run that matched nothing
    writeFileSync(join(rules, "good.yml"), "");
    const none = await run(["detect", "--rules", rules, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(none.code).toBe(66);
    expect(none.stderr).toContain("no rule to run");
    expect(none.stderr).toContain("3 rule file(s) hold none");
  });

  it("--rules given twice runs both sets, not the last one alone (T24 #2)", async () => {
    const mine = join(dir, "mine.yml");
    const theirs = join(dir, "theirs");
    mkdirSync(theirs, { recursive: true });
    writeFileSync(mine, execRule("mine-1", "id"));
    writeFileSync(join(theirs, "other.yml"), execRule("theirs-1", "id"));
    const r = await run(["detect", "--rules", mine, "--rules", theirs, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code, r.stderr).toBe(0);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual(["mine-1", "theirs-1"]);
    // a second --rules that holds no rule is still a named mistake, not the first set run as if alone
    const empty = join(dir, "empty-second.yml");
    writeFileSync(empty, "");
    const none = await run(["detect", "--rules", mine, "--rules", empty, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(none.code).toBe(66);
    expect(none.stderr).toContain(`--rules ${empty}: holds no rule`);
  });

  it("a symbolic-link loop in a rules directory is named and the other rules run; a looping --rules file says so (T24 #1)", async () => {
    const rules = join(dir, "looped");
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, "good.yml"), execRule("good-1", "id", "id run"));
    symlinkSync("self", join(rules, "self"));
    symlinkSync("l2.yml", join(rules, "l1.yml"));
    symlinkSync("l1.yml", join(rules, "l2.yml"));
    const r = await run(["detect", "--rules", rules, join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(65);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual(["good-1"]);
    expect(r.stderr).toContain(`${join(rules, "self")} link cannot be followed (a loop of symbolic links: ELOOP)`);
    expect(r.stderr).toContain(join(rules, "l1.yml"));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const alone = await run(["detect", "--rules", join(rules, "l1.yml"), "/dev/null"]);
    expect(alone.code).toBe(66);
    expect(alone.stderr).toContain("a loop of symbolic links");
  });

  it("a rule file that is not UTF-8 or not YAML is a named failure, not a crash", async () => {
    const rules = join(dir, "broken");
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, "latin1.yml"), Buffer.from([0x74, 0x69, 0x74, 0x6c, 0x65, 0x3a, 0x20, 0xe9, 0x0a]));
    writeFileSync(join(rules, "yaml.yml"), "title: [unclosed\n");
    const r = await run(["detect", "--rules", rules, "/dev/null"]);
    expect(r.code).toBe(66); // no rule left to run, as no input read is 66 (65 is for some failed, others run)
    expect(r.stderr).toContain("not UTF-8");
    expect(r.stderr).toContain("YAML");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("plugin --detect: audisp input on stdin, alerts out until EOF", async () => {
    const r = await run(["plugin", "--detect", "--min-level", "critical"], readFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), "utf8"));
    expect(r.code, r.stderr).toBe(0);
    expect(alerts(r.stdout).map((a) => a.rule.id)).toEqual([WEB_RCE]);
    expect((await run(["plugin", "--rules", "x"], "")).code).toBe(64);
  });

  it("bad levels are usage errors (64) naming the choices", async () => {
    const r = await run(["detect", "--fail-level", "severe", "/dev/null"]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("informational, low, medium, high, critical");
  });

  it("hostile values reach the alert intact in JSON, and malformed lines do not stop detection", async () => {
    const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
    const log = [
      "garbage line \u001b[2J",
      'type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="chattr" exe="/usr/bin/chattr" key=(null)',
      `type=EXECVE msg=audit(1700000000.000:5): argc=3 a0="chattr" a1="-i" a2=${hex("/etc/\u001b]0;owned\u0007passwd\u202e")}`,
      "type=EOE msg=audit(1700000000.000:5):",
    ].join("\n");
    const r = await run(["detect"], log);
    expect(r.code, r.stderr).toBe(0);
    const out = alerts(r.stdout);
    expect(out.map((a) => a.rule.id)).toContain("a5b977d6-8a81-4475-91b9-49dbfcd941f7");
    expect(out[0].event.argv[2]).toBe("/etc/\u001b]0;owned\u0007passwd\u202e");
    expect(r.stdout).not.toContain("\u001b");
  });

  it("the table for a terminal: one row per alert, control characters from the log escaped", () => {
    const lines: string[] = [];
    const detector = new Detector(loadRuleSet(undefined).rules, {
      minRank: 0,
      failRank: undefined,
      format: "table",
      style: createStyle(false),
    });
    lines.push(detector.header()!);
    const log = readFileSync(join(CASES, "lnx_auditd_chattr_immutable_removal/hit.log"), "utf8").replace(
      '"/etc/passwd"',
      "2F6574632F1B5B324A706173737764",
    );
    for (const e of parseText(log).events)
      detector.event(e, { toString: () => "{}", recordTable: () => undefined } as never, (l) => lines.push(l));
    expect(lines[0]).toMatch(/^TIME\s+LEVEL\s+RULE\s+HOST\s+WHAT$/);
    const row = lines.find((l) => l.includes("Remove Immutable File Attribute"))!;
    expect(row).toContain("medium");
    expect(row).toContain("chattr -i /etc/\\033[2Jpasswd");
    expect(lines.join("")).not.toContain("\u001b");
  });
});
