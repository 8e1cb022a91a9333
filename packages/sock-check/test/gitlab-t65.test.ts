import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import type { ChangeRecord } from "../src/record";
import { gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * What the T65 black-box re-check found in GitLab answers sock-check misread: GraphQL pages that never end (N1),
 * a permission refusal on a field (N4), conflicting links for one address (N6), and answers that are no GraphQL
 * JSON at all (N5).
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  for (const [username, user] of Object.entries(USERS)) gitlab.addUser({ username, name: user.name, email: user.email });
  // bob's home address, which GitLab links to no account.
  const bobAtHome = { name: "bob", email: "bob@home.example" };
  scenario = new GitHubScenario({ users: { ...USERS, bobAtHome } });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url) } });
  scenario.tag("deploy-1");
  mr.plain = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  scenario.tag("plain");
  mr.home = scenario.pullRequest({
    title: "SHOP-2 Refunds",
    author: "alice",
    commits: [{ message: "Refunds", author: "bobAtHome" }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("home");
  mr.external = scenario.pullRequest({ title: "SHOP-3 Docs", author: "alice", reviews: [{ by: "bob" }] });
  scenario.tag("external");
  scenario.build();
  const mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  // `build` posted by an outside service as a commit status in state skipped (docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit).
  const at = new Date(Date.parse(scenario.pull(mr.external).mergedAt) - 120_000).toISOString();
  mrs.addStatus({
    sha: scenario.pull(mr.external).headSha,
    name: "build",
    status: "skipped",
    createdAt: at,
    finishedAt: at,
    external: true,
  });
  gitlab.state.users.splice(
    gitlab.state.users.findIndex((u) => u.username === "bobAtHome"),
    1,
  );
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

const graphqlRequests = () => gitlab.requests.filter((r) => r.path === "/api/graphql").length;

describe("GitLab GraphQL pages that never end (N1)", () => {
  // A connection page as GitLab's reference shapes it (pageInfo { hasNextPage endCursor }), with one MR node.
  const page = (endCursor: string, iid: number) => ({
    body: {
      data: {
        project: {
          mergeRequests: {
            pageInfo: { hasNextPage: true, endCursor },
            nodes: [
              {
                iid: String(iid),
                approvedBy: { pageInfo: { hasNextPage: false }, nodes: [{ username: "bob", bot: false }] },
                reviewers: { pageInfo: { hasNextPage: false }, nodes: [] },
              },
            ],
          },
        },
      },
    },
  });

  it("stops at once when GitLab says more follow past what the MRs asked for can fill, naming the query and the bound", async () => {
    gitlab.clearFaults();
    const before = graphqlRequests();
    // Ever-new cursors: each would look like progress to a loop that only refuses a repeated one.
    for (let i = 0; i < 50; i++) gitlab.fault(page(`c${i}`, mr.plain!), { method: "POST", path: "/api/graphql" });
    try {
      const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "plain"]);
      expect(run.code).toBe(69);
      expect(run.stderr).toContain(
        "GitLab GraphQL says the merge requests of acme/shop (approvers query) go on past 1 page, more than the 1 merge request asked for can fill",
      );
      expect(graphqlRequests() - before).toBe(1);
    } finally {
      gitlab.clearFaults();
    }
  });

  it("refuses a cursor it has already read", async () => {
    const { CursorTrail } = await import("../src/next-page");
    const trail = new CursorTrail("the merge requests of acme/shop (approvers query)", "GitLab GraphQL", 10);
    expect(trail.next({ hasNextPage: true, endCursor: "abc" })).toBe("abc");
    expect(() => trail.next({ hasNextPage: true, endCursor: "abc" })).toThrow(
      "GitLab GraphQL gave the cursor of a page of the merge requests of acme/shop (approvers query) already read, so the list would never end",
    );
  });
});

describe("GitLab GraphQL refusing the token part of the project (N4)", () => {
  // GitLab's ResourceNotAvailable text (gitlab.com/gitlab-org/gitlab/-/issues/456992), on a field the token may not read.
  const refused = "The resource that you are attempting to access does not exist or you don't have permission to perform this action";

  it("exits 77 on either query, also under --allow-unverified, as for project: null", async () => {
    const approvers = {
      body: {
        data: {
          project: {
            mergeRequests: {
              pageInfo: { hasNextPage: false, endCursor: null },
              nodes: [mr.plain, mr.home].map((iid) => ({
                iid: String(iid),
                approvedBy: { pageInfo: { hasNextPage: false }, nodes: [{ username: "bob", bot: false }] },
                reviewers: { pageInfo: { hasNextPage: false }, nodes: [] },
              })),
            },
          },
        },
      },
    };
    const commitsRefused = {
      body: {
        data: {
          project: {
            mergeRequests: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [{ iid: String(mr.home), commits: null }] },
          },
        },
        errors: [{ message: refused, path: ["project", "mergeRequests", "nodes", 0, "commits"] }],
      },
    };
    const approversRefused = { body: { data: { project: { mergeRequests: null } }, errors: [{ message: refused }] } };
    for (const faults of [[approversRefused], [approvers, commitsRefused]]) {
      gitlab.clearFaults();
      for (const fault of faults) gitlab.fault(fault, { method: "POST", path: "/api/graphql" });
      try {
        const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "home", "--allow-unverified"]);
        expect(run.code, run.stderr).toBe(77);
        expect(run.stderr).toContain(`GitLab GraphQL refused this token access to part of project acme/shop (${refused}`);
      } finally {
        gitlab.clearFaults();
      }
    }
  });
});

