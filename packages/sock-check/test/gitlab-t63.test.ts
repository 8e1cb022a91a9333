import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabAccess, GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { byMr, bySha, checkOnGitLab, gitlabPolicyYaml, runOnGitLab, USERS } from "./fixture";

/**
 * Approvals GitLab would not count, counted by sock-check (the T63 black-box try): a private commit address read by
 * its name part instead of its user id, or on another host (E2); an approval and a later push at the same instant
 * (G1); an MR merged into another project (H1); group approvers GitLab would not let approve (I1); a group that
 * cannot be read, judged as if it had no members (I2); GraphQL's `project: null` let through --allow-unverified (D1).
 */

const RULES = `approvalRules:
  - name: awaiting
    if: { labels: [awaiting] }
    requires: { teams: [acme/sre-awaiting] }
  - name: minimal
    if: { labels: [minimal] }
    requires: { teams: [acme/sre-minimal] }
  - name: blocked
    if: { labels: [blocked] }
    requires: { teams: [acme/sre-blocked] }
  - name: active
    if: { labels: [active] }
    requires: { teams: [acme/sre-active] }
  - name: unreadable
    if: { labels: [unreadable] }
    requires: { teams: [acme/sre-typo] }
pathRules:
  - paths: ["infra/**"]
    teams: [acme/sre-typo]
`;

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  for (const [username, user] of Object.entries(USERS)) gitlab.addUser({ username, name: user.name, email: user.email });
  const bobId = gitlab.state.users.find((u) => u.username === "bob")!.id;
  const { hostname } = new URL(gitlab.url);
  // bob was "robert" when GitLab made his private commit address: GitLab still links it to him by its id.
  const robert = { name: "Robert Baker", email: `${bobId}-robert@users.noreply.${hostname}` };
  // the private-address form on a host that is not this GitLab's: anyone can write it.
  const notAlice = { name: "Alice Archer", email: "1-alice@users.noreply.evil.example" };
  // bob's home address, which GitLab links to no account (it is none of his e-mails there).
  const bobAtHome = { name: "bob", email: "bob@home.example" };
  scenario = new GitHubScenario({ users: { ...USERS, robert, notAlice, bobAtHome } });
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": gitlabPolicyYaml(gitlab.url, RULES) } });
  scenario.tag("deploy-1");
  mr.renamed = scenario.pullRequest({
    title: "SHOP-1 Cart",
    author: "alice",
    commits: [{ message: "Cart", author: "robert" }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  scenario.tag("one-mr");
  mr.otherHost = scenario.pullRequest({
    title: "SHOP-2 Search",
    author: "alice",
    commits: [
      { message: "Search", author: "alice" },
      { message: "Search index", author: "notAlice" },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.tie = scenario.pullRequest({
    title: "SHOP-3 Checkout",
    author: "alice",
    commits: [
      { message: "Checkout", author: "alice" },
      { message: "Pushed as bob approved", author: "alice" },
    ],
    checks: { build: "success" },
  });
  // alice opens the MR of bob's commit, written with his home address, and bob approves it.
  mr.unlinkedAuthor = scenario.pullRequest({
    title: "SHOP-6 Refunds",
    author: "alice",
    commits: [{ message: "Refunds", author: "bobAtHome" }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.infra = scenario.pullRequest({
    title: "SHOP-7 Infra",
    author: "alice",
    commits: [{ message: "Infra", author: "alice", files: { "infra/main.tf": "resource {}\n" } }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.upstream = scenario.pullRequest({ title: "SHOP-4 Coupons", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  for (const label of ["awaiting", "minimal", "blocked", "active", "unreadable"])
    mr[label] = scenario.pullRequest({
      title: `SHOP-5 ${label}`,
      author: "alice",
      labels: [label],
      reviews: [{ by: label === "blocked" ? "dave" : label === "active" ? "carol" : "bob" }],
      checks: { build: "success" },
    });
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  // The scenario's extra authors are addresses, not GitLab accounts.
  for (const name of ["robert", "notAlice", "bobAtHome"])
    gitlab.state.users.splice(
      gitlab.state.users.findIndex((u) => u.username === name),
      1,
    );

  // bob approves SHOP-3 at the very millisecond its last commit is pushed, and GitLab records the push after the
  // approval: the push event's id is the larger (ids grow with creation).
  const tie = mrs.mergeRequests.get(mr.tie)!;
  const pushedAt = tie.versions[1]!.createdAt;
  mrs.approve(mr.tie, "bob", pushedAt);
  tie.versions[1]!.id = 1_000_000;

  // SHOP-4 was opened from this project's branch into project 8 (the upstream) and merged there.
  mrs.mergeRequests.get(mr.upstream)!.targetProjectId = 8;

  const bob = gitlab.state.users.find((u) => u.username === "bob")!;
  gitlab.addGroup("acme/sre-awaiting", { bob: GitLabAccess.DEVELOPER });
  gitlab.state.awaiting = new Set([`${gitlab.findGroup("acme/sre-awaiting")!.id}:${bob.id}`]);
  gitlab.addGroup("acme/sre-minimal", { bob: GitLabAccess.MINIMAL_ACCESS });
  gitlab.addGroup("acme/sre-blocked", { dave: GitLabAccess.DEVELOPER });
  gitlab.state.users.find((u) => u.username === "dave")!.state = "blocked";
  gitlab.addGroup("acme/sre-active", { carol: GitLabAccess.DEVELOPER });
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

describe("GitLab approvals count only whom GitLab would count (T63)", () => {
  it("links a private commit address by its user id, and only on this GitLab's own host (E2)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    // 2-robert@… is bob's: his approval of his own commit is no independent one.
    expect(byMr(report.records, mr.renamed).violations.map((v) => v.rule)).toEqual(["self-approval"]);
    // 1-alice@users.noreply.evil.example names nobody: bob may be behind it.
    const other = bySha(report.records, scenario.pull(mr.otherHost!).mergeSha);
    expect(other.verdict).toBe("unverified");
    expect(other.violations[0]?.message).toContain(
      "<1-alice@users.noreply.evil.example> (commit author, co-author or committer) is not linked",
    );
  });

  it("never takes an address GitLab links to no account for the MR author's (E1)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    const record = bySha(report.records, scenario.pull(mr.unlinkedAuthor!).mergeSha);
    expect(record.verdict).toBe("unverified");
    expect(record.violations[0]?.message).toContain(
      `MR !${mr.unlinkedAuthor}: bob <bob@home.example> (commit author, co-author or committer) is not linked to a GitLab account`,
    );
    expect(record.violations[0]?.message).toContain("approval by bob cannot be shown to be independent; add the address under identities");
    // The addresses GitLab does link (alice's own commits) still make a plain MR compliant.
    expect(byMr(report.records, mr.active).violations).toEqual([]);
    expect(byMr(report.records, mr.active).verdict).toBe("compliant");
  });

  it("takes a push GitLab recorded after an approval at the same instant as after it (G1)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    const record = byMr(report.records, mr.tie);
    expect(record.violations.map((v) => v.rule)).toEqual(["stale-approval"]);
    expect(record.approvals).toEqual([expect.objectContaining({ reviewer: "bob", on_head: false })]);
  });

  it("takes an MR merged into another project as no review of this one: its commits are direct pushes (H1)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    const record = bySha(report.records, scenario.pull(mr.upstream!).mergeSha);
    expect(record.verdict).toBe("noncompliant");
    expect(record.pr).toBeNull();
    expect(record.violations.map((v) => v.rule)).toContain("direct-push");
    expect(JSON.stringify(record.violations)).not.toContain("fork");
  });

  it("counts a group's members only when GitLab would let them approve (I1)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    for (const [label, team, who] of [
      ["awaiting", "acme/sre-awaiting", "bob"],
      ["minimal", "acme/sre-minimal", "bob"],
      ["blocked", "acme/sre-blocked", "dave"],
    ] as const) {
      const record = byMr(report.records, mr[label]);
      expect(record.verdict, `${label}: ${who}`).toBe("noncompliant");
      expect(record.violations.map((v) => v.message)).toEqual([
        `approval rule "${label}" needs 1 independent approval from @${team}, has 0`,
      ]);
    }
    expect(byMr(report.records, mr.active).verdict).toBe("compliant");
  });

  it("leaves a rule naming a group that cannot be read unverified, naming the group and GitLab's 404 (I2)", async () => {
    const { report } = await checkOnGitLab(scenario, gitlab, "deploy-1", "HEAD");
    const record = report.records.find((r) => r.pr?.number === mr.unreadable);
    expect(record?.verdict).toBe("unverified");
    const message = record?.violations.map((v) => v.message).join("\n") ?? "";
    expect(message).toContain(
      'approval rule "unreadable" needs 1 independent approval from @acme/sre-typo; cannot tell whether bob is a member',
    );
    expect(message).toContain("GitLab group acme/sre-typo could not be read");
    expect(message).toContain("404 Group Not Found");
    expect(message).not.toContain("read:org");
    // A path rule naming it, the same.
    const infra = byMr(report.records, mr.infra);
    expect(infra.verdict).toBe("unverified");
    expect(infra.violations.map((v) => v.message)).toEqual([
      expect.stringMatching(
        /^changes infra\/main\.tf in MR !\d+ need an approval from @acme\/sre-typo; cannot tell whether bob is a member: GitLab group acme\/sre-typo could not be read \(.*404 Group Not Found/,
      ),
    ]);
  });
});

describe("a project GitLab GraphQL does not show the token (D1)", () => {
  it("exits 77 (not 69), also under --allow-unverified", async () => {
    // REST shows the project, GraphQL answers `project: null`, as it does for a project the caller may not read.
    const shown = gitlab.graphqlProjects.splice(0);
    try {
      for (const extra of [[], ["--allow-unverified"]]) {
        const run = await runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--to", "one-mr", ...extra]);
        expect(run.code).toBe(77);
        expect(run.stderr).toContain(
          "GitLab project acme/shop was not found, or this token cannot see it (GitLab GraphQL answered project: null)",
        );
        expect(run.stdout).toContain("BLOCKED");
      }
    } finally {
      gitlab.graphqlProjects.push(...shown);
    }
  });
});
