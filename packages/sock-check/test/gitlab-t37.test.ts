import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { afterBuild, buildJob, byMr, checkOnGitLab, gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * Ways past the gate that the T37 black-box tester found on GitLab: a required job whose newest pipeline on the head
 * is still running (or failed) passing on an older pipeline's success (F1), and an approval by an access token's bot
 * user or by GitLab's Ghost User counting as a person's (F5); and an MR from a fork blamed on pushes nobody saw (F7).
 */

const BOT = "project_7_bot_3f2a";
let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  // The bot user behind a project access token: GitLab names it project_{project_id}_bot_{random} and calls it a bot.
  gitlab.addUser({ username: BOT, name: "shop deploy token", email: `${BOT}@noreply.gitlab.example`, publicEmail: null, bot: true });
  // GitLab's Ghost User, who holds the records of deleted accounts; no bot.
  gitlab.addUser({ username: "ghost", name: "Ghost User", email: "ghost@gitlab.example", publicEmail: null });
  scenario = new GitHubScenario({
    users: {
      ...USERS,
      [BOT]: { name: "shop deploy token", email: `${BOT}@noreply.gitlab.example` },
      ghost: { name: "Ghost User", email: "ghost@gitlab.example" },
    },
  });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url) } });
  scenario.tag("deploy-1");
  mr.newerRunning = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  mr.newerFailed = scenario.pullRequest({
    title: "SHOP-2 Search",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.retried = scenario.pullRequest({ title: "SHOP-3 Retried", author: "alice", reviews: [{ by: "bob" }], checks: { build: "failure" } });
  scenario.tag("jobs");
  mr.byBot = scenario.pullRequest({
    title: "SHOP-4 Approved by a token",
    author: "alice",
    reviews: [{ by: BOT }],
    checks: { build: "success" },
  });
  mr.byGhost = scenario.pullRequest({
    title: "SHOP-5 Approved by a deleted account",
    author: "alice",
    reviews: [{ by: "ghost" }],
    checks: { build: "success" },
  });
  mr.byBotAndBob = scenario.pullRequest({
    title: "SHOP-6 Approved by a token and bob",
    author: "alice",
    reviews: [{ by: BOT }, { by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("approvals");
  mr.fromFork = scenario.pullRequest({
    title: "SHOP-7 From a fork",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  // Opened from alice's fork (project 8): its pushes are the fork's events, not acme/shop's.
  mrs.mergeRequests.get(mr.fromFork!)!.sourceProjectId = 8;

  const secondsAfter = (iid: number, s: number) => afterBuild(mrs, scenario, iid, s);
  // A new pipeline on the same head (a manual "Run pipeline"), created before the first one's job finished and
  // still running: GitLab judges the MR by it.
  mrs.addStatus({
    sha: scenario.pull(mr.newerRunning).headSha,
    name: "build",
    status: "running",
    createdAt: secondsAfter(mr.newerRunning!, -10),
    finishedAt: null,
  });
  // A new pipeline whose build failed before the older pipeline's build passed.
  mrs.addStatus({
    sha: scenario.pull(mr.newerFailed).headSha,
    name: "build",
    status: "failed",
    createdAt: secondsAfter(mr.newerFailed!, -20),
    finishedAt: secondsAfter(mr.newerFailed!, -10),
  });
  // The failed job retried in its pipeline: a new job, which passed.
  const failed = buildJob(mrs, scenario, mr.retried!);
  mrs.addStatus({
    sha: failed.sha,
    name: "build",
    status: "success",
    createdAt: secondsAfter(mr.retried!, 10),
    finishedAt: secondsAfter(mr.retried!, 20),
    pipelineId: failed.id,
  });
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

const check = (from: string, to: string) => checkOnGitLab(scenario, gitlab, from, to);

describe("GitLab jobs of one name in several pipelines on the head (F1)", () => {
  it("judges the head by its latest pipeline, as Pipelines must succeed does, and a retried job by its newest try", async () => {
    const { report } = await check("deploy-1", "jobs");
    const running = byMr(report.records, mr.newerRunning);
    expect(running.verdict).toBe("noncompliant");
    expect(running.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is pending on head/)]);
    const failed = byMr(report.records, mr.newerFailed);
    expect(failed.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is failure on head/)]);
    expect(byMr(report.records, mr.retried).verdict).toBe("compliant");
  });
});

describe("GitLab approvals by a bot user or the Ghost User (F5)", () => {
  it("do not count as a person's independent approval", async () => {
    const { report } = await check("jobs", "approvals");
    const bot = byMr(report.records, mr.byBot);
    expect(bot.verdict).toBe("noncompliant");
    expect(bot.violations).toEqual([
      { rule: "approvals", message: `needs 1 independent approval, has 0; approval by ${BOT} does not count (a bot, not a reviewer)` },
    ]);
    expect(bot.approvals).toMatchObject([{ reviewer: BOT, counts: false, note: "reviewer is a Bot account, not a person" }]);
    const ghost = byMr(report.records, mr.byGhost);
    expect(ghost.verdict).toBe("noncompliant");
    expect(ghost.violations.map((v) => v.message)).toEqual([
      "needs 1 independent approval, has 0; an approval by a deleted account does not count (whose it was cannot be told, so it is no independent review)",
    ]);
    const both = byMr(report.records, mr.byBotAndBob);
    expect(both.verdict).toBe("compliant");
    expect(both.approvals.filter((a) => a.counts).map((a) => a.reviewer)).toEqual(["bob"]);
  });

  it("blocks the deploy with exit 1", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "jobs", "--to", "approvals"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`approval by ${BOT} does not count (a bot, not a reviewer)`);
  });
});

describe("an approved MR from a fork (F7)", () => {
  it("is unverified, naming the fork, instead of stale on pushes this project never recorded", async () => {
    const { report } = await check("approvals", "HEAD");
    const record = report.records.find((r) => r.commit.sha === scenario.pull(mr.fromFork!).mergeSha);
    expect(record?.verdict).toBe("unverified");
    expect(record?.violations).toEqual([
      {
        rule: "unverified",
        message: `could not be verified: MR !${mr.fromFork} comes from a fork (project 8), whose pushes GitLab records there, not in acme/shop: which head bob approved cannot be told`,
      },
    ]);
  });
});
