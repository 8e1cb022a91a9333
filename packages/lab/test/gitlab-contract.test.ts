import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../src/sim/github-scenario";
import { GitLabAccess, GitLabSim } from "../src/sim/gitlab";
import { GitLabProjectApprovalRules } from "../src/sim/gitlab-approval-rules";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../src/sim/gitlab-merge-requests";
import { type ContractCase, checkGitLabContract } from "./contracts/gitlab-check";

/**
 * The GitLab simulator against GitLab's contract (@gitbeaker/core's response types, completed from
 * docs.gitlab.com where they say more): every route the tools use, as an ordinary and as an
 * administrator's token, with real git history behind the merge requests.
 */

const USERS = {
  alice: { name: "Alice Archer", email: "alice@acme.test" },
  bob: { name: "Bob Baker", email: "bob@acme.test" },
  carol: { name: "Carol Chen", email: "carol@acme.test" },
};
const ORDINARY = "glpat-ordinary-user-token-1";

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
let rules: GitLabProjectApprovalRules;
const cases: ContractCase[] = [];

async function get(path: string, token: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`${gitlab.url}/api/v4${path}`, { headers: { "private-token": token } });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text,
  };
}

beforeAll(async () => {
  gitlab = new GitLabSim();
  gitlab.addToken(ORDINARY, { admin: false });
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS });
  scenario.directPush({ message: "Initial import", author: "alice" });
  const one = scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  const two = scenario.pullRequest({
    title: "SHOP-2 Pricing",
    author: "bob",
    commits: [
      { message: "Pricing", author: "bob", coAuthors: ["carol"] },
      { message: "Pricing, fixed", author: "bob" },
    ],
    reviews: [{ by: "alice", onCommit: 0 }],
    checks: { build: "failure" },
    squash: true,
  });
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  gitlab.addGroup("acme");
  gitlab.addGroup("acme/sre", { carol: GitLabAccess.MAINTAINER });
  mrs.addApprovalRule(one, { name: "SRE", approvalsRequired: 1, groups: ["acme/sre"] });
  mrs.addApprovalRule(two, { name: "All", approvalsRequired: 1, ruleType: "any_approver" });
  mrs.signatures.set(scenario.pull(one).headSha, "verified");
  rules = new GitLabProjectApprovalRules(gitlab, { id: 9, path: "acme/approvals" });
  rules.addRule({ name: "On call", users: ["alice"], groups: ["acme/sre"], hiddenGroups: ["acme/secret"], protectedBranchIds: [1] });
  rules.addRule({ name: "All", ruleType: "any_approver", approvalsRequired: 0 });

  const head = scenario.pull(one).headSha;
  const routes: Array<[string, string, string]> = [
    ["/users?search=alice", "ListedUser[]", "AdminUser[]"],
    ["/users/1", "PublicUser", "AdminUser"],
    ["/groups/acme%2Fsre", "Group", "Group"],
    ["/groups/acme", "Group", "Group"],
    ["/groups/acme%2Fsre/members", "Member[]", "Member[]"],
    ["/projects/acme%2Fshop", "Project", "Project"],
    [`/projects/7/repository/commits/${head}`, "Commit", "Commit"],
    [`/projects/7/repository/commits/${head}/merge_requests`, "MergeRequest[]", "MergeRequest[]"],
    [`/projects/7/repository/commits/${head}/statuses`, "CommitStatus[]", "CommitStatus[]"],
    [`/projects/7/repository/commits/${head}/signature`, "SshSignature", "SshSignature"],
    ...[one, two].flatMap(
      (iid): Array<[string, string, string]> => [
        [`/projects/7/merge_requests/${iid}`, "SingleMergeRequest", "SingleMergeRequest"],
        [`/projects/7/merge_requests/${iid}/commits`, "Commit[]", "Commit[]"],
        [`/projects/7/merge_requests/${iid}/approvals`, "Approvals", "Approvals"],
        [`/projects/7/merge_requests/${iid}/approval_state`, "ApprovalState", "ApprovalState"],
        [`/projects/7/merge_requests/${iid}/notes?sort=asc`, "Note[]", "Note[]"],
        [`/projects/7/merge_requests/${iid}/versions`, "DiffVersion[]", "DiffVersion[]"],
      ],
    ),
    ["/projects/7/merge_requests?state=merged&order_by=updated_at", "MergeRequest[]", "MergeRequest[]"],
    ["/projects/7/events?action=approved&target_type=merge_request", "Event[]", "Event[]"],
    ["/projects/7/events?action=pushed", "Event[]", "Event[]"],
    ["/projects/7/jobs", "Job[]", "Job[]"],
    ["/projects/9/approval_rules", "ProjectApprovalRule[]", "ProjectApprovalRule[]"],
    ["/projects/acme%2Fapprovals/approval_rules/1", "ProjectApprovalRule", "ProjectApprovalRule"],
    ["/projects/9/approval_rules/99", "ErrorMessage", "ErrorMessage"],
    ["/projects/7/merge_requests/999", "ErrorMessage", "ErrorMessage"],
    ["/groups/nope", "ErrorMessage", "ErrorMessage"],
  ];
  for (const [path, ordinaryType, adminType] of routes) {
    for (const [token, type, who] of [
      [ORDINARY, ordinaryType, "ordinary token"],
      [gitlab.token, adminType, "administrator"],
    ] as const) {
      const { status, body } = await get(path, token);
      expect(status, `${path} (${who})`).toBeLessThan(500);
      cases.push({ label: `GET ${path} (${who})`, type, body });
    }
  }
  cases.push({ label: "GET /users (bad token)", type: "ErrorMessage", body: (await get("/users", "glpat-wrong")).body });
  const put = async (body: unknown) => {
    const response = await fetch(`${gitlab.url}/api/v4/projects/9/approval_rules/1`, {
      method: "PUT",
      headers: { "private-token": gitlab.token, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  const updated = await put({ name: "On call", approvals_required: 1, user_ids: [2], group_ids: [], protected_branch_ids: [1] });
  expect(updated.status).toBe(200);
  cases.push({ label: "PUT /projects/9/approval_rules/1", type: "ProjectApprovalRule", body: updated.body });
  const missing = await put({ user_ids: [2] });
  expect(missing.status).toBe(400);
  cases.push({ label: "PUT /projects/9/approval_rules/1 (no name)", type: "MissingAttribute", body: missing.body });
}, 60_000);

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

describe("GitLab simulator contract", () => {
  it("answers every route the tools use with GitLab's documented shapes", () => {
    expect(cases.length).toBeGreaterThan(40);
    expect(checkGitLabContract(cases)).toEqual([]);
  }, 60_000);

  it("an approval rule update replaces users and groups, keeps hidden groups and refuses a missing name", () => {
    // The PUT in beforeAll sent user_ids [2] (bob) and no groups; its second PUT lacked the name.
    expect(rules.rule("On call")).toMatchObject({ users: ["bob"], groups: [], hiddenGroups: ["acme/secret"], protectedBranchIds: [1] });
    expect(cases.find((c) => c.label.endsWith("(no name)"))?.body).toEqual({ error: "name is missing" });
  });

  it("fails the check on a wrong type, a missing field, a wrong enum value and a field GitLab does not send", () => {
    const user = structuredClone(cases.find((c) => c.type === "ListedUser[]")?.body) as Array<Record<string, unknown>>;
    const mr = structuredClone(cases.find((c) => c.type === "SingleMergeRequest")?.body) as Record<string, unknown>;
    const status = structuredClone(cases.find((c) => c.type === "CommitStatus[]")?.body) as Array<Record<string, unknown>>;
    expect(user[0] && mr && status[0]).toBeTruthy();
    // What the simulator used to answer to an ordinary token: the private e-mail in a user list.
    user[0]!.email = "alice@acme.test";
    const missing = structuredClone(mr);
    delete missing.merge_commit_sha;
    mr.iid = String(mr.iid);
    status[0]!.status = "succeeded";
    const problems = checkGitLabContract([
      { label: "users", type: "ListedUser[]", body: user },
      { label: "mr", type: "SingleMergeRequest", body: mr },
      { label: "mr", type: "SingleMergeRequest", body: missing },
      { label: "status", type: "CommitStatus[]", body: status },
    ]);
    expect(problems).toEqual(
      expect.arrayContaining([
        "users: [0].email is not in the contract type ListedUser[]",
        expect.stringMatching(/^mr: .*iid/),
        expect.stringMatching(/^mr: .*merge_commit_sha/),
        expect.stringMatching(/^status: .*succeeded/),
      ]),
    );
  }, 60_000);
});
