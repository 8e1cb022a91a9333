import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * What the T67 black-box re-check found: an MR of more than 100 commits whose author address only GitLab's GraphQL
 * links to an account was unverified on every run, as MergeRequest.commits was read one page only (F3).
 */

const ORDINARY = "glpat-ordinary-member-token-7";
let scenario: GitHubScenario;
let gitlab: GitLabSim;

beforeAll(async () => {
  gitlab = new GitLabSim({ admin: false, token: ORDINARY });
  gitlab.addToken(ORDINARY, { admin: false, scopes: ["read_api"] });
  await gitlab.start();
  // Everyone keeps their e-mail private (GitLab's default): an ordinary token's user search finds none of them,
  // GraphQL's Commit.author links them.
  for (const [username, user] of Object.entries(USERS)) gitlab.addUser({ username, name: user.name, email: user.email, publicEmail: null });
  scenario = new GitHubScenario({ users: USERS });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url) } });
  scenario.tag("deploy-1");
  // A long-lived branch: 120 commits by dave, on an MR alice opened and bob approved.
  scenario.pullRequest({
    title: "SHOP-1 Catalogue",
    author: "alice",
    commits: Array.from({ length: 120 }, (_, i) => ({ message: `Catalogue part ${i + 1}`, author: "dave" })),
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("long");
  scenario.build();
  mirrorScenarioToGitLab(scenario, new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" }));
}, 120_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

describe("an MR of more than 100 commits (F3)", () => {
  it("reads all its commits' authors from GraphQL, page by page, and passes", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "long"]);
    expect(run.stderr).not.toContain("more than 100 commits");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("approved by bob");
  }, 120_000);
});

describe("a run's deadline (F6)", () => {
  it("stops a run whose API answers too slowly with 75, naming the deadline's key and what it was reading", async () => {
    const slow = new GitLabSim({ admin: false, token: ORDINARY });
    slow.addToken(ORDINARY, { admin: false, scopes: ["read_api"] });
    await slow.start();
    const small = new GitHubScenario({ users: USERS });
    try {
      for (const [username, user] of Object.entries(USERS)) slow.addUser({ username, name: user.name, email: user.email });
      // runTimeoutMs below the per-attempt timeoutMs (3000): only the run's deadline can end the wait.
      const policy = gitlabPolicyYaml(slow.url).replace("timeoutMs: 3000", "timeoutMs: 3000\n  runTimeoutMs: 1000");
      small.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
      small.tag("deploy-1");
      small.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
      small.tag("one");
      small.build();
      mirrorScenarioToGitLab(small, new GitLabMergeRequests(slow, { id: 7, path: "acme/shop" }));
      // The project's push events never answer (a list GitLab is slow to page through).
      slow.fault({ hang: true }, { method: "GET", path: /\/events$/, times: 10 });
      const run = await runOnGitLab(small, slow, ["--from", "deploy-1", "--to", "one"]);
      expect(run.code).toBe(75);
      expect(run.stderr).toMatch(
        /the run's deadline \(gitlab\.runTimeoutMs 1000\) passed while reading http:\/\/[^ ]+\/api\/v4\/projects\/[^ ]+\/events/,
      );
      // the way out is the deadline's own, not "fix access to GitLab"
      expect(run.stderr).toContain("raise the deadline if the API is this slow");
      expect(run.stderr).not.toContain("fix access to GitLab");
    } finally {
      await slow.stop();
      small.cleanup();
    }
  }, 60_000);
});
