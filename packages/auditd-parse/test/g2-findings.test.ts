import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { loadRuleSet } from "../src/detect";
import { runAuditdParse } from "./in-process";

// Round 13's black-box findings on auditd-parse (detect and plain parse), each as a user meets it.
const CASES = new URL("sigma/cases/", import.meta.url).pathname;
const WEB_RCE = "c0d3734d-330f-4a03-aae2-65dacc6a8222"; // critical

// In-process (issue #21): the program as a user runs it, without a process per call.
const run = runAuditdParse;
const lines = (stdout: string) => stdout.split("\n").filter(Boolean);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-g2-"));
});

describe("finding 1: one bad input among several", () => {
  it("reads every other input and what a truncated .gz holds, names each bad one, exits 65 (66 when nothing is readable)", async () => {
    const hit = readFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), "utf8");
    const rot = mkdtempSync(join(dir, "rot-"));
    copyFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), join(rot, "audit.log"));
    // a truncated rotated file: its first event complete, the gzip trailer and the rest missing
    const gz = gzipSync(`${hit}${"type=USER_END msg=audit(1767225800.000:2000): pid=1 uid=0\n".repeat(200)}`);
    writeFileSync(join(rot, "audit.log.2.gz"), gz.subarray(0, gz.length - 40));
    const missing = join(rot, "audit.log.1");
    const d = await run(["detect", "--json", "--fail-level", "high", join(rot, "audit.log"), join(rot, "audit.log.2.gz"), missing]);
    // two alerts: the event in the truncated .gz (read as zcat would) and the one in audit.log
    expect(lines(d.stdout).filter((l) => JSON.parse(l).rule.id === WEB_RCE)).toHaveLength(2);
    expect(d.code, d.stderr).toBe(65);
    expect(d.stderr).toMatch(/audit\.log\.2\.gz: truncated gzip data/);
    expect(d.stderr).toMatch(/cannot read .*audit\.log\.1: ENOENT/);
    expect(d.stderr).toMatch(/incomplete: 2 of 3 input/);
    const p = await run([join(rot, "audit.log"), missing]);
    expect([p.code, lines(p.stdout).length]).toEqual([65, 1]);
    const none = await run([missing, join(rot, "nope")]);
    expect([none.code, none.stdout]).toEqual([66, ""]);
    expect(none.stderr).toMatch(/none of the 2 inputs could be read/);
  });
});

/** A Sigma rule file for EXECVE records with this detection body (YAML lines, indented under detection:). */
function rule(id: string, detection: string): string {
  return `title: t ${id}\nid: ${id}\nlogsource: {product: linux, service: auditd}\nlevel: high\ndetection:\n${detection}\n`;
}
const VALID = "11111111-1111-4111-8111-111111111111";
const EVIL_ARG = `${"a".repeat(40)}b`;

function hostileRules(): string {
  const rules = join(dir, `rules-${Math.random().toString(36).slice(2)}`);
  mkdirSync(rules);
  writeFileSync(join(rules, "valid.yml"), rule(VALID, "  s: {type: EXECVE, a0: chattr}\n  condition: s"));
  writeFileSync(
    join(rules, "redos1.yml"),
    rule("22222222-2222-4222-8222-222222222222", "  s: {type: EXECVE, a1|re: '^(a+)+$'}\n  condition: s"),
  );
  writeFileSync(
    join(rules, "redos2.yml"),
    rule("33333333-3333-4333-8333-333333333333", "  s: {type: EXECVE, a1|re: '^(\\w+\\s?)*$'}\n  condition: s"),
  );
  // with |i too: the i flag written out as classes ([Aa]), V8's linear-time engine takes them (T57 F1; T-aud17 #3 had
  // (a|a)* let through by a heuristic)
  writeFileSync(
    join(rules, "redos3.yml"),
    rule("66666666-6666-4666-8666-666666666666", "  s: {type: EXECVE, a1|re|i: '^(a+)+$'}\n  condition: s"),
  );
  writeFileSync(
    join(rules, "redos4.yml"),
    rule("77777777-7777-4777-8777-777777777777", "  s: {type: EXECVE, a1|re|i: '^(a|a)*$'}\n  condition: s"),
  );
  writeFileSync(
    join(rules, "parens.yml"),
    rule("44444444-4444-4444-8444-444444444444", `  s: {type: EXECVE}\n  condition: ${"(".repeat(5000)}s${")".repeat(5000)}`),
  );
  writeFileSync(
    join(rules, "nots.yml"),
    rule("55555555-5555-4555-8555-555555555555", `  s: {type: EXECVE}\n  condition: ${"not ".repeat(20000)}s`),
  );
  return rules;
}
const execve = (serial: number, argv: string[]) =>
  [
    `type=SYSCALL msg=audit(1767225705.105:${serial}): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=2 auid=1000 uid=0 comm="${argv[0]}" exe="/usr/bin/${argv[0]}"`,
    `type=EXECVE msg=audit(1767225705.105:${serial}): argc=${argv.length} ${argv.map((a, i) => `a${i}="${a}"`).join(" ")}`,
    `type=EOE msg=audit(1767225705.105:${serial}):`,
  ].join("\n");

