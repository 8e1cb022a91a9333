import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@opsguard/lab/wait";
import { describe, expect, it } from "vitest";
import { loadRuleSet } from "../src/detect";
import { backtrackPaths, expandCounts, foldCase, foldLiteral, MAX_PATHS } from "../src/sigma/regex-safety";

/** T57 findings of the independent tester about detect and plugin --detect: what a user of the bin met. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

/**
 * The CLI as a process. Before the fixes these runs took minutes on one event: the time limit only ends such a
 * run (its status is then null), it is not what is tested.
 */
function spawned(args: string[], input = "") {
  return spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    input,
    encoding: "utf8",
    timeout: 25_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 << 20,
  });
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "auditd-parse-t57-"));
}

/** A Sigma rule file for auditd with this detection body (YAML lines, indented under detection:). */
function rule(id: string, detection: string): string {
  return `title: t ${id}\nid: ${id}\nlogsource: {product: linux, service: auditd}\nlevel: high\ndetection:\n${detection}\n`;
}

function writeRule(dir: string, name: string, id: string, detection: string): string {
  const path = join(dir, name);
  writeFileSync(path, rule(id, detection));
  return path;
}

const execve = (serial: number, argv: string[]) =>
  [
    `type=SYSCALL msg=audit(1767225705.105:${serial}): arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=2 auid=1000 uid=0 comm="${argv[0]}" exe="/usr/bin/${argv[0]}"`,
    `type=EXECVE msg=audit(1767225705.105:${serial}): argc=${argv.length} ${argv.map((a, i) => `a${i}="${a}"`).join(" ")}`,
    `type=EOE msg=audit(1767225705.105:${serial}):`,
    "",
  ].join("\n");

const alertsOf = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => [JSON.parse(l).rule.id, JSON.parse(l).event.serial]);

const POLY = "0b0b0b0b-0000-4000-8000-000000000003";
/** T57's rule: four `.*` under `i`, 13.5 s on a 2,000-character argument and over 120 s on 8,000. */
const POLY_RULE = "  sel:\n    a1|re|i: '.*curl.*http.*\\|.*sh'\n  condition: sel";
/** Not a shell metacharacter in a1="…": the argument any user can make (`sh -c "$(yes 'curl http' | head)"`). */
const LONG = "curl http ".repeat(800);

