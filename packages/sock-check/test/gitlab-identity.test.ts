import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { runCheck } from "../src/index";
import { byMr, gitlabPolicyYaml, USERS } from "./fixture";

/**
 * Who wrote what, against a GitLab that answers an ordinary token as GitLab does: `/users?search=`
 * matches public e-mails only and shows no e-mail at all. A co-author must still be recognised, or the
 * change must say it cannot be, never count their approval as independent.
 */

const ORDINARY = "glpat-ordinary-member-token-7";
let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};
let policyText: string;

beforeAll(async () => {
  gitlab = new GitLabSim({ admin: false, token: ORDINARY });
  // The scope the README asks for, and no more.
  gitlab.addToken(ORDINARY, { admin: false, scopes: ["read_api"] });
  gitlab.addToken("glpat-administrator-token-9", { admin: true });
  await gitlab.start();
  // Everyone keeps their e-mail private (GitLab's default) except dave, who shows it on his profile.
  for (const [username, user] of Object.entries(USERS)) {
    gitlab.addUser({ username, name: user.name, email: user.email, publicEmail: username === "dave" ? user.email : null });
  }
  // eve keeps her e-mail private too, and her name is one no terminal should be handed as it is: an escape that
  // clears the screen and a right-to-left override that shows the rest of the line reversed.
  const eve = { name: "Eve\u001b[2J \u202eEvans", email: "eve@outside.test" };
  gitlab.addUser({ username: "eve", ...eve, publicEmail: null });
  scenario = new GitHubScenario({ users: { ...USERS, eve } });
  policyText = gitlabPolicyYaml(gitlab.url);
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyText } });
  scenario.tag("deploy-1");
  mr.plain = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  // carol writes no MR of her own in this range: nothing but her private e-mail names her.
  mr.carolCoAuthors = scenario.pullRequest({
    title: "SHOP-2 Pricing",
    author: "alice",
    commits: [{ message: "Pricing", author: "alice", coAuthors: ["carol"] }],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  // bob writes SHOP-4 himself: GitLab links his commits (his private e-mail) to his account.
  mr.bobCoAuthors = scenario.pullRequest({
    title: "SHOP-3 Checkout",
    author: "alice",
    commits: [{ message: "Checkout", author: "alice", coAuthors: ["bob"] }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.bobsOwn = scenario.pullRequest({ title: "SHOP-4 Search", author: "bob", reviews: [{ by: "alice" }], checks: { build: "success" } });
  // dave's public e-mail is found by the search and confirmed on his profile.
  mr.daveCoAuthors = scenario.pullRequest({
    title: "SHOP-5 Invoices",
    author: "alice",
    commits: [{ message: "Invoices", author: "alice", coAuthors: ["dave"] }],
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  mr.eveCoAuthors = scenario.pullRequest({
    title: "SHOP-7 Export",
    author: "bob",
    commits: [{ message: "Export", author: "bob", coAuthors: ["eve"] }],
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  mr.withdrawn = scenario.pullRequest({
    title: "SHOP-6 Coupons",
    author: "alice",
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  // dave takes his approval of SHOP-6 back before it is merged: GitLab keeps no event of that.
  const withdrawn = scenario.pull(mr.withdrawn);
  mrs.approve(mr.withdrawn, "dave", new Date(Date.parse(withdrawn.mergedAt) - 500).toISOString(), false);
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

async function check(token: string, extraPolicy = "") {
  let policyPath: string | undefined;
  if (extraPolicy) {
    policyPath = join(scenario.dir, "..", `gitlab-identity-${process.pid}-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(policyPath, `${policyText}${extraPolicy}`);
  }
  return runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    ...(policyPath ? { policyPath } : {}),
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: token },
    toolVersion: "test",
  });
}

describe("GitLab co-authors with an ordinary token", () => {
  it("says a co-author cannot be linked instead of counting their approval as independent", async () => {
    const { report } = await check(ORDINARY);
    // An unverified change carries no PR; it is the MR's merge commit on the deploy line.
    const record = report.records.find((r) => r.commit.sha === scenario.pull(mr.carolCoAuthors!).mergeSha);
    expect(record?.verdict).toBe("unverified");
    expect(record?.violations[0]?.message).toContain("Carol Chen <carol@acme.test>");
    expect(record?.violations[0]?.message).toContain("identities");
    expect(record?.violations[0]?.message).toContain("approval by carol");
    expect(report.summary.unverified).toBe(2);
    // Control and bidi characters in a name from a commit trailer are shown escaped, as core's escapeLine shows them
    // in every other line (\x1b, \u{202e}).
    const eve = report.records.find((r) => r.commit.sha === scenario.pull(mr.eveCoAuthors!).mergeSha);
    expect(eve?.verdict).toBe("unverified");
    expect(eve?.violations[0]?.message).toContain("Eve\\x1b[2J \\u{202e}Evans <eve@outside.test>");
    expect(eve?.violations[0]?.message).not.toMatch(/[\u001b\u202e]/);
  });

  it("links a co-author through the policy's identities, and then refuses their approval", async () => {
    const { report } = await check(ORDINARY, "identities:\n  carol: [carol@acme.test]\n");
    expect(byMr(report.records, mr.carolCoAuthors).violations.map((v) => v.rule)).toEqual(["self-approval"]);
  });

  it("links a co-author by the account GitLab links their commits to (Commit.author), and by a public e-mail", async () => {
    const { report } = await check(ORDINARY);
    expect(byMr(report.records, mr.bobCoAuthors).violations.map((v) => v.rule)).toEqual(["self-approval"]);
    expect(byMr(report.records, mr.daveCoAuthors).violations.map((v) => v.rule)).toEqual(["self-approval"]);
    expect(byMr(report.records, mr.plain).verdict).toBe("compliant");
    expect(byMr(report.records, mr.bobsOwn).verdict).toBe("compliant");
  });

  it("does not count an approval that was withdrawn before the merge", async () => {
    const { report } = await check(ORDINARY);
    expect(byMr(report.records, mr.withdrawn).violations.map((v) => v.rule)).toEqual(["approvals"]);
  });

  it("links every co-author with an administrator's token, which matches private e-mails", async () => {
    const { report } = await check("glpat-administrator-token-9");
    expect(byMr(report.records, mr.carolCoAuthors).violations.map((v) => v.rule)).toEqual(["self-approval"]);
    expect(byMr(report.records, mr.plain).verdict).toBe("compliant");
  });
});