describe("conflicting links for one commit address (N6)", () => {
  it("leaves an address GitLab links to alice in one node and to bob (or no one) in another unlinked: bob's approval does not count", async () => {
    const approvers = {
      body: {
        data: {
          project: {
            mergeRequests: {
              pageInfo: { hasNextPage: false, endCursor: null },
              nodes: [mr.plain, mr.home].map((iid) => ({
                iid: String(iid),
                approvedBy: { pageInfo: { hasNextPage: false }, nodes: [{ username: "bob", bot: false }] },
                reviewers: { pageInfo: { hasNextPage: false }, nodes: [] },
              })),
            },
          },
        },
      },
    };
    // MergeRequest.commits with Commit.authorEmail and Commit.author (UserCore, null when linked to no account).
    const commits = (...authors: Array<string | null>) => ({
      body: {
        data: {
          project: {
            mergeRequests: {
              pageInfo: { hasNextPage: false, endCursor: null },
              nodes: [
                {
                  iid: String(mr.home),
                  commits: {
                    pageInfo: { hasNextPage: false },
                    nodes: authors.map((username) => ({ authorEmail: "bob@home.example", author: username ? { username } : null })),
                  },
                },
              ],
            },
          },
        },
      },
    });
    for (const authors of [
      ["alice", "bob"],
      ["alice", null],
      [null, "alice"],
    ]) {
      gitlab.clearFaults();
      gitlab.fault(approvers, { method: "POST", path: "/api/graphql" });
      gitlab.fault(commits(...authors), { method: "POST", path: "/api/graphql" });
      try {
        const run = await runOnGitLab(scenario, gitlab, ["--from", "plain", "--to", "home"]);
        expect(run.code, authors.join(",")).toBe(69);
        expect(run.stdout).toContain("bob <bob@home.example> (commit author, co-author or committer) is not linked to a GitLab account");
      } finally {
        gitlab.clearFaults();
      }
    }
    // One account in every node (in any letter case) is GitLab's link: alice wrote it, bob's approval counts.
    gitlab.fault(approvers, { method: "POST", path: "/api/graphql" });
    gitlab.fault(commits("alice", "ALICE"), { method: "POST", path: "/api/graphql" });
    try {
      expect((await runOnGitLab(scenario, gitlab, ["--from", "plain", "--to", "home"])).code).toBe(0);
    } finally {
      gitlab.clearFaults();
    }
  });
});

describe("a GraphQL 200 that is no GraphQL answer (N5)", () => {
  it("says what came back and from where, not that the token cannot see the MRs nor a JavaScript error", async () => {
    const signIn = { headers: { "content-type": "text/html" }, body: "<!DOCTYPE html><html><body>Sign in</body></html>" };
    for (const [answer, what] of [
      [signIn, "a web page"],
      [{}, "an empty body"],
      [{ body: { ok: true } }, "a JSON object without data or errors"],
    ] as const) {
      gitlab.clearFaults();
      gitlab.fault(answer, { method: "POST", path: "/api/graphql" });
      try {
        const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "plain"]);
        expect(run.code, what).toBe(69);
        expect(run.stderr).toContain(`GitLab GraphQL answered ${gitlab.url}/api/graphql with ${what}, not a GraphQL answer (HTTP 200)`);
        expect(run.stderr).not.toContain("to this token");
        expect(run.stderr).not.toContain("Cannot read properties");
        expect(run.stderr).not.toContain(gitlab.token);
      } finally {
        gitlab.clearFaults();
      }
    }
  });
});

describe("an unverified MR's record (wording)", () => {
  it("names the MR its reason is about: headed by it, in the JSON and in the count of MRs", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "plain", "--to", "home", "--json"]);
    expect(run.code).toBe(69);
    const report = JSON.parse(run.stdout) as { records: ChangeRecord[]; summary: { pulls: number } };
    const [record] = report.records;
    expect(record?.verdict).toBe("unverified");
    expect(record?.violations[0]?.message).toContain(`MR !${mr.home}: bob <bob@home.example>`);
    expect(record?.pr).toMatchObject({ number: mr.home, title: "SHOP-2 Refunds" });
    expect(report.summary.pulls).toBe(1);
    const text = (await runOnGitLab(scenario, gitlab, ["--from", "plain", "--to", "home"])).stdout;
    expect(text).not.toContain("(no MR)");
    expect(text).not.toContain("0 MRs");
    // what was not weighed is said so, not shown as none given (T67 F5: "approved by — · checks — · ticket —")
    expect(text).toContain("not judged: approvals, checks and ticket are weighed once it can be verified");
    expect(text).not.toContain("approved by —");
  });
});

describe("a skipped external commit status (wording)", () => {
  it("blocks with a reason of its own, not the explanation of a CI job GitLab skipped", async () => {
    const run = await runOnGitLab(scenario, gitlab, ["--from", "home", "--to", "external", "--json"]);
    expect(run.code).toBe(1);
    const [record] = (JSON.parse(run.stdout) as { records: ChangeRecord[] }).records;
    const message = record?.violations.find((v) => v.rule === "check-failed")?.message ?? "";
    expect(message).toMatch(/^required check build is skipped on head \w{7} \(commit status/);
    expect(message).toContain("a commit status posted as skipped says its check did not run, so it passed nothing");
    expect(message).not.toContain("when:");
  });
});