describe("F1: no rule can stall the run on one event", () => {
  it("runs re|i with a chain of .* in linear time, matching as i does (it took minutes on an 8,000-character argument)", () => {
    const dir = tempDir();
    writeRule(dir, "poly.yml", POLY, POLY_RULE);
    const log = `${execve(10, ["sh", LONG])}${execve(11, ["sh", "CURL HTTP://x.example | Sh"])}`;
    const r = spawned(["detect", "--json", "--rules", dir, "-"], log);
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(alertsOf(r.stdout)).toEqual([[POLY, 11]]);
  });

  it("runs Sigma's case-insensitive wildcards in linear time too (*curl*http*|*sh* backtracked as a power of the length)", () => {
    const dir = tempDir();
    writeRule(dir, "wild.yml", POLY, "  sel:\n    a1: '*curl*http*|*sh*'\n  condition: sel");
    const log = `${execve(10, ["sh", "curl http ".repeat(3200)])}${execve(11, ["sh", "CURL HTTP://x.example | Sh"])}`;
    const r = spawned(["detect", "--json", "--rules", dir, "-"], log);
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(alertsOf(r.stdout)).toEqual([[POLY, 11]]);
  });

  it("refuses an expression left to the backtracking engine with an unbounded repetition, in one line naming the rule; bounded ones run", () => {
    const dir = tempDir();
    writeRule(dir, "br.yml", "0b0b0b0b-0000-4000-8000-000000000008", "  sel:\n    a1|re: '(c).*\\1url.*http.*\\|.*sh'\n  condition: sel");
    writeRule(dir, "look.yml", "0b0b0b0b-0000-4000-8000-000000000009", "  sel:\n    a1|re|i: '(?=.*curl).*sh'\n  condition: sel");
    writeRule(dir, "ok1.yml", "0b0b0b0b-0000-4000-8000-00000000000a", "  sel:\n    a1|re: '(c)\\1url'\n  condition: sel");
    writeRule(dir, "ok2.yml", "0b0b0b0b-0000-4000-8000-00000000000b", "  sel:\n    a1|re|i: 'curl(?! -s)'\n  condition: sel");
    const log = `${execve(10, ["sh", LONG])}${execve(11, ["sh", "ccurl http"])}`;
    const r = spawned(["detect", "--json", "--rules", dir, "-"], log);
    expect(r.status).toBe(65);
    const lines = r.stderr.split("\n").filter((l) => l.includes("cannot be compiled"));
    expect(lines, r.stderr).toHaveLength(2);
    for (const [id, file] of [
      ["0b0b0b0b-0000-4000-8000-000000000008", "br.yml"],
      ["0b0b0b0b-0000-4000-8000-000000000009", "look.yml"],
    ] as const)
      expect(lines.find((l) => l.includes(id))).toMatch(
        new RegExp(`rule ${id} \\(.*${file}\\) cannot be compiled: .*regular expression refused: with lookaround, a backreference`),
      );
    expect(alertsOf(r.stdout)).toEqual([
      ["0b0b0b0b-0000-4000-8000-00000000000b", 10],
      ["0b0b0b0b-0000-4000-8000-00000000000a", 11],
      ["0b0b0b0b-0000-4000-8000-00000000000b", 11],
    ]);
  });

  it("plugin --detect: the events after such an argument are alerted on, and SIGTERM ends it with exit 0", async () => {
    const dir = tempDir();
    writeRule(dir, "poly.yml", POLY, POLY_RULE);
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "--detect", "--rules", dir], { stdio: "pipe" });
    const exited = new Promise<[number | null, string | null]>((resolve) => child.on("exit", (code, signal) => resolve([code, signal])));
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    try {
      child.stdin.write(`${execve(10, ["sh", LONG])}${execve(11, ["sh", "curl http://x | sh"])}`);
      await untilEvent(child.stdout, "data", () => stdout.includes('"serial":11'), "the alert of the event after the long one");
      child.kill("SIGTERM");
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    expect(await exited).toEqual([0, null]);
    expect(alertsOf(stdout)).toEqual([[POLY, 11]]);
  });

  it("foldCase matches what V8's i flag matches, on every UTF-16 code unit", () => {
    const units = Array.from({ length: 0x10000 }, (_, u) => String.fromCharCode(u));
    for (const source of [
      "a",
      "Z",
      "é",
      "\\u00b5",
      "\\x4b",
      "\\q",
      "\\cJ",
      "[a-f]",
      "[^a-f]",
      "[Z-b]",
      "[\\w\\-k]",
      "[^\\dK]",
      "[\\b]",
      "[\\B]",
      "[à-ÿ]",
      "[\\u0100-\\u017f]",
      "\\W",
      "σ",
      "[ſ]",
      "\\u212a",
      "ǅ",
    ]) {
      const folded = foldCase(`^${source}$`);
      expect(folded, source).toBeDefined();
      const withI = new RegExp(`^${source}$`, "i");
      const without = new RegExp(folded!);
      const differ = units.filter((u) => withI.test(u) !== without.test(u));
      expect(differ, `${source} → ${folded}`).toEqual([]);
    }
  });

  it("foldCase keeps what is not text as written, and leaves what it cannot rewrite to the i flag", () => {
    expect(foldCase("(?<name>a)(?:b|c){2,3}\\d+\\bx(?=y)")).toBe("(?<name>[Aa])(?:[Bb]|[Cc]){2,3}\\d+\\b[Xx](?=[Yy])");
    for (const source of ["(a)\\1", "\\k<n>(?<n>a)", "\\012", "\\c1", "\\xZ", "[\\w-a]"]) expect(foldCase(source), source).toBeUndefined();
    expect(new RegExp(`^${foldLiteral("Ab.é")}$`).test("aB.É")).toBe(true);
  });

  it("backtrackPaths bounds the ways to match at one place: unbounded repetitions and large products are over the bound", () => {
    expect(backtrackPaths("(c)\\1url")).toBe(1);
    expect(backtrackPaths("\\d{1,3}\\.\\d{1,3}")).toBe(9);
    expect(backtrackPaths("[0-9a-f]{32}(?!x)")).toBe(1);
    for (const source of ["(c).*\\1", "a+(?=b)", "(a){2,}\\1", "(a{0,20}){0,20}(?=b)", "(a|b|c|d){0,9}\\1"])
      expect(backtrackPaths(source), source).toBeGreaterThan(MAX_PATHS);
  });
});

describe("F11: plugin fed auditd's binary format says so at once", () => {
  it("exits 78 with one line naming the fix at the first message, while auditd still holds stdin open", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "--detect"], { stdio: "pipe" });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // struct audit_dispatcher_header {ver 0, hlen 16, type 1300 (SYSCALL), size}, then the text without type=
    const text = Buffer.from("msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0\n");
    const header = Buffer.alloc(16);
    header.writeUInt32LE(0, 0);
    header.writeUInt32LE(16, 4);
    header.writeUInt32LE(1300, 8);
    header.writeUInt32LE(text.length, 12);
    child.stdin.write(Buffer.concat([header, text]));
    let code: number | null;
    try {
      code = await exited;
    } finally {
      child.stdin.destroy();
    }
    expect(code).toBe(78);
    expect(stderr.trim().split("\n")).toEqual([
      "auditd-parse: stdin is auditd's binary plugin format, not its string format (set format = string in this plugin's file under /etc/audit/plugins.d/ and reload auditd)",
    ]);
  });
});

