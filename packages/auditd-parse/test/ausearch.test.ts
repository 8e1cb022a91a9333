import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareFile, corpusLogs, type Difference } from "./ausearch-diff";

/**
 * Differential test against `ausearch -i` (Debian package auditd, installed by scripts/setup.mjs): every field
 * of every event of the real logs in ../shared/corpus/audit must match, or be a difference listed with its
 * reason in ausearch-differences.json. ausearch reads only the corpus file given (--input), never system logs.
 */

const AUSEARCH = "/usr/sbin/ausearch";

/** ../shared next to the repository (the main worktree's, so this also works from a linked worktree). */
function corpusDir(): string {
  if (process.env.AUDITD_CORPUS) return process.env.AUDITD_CORPUS;
  const git = (...args: string[]) => spawnSync("git", ["rev-parse", ...args], { cwd: __dirname, encoding: "utf8" }).stdout.trim();
  const toplevel = git("--show-toplevel");
  const common = git("--path-format=absolute", "--git-common-dir");
  for (const top of [toplevel, common ? dirname(common) : ""]) {
    const dir = join(top, "..", "shared/corpus/audit");
    if (top && existsSync(dir)) return dir;
  }
  return join(toplevel, "..", "shared/corpus/audit");
}

interface Rule {
  type: string;
  field: string;
  kind: string;
  file?: string;
  theirs?: string;
  reason: string;
}

const RULES: Rule[] = JSON.parse(readFileSync(new URL("./ausearch-differences.json", import.meta.url), "utf8")).differences;

function matches(rule: Rule, d: Difference): boolean {
  const name = (pattern: string, value: string) =>
    pattern === "*" || new RegExp(`^${pattern.replace(/[[\]]/g, "\\$&").replace("\\[0-3\\]", "[0-3]")}$`).test(value);
  return (
    (rule.type === "*" || rule.type === d.type) &&
    name(rule.field, d.field) &&
    (rule.kind === "*" || rule.kind === d.kind) &&
    (rule.file === undefined || d.file.includes(rule.file)) &&
    (rule.theirs === undefined || (d.theirs !== undefined && new RegExp(rule.theirs).test(d.theirs)))
  );
}

const corpus = corpusDir();

describe.skipIf(!existsSync(corpus))("differential test against ausearch -i", () => {
  it("ausearch is installed (Debian package auditd, scripts/setup.mjs)", () => {
    expect(existsSync(AUSEARCH), `${AUSEARCH} missing: apt-get install auditd (node scripts/setup.mjs does)`).toBe(true);
  });

  it("every field of every event of the corpus matches ausearch -i, or is a listed difference", { timeout: 300_000 }, () => {
    const logs = corpusLogs(corpus);
    expect(logs.length).toBeGreaterThan(40);
    const used = new Set<Rule>();
    const unexplained: string[] = [];
    let compared = 0;
    for (const file of logs) {
      for (const d of compareFile(AUSEARCH, corpus, file)) {
        compared++;
        const rule = RULES.find((r) => matches(r, d));
        if (rule) used.add(rule);
        else
          unexplained.push(
            `${d.file} ${d.id} ${d.type}.${d.field} ${d.kind}: ours ${JSON.stringify(d.ours)}, ausearch ${JSON.stringify(d.theirs)}`,
          );
      }
    }
    expect(unexplained, "differences from ausearch -i that ausearch-differences.json does not list").toEqual([]);
    // a listed difference that no longer occurs was fixed: its entry goes
    expect(RULES.filter((r) => !used.has(r)).map((r) => r.reason)).toEqual([]);
    expect(compared).toBeGreaterThan(0);
  });
});
