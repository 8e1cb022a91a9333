import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseText } from "../src/parser";
import { SigmaEngine } from "../src/sigma/engine";
import { compileRule, type RuleSet } from "../src/sigma/rules";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";

// SigmaHQ's 53 auditd rules on audit logs: each rule's hit log must trigger it and its near miss must not
// (test/sigma/cases, made by test/sigma/make-cases.mjs), and every match on every case log must equal what
// pySigma + pySigma-backend-sqlite found on the same records (test/sigma/oracle/expected.json, made as
// test/sigma/oracle/README.md says), except the differences listed with their reason in
// test/sigma/oracle/differences.json.

const PKG = new URL("..", import.meta.url).pathname;
const CASES = join(PKG, "test/sigma/cases");
const RULES_DIR = join(PKG, "sigma/rules");
const ORACLE = JSON.parse(readFileSync(join(PKG, "test/sigma/oracle/expected.json"), "utf8")) as {
  matches: Record<string, Record<string, string[]>>;
  unsupported: Record<string, string>;
};
const DIFFERENCES = JSON.parse(readFileSync(join(PKG, "test/sigma/oracle/differences.json"), "utf8")) as {
  file: string;
  event: string;
  rule: string;
  ours: boolean;
  reason: string;
}[];
const IDS = { passwd: join(PKG, "test/golden/passwd"), group: join(PKG, "test/golden/group") };

function builtin(): RuleSet {
  const set: RuleSet = { rules: [], failed: [], skipped: [] };
  for (const r of SIGMAHQ_RULES) compileRule(r.rule, r.path, set);
  return set;
}

const SET = builtin();
const ENGINE = new SigmaEngine(SET.rules);
const byFile = new Map(SET.rules.map((r) => [r.source.replace(/^.*\//, "").replace(/\.yml$/, ""), r]));

/** Rule ids matched per event id in one case log. */
function detect(file: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const event of parseText(readFileSync(join(CASES, file), "utf8"), { ids: IDS }).events) {
    const ids = ENGINE.match(event).map((m) => m.rule.id);
    if (ids.length > 0) out[event.id!] = ids.sort();
  }
  return out;
}

describe("SigmaHQ's auditd rules", () => {
  it("all 53 compile, none is skipped, and the bundled copy equals sigma/rules", () => {
    expect(SET.failed).toEqual([]);
    expect(SET.skipped).toEqual([]);
    expect(SET.rules).toHaveLength(53);
    const files = readdirSync(RULES_DIR, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".yml"))
      .sort();
    expect(SIGMAHQ_RULES.map((r) => r.path)).toEqual(files);
    for (const r of SIGMAHQ_RULES) expect(r.rule, r.path).toEqual(parse(readFileSync(join(RULES_DIR, r.path), "utf8")));
  });

  it("every rule has a case folder, and every case folder a rule", () => {
    expect(readdirSync(CASES).sort()).toEqual([...byFile.keys()].sort());
  });

  it.each([...byFile.keys()].sort())("%s: its hit log triggers it, its near miss does not", (name) => {
    const rule = byFile.get(name)!;
    const hits = Object.values(detect(`${name}/hit.log`));
    const misses = Object.values(detect(`${name}/miss.log`));
    expect(hits.some((ids) => ids.includes(rule.id))).toBe(true);
    expect(misses.some((ids) => ids.includes(rule.id))).toBe(false);
  });

  it("matches what pySigma's SQLite backend matched on the same records, but for the listed differences", () => {
    const found: string[] = [];
    const table = { compiled: SET.rules.length, triggered: new Set<string>(), agree: 0, differences: 0 };
    const files = [
      ...readdirSync(CASES)
        .flatMap((d) => [`${d}/hit.log`, `${d}/miss.log`])
        .sort(),
      ...readdirSync(join(CASES, "../edge")).map((f) => `../edge/${f}`),
    ];
    for (const file of files) {
      const ours = detect(file);
      const theirs = ORACLE.matches[file] ?? {};
      for (const event of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
        const a = new Set(ours[event] ?? []);
        const b = new Set(theirs[event] ?? []);
        for (const id of a) table.triggered.add(id);
        for (const rule of new Set([...a, ...b])) {
          if (a.has(rule) && b.has(rule)) table.agree++;
          else {
            found.push(`${file} ${event} ${rule} ${a.has(rule) ? "only auditd-parse" : "only pySigma"}`);
            table.differences++;
          }
        }
      }
    }
    const listed = DIFFERENCES.map((d) => `${d.file} ${d.event} ${d.rule} ${d.ours ? "only auditd-parse" : "only pySigma"}`);
    console.log(
      [
        "Sigma conformance (SigmaHQ auditd rules vs pySigma + pySigma-backend-sqlite):",
        `  rules compiled ${table.compiled}/${SIGMAHQ_RULES.length}, oracle could not convert ${Object.keys(ORACLE.unsupported).length}`,
        `  rules triggered by their hit logs ${table.triggered.size}/${table.compiled}, (event, rule) matches agreeing ${table.agree}`,
        `  differences ${table.differences} (listed with reasons in test/sigma/oracle/differences.json: ${listed.length})`,
        ...DIFFERENCES.map((d) => `    ${d.file} ${d.rule}: ${d.reason}`),
      ].join("\n"),
    );
    expect(Object.keys(ORACLE.unsupported)).toEqual([]);
    expect(found.sort()).toEqual(listed.sort());
  });

  it("the oracle's expectations cover the case logs (a stale expected.json would compare nothing)", () => {
    const files = new Set(Object.keys(ORACLE.matches));
    for (const name of byFile.keys()) expect(files.has(`${name}/hit.log`), name).toBe(true);
    expect(relative(PKG, CASES)).toBe("test/sigma/cases");
  });
});
