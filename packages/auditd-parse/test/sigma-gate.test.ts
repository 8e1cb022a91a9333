import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { AuditEvent } from "../src/event";
import { AuditParser, parseText } from "../src/parser";
import { eventDocs } from "../src/sigma/document";
import { SigmaEngine } from "../src/sigma/engine";
import { compileRule, type RuleSet, type SigmaRule } from "../src/sigma/rules";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { corpusLogs } from "./ausearch-diff";

// The engine runs a rule's full test only when its trigger passed (src/sigma/gate.ts). Its alerts must be
// exactly those of the straightforward evaluation below (every rule's test on every record of its types),
// on every log we have and on seeded random events built from the rules' own values, with case changes,
// non-ASCII letters that lower-case oddly (İ, K, ς) and values that miss by one character.

const PKG = new URL("..", import.meta.url).pathname;
const IDS = { passwd: join(PKG, "test/golden/passwd"), group: join(PKG, "test/golden/group") };

function ruleSet(rules: readonly { rule: unknown; path: string }[]): RuleSet {
  const set: RuleSet = { rules: [], failed: [], skipped: [] };
  for (const r of rules) compileRule(r.rule, r.path, set);
  expect(set.failed).toEqual([]);
  return set;
}

/** Every rule on every record of its types, in rule order: what the engine must equal. */
function straightforward(rules: readonly SigmaRule[], event: AuditEvent): string {
  const found = new Map<SigmaRule, string[]>();
  if (event.records.length > 0)
    for (const doc of eventDocs(event)) {
      const type = doc.type.toUpperCase();
      for (const rule of rules) {
        if (rule.types !== undefined && !rule.types.has(type)) continue;
        if (!rule.test(doc)) continue;
        const types = found.get(rule) ?? [];
        if (!types.includes(type)) types.push(type);
        found.set(rule, types);
      }
    }
  return JSON.stringify(rules.filter((r) => found.has(r)).map((r) => [r.id, found.get(r)]));
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

function logsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => join(dir, f));
}

/** ../shared/corpus/audit beside the repository (or the main worktree), as the ausearch test finds it. */
function corpusDir(): string | undefined {
  const git = (...args: string[]) => spawnSync("git", ["rev-parse", ...args], { cwd: PKG, encoding: "utf8" }).stdout.trim();
  const common = git("--path-format=absolute", "--git-common-dir");
  for (const top of [git("--show-toplevel"), common ? dirname(common) : ""]) {
    const dir = join(top, "..", "shared/corpus/audit");
    if (top && existsSync(dir)) return dir;
  }
  return undefined;
}

/** A small seeded generator (mulberry32): the same events every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every string and number in a rule's detection: the values random events are made of. */
function literals(value: unknown, out: Set<string>): Set<string> {
  if (typeof value === "string" || typeof value === "number") out.add(String(value).replace(/[*?\\]/g, ""));
  else if (Array.isArray(value)) for (const v of value) literals(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) literals(v, out);
  return out;
}

const ODD = ["İ", "\u212a", "ς", "ς/", "σ", "Σ", "ß", "é", "\u0130d", "\u212aill", "/.", " ", "-", ""];

