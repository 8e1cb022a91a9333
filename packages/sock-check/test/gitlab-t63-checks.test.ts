import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { byMr, checkOnGitLab, gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * GitLab CI results the T63 black-box tester got past the gate: a required job `skipped` because an earlier stage
 * failed passed under the default `checks.skippedOrNeutral: pass` and showed a tick (B1); a `success` without
 * `finished_at` passed, dated by its creation (B2); and job verdicts named them "commit status by ?" (B2).
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url) } });
  scenario.tag("deploy-1");
  // `test` failed in an earlier stage, so GitLab skipped `build` (when: on_success); the pipeline failed.
  mr.afterFailure = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { test: "failure" } });
  scenario.tag("after-failure");
  // `build` skipped with nothing failed beside it (a `when: on_failure` job in a passing pipeline).
  mr.onlySkipped = scenario.pullRequest({
    title: "SHOP-2 Search",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "skipped" },
  });
  scenario.tag("only-skipped");
  mr.unfinished = scenario.pullRequest({ title: "SHOP-3 Docs", author: "alice", reviews: [{ by: "bob" }] });
  scenario.tag("unfinished");
  mr.failed = scenario.pullRequest({ title: "SHOP-4 Pricing", author: "alice", reviews: [{ by: "bob" }], checks: { build: "failure" } });
  scenario.tag("failed");
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);

  const test = mrs.statuses.find((s) => s.sha === scenario.pull(mr.afterFailure!).headSha && s.name === "test")!;
  mrs.addStatus({
    sha: test.sha,
    name: "build",
    status: "skipped",
    createdAt: test.createdAt,
    finishedAt: test.finishedAt,
    pipelineId: test.pipelineId ?? test.id,
  });
  // GitLab sets finished_at when a job finishes (docs.gitlab.com/api/jobs/): a success without one is a broken answer.
  const at = new Date(Date.parse(scenario.pull(mr.unfinished!).mergedAt) - 120_000).toISOString();
  mrs.addStatus({ sha: scenario.pull(mr.unfinished!).headSha, name: "build", status: "success", createdAt: at, finishedAt: null });
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

const check = (from: string, to: string) => checkOnGitLab(scenario, gitlab, from, to);
const pipelineOf = (iid: number, name: string) => {
  const job = mrs.statuses.find((s) => s.sha === scenario.pull(iid).headSha && s.name === name)!;
  return job.pipelineId ?? job.id;
};

describe("a required GitLab job that was skipped never ran (T63 B1)", () => {
  it("blocks under the default skippedOrNeutral: pass, after a failed stage or on its own", async () => {
    const afterFailure = byMr((await check("deploy-1", "after-failure")).report.records, mr.afterFailure);
    expect(afterFailure.verdict).toBe("noncompliant");
    expect(afterFailure.violations).toEqual([
      {
        rule: "check-failed",
        message: expect.stringMatching(
          new RegExp(
            `^required check build is skipped on head \\w{7} \\(job of pipeline ${pipelineOf(mr.afterFailure!, "build")}\\): GitLab skips a job that never ran`,
          ),
        ),
      },
    ]);
    const onlySkipped = byMr((await check("after-failure", "only-skipped")).report.records, mr.onlySkipped);
    expect(onlySkipped.verdict).toBe("noncompliant");
    expect(onlySkipped.violations.map((v) => v.rule)).toEqual(["check-failed"]);
  });

  it("shows the skipped job without a tick in the digest, and exits 1", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "after-failure"]);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toMatch(/build✓/);
    expect(run.stdout).toMatch(/checks build\(skipped, does not count: GitLab skips a job that never ran[^)]*\) test✗/);
  });
});

describe("GitLab job results (T63 B2)", () => {
  it("a success without finished_at blocks: a pass without a completion time, shown without a tick", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "only-skipped", "--to", "unfinished"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("checks build(success, does not count: no readable completion time)");
    const record = byMr((await check("only-skipped", "unfinished")).report.records, mr.unfinished);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([
      {
        rule: "check-failed",
        message: expect.stringMatching(
          /^required check build is success on head \w{7} \(job of pipeline \d+\) but has no readable completion time \(none given\)/,
        ),
      },
    ]);
  });

  it("a failed job is named as the job of its pipeline, not as a commit status by ?", async () => {
    const record = byMr((await check("unfinished", "failed")).report.records, mr.failed);
    expect(record.violations.map((v) => v.message)).toEqual([
      `required check build is failure on head ${scenario.pull(mr.failed!).headSha.slice(0, 7)} (job of pipeline ${pipelineOf(mr.failed!, "build")})`,
    ]);
    expect(record.checks).toEqual([expect.objectContaining({ name: "build", kind: "job", state: "failure" })]);
  });
});