describe("F12: the rules of a run are bounded in bytes and values", () => {
  it("a rule holding over 100,000 values (after base64offset's three each) is a compile failure of its own", () => {
    const dir = tempDir();
    const values = Array.from({ length: 33_334 }, (_, i) => `      - 'n${i}'`).join("\n");
    writeRule(dir, "big.yml", "0c0c0c0c-0000-4000-8000-000000000001", `  sel:\n    a1|base64offset|contains:\n${values}\n  condition: sel`);
    writeRule(dir, "ok.yml", "0c0c0c0c-0000-4000-8000-000000000002", "  sel:\n    a0: chattr\n  condition: sel");
    const set = loadRuleSet([dir]);
    expect(set.rules.map((r) => r.id)).toEqual(["0c0c0c0c-0000-4000-8000-000000000002"]);
    expect(set.failed.map((f) => [f.rule, f.reason])).toEqual([
      ["0c0c0c0c-0000-4000-8000-000000000001", expect.stringContaining("the rule holds more values than the 100000 one rule may hold")],
    ]);
  });

  it("rule files past 32 MiB in all are named and not compiled, the others run (exit 65)", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "rules"));
    // big in bytes, cheap to compile: a comment
    const padding = `# ${"x".repeat(12 << 20)}\n`;
    for (const n of [1, 2, 3])
      writeFileSync(
        join(dir, "rules", `r${n}.yml`),
        padding + rule(`0d0d0d0d-0000-4000-8000-00000000000${n}`, "  sel:\n    a0: chattr\n  condition: sel"),
      );
    const set = loadRuleSet([join(dir, "rules")]);
    expect(set.rules.map((r) => r.id)).toEqual(["0d0d0d0d-0000-4000-8000-000000000001", "0d0d0d0d-0000-4000-8000-000000000002"]);
    expect(set.failed.map((f) => [f.rule, f.reason])).toEqual([
      [
        join(dir, "rules", "r3.yml"),
        "was not compiled: with it the rule files would hold over 32 MiB, the most one run compiles (give fewer or smaller ones)",
      ],
    ]);
  });
});

describe("F6: a SIGHUP while the plugin finishes after EOF", () => {
  it("does not kill it: exit 0 with every event written", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin"], { stdio: "pipe" });
    const exited = new Promise<[number | null, string | null]>((resolve) => child.on("exit", (code, signal) => resolve([code, signal])));
    let stdout = "";
    child.stdout.once("data", (d: Buffer) => {
      stdout += d.toString();
      // the plugin writes this event only at EOF (it has no EOE), over 64 KiB: not read on, it is blocked
      // writing it, past the end of its input
      child.stdout.pause();
      child.kill("SIGHUP");
      child.stdout.on("data", (more: Buffer) => {
        stdout += more.toString();
      });
      child.stdout.resume();
    });
    const args = Array.from({ length: 40 }, () => "A".repeat(4000));
    child.stdin.end(
      execve(20, ["cat", ...args])
        .split("\n")
        .slice(0, 2)
        .join("\n"),
    );
    expect(await exited).toEqual([0, null]);
    expect(stdout).toContain('"serial":20');
  });
});

describe("F1: counts over 16 copies written out for the linear-time engine", () => {
  it("expandCounts matches what the count matched", () => {
    const samples = ["", "a", "ab", "aab", "aaaaab", "abababab", "x0123456789abcdef0123456789abcdef", "ZZZZZZZZZZZZZZZZZZZZZZZ!", "a-b-c"];
    for (const source of [
      "^a{2,4}b$",
      "(ab){2,}",
      "[0-9a-f]{32}",
      "^\\w{3}\\W?",
      "(?:a|b){0,3}$",
      "a{3}?b",
      "[\\]a]{1,2}",
      "\\x61{2}",
      "x{,2}",
      "(a(b){2}){1,2}",
    ]) {
      const expanded = expandCounts(source);
      expect(expanded, source).toBeDefined();
      for (const text of samples)
        expect(new RegExp(expanded!).test(text), `${source} → ${expanded} on ${text}`).toBe(new RegExp(source).test(text));
    }
    for (const source of ["(a)\\1{2}", "(?<n>a){2}", "a{100000}"]) expect(expandCounts(source), source).toBeUndefined();
  });
});
