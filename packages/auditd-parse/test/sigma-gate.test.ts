import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/event";
import { AuditParser, parseText } from "../src/parser";
import { type Doc, eventDocs } from "../src/sigma/document";
import { matchedTypes, SigmaEngine } from "../src/sigma/engine";
import type { SigmaRule } from "../src/sigma/rules";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { IDS, knownLogs, literals, random, randomLog, ruleSet, SHAPE_RULES, SHAPES } from "./sigma-logs";

// The engine runs a rule's full test only when its trigger passed (src/sigma/gate.ts). Its alerts must be
// exactly those of the straightforward evaluation below (every rule's test on every record of its types),
// on every log we have and on seeded random events built from the rules' own values, with case changes,
// non-ASCII letters that lower-case oddly (İ, K, ς) and values that miss by one character.

/** Every rule on every record of its types, in rule order: what the engine must equal. */
function straightforward(rules: readonly SigmaRule[], event: AuditEvent): string {
  const found = new Map<SigmaRule, { type: string; doc: Doc }[]>();
  if (event.records.length > 0)
    for (const doc of eventDocs(event)) {
      const type = doc.type.toUpperCase();
      for (const rule of rules) {
        if (rule.types !== undefined && !rule.types.has(type)) continue;
        if (!rule.test(doc)) continue;
        found.set(rule, [...(found.get(rule) ?? []), { type, doc }]);
      }
    }
  // the alert names the records whose own fields matched (matchedTypes, the engine's own choice)
  return JSON.stringify(rules.filter((r) => found.has(r)).map((r) => [r.id, matchedTypes(r, found.get(r)!)]));
}

function viaEngine(engine: SigmaEngine, event: AuditEvent): string {
  return JSON.stringify(engine.match(event).map((m) => [m.rule.id, m.records]));
}

/**
 * Compares both on every event of a log, parsed as detect parses it (records made objects when first read,
 * the engine first); returns how many events matched some rule.
 */
function compare(rules: readonly SigmaRule[], engine: SigmaEngine, text: string, where: string): number {
  let hits = 0;
  const parser = new AuditParser(
    (event) => {
      const got = viaEngine(engine, event);
      const want = straightforward(rules, event);
      expect(got, `${where} event ${event.id}`).toBe(want);
      if (want !== "[]") hits++;
    },
    { ids: IDS, recordObjects: "lazy", summaries: true },
  );
  parser.pushBytes(Buffer.from(text, "latin1"));
  parser.end();
  return hits;
}

describe("the trigger gate gives the straightforward evaluation's alerts", () => {
  const sigmahq = ruleSet(SIGMAHQ_RULES);
  const shapes = ruleSet([...SHAPE_RULES, ...SIGMAHQ_RULES]);

  it("on every log the tests and the corpus have", { timeout: 60_000 }, () => {
    const engine = new SigmaEngine(sigmahq.rules);
    const logs = knownLogs();
    expect(logs.length).toBeGreaterThan(100);
    let hits = 0;
    for (const log of logs) hits += compare(sigmahq.rules, engine, readFileSync(log, "latin1"), log);
    // the case logs alone trigger every rule at least once: the comparison covered matches, not just misses
    expect(hits).toBeGreaterThan(53);
  });

  it("keeps the full test's case folding beyond ASCII: /σ/i matches ς, toLowerCase does not", () => {
    const engine = new SigmaEngine(shapes.rules);
    const name = Buffer.from("/home/ς/x").toString("hex").toUpperCase();
    const log = `type=PATH msg=audit(1.0:1): item=0 name=${name} nametype=NORMAL\ntype=EOE msg=audit(1.0:1):\n`;
    const [event] = parseText(log, { ids: IDS }).events;
    expect(straightforward(shapes.rules, event!)).toBe('[["shape-c",["PATH"]],["shape-c2",["PATH"]]]');
    expect(viaEngine(engine, event!)).toBe('[["shape-c",["PATH"]],["shape-c2",["PATH"]]]');
    expect(compare(shapes.rules, engine, log, "σ")).toBe(1);
  });

  it("finds what a value has only lower-cased (the Kelvin sign is a k, İ two characters)", () => {
    const engine = new SigmaEngine(shapes.rules);
    const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
    const log = [
      `type=EXECVE msg=audit(1.0:1): argc=2 a0="sh" a1=${hex("\u212aILL -9")}`,
      `type=PATH msg=audit(2.0:2): item=0 name=${hex("/tmp/\u212aill")} nametype=NORMAL`,
      `type=PATH msg=audit(3.0:3): item=0 name=${hex("/tmp/\u212ail")} nametype=NORMAL`,
      // a prefix that starts beyond ASCII: "İ" is compared as written and lower-cased (two characters)
      `type=EXECVE msg=audit(4.0:4): argc=2 a0=${hex("İD")} a1="x.conf"`,
      "",
    ].join("\n");
    expect(compare(shapes.rules, engine, log, "kelvin")).toBe(3);
  });

  it("a rule naming an Object.prototype member (constructor, __proto__) matches nothing instead of failing", () => {
    const set = ruleSet(
      ["constructor", "__proto__", "toString", "CONSTRUCTOR"].map((field) => ({
        rule: {
          title: field,
          id: field,
          logsource: { product: "linux", service: "auditd" },
          detection: { sel: { [field]: "x" }, condition: "sel" },
        },
        path: `${field}.yml`,
      })),
    );
    const log = `type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59 success=yes exit=0 a0=1 items=0 pid=5 uid=0 comm="ls" exe="/bin/ls"\ntype=EXECVE msg=audit(1.0:1): argc=1 a0="ls"\ntype=EOE msg=audit(1.0:1):\n`;
    expect(compare(set.rules, new SigmaEngine(set.rules), log, "prototype")).toBe(0);
  });

  it.each([1, 2, 3, 4])("on seeded random events (seed %i)", (seed) => {
    const pool = [
      ...literals(
        SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection),
        new Set<string>(),
      ),
    ];
    pool.push(...literals(SHAPES, new Set<string>()));
    const engine = new SigmaEngine(shapes.rules);
    const hits = compare(shapes.rules, engine, randomLog(random(seed), pool, 1500), `seed ${seed}`);
    expect(hits).toBeGreaterThan(100);
  });
});
