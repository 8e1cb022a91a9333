import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import { parse } from "yaml";
import { compileRule, type RuleSet } from "../src/sigma/rules";
import { corpusLogs } from "./ausearch-diff";

// Logs and rules the Sigma differential tests share (sigma-gate, sigma-table): the logs under a directory,
// the conformance corpus, and seeded random events made of the rules' own values.

const PKG = new URL("..", import.meta.url).pathname;

/** The golden passwd and group files: user and group names as the golden outputs have them. */
export const IDS = { passwd: join(PKG, "test/golden/passwd"), group: join(PKG, "test/golden/group") };

/** Rules compiled as detect compiles them; every one must compile. */
export function ruleSet(rules: readonly { rule: unknown; path: string }[]): RuleSet {
  const set: RuleSet = { rules: [], failed: [], skipped: [] };
  for (const r of rules) compileRule(r.rule, r.path, set);
  expect(set.failed).toEqual([]);
  return set;
}

/** Every log the tests and the conformance corpus have. */
export function knownLogs(): string[] {
  const corpus = corpusDir();
  return [
    ...logsUnder(join(PKG, "test/sigma")),
    ...logsUnder(join(PKG, "test/golden")),
    ...(corpus === undefined ? [] : corpusLogs(corpus)),
  ];
}

export function logsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => join(dir, f));
}

/** ../shared/corpus/audit beside the repository (or the main worktree), as the ausearch test finds it. */
export function corpusDir(): string | undefined {
  const git = (...args: string[]) => spawnSync("git", ["rev-parse", ...args], { cwd: PKG, encoding: "utf8" }).stdout.trim();
  const common = git("--path-format=absolute", "--git-common-dir");
  for (const top of [git("--show-toplevel"), common ? dirname(common) : ""]) {
    const dir = join(top, "..", "shared/corpus/audit");
    if (top && existsSync(dir)) return dir;
  }
  return undefined;
}

export { seededRandom as random } from "../../core/test/seeded-random";

/** Every string and number in a rule's detection: the values random events are made of. */
export function literals(value: unknown, out: Set<string>): Set<string> {
  if (typeof value === "string" || typeof value === "number") out.add(String(value).replace(/[*?\\]/g, ""));
  else if (Array.isArray(value)) for (const v of value) literals(v, out);
  else if (typeof value === "object" && value !== null) for (const v of Object.values(value)) literals(v, out);
  return out;
}

export const ODD = ["İ", "\u212a", "ς", "ς/", "σ", "Σ", "ß", "é", "\u0130d", "\u212aill", "/.", " ", "-", ""];

/** Random audit logs whose values are the rules' literals, changed in case, cut, padded or mixed with ODD. */
export function randomLog(next: () => number, pool: string[], events: number): string {
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
export const SHAPES = parse(`
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
export const SHAPE_RULES = Object.entries(SHAPES).map(([id, detection]) => ({
  rule: { title: `shape ${id}`, id: `shape-${id}`, logsource: { product: "linux", service: "auditd" }, detection },
  path: `${id}.yml`,
}));