/** Random audit logs whose values are the rules' literals, changed in case, cut, padded or mixed with ODD. */
function randomLog(next: () => number, pool: string[], events: number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const value = (): string => {
    let v = pick(pool);
    const r = next();
    if (r < 0.15) v = v.toUpperCase();
    else if (r < 0.25) v = v.slice(1);
    else if (r < 0.35) v = v.slice(0, -1);
    else if (r < 0.5) v = `${pick(ODD)}${v}`;
    else if (r < 0.65) v = `${v}${pick(ODD)}`;
    else if (r < 0.72) v = `${pick(pool)}${pick(ODD)}${pick(pool)}`;
    return v;
  };
  // hex as auditd writes a value with spaces, quotes or bytes outside printable ASCII
  const field = (name: string, v: string) =>
    `${name}=${/^[\x21-\x7e]*$/.test(v) && !/["']/.test(v) && v !== "" ? `"${v}"` : Buffer.from(v).toString("hex").toUpperCase()}`;
  const lines: string[] = [];
  for (let e = 0; e < events; e++) {
    const stamp = `msg=audit(1700000000.${String(e).padStart(3, "0")}:${e + 1}):`;
    const syscall = pick(["59", "2", "42", "103", "259", "63", "99"]);
    const keys =
      next() < 0.2 ? Buffer.from(`${value()}\x01${value()}`).toString("hex").toUpperCase() : `"${value().replace(/[^\w-]/g, "") || "k"}"`;
    if (next() < 0.8)
      lines.push(
        `type=SYSCALL ${stamp} arch=c000003e syscall=${syscall} success=yes exit=0 a0=${pick(["4", "5", "40000", "1f"])} a1=${pick(["0", "2d2d637075"])} a2=0 a3=0 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=${pick(["0", "33"])} ses=1 ${field("comm", value())} ${field("exe", pick(["/usr/bin/", "/tmp/", "/var/www/", ""]) + value())} key=${keys}`,
      );
    if (next() < 0.7) {
      const argv = Array.from({ length: 1 + Math.floor(next() * 7) }, value);
      lines.push(
        `type=${pick(["EXECVE", "EXECVE", "execve"])} ${stamp} argc=${argv.length} ${argv.map((a, i) => field(`a${i}`, a)).join(" ")}`,
      );
    }
    for (let i = 0; i < Math.floor(next() * 3); i++)
      lines.push(
        `type=PATH ${stamp} item=${i} ${field("name", pick(["/etc/", "/var/run/", "/home/a/.", ""]) + value())} inode=1 nametype=${pick(["NORMAL", "CREATE", "create", "DELETE"])}`,
      );
    if (next() < 0.2)
      lines.push(`type=SERVICE_STOP ${stamp} pid=1 uid=0 msg='unit=${value().replace(/[^\w-]/g, "") || "u"} comm="systemd" res=success'`);
    if (next() < 0.1) lines.push(`type=${pick(["ADD_USER", "TTY", "USER_TTY", "CWD"])} ${stamp} pid=1 uid=0 ${field("data", value())}`);
    if (next() < 0.3)
      lines.push(`type=PROCTITLE ${stamp} proctitle=${Buffer.from([value(), value()].join("\0")).toString("hex").toUpperCase()}`);
    lines.push(`type=EOE ${stamp}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Rules that use the shapes the gate indexes, and the ones it must leave to the full test, one per rule. */
const SHAPES = parse(`
a: { sel: { type: EXECVE, a0|startswith: [gre, sys, "İ"], a1|endswith: [conf, "/.", "\u212aill"] }, cased: { exe|cased: /usr/bin/Grep }, condition: sel and not cased }
b: { sel: { a1|contains|all: [ill, "-"] }, condition: sel }
c: { sel: { name: ["*etc*ssh*", "/var/run/?d.pid", "*ς*"] }, condition: sel }
c2: { sel: { name: "*σ*/*" }, condition: sel }
e: { kw: [ "σ", "--cpu" ], condition: 1 of kw }
k: { kw: [ kill ], condition: kw }
i: { sel: { a0|startswith: "İ" }, condition: sel }
f: { re: { a0|re: "^(chmod|CHOWN)$" }, key: { key: [susp_activity, "İd"] }, condition: re and key }
h: { sel: { type: PATH, nametype: CREATE }, other: { type: TTY }, condition: 1 of them }
`) as Record<string, unknown>;
const SHAPE_RULES = Object.entries(SHAPES).map(([id, detection]) => ({
  rule: { title: `shape ${id}`, id: `shape-${id}`, logsource: { product: "linux", service: "auditd" }, detection },
  path: `${id}.yml`,
}));

describe("the trigger gate gives the straightforward evaluation's alerts", () => {
  const sigmahq = ruleSet(SIGMAHQ_RULES);
  const shapes = ruleSet([...SHAPE_RULES, ...SIGMAHQ_RULES]);

  it("on every log the tests and the corpus have", { timeout: 60_000 }, () => {
    const engine = new SigmaEngine(sigmahq.rules);
    const logs = [
      ...logsUnder(join(PKG, "test/sigma")),
      ...logsUnder(join(PKG, "test/golden")),
      ...(corpusDir() === undefined ? [] : corpusLogs(corpusDir()!)),
    ];
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
