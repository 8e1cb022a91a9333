import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { GitRepo } from "../src/git";
import { pathMatcher, runCheck } from "../src/index";
import { byPull, envFor, policyYaml, startScenario } from "./fixture";

/**
 * T63 C1: git C-quotes a file name with a non-ASCII byte, a newline, tab, quote or backslash when it lists names
 * (`"infra/\303\251.tf"` under the default core.quotepath), and the quoted name matched no path rule: an infra change
 * approved by a non-infra reviewer shipped. Every name here must meet the rules as the file it is.
 */
const ODD_NAMES = ["infra/é.tf", "infra/a\nb.tf", 'infra/a"b.tf', "infra/a\\b.tf", "infra/a\tb.tf"];

let scenario: GitHubScenario;
const pr: Record<string, number> = {};

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  const rules = `pathRules:\n  - paths: ["infra/**"]\n    reviewers: [carol]\napprovalRules:\n  - name: infra\n    if: { changedPaths: ["*.tf"] }\n    requires: { users: [dave] }\n`;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url, rules) } });
  s.tag("deploy-1");
  for (const [i, name] of ODD_NAMES.entries()) {
    pr[name] = s.pullRequest({
      title: `SHOP-${i + 1} Infra change`,
      author: "alice",
      commits: [{ message: "Change infra", author: "alice", files: { [name]: "open = true\n" } }],
      reviews: [{ by: "bob" }],
      checks: { build: "success" },
    });
  }
  s.tag("deploy-2");
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

describe("a file name git would quote meets the path rules as the file it is (T63 C1)", () => {
  it("a PR adding infra/é.tf, or a name with a newline, quote, backslash or tab, needs the infra reviewer and the *.tf rule", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-1", to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    // Shown as git quotes them, so a newline or tab is not read as a space, nor a quote as the name's end (T65).
    const shown: Record<string, string> = {
      "infra/é.tf": "infra/é.tf",
      "infra/a\nb.tf": String.raw`"infra/a\nb.tf"`,
      'infra/a"b.tf': String.raw`"infra/a\"b.tf"`,
      "infra/a\\b.tf": String.raw`"infra/a\\b.tf"`,
      "infra/a\tb.tf": String.raw`"infra/a\tb.tf"`,
    };
    for (const name of ODD_NAMES) {
      const record = byPull(report.records, pr[name]);
      expect(record.verdict, JSON.stringify(name)).toBe("noncompliant");
      expect(record.violations.map((v) => v.rule).sort()).toEqual(["approval-rule", "path-rule"]);
      expect(record.violations.find((v) => v.rule === "path-rule")?.message).toContain(
        `changes ${shown[name]} in PR #${pr[name]} need an approval from carol`,
      );
    }
  });
});

describe("GitRepo.changedPaths reads names as git stores them", () => {
  let dir: string;
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: gitEnv() }).toString().trim();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "sock-check-names-"));
    git("init", "-q", "-b", "main");
    writeFileSync(join(dir, "README"), "x\n");
    git("add", ".");
    git("commit", "-q", "-m", "root");
    // A Latin-1 é: a name git stores as the byte 0xE9, which is not UTF-8.
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/docs-`), Buffer.from([0xe9]), Buffer.from(".md")]), "x\n");
    for (const name of ["é.tf", "a\nb.tf"]) writeFileSync(join(dir, name), "x\n");
    git("add", ".");
    git("commit", "-q", "-m", "odd names");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("returns each name unquoted, with U+FFFD for bytes that are not UTF-8, for a commit and against a first parent", async () => {
    const repo = new GitRepo(dir);
    const head = git("rev-parse", "HEAD");
    const expected = ["a\nb.tf", "docs-\ufffd.md", "é.tf"];
    expect((await repo.changedPaths(head, undefined)).sort()).toEqual(expected);
    expect((await repo.changedPaths(head, git("rev-parse", "HEAD^"))).sort()).toEqual(expected);
    expect(await repo.changedPaths(git("rev-parse", "HEAD^"), undefined)).toEqual(["README"]);
  });

  it("a name that is not UTF-8 counts as matched by every path pattern: no glob can say which bytes it has", () => {
    expect(pathMatcher(["infra/**"])("docs-\ufffd.md")).toBe(true);
    expect(pathMatcher(["*.sql"])("docs-\ufffd.md")).toBe(true);
    expect(pathMatcher(["infra/**"])("docs/a.md")).toBe(false);
  });
});
