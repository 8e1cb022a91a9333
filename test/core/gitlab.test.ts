import { collect, createGitLabClient, describeError, gitlabPages, gitlabUserByEmail, Secret } from "@opsguard/core";
import { GitLabAccess, GitLabSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const gitlab = new GitLabSim({ token: "glpat-core-test-token-42" });

beforeAll(async () => {
  await gitlab.start();
  for (const u of ["ann", "ben", "cat"]) gitlab.addUser({ username: u, name: u, email: `${u}@example.test` });
  gitlab.addGroup("platform/approvers", { ann: GitLabAccess.OWNER, ben: GitLabAccess.DEVELOPER, cat: GitLabAccess.REPORTER });
});
afterAll(() => gitlab.stop());

describe("GitLab REST client", () => {
  it("sends PRIVATE-TOKEN by default and Bearer for OAuth, under /api/v4", async () => {
    const token = new Secret(gitlab.token, "test");
    gitlab.requests.length = 0;
    await createGitLabClient({ baseUrl: `${gitlab.url}/`, token }).get("/groups/platform%2Fapprovers");
    await createGitLabClient({ baseUrl: gitlab.url, token, auth: "bearer" }).get("/groups/platform%2Fapprovers");
    expect(gitlab.requests.map((r) => [r.path, r.headers["private-token"], r.headers.authorization])).toEqual([
      ["/api/v4/groups/platform%2Fapprovers", gitlab.token, undefined],
      ["/api/v4/groups/platform%2Fapprovers", undefined, `Bearer ${gitlab.token}`],
    ]);
  });

  it("follows GitLab's paging headers to the last page", async () => {
    const client = createGitLabClient({ baseUrl: gitlab.url, token: new Secret(gitlab.token, "test") });
    gitlab.requests.length = 0;
    const members = await collect(gitlabPages<{ username: string }>(client, "/groups/platform%2Fapprovers/members", {}, 1));
    expect(members.map((m) => m.username)).toEqual(["ann", "ben", "cat"]);
    expect(gitlab.requests.map((r) => r.query.get("page") ?? "1")).toEqual(["1", "2", "3"]);
  });

  it("pages to the end when GitLab leaves out the totals (above 10,000 rows), by its Link and x-next-page", async () => {
    const client = createGitLabClient({ baseUrl: gitlab.url, token: new Secret(gitlab.token, "test") });
    gitlab.quirks.totalHeadersLimit = 1;
    try {
      const members = await collect(gitlabPages<{ username: string }>(client, "/groups/platform%2Fapprovers/members", {}, 2));
      expect(members.map((m) => m.username)).toEqual(["ann", "ben", "cat"]);
    } finally {
      gitlab.quirks.totalHeadersLimit = 10_000;
    }
  });

  it("waits out GitLab's 429 for the Retry-After it names, then gets the answer", async () => {
    const client = createGitLabClient({ baseUrl: gitlab.url, token: new Secret(gitlab.token, "test"), retries: 2 });
    gitlab.requests.length = 0;
    gitlab.rateLimit(1, { retryAfterSec: 1 });
    const { body } = await client.get<{ full_path: string }>("/groups/platform%2Fapprovers");
    expect(body.full_path).toBe("platform/approvers");
    expect(gitlab.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it("names the missing scope when the token may not use the API", async () => {
    gitlab.addToken("glpat-profile-only-token", { scopes: ["read_user"] });
    const client = createGitLabClient({ baseUrl: gitlab.url, token: new Secret("glpat-profile-only-token", "test"), retries: 0 });
    const error = await client.get("/groups/1").catch((e: unknown) => e);
    expect(describeError(error)).toMatch(/HTTP 403: insufficient_scope: .*\(scope needed: api read_api\)/);
    expect(describeError(error)).not.toContain("glpat-profile-only-token");
  });

  it("finds a user by e-mail as the token may: private e-mails for an administrator, confirmed public ones otherwise", async () => {
    gitlab.addUser({ username: "dee", name: "Dee Private", email: "dee@private.test", publicEmail: null });
    gitlab.addUser({ username: "eli", name: "Eli Public", email: "eli@private.test", publicEmail: "eli@public.test" });
    // Someone who calls themselves by another person's address must not be taken for them.
    gitlab.addUser({ username: "mallory", name: "dee@private.test", email: "m@evil.test", publicEmail: null });
    gitlab.addToken("glpat-ordinary-core-token", { admin: false });
    const admin = createGitLabClient({ baseUrl: gitlab.url, token: new Secret(gitlab.token, "test") });
    const ordinary = createGitLabClient({ baseUrl: gitlab.url, token: new Secret("glpat-ordinary-core-token", "test") });
    expect(await gitlabUserByEmail(admin, "DEE@private.test")).toBe("dee");
    expect(await gitlabUserByEmail(ordinary, "dee@private.test")).toBeNull();
    expect(await gitlabUserByEmail(ordinary, "eli@public.test")).toBe("eli");
    expect(await gitlabUserByEmail(ordinary, "eli@private.test")).toBeNull();
    expect(await gitlabUserByEmail(admin, "nobody@private.test")).toBeNull();
  });

  it("reports GitLab's message on a bad token and never the token itself", async () => {
    const client = createGitLabClient({ baseUrl: gitlab.url, token: new Secret("glpat-wrong-token-0000", "test"), retries: 0 });
    const error = await client.get("/groups/1").catch((e: unknown) => e);
    expect(describeError(error)).toMatch(/^GitLab API answered HTTP 401: 401 Unauthorized .* \(check the API token and its scopes\)$/);
    expect(describeError(error)).not.toContain("glpat-wrong-token-0000");
  });
});