describe("findings 2 and 3: hostile rules are compile failures of their own, the others run", () => {
  it("runs catastrophic regexes on V8's linear-time engine, and refuses conditions nested past the bound, naming each", () => {
    const set = loadRuleSet([hostileRules()]);
    // (a+)+ and (\w+\s?)* run on V8's linear-time engine once they backtrack too much: no longer refused, with |i too
    expect(set.rules.map((r) => r.id)).toEqual([
      "22222222-2222-4222-8222-222222222222",
      "33333333-3333-4333-8333-333333333333",
      "66666666-6666-4666-8666-666666666666",
      "77777777-7777-4777-8777-777777777777",
      VALID,
    ]);
    const reasons = Object.fromEntries(set.failed.map((p) => [p.rule, p.reason]));
    expect(reasons["44444444-4444-4444-8444-444444444444"]).toMatch(/nests parentheses and "not" more than 100 deep/);
    expect(reasons["55555555-5555-4555-8555-555555555555"]).toMatch(/nests parentheses and "not" more than 100 deep/);
    // a reason quotes a long condition's start only
    expect(reasons["44444444-4444-4444-8444-444444444444"]!.length).toBeLessThan(200);
  });

  it("still compiles the 53 built-in rules (one of them uses re)", () => {
    const set = loadRuleSet(undefined);
    expect([set.rules.length, set.failed]).toEqual([53, []]);
  });

  it("detect on the attack input: alerts from the valid rule, the bad ones named, exit 65, no hang", async () => {
    const log = `${execve(10, ["chattr", "+i", "/etc/passwd"])}\n${execve(11, ["echo", EVIL_ARG])}\n${execve(12, ["echo", "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk!"])}\n`;
    const r = await run(["detect", "--json", "--rules", hostileRules(), "-"], log);
    expect(r.code, r.stderr).toBe(65);
    // the evil values match nothing (and take no time); (\w+\s?)* rightly matches the all-letters argument
    expect(lines(r.stdout).map((l) => [JSON.parse(l).rule.id, JSON.parse(l).event.serial])).toEqual([
      [VALID, 10],
      ["33333333-3333-4333-8333-333333333333", 11],
    ]);
    expect(r.stderr.match(/cannot be compiled/g)).toHaveLength(2); // the two conditions
    expect(r.stderr).not.toMatch(/Maximum call stack/);
  });
});

describe("finding 4: the 1 MiB bound on an event's JSON", () => {
  it("writes a 2.5 MB argv over 340 EXECVE records in parts under 1 MiB each, same id, no argument byte lost", async () => {
    const stamp = "1700000300.000:400";
    const arg = "A".repeat(120_000);
    const args = ["cat", ...Array.from({ length: 21 }, () => arg), "/root/.bash_history"];
    const recs: string[] = [`argc=${args.length}`];
    // as the kernel writes a long argument: aN_len, then aN[i] chunks, records of about 7.5 KiB
    args.forEach((a, i) => {
      if (a.length <= 7000) recs.push(`a${i}="${a}"`);
      else
        for (let j = 0; j < a.length; j += 7000)
          recs.push(`${j === 0 ? `a${i}_len=${a.length} ` : ""}a${i}[${j / 7000}]="${a.slice(j, j + 7000)}"`);
    });
    const log = [
      `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=900 pid=901 auid=1000 uid=1000 comm="cat" exe="/usr/bin/cat"`,
      ...recs.map((r) => `type=EXECVE msg=audit(${stamp}): ${r}`),
      `type=EOE msg=audit(${stamp}):`,
      "",
    ].join("\n");
    const r = await run(["-"], log);
    expect(r.code, r.stderr).toBe(0);
    const parts = lines(r.stdout);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(1 << 20);
    const events = parts.map((p) => JSON.parse(p));
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(["1700000300.000:400"]));
    const argBytes = events.flatMap((e) => e.argv ?? []).reduce((n: number, a: string) => n + a.length, 0);
    expect(argBytes).toBe(args.join("").length);
    expect(r.stderr).toMatch(/later part\(s\) of events written under the same id/);
  });
});

describe("finding 5: a line with very many fields", () => {
  it("keeps its first 4096 fields, whole, and warns that the rest was cut", async () => {
    const n = 300_000;
    const stamp = "1700000000.000:1";
    const wide = `type=EXECVE msg=audit(${stamp}): argc=${n} ${Array.from({ length: n }, (_, i) => `a${i}="x"`).join(" ")}`;
    const log = `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes pid=1 uid=0 comm="x" exe="/x"\n${wide}\ntype=EOE msg=audit(${stamp}):\n`;
    const r = await run(["-v", "-"], log);
    expect(r.code, r.stderr).toBe(0);
    const [event] = lines(r.stdout).map((l) => JSON.parse(l));
    // header fields type= and msg= and argc= count too: a0 … a4092, each "x" (none cut in half)
    expect(event.argv).toHaveLength(4093);
    expect(event.argv.every((a: string) => a === "x")).toBe(true);
    expect(r.stderr).toMatch(/1 line\(s\) with more than 4096 fields cut after them/);
    expect(r.stderr).toMatch(/1 cut for fields/);
  });
});
