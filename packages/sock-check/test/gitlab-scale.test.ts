import { afterAll, beforeAll, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { runCheck } from "../src/index";
import { USERS } from "./fixture";

/**
 * More MRs than one page or one GraphQL query holds: 150 MRs (450 commits, "commits: all"), with an
 * ordinary token. Every one is judged, and the cost stays a handful of listings, not a request per MR.
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;

beforeAll(async () => {
  gitlab = new GitLabSim({ admin: false });
  for (const [username, user] of Object.entries(USERS)) gitlab.addUser({ username, name: user.name, email: user.email, publicEmail: null });
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS });
  const policy = `provider: gitlab\ngitlab:\n  project: acme/shop\n  apiUrl: ${gitlab.url}/api/v4\n  token: env:SOCK_CHECK_TEST_GITLAB_TOKEN\n  timeoutMs: 5000\ncommits: all\nchecks:\n  required: [build]\nticket:\n  pattern: "SHOP-\\\\d+"\n`;
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
  scenario.tag("deploy-1");
  for (let i = 1; i <= 150; i++) {
    const author = i % 2 ? "alice" : "bob";
    scenario.pullRequest({
      title: `SHOP-${i} Change ${i}`,
      author,
      commits: [1, 2].map((k) => ({ message: `Change ${i} part ${k}`, author })),
      reviews: [{ by: "carol" }],
      checks: { build: i === 77 ? "failure" : "success" },
    });
  }
  scenario.build();
  const mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

it("judges 150 MRs over several pages and GraphQL queries with a bounded number of requests", async () => {
  gitlab.requests.length = 0;
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(report.summary.commits).toBe(450);
  const failed = report.records.filter((r) => r.pr?.number === 77);
  expect(failed.map((r) => r.verdict)).toEqual(["noncompliant", "noncompliant", "noncompliant"]);
  expect(report.summary).toMatchObject({ noncompliant: 3, unverified: 0, compliant: 447 });
  // Two for the approvers of 150 MRs, two for who wrote their commits: everyone keeps their e-mail private, so only
  // GitLab's own commit → account link (Commit.author) names them.
  expect(gitlab.requests.filter((r) => r.path === "/api/graphql")).toHaveLength(4);
  expect(gitlab.requests.filter((r) => r.path.endsWith("/merge_requests"))).toHaveLength(2);
  expect(report.requests).toBeLessThanOrEqual(20);
  // What it asserts is the number of requests, not the time: ~20 s alone on 2 cores through the simulator, over the
  // suite's 30 s default while the other files run beside it.
}, 180_000);
