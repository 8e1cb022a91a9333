import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../src/sim/github-scenario";
import { GitLabAccess, GitLabSim } from "../src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../src/sim/gitlab-merge-requests";

/** Each documented GitLab behaviour the simulator reproduces, switched on through its scenario API. */

const ORDINARY = "glpat-ordinary-user-token-1";
const READ_ONLY = "glpat-read-api-only-token-1";
const PROFILE_ONLY = "glpat-read-user-only-token-1";
const gitlab = new GitLabSim();

async function call(path: string, token = ORDINARY, method = "GET", body?: unknown) {
  const response = await fetch(`${gitlab.url}/api/v4${path}`, {
    method,
    headers: { "private-token": token, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as unknown };
}

beforeAll(async () => {
  gitlab.addToken(ORDINARY, { admin: false });
  gitlab.addToken(READ_ONLY, { scopes: ["read_api"] });
  gitlab.addToken(PROFILE_ONLY, { scopes: ["read_user"] });
  gitlab.addUser({ username: "alice", name: "Alice Archer", email: "alice@private.test", publicEmail: null });
  gitlab.addUser({ username: "bob", name: "Bob Baker", email: "bob@private.test", publicEmail: "bob@public.test" });
  gitlab.addUser({ username: "carol", name: "Carol Chen", email: "carol@acme.test" });
  gitlab.addGroup("acme/sre", { carol: GitLabAccess.MAINTAINER, bob: GitLabAccess.DEVELOPER, alice: GitLabAccess.OWNER });
  await gitlab.start();
});
afterAll(() => gitlab.stop());

describe("/users?search= (https://docs.gitlab.com/api/users/#list-users)", () => {
  it("matches a private e-mail only for an administrator's token, and shows e-mails only to them", async () => {
    expect(await call("/users?search=alice%40private.test")).toMatchObject({ status: 200, text: "[]" });
    const admin = (await call("/users?search=alice%40private.test", gitlab.token)).json() as Array<Record<string, unknown>>;
    expect(admin.map((u) => [u.username, u.email])).toEqual([["alice", "alice@private.test"]]);
    // A public e-mail matches for anyone, but an ordinary token is not shown it in the list.
    const pub = (await call("/users?search=bob%40public.test")).json() as Array<Record<string, unknown>>;
    expect(pub.map((u) => u.username)).toEqual(["bob"]);
    expect(pub[0]).not.toHaveProperty("email");
    expect(pub[0]).not.toHaveProperty("public_email");
    expect(await call("/users?search=bob%40private.test")).toMatchObject({ text: "[]" });
    // The public profile shows the public e-mail; an e-mail is matched whole, never as a substring.
    expect((await call("/users/2")).json()).toMatchObject({ username: "bob", public_email: "bob@public.test" });
    expect((await call("/users/2")).json()).not.toHaveProperty("email");
    expect(await call("/users?search=public.test")).toMatchObject({ text: "[]" });
  });
});

describe("pagination headers (https://docs.gitlab.com/api/rest/#pagination)", () => {
  it("sends x-page, x-per-page, x-next-page, x-prev-page, x-total, x-total-pages and a Link with prev/next/first/last", async () => {
    const first = await call("/groups/acme%2Fsre/members?per_page=2");
    expect(
      Object.fromEntries(
        ["x-page", "x-per-page", "x-next-page", "x-prev-page", "x-total", "x-total-pages"].map((h) => [h, first.headers.get(h)]),
      ),
    ).toEqual({
      "x-page": "1",
      "x-per-page": "2",
      "x-next-page": "2",
      "x-prev-page": "",
      "x-total": "3",
      "x-total-pages": "2",
    });
    expect(first.headers.get("link")?.match(/rel="(\w+)"/g)).toEqual(['rel="next"', 'rel="first"', 'rel="last"']);
    const second = await call("/groups/acme%2Fsre/members?per_page=2&page=2");
    expect([second.headers.get("x-next-page"), second.headers.get("x-prev-page")]).toEqual(["", "1"]);
    expect(second.headers.get("link")?.match(/rel="(\w+)"/g)).toEqual(['rel="prev"', 'rel="first"', 'rel="last"']);
  });

  it("leaves out x-total, x-total-pages and rel=last above the count limit (10,000 rows on GitLab)", async () => {
    gitlab.quirks.totalHeadersLimit = 2;
    try {
      const page = await call("/groups/acme%2Fsre/members?per_page=2");
      expect([page.headers.has("x-total"), page.headers.has("x-total-pages"), page.headers.get("x-next-page")]).toEqual([
        false,
        false,
        "2",
      ]);
      expect(page.headers.get("link")).not.toContain('rel="last"');
      expect(page.headers.get("link")).toContain('rel="next"');
    } finally {
      gitlab.quirks.totalHeadersLimit = 10_000;
    }
  });
});

describe("errors (https://docs.gitlab.com/api/rest/troubleshooting/#status-codes)", () => {
  it("answers 401, 403 and 404 with GitLab's bodies", async () => {
    expect(await call("/users", "glpat-unknown")).toMatchObject({ status: 401, text: '{"message":"401 Unauthorized"}' });
    expect((await call("/groups/nope")).json()).toEqual({ message: "404 Group Not Found" });
    const scope = await call("/groups/acme%2Fsre/members", READ_ONLY, "POST", { user_id: 1, access_level: 30 });
    expect(scope.status).toBe(403);
    expect(scope.json()).toMatchObject({ error: "insufficient_scope", scope: "api" });
    expect((await call("/users", PROFILE_ONLY)).status).toBe(403);
    expect((await call("/users", READ_ONLY)).status).toBe(200);
    // A GraphQL query is a read: read_api may send it.
    const query = await fetch(`${gitlab.url}/api/graphql`, {
      method: "POST",
      headers: { "private-token": READ_ONLY, "content-type": "application/json" },
      body: JSON.stringify({ query: '{ project(fullPath: "none/here") { id } }' }),
    });
    expect([query.status, await query.json()]).toEqual([200, { data: { project: null } }]);
    expect(await call("/groups/acme%2Fsre/members/1", gitlab.token, "DELETE")).toMatchObject({ status: 403 });
    expect((await call("/groups/acme%2Fsre/members/1", gitlab.token, "DELETE")).json()).toEqual({
      message: "403 Forbidden - A group must have at least one owner",
    });
  });

  it("throttles with 429, Retry-After and the RateLimit-* headers, then answers again", async () => {
    gitlab.rateLimit(1, { retryAfterSec: 7, limit: 600 });
    const throttled = await call("/users");
    expect(throttled.status).toBe(429);
    expect(throttled.text).toBe("Retry later\n");
    expect(throttled.headers.get("retry-after")).toBe("7");
    expect(throttled.headers.get("ratelimit-limit")).toBe("600");
    expect(throttled.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(throttled.headers.get("ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
    expect(Date.parse(throttled.headers.get("ratelimit-resettime") ?? "")).toBeGreaterThan(Date.now() - 1000);
    expect((await call("/users")).status).toBe(200);
  });
});

describe("merge request approval rules (https://docs.gitlab.com/api/merge_request_approvals/)", () => {
  it("counts an approval toward a rule only from its eligible approvers, and reports what is left", async () => {
    const scenario = new GitHubScenario({
      users: { alice: { name: "Alice Archer", email: "alice@private.test" }, bob: { name: "Bob Baker", email: "bob@private.test" } },
    });
    try {
      scenario.directPush({ message: "Initial import", author: "alice" });
      const iid = scenario.pullRequest({ title: "SHOP-1", author: "alice", reviews: [{ by: "bob" }] });
      scenario.build();
      const mrs = new GitLabMergeRequests(gitlab, { id: 9, path: "acme/rules" });
      mirrorScenarioToGitLab(scenario, mrs);
      mrs.addApprovalRule(iid, { name: "SRE", approvalsRequired: 2, groups: ["acme/sre"] });
      mrs.addApprovalRule(iid, { name: "Security", approvalsRequired: 1, users: ["carol"] });
      const before = (await call(`/projects/9/merge_requests/${iid}/approvals`)).json();
      expect(before).toMatchObject({
        approved: false,
        approvals_required: 3,
        approvals_left: 2,
        approved_by: [{ user: { username: "bob" } }],
      });
      mrs.approve(iid, "carol", new Date().toISOString());
      const state = (await call(`/projects/9/merge_requests/${iid}/approval_state`)).json() as {
        rules: Array<{
          name: string;
          approved: boolean;
          approved_by: Array<{ username: string }>;
          eligible_approvers: Array<{ username: string }>;
        }>;
      };
      expect(state.rules.map((r) => [r.name, r.approved, r.approved_by.map((u) => u.username)])).toEqual([
        ["SRE", true, ["bob", "carol"]],
        ["Security", true, ["carol"]],
      ]);
      expect(state.rules[0]?.eligible_approvers.map((u) => u.username).sort()).toEqual(["alice", "bob", "carol"]);
      mrs.approve(iid, "bob", new Date().toISOString(), false);
      expect((await call(`/projects/9/merge_requests/${iid}/approvals`)).json()).toMatchObject({ approved: false, approvals_left: 1 });
      // The events feed keeps both approvals: GitLab records no event when one is withdrawn.
      const events = (await call("/projects/9/events?action=approved&target_type=merge_request")).json() as Array<{
        author_username: string;
      }>;
      expect(events.map((e) => e.author_username).sort()).toEqual(["bob", "carol"]);
      // GitLab prunes events older than three years: switched on, the older ones are gone.
      mrs.eventsKeptSince = new Date(Date.now() - 60_000).toISOString();
      const kept = (await call("/projects/9/events?action=approved")).json() as Array<{ author_username: string }>;
      expect(kept.map((e) => e.author_username)).toEqual(["carol"]);
      mrs.eventsKeptSince = null;
      // GraphQL's approvedBy is who approves now (https://docs.gitlab.com/api/graphql/reference/#mergerequest).
      const gql = await fetch(`${gitlab.url}/api/graphql`, {
        method: "POST",
        headers: { authorization: `Bearer ${ORDINARY}`, "content-type": "application/json" },
        body: JSON.stringify({
          query:
            "query($p: ID!, $i: [String!]) { project(fullPath: $p) { mergeRequests(iids: $i) { nodes { iid approvedBy { nodes { username } } } } } }",
          variables: { p: "acme/rules", i: [String(iid)] },
        }),
      });
      expect(await gql.json()).toEqual({
        data: { project: { mergeRequests: { nodes: [{ iid: String(iid), approvedBy: { nodes: [{ username: "carol" }] } }] } } },
      });
      // A field GitLab's schema does not have is a validation error in an HTTP 200 answer.
      const bad = await fetch(`${gitlab.url}/api/graphql`, {
        method: "POST",
        headers: { authorization: `Bearer ${ORDINARY}`, "content-type": "application/json" },
        body: JSON.stringify({ query: '{ project(fullPath: "acme/rules") { mergeRequests { nodes { approvals } } } }' }),
      });
      expect(bad.status).toBe(200);
      expect(((await bad.json()) as { errors: Array<{ message: string }> }).errors[0]?.message).toMatch(/Cannot query field "approvals"/);
    } finally {
      scenario.cleanup();
    }
  });
});

describe("merge requests of a commit (https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit)", () => {
  it("lists an MR's own commits, and with associate() also a commit that is none of the MR's (what T31 saw)", async () => {
    // A simulator of its own: one GitLabSim serves the merge requests of one project.
    const lab = new GitLabSim();
    await lab.start();
    const scenario = new GitHubScenario({ users: { alice: { name: "Alice Archer", email: "alice@private.test" } } });
    const get = async (path: string) =>
      (await fetch(`${lab.url}/api/v4${path}`, { headers: { "private-token": lab.token } })).json() as Promise<unknown>;
    try {
      scenario.directPush({ message: "Initial import", author: "alice" });
      const iid = scenario.pullRequest({ title: "SHOP-1", author: "alice" });
      const pushed = scenario.directPush({ message: "Pushed past review", author: "alice" });
      scenario.build();
      const mrs = new GitLabMergeRequests(lab, { id: 10, path: "acme/lookup" });
      mirrorScenarioToGitLab(scenario, mrs);
      const own = scenario.pull(iid).commitShas[0] ?? "";
      const foreign = scenario.sha(pushed);
      const iidsOf = async (sha: string) =>
        ((await get(`/projects/10/repository/commits/${sha}/merge_requests`)) as Array<{ iid: number }>).map((m) => m.iid);
      expect(await iidsOf(own)).toEqual([iid]);
      expect(await iidsOf(foreign)).toEqual([]);
      mrs.associate(foreign, iid);
      expect(await iidsOf(foreign)).toEqual([iid]);
      // The MR's own commit list is unchanged: the lookup is no statement of which commits are the MR's.
      const commits = (await get(`/projects/10/merge_requests/${iid}/commits`)) as Array<{ id: string }>;
      expect(commits.map((c) => c.id)).toEqual([own]);
    } finally {
      await lab.stop();
      scenario.cleanup();
    }
  });
});
