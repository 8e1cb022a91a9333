import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { afterBuild, byMr, checkOnGitLab, gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * Ways past the gate the T43 black-box tester found on GitLab: a child pipeline's (`trigger: include`) passing `build`
 * standing in for the MR pipeline's failed one, because the child is the newest pipeline on the head (N1); and a
 * reviewer's standing "Request changes", never asked, neither blocking an MR nor keeping an emergency's retro review
 * from counting as done (N5).
 */

const MINUTE = 60_000;
const EMERGENCY = `exemptions:
  emergency:
    label: emergency
    reviewWithin: 72h
`;

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS });
  scenario.directPush({
    message: "Initial import",
    author: "alice",
    files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url, EMERGENCY) },
  });
  scenario.tag("deploy-1");
  mr.parentFailed = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "failure" } });
  scenario.tag("parent-failed");
  mr.childFailed = scenario.pullRequest({
    title: "SHOP-2 Search",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.childWithoutBuild = scenario.pullRequest({
    title: "SHOP-3 Docs",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("children");
  mr.changesRequested = scenario.pullRequest({
    title: "SHOP-4 Pricing",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.emergency = scenario.pullRequest({
    title: "SHOP-5 Hotfix",
    author: "alice",
    labels: ["emergency"],
    reviews: [{ by: "bob", afterMergeMs: MINUTE }],
    checks: { build: "success" },
  });
  mr.stateUnknown = scenario.pullRequest({
    title: "SHOP-6 Search boost",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("reviews");
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);

  const secondsAfter = (iid: number, s: number) => afterBuild(mrs, scenario, iid, s);
  // Each MR pipeline's trigger job started a child pipeline on the same head; its jobs come after the parent's.
  const child = (iid: number, name: string, status: "success" | "failed") =>
    mrs.addStatus({
      sha: scenario.pull(iid).headSha,
      name,
      status,
      createdAt: secondsAfter(iid, 10),
      finishedAt: secondsAfter(iid, 20),
      pipelineSource: "parent_pipeline",
    });
  child(mr.parentFailed!, "build", "success");
  child(mr.childFailed!, "build", "failed");
  child(mr.childWithoutBuild!, "lint", "success");
  // carol reviewed and requested changes (which withdrew any approval of hers); bob approved.
  const reviewers = (iid: number, carol: "REQUESTED_CHANGES" | null) => {
    mrs.mergeRequests.get(iid)!.reviewers = [
      { username: "bob", reviewState: "APPROVED" },
      { username: "carol", reviewState: carol },
    ];
  };
  reviewers(mr.changesRequested!, "REQUESTED_CHANGES");
  reviewers(mr.emergency!, "REQUESTED_CHANGES");
  reviewers(mr.stateUnknown!, null);
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

const check = (from: string, to: string) => checkOnGitLab(scenario, gitlab, from, to);

describe("a child pipeline on the MR's head (N1)", () => {
  it("never stands in for the MR pipeline, and its own failed build blocks too", async () => {
    const { report } = await check("deploy-1", "children");
    const parentFailed = byMr(report.records, mr.parentFailed);
    expect(parentFailed.verdict).toBe("noncompliant");
    expect(parentFailed.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is failure on head/)]);
    const childFailed = byMr(report.records, mr.childFailed);
    expect(childFailed.verdict).toBe("noncompliant");
    expect(childFailed.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is failure on head/)]);
    // The mirror case: a child without `build` leaves the MR pipeline's passed build standing.
    expect(byMr(report.records, mr.childWithoutBuild).verdict).toBe("compliant");
  });

  it("blocks the deploy of the MR whose own pipeline failed with exit 1", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "parent-failed"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/required check build is failure on head/);
  });
});

describe("a reviewer's standing Request changes on GitLab (N5)", () => {
  it("blocks the MR, as a standing changes requested does on GitHub", async () => {
    const { report } = await check("children", "reviews");
    const record = byMr(report.records, mr.changesRequested);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([{ rule: "changes-requested", message: "changes requested by carol still stand" }]);
  });

  it("keeps an emergency change's retro review from counting as done", async () => {
    const { report } = await check("children", "reviews");
    const record = byMr(report.records, mr.emergency);
    expect(record.emergency).toMatchObject({ status: "overdue", retro_reviewer: null, changes_requested_by: ["carol"] });
    expect(record.violations.map((v) => v.rule)).toContain("changes-requested");
  });

  it("leaves an MR unverified when GitLab does not say where a requested review stands", async () => {
    const { report } = await check("children", "reviews");
    const record = report.records.find((r) => r.commit.sha === scenario.pull(mr.stateUnknown!).mergeSha);
    expect(record?.verdict).toBe("unverified");
    expect(record?.violations.map((v) => v.message)).toEqual([
      `could not be verified: GitLab did not say where every review asked of MR !${mr.stateUnknown} stands (reviewState): a standing "Request changes" cannot be ruled out`,
    ]);
  });

  it("says so on stderr when this GitLab has no reviewState at all", async () => {
    gitlab.reportsReviewState = false;
    try {
      const run = await runOnGitLab(scenario, gitlab, ["--from", "children", "--to", "reviews"]);
      expect(run.stderr).toContain(
        'this GitLab does not report reviewer states (reviewState): a standing "Request changes" is not checked',
      );
    } finally {
      gitlab.reportsReviewState = true;
    }
  });
});
