import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ConfigError } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/index";
import { parsePolicy } from "../src/policy";
import { byPull, envFor, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * "A noncompliant change must never pass": each case here passed before (an independent black-box try), over a
 * real git history built by the test against the contract-faithful GitHub lab.
 */

const run = promisify(execFile);
let scenario: GitHubScenario;
const pr: Record<string, number> = {};
const coAuthors = Array.from({ length: 10 }, (_, i) => `dev${i}`);

beforeAll(async () => {
  scenario = new GitHubScenario({
    users: {
      ...USERS,
      mallory: { name: "Mallory", email: "mallory@acme.test" },
      "formatter[bot]": { name: "formatter[bot]", email: "4242+formatter[bot]@users.noreply.github.com", bot: true },
      ...Object.fromEntries(coAuthors.map((login) => [login, { name: `Dev ${login}`, email: `${login}@acme.test` }])),
    },
  });
  await scenario.sim.start();
  const s = scenario;
  const policy = policyYaml(s.sim.url, `pathRules:\n  - paths: ["infra/**"]\n    reviewers: [carol]\n`).replace(
    "  required: 1\n",
    '  required: 1\n  ignoreCommitsBy: ["formatter[bot]"]\n  ignoreUpdateMerges: true\n',
  );
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
  s.tag("deploy-1");
  pr.staleCarol = s.pullRequest({
    title: "SHOP-1 Two Terraform files",
    author: "alice",
    commits: [
      { message: "x", author: "alice", files: { "infra/x.tf": "x = 1\n" } },
      { message: "y", author: "alice", files: { "infra/y.tf": "y = 1\n" } },
    ],
    reviews: [{ by: "carol", onCommit: 0 }, { by: "bob" }],
    checks: { build: "success" },
  });
  s.tag("t1");
  pr.botOnly = s.pullRequest({ title: "Bump lodash", author: "dependabot[bot]", checks: { build: "success" } });
  pr.botPlusHuman = s.pullRequest({
    title: "Bump left-pad",
    author: "dependabot[bot]",
    commits: [
      { message: "Bump left-pad", author: "dependabot[bot]" },
      { message: "also this", author: "mallory" },
    ],
    checks: { build: "success" },
  });
  s.tag("t2");
  pr.formatter = s.pullRequest({
    title: "SHOP-2 Feature, then the formatter",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Format", author: "formatter[bot]" },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  // alice commits as the formatter: git config user.email is all it takes; GitHub did not sign it.
  pr.spoof = s.pullRequest({
    title: "SHOP-3 Feature, then 'the formatter'",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Format", author: "formatter[bot]", signed: false, files: { "src/backdoor.ts": "evil()\n" } },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  s.tag("t3");
  pr.crowd = s.pullRequest({
    title: "SHOP-4 Mob programming",
    author: "alice",
    commits: [{ message: "Everyone", author: "alice", coAuthors: [...coAuthors.slice(0, 9), "bob"] }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  s.tag("t4");
  pr.cleanUpdate = s.pullRequest({
    title: "SHOP-5 Feature, then main merged in",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Merge branch 'main' into feature", author: "alice", mergeBase: true },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  pr.evilUpdate = s.pullRequest({
    title: "SHOP-6 Feature, then an 'update merge'",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Merge branch 'main' into feature", author: "alice", mergeBase: true, files: { "backdoor.txt": "evil\n" } },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  s.tag("t5");
  s.directPush({ message: "hotfix straight to main", author: "mallory" });
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function check(from: string, to: string) {
  return (await runCheck({ dir: scenario.dir, from, to, env: envFor(scenario), toolVersion: "test" })).report;
}

describe("sock-check never passes what it did not see", () => {
  it("refuses a shallow clone whose boundary cuts the range (a direct push behind it went unseen)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sock-shallow-"));
    try {
      const env = gitEnv();
      await run("git", ["clone", "-q", "--depth", "1", `file://${scenario.dir}`, join(dir, "c")], { env });
      await run("git", ["fetch", "-q", "--depth", "1", "origin", "tag", "deploy-1"], { cwd: join(dir, "c"), env });
      const result = await runSockCheck(["check", "--from", "deploy-1"], { cwd: join(dir, "c"), env: envFor(scenario) });
      expect(result.code).toBe(66);
      expect(result.stderr).toContain("shallow clone");
      expect(result.stderr).toContain("git fetch --unshallow");
      // Once unshallowed, the same command sees the direct push and blocks.
      await run("git", ["fetch", "-q", "--unshallow", "--tags", "origin"], { cwd: join(dir, "c"), env });
      const full = await runSockCheck(["check", "--from", "deploy-1", "--json"], { cwd: join(dir, "c"), env: envFor(scenario) });
      expect(full.code).toBe(1);
      expect(full.stdout).toContain("direct-push");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not let a path reviewer's approval of an earlier commit cover the head", async () => {
    const record = byPull((await check("deploy-1", "t1")).records, pr.staleCarol);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations.map((v) => v.rule)).toContain("path-rule");
    expect(record.violations.find((v) => v.rule === "path-rule")?.message).toContain("carol approved an earlier commit");
  });

  it("exempts a bot's PR only while every commit in it is the bot's own", async () => {
    const { records } = await check("t1", "t2");
    expect(byPull(records, pr.botOnly).verdict).toBe("exempt");
    const mixed = byPull(records, pr.botPlusHuman);
    expect(mixed.exemption).toBeNull();
    expect(mixed.verdict).toBe("noncompliant");
    expect(mixed.violations.map((v) => v.rule)).toContain("approvals");
  });

  it("ignores only the listed bot's signed pushes, not a commit that merely uses its e-mail", async () => {
    const { records } = await check("t2", "t3");
    expect(byPull(records, pr.formatter).verdict).toBe("compliant");
    const spoof = byPull(records, pr.spoof);
    expect(spoof.verdict).toBe("noncompliant");
    expect(spoof.violations.map((v) => v.rule)).toContain("stale-approval");
  });

  it("leaves a commit with more co-authors than GitHub's first page unverified instead of missing the 10th", async () => {
    const { records, summary } = await check("t3", "t4");
    expect(summary).toMatchObject({ compliant: 0, unverified: records.length });
    expect(records[0]?.violations[0]?.message).toContain(`PR #${pr.crowd}: commit`);
    expect(records[0]?.violations[0]?.message).toContain("11 authors and co-authors");
  });

  it("keeps approvals across a clean update merge but not across one that adds its own code", async () => {
    const { records } = await check("t4", "t5");
    expect(byPull(records, pr.cleanUpdate).verdict).toBe("compliant");
    const evil = byPull(records, pr.evilUpdate);
    expect(evil.verdict).toBe("noncompliant");
    expect(evil.violations.map((v) => v.rule)).toContain("stale-approval");
  });
});

describe("a policy that would pass everything is refused at load (78)", () => {
  it.each([
    ["an empty file", "", "is empty"],
    ["a comment only", "# nothing yet\n", "is empty"],
    ["a ticket pattern matching the empty string", 'ticket:\n  pattern: ""\n', "matches an empty string"],
    ["a ticket pattern matching nothing in particular", 'ticket:\n  pattern: "x*"\n', "matches an empty string"],
    ["a ticket pattern matching any character", 'ticket:\n  pattern: "."\n', "matches text with no ticket in it"],
    ["a ticket pattern matching any word", 'ticket:\n  pattern: "\\\\w+"\n', "matches text with no ticket in it"],
    ["a path rule naming nobody", 'pathRules:\n  - paths: ["infra/**"]\n', "needs reviewers or teams"],
  ])("%s", (_name, text, message) => {
    let error: unknown;
    try {
      parsePolicy(text, "test.yml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(78);
    expect((error as Error).message).toContain(message);
  });
});
