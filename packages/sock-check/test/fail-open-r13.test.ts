import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * Ways a change got past the gate that the round-13 black-box tester found (findings 2-4): a bot's approval,
 * a whitespace-only difference hiding behind a rebased copy's patch ID, and a PR's intermediate commit
 * deployed without the rest of the PR. Real histories on the lab's GitHub.
 */

let scenario: GitHubScenario;
const pr: Record<string, number> = {};
const mark: Record<string, number> = {};
let intermediate: string;

beforeAll(async () => {
  scenario = new GitHubScenario({
    users: {
      ...USERS,
      mallory: { name: "Mallory", email: "mallory@acme.test" },
      // GitHub Actions' app can approve a PR from a workflow; GraphQL reports it as a Bot "github-actions".
      "github-actions[bot]": { name: "github-actions[bot]", email: "41898282+github-actions[bot]@users.noreply.github.com", bot: true },
    },
  });
  await scenario.sim.start();
  const s = scenario;
  s.directPush({
    message: "Initial import",
    author: "alice",
    files: { ".sock-check.yml": policyYaml(s.sim.url), "clean.sh": "echo clean\n" },
  });
  // A reviewed change to clean.sh, then (before the deploy) restored: mallory's later push starts from the same file.
  pr.clean = s.pullRequest({
    title: "SHOP-1 Clean the build dir",
    author: "alice",
    commits: [{ message: "SHOP-1 clean the build dir", author: "alice", files: { "clean.sh": "rm -rf /tmp/build\n" } }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  s.directPush({ message: "Restore clean.sh", author: "alice", files: { "clean.sh": "echo clean\n" } });
  s.tag("f0");
  pr.botApproved = s.pullRequest({
    title: "SHOP-2 Approved by a workflow",
    author: "alice",
    reviews: [{ by: "github-actions[bot]" }],
    checks: { build: "success" },
  });
  pr.botAndBob = s.pullRequest({
    title: "SHOP-3 Approved by a workflow and bob",
    author: "alice",
    reviews: [{ by: "github-actions[bot]" }, { by: "bob" }],
    checks: { build: "success" },
  });
  // The same line as PR #1's but for one space: the whole file system instead of /tmp/build.
  mark.wiper = s.directPush({ message: "SHOP-1 clean the build dir", author: "mallory", files: { "clean.sh": "rm -rf / tmp/build\n" } });
  s.tag("f1");
  // PR #5's first commit adds a backdoor, its second removes it; reviewed and merged as a whole.
  pr.backdoor = s.pullRequest({
    title: "SHOP-5 Feature",
    author: "alice",
    commits: [
      { message: "SHOP-5 wip", author: "alice", files: { "backdoor.txt": "open sesame\n" } },
      { message: "SHOP-5 tidy up", author: "alice", files: { "backdoor.txt": "" } },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  s.tag("f2");
  s.build();
  // GitHub lists mallory's push under PR #1 (as the tester's association did).
  s.sim.associate(s.sha(mark.wiper), pr.clean);
  intermediate = s.pull(pr.backdoor).commitShas[0]!;
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function check(from: string, to: string, policyPath?: string) {
  return (
    await runCheck({ dir: scenario.dir, from, to, env: envFor(scenario), toolVersion: "test", ...(policyPath ? { policyPath } : {}) })
  ).report;
}

describe("a bot's approval (finding 2)", () => {
  it("does not count as a review", async () => {
    const record = byPull((await check("f0", "f1")).records, pr.botApproved!);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([
      {
        rule: "approvals",
        message: "needs 1 independent approval, has 0; approval by github-actions does not count (a bot, not a reviewer)",
      },
    ]);
    expect(record.approvals).toMatchObject([
      { reviewer: "github-actions", counts: false, note: "reviewer is a Bot account, not a person" },
    ]);
  });

  it("never meets a rule naming the bot's login", async () => {
    const policy = join(scenario.dir, "..", `bot-rule-${process.pid}.yml`);
    writeFileSync(
      policy,
      policyYaml(scenario.sim.url, "approvalRules:\n  - name: release-bot\n    requires: { count: 1, users: [github-actions] }\n"),
    );
    const record = byPull((await check("f0", "f1", policy)).records, pr.botAndBob!);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations.map((v) => v.rule)).toEqual(["approval-rule"]);
    expect(record.approvals.filter((a) => a.counts).map((a) => a.reviewer)).toEqual(["bob"]);
  });
});

describe("a rebased copy (finding 3)", () => {
  it("is not one when the change differs only in whitespace", async () => {
    const record = (await check("f0", "f1")).records.find((r) => r.commit.sha === scenario.sha(mark.wiper!));
    expect(record).toMatchObject({ verdict: "noncompliant", pr: null });
    expect(record?.violations[0]?.rule).toBe("direct-push");
  });
});

describe("a PR's intermediate commit (finding 4)", () => {
  it("does not count as reviewed when the PR's merge is not part of what is deployed", async () => {
    const { records } = await check("f1", intermediate);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ verdict: "noncompliant", pr: null });
    expect(records[0]?.violations[0]).toEqual({
      rule: "direct-push",
      message: `pushed to the branch without a merged pull request (PR #${pr.backdoor} was merged as ${scenario.pull(pr.backdoor!).mergeSha.slice(0, 7)}, which is not part of ${intermediate.slice(0, 7)}: only part of that PR would ship)`,
    });
  });

  it("counts the PR's commits when its merge ships with them", async () => {
    const { records } = await check("f1", "f2");
    expect(records.map((r) => r.verdict)).toEqual(["compliant"]);
    const run = await runSockCheck(["--from", "f1", "--to", intermediate], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("only part of that PR would ship");
  });
});
