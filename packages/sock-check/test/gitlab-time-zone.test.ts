import { afterAll, beforeAll, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { byMr, checkOnGitLab, gitlabPolicyYaml, USERS } from "./fixture";

/**
 * A GitLab whose time zone is Europe/Berlin answers in CEST (+02:00) until 01:00 UTC on 2026-10-25 and in CET (+01:00)
 * after, so the hour 02:00–03:00 is written twice. An approval at 02:5x+02:00 followed by a push at 02:0x+01:00 sorted,
 * as strings, after that push: the approval counted on a head pushed half an hour after it.
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  gitlab.quirks.timeZone = "Europe/Berlin";
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS, start: new Date("2026-10-24T20:00:00Z") });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url) } });
  scenario.tag("deploy-1");
  mr.before = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  scenario.advanceTo(new Date("2026-10-24T23:50:00Z"));
  mr.acrossTheFold = scenario.pullRequest({
    title: "SHOP-2 Checkout",
    author: "alice",
    commits: [
      { message: "Checkout", author: "alice" },
      { message: "Pushed after the approval", author: "alice" },
    ],
    checks: { build: "success" },
  });
  scenario.build();
  const mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  // bob approves the first push at 02:30 CEST; the second push comes at 02:00:10 CET, half an hour later, and the
  // MR is merged after it
  const across = mrs.mergeRequests.get(mr.acrossTheFold)!;
  mrs.approve(mr.acrossTheFold, "bob", "2026-10-25T00:30:00.000Z");
  across.versions[1]!.createdAt = "2026-10-25T01:00:10.000Z";
  across.mergedAt = "2026-10-25T01:05:00.000Z";
});

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

it("orders an approval and the pushes around it by instant, not by the text of their local times", async () => {
  const events = await fetch(`${gitlab.url}/api/v4/projects/7/events?sort=asc&per_page=100`, {
    headers: { "private-token": gitlab.token },
  }).then((r) => r.json() as Promise<Array<{ action_name: string; created_at: string; target_iid: number | null }>>);
  const approval = events.find((e) => e.action_name === "approved" && e.target_iid === mr.acrossTheFold)!.created_at;
  const lastPush = events.filter((e) => e.action_name.startsWith("pushed")).at(-1)!.created_at;
  // the scenario is the one meant: the push is later, but its text sorts first
  expect(Date.parse(lastPush)).toBeGreaterThan(Date.parse(approval));
  expect(lastPush < approval).toBe(true);
  expect([approval, lastPush]).toEqual(["2026-10-25T02:30:00.000+02:00", "2026-10-25T02:00:10.000+01:00"]);

  const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
  expect(byMr(report.records, mr.acrossTheFold!).violations.map((v) => v.rule)).toEqual(["stale-approval"]);
  expect(byMr(report.records, mr.acrossTheFold!).approvals).toEqual([expect.objectContaining({ reviewer: "bob", on_head: false })]);
  // the same GitLab's answers before the change read as before
  expect(byMr(report.records, mr.before!)).toMatchObject({ verdict: "compliant" });
});
