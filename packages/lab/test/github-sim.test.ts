import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../src/sim/github-scenario";
import { graphqlViolations, RestContract } from "./github-contract";

/**
 * The GitHub simulator against GitHub's own contracts (GraphQL schema, REST OpenAPI description), and
 * the documented quirks clients must survive, each switched on through the scenario API.
 */

const DAY = 86_400_000;
let scenario: GitHubScenario;
let rest: RestContract;
const pr: Record<string, number> = {};
const users = {
  alice: { name: "Alice Archer", email: "alice@acme.test" },
  bob: { name: "Bob Baker", email: "bob@acme.test" },
  "dependabot[bot]": { name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com", bot: true },
};

beforeAll(async () => {
  rest = new RestContract();
  scenario = new GitHubScenario({ users });
  await scenario.sim.start();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice" });
  s.tag("deploy-1");
  pr.backdated = s.pullRequest({
    title: "SHOP-1 Search",
    author: "alice",
    commits: [
      { message: "Index", author: "alice", checks: { build: "success" } },
      { message: "Tune", author: "alice", authorDate: new Date(Date.now() - 60 * DAY) },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "failure" },
    statuses: { build: "success" },
  });
  pr.bot = s.pullRequest({ title: "Bump lodash", author: "dependabot[bot]", checks: { build: "skipped", lint: "neutral" } });
  pr.big = s.pullRequest({
    title: "SHOP-2 Big one",
    author: "alice",
    commits: Array.from({ length: 260 }, (_, i) => ({ message: `Step ${i + 1}`, author: "alice" })),
    reviews: [{ by: "bob" }],
  });
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function post(query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${scenario.sim.url}/graphql`, {
    method: "POST",
    headers: { authorization: `Bearer ${scenario.token}`, "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

async function get(path: string) {
  const response = await fetch(`${scenario.sim.url}${path}`, {
    headers: { authorization: `Bearer ${scenario.token}`, accept: "application/vnd.github+json" },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
}

/** Answers as the tools' queries get them; checked against GitHub's schema by the contract, not by the simulator. */
const PULL_QUERY = `query($owner: String!, $name: String!, $n: Int!) { repository(owner: $owner, name: $name) {
  p0: pullRequest(number: $n) { number title body url state merged mergedAt createdAt headRefName headRefOid baseRefName
    author { __typename login url } mergedBy { login } mergeCommit { oid committedDate }
    labels(first: 10) { totalCount nodes { name } }
    reviews(first: 10) { pageInfo { hasNextPage endCursor } nodes { author { __typename login } state submittedAt commit { oid } } }
    commits(first: 5) { totalCount nodes { commit { oid message signature { isValid state } authors(first: 5) { nodes { name email date user { login } } } committer { name email user { login } } } } }
    last: commits(last: 1) { nodes { commit { oid } } }
    statusCheckRollup { state contexts(first: 10) { nodes { __typename
      ... on CheckRun { name status conclusion startedAt completedAt checkSuite { app { slug name } } }
      ... on StatusContext { context state createdAt creator { __typename login } } } } } } } }`;

const COMMIT_QUERY = `query($owner: String!, $name: String!, $oid: GitObjectID!) { repository(owner: $owner, name: $name) { defaultBranchRef { name }
  c0: object(oid: $oid) { ... on Commit { oid author { user { login } } associatedPullRequests(first: 10) { nodes { number merged headRefOid } } } } } }`;

const repo = { owner: "acme", name: "shop" };

/** The parts of PULL_QUERY's answer the assertions read. */
interface Pull {
  headRefOid: string;
  author: { __typename: string; login: string; url: string };
  commits: { totalCount: number; nodes: Array<{ commit: { oid: string; authors: { nodes: Array<{ email: string; user: unknown }> } } }> };
  last: { nodes: Array<{ commit: { oid: string } }> };
  statusCheckRollup: { state: string; contexts: { nodes: Array<{ conclusion?: string }> } };
}
interface GraphQLAnswer {
  data?: { repository: { p0: Pull | null } };
  errors?: Array<{ message: string; type?: string; path?: unknown[] }>;
}

async function pull(number: number): Promise<GraphQLAnswer> {
  return (await post(PULL_QUERY, { ...repo, n: number })).body as GraphQLAnswer;
}

function p0(answer: GraphQLAnswer): Pull {
  const found = answer.data?.repository.p0;
  if (!found) throw new Error(`no PR in ${JSON.stringify(answer)}`);
  return found;
}

describe("GitHub's contracts", () => {
  it("answers the tools' GraphQL queries with data GitHub's published schema allows", async () => {
    for (const number of [pr.backdated!, pr.bot!, pr.big!]) {
      const answer = await post(PULL_QUERY, { ...repo, n: number });
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(await graphqlViolations(PULL_QUERY, { ...repo, n: number }, answer.body)).toEqual([]);
    }
    const oid = scenario.pull(pr.bot!).headSha;
    const commit = await post(COMMIT_QUERY, { ...repo, oid });
    expect(await graphqlViolations(COMMIT_QUERY, { ...repo, oid }, commit.body)).toEqual([]);
    const team = `query { organization(login: "acme") { team(slug: "nope") { members(first: 5) { nodes { login } } } } rateLimit { remaining resetAt } }`;
    expect(await graphqlViolations(team, {}, (await post(team)).body)).toEqual([]);
  });

  it("fails the contract check on answers GitHub's schema forbids", async () => {
    const answer = (await post(PULL_QUERY, { ...repo, n: pr.backdated! })).body as {
      data: { repository: { p0: Record<string, unknown> } };
    };
    const wrong = (mutate: (p: Record<string, unknown>) => void) => {
      const copy = structuredClone(answer);
      mutate(copy.data.repository.p0);
      return graphqlViolations(PULL_QUERY, { ...repo, n: pr.backdated! }, copy);
    };
    expect(await wrong((p) => (p.headRefOid = null))).toEqual([
      expect.stringContaining("Cannot return null for non-nullable field PullRequest.headRefOid"),
    ]);
    expect(await wrong((p) => (p.state = "GREEN"))).toEqual([
      expect.stringContaining('Enum "PullRequestState" cannot represent value: "GREEN"'),
    ]);
    expect(await wrong((p) => ((p.author as Record<string, unknown>).__typename = "Robot"))).not.toEqual([]);
    expect(await wrong((p) => (p.number = 12.5))).toEqual([expect.stringContaining("Int cannot represent non-integer value: 12.5")]);
    // graphql-js would coerce "12" to 12 on output; GitHub sends a number, so the string is caught as a changed value.
    expect(await wrong((p) => (p.number = "12"))).toEqual([expect.stringContaining("values GitHub's types would not give")]);
    expect(await wrong((p) => (p.mergedAt = "yesterday"))).toEqual([expect.stringContaining('DateTime cannot represent "yesterday"')]);
    expect(await wrong((p) => (p.headRefOid = "abc123"))).toEqual([expect.stringContaining("GitObjectID cannot represent")]);
    expect(await wrong((p) => (p.secret = "made up"))).toEqual([expect.stringContaining("fields the query did not select")]);
    expect(await graphqlViolations(PULL_QUERY, {}, { errors: [{ path: ["repository"] }] })).toEqual([
      expect.stringContaining("an entry without a message"),
    ]);
    // A query GitHub would refuse is refused by the contract, too.
    expect(await graphqlViolations('{ repository(owner: "a", name: "b") { headCommit { oid } } }', {}, {})).toEqual([
      'query: Cannot query field "headCommit" on type "Repository".',
    ]);
  });

  it("answers every REST route the lab serves with bodies GitHub's OpenAPI description allows", async () => {
    const built = scenario.pull(pr.backdated!);
    const paths = [
      "/repos/acme/shop/compare/deploy-1...main",
      "/repos/acme/shop/compare/deploy-1...main?per_page=5",
      `/repos/acme/shop/commits/${built.mergeSha}/pulls`,
      `/repos/acme/shop/pulls/${pr.backdated}`,
      `/repos/acme/shop/pulls/${pr.bot}`,
      `/repos/acme/shop/pulls/${pr.backdated}/reviews`,
      `/repos/acme/shop/pulls/${pr.backdated}/commits`,
      `/repos/acme/shop/commits/${built.headSha}/status`,
      `/repos/acme/shop/commits/${built.headSha}/check-runs`,
      "/repos/acme/shop/pulls/9999",
      "/rate_limit",
    ];
    for (const path of paths) {
      const answer = await get(path);
      expect({ path, problems: rest.check("GET", path.split("?")[0]!, answer.status, answer.body) }).toEqual({ path, problems: [] });
    }
  });

  it("fails the REST contract check on bodies GitHub's description forbids", async () => {
    const path = `/repos/acme/shop/pulls/${pr.backdated}/reviews`;
    const reviews = (await get(path)).body as Array<Record<string, unknown>>;
    expect(rest.check("GET", path, 200, [{ ...reviews[0], state: 7 }])).toEqual([expect.stringContaining("/0/state must be string")]);
    expect(rest.check("GET", path, 200, [{ ...reviews[0], reviewer: "bob" }])).toEqual([
      expect.stringMatching(/: \/0\/reviewer is not a field the contract declares$/),
    ]);
    const { id: _id, ...withoutId } = reviews[0]!;
    expect(rest.check("GET", path, 200, [withoutId])).toEqual([expect.stringContaining("must have required property 'id'")]);
    expect(rest.check("GET", path, 418, {})).toEqual([expect.stringContaining("HTTP 418 is not an answer the contract lists")]);
  });
});

/** A recorded real GitHub exchange from @octokit/fixtures (normalized: ids and dates replaced, shapes kept). */
function recorded(scenarioName: string): Array<{ path: string; status: number; headers: Record<string, string>; response: unknown }> {
  const dir = dirname(createRequire(import.meta.url).resolve("@octokit/fixtures/package.json"));
  return JSON.parse(readFileSync(join(dir, "scenarios", "api.github.com", scenarioName, "normalized-fixture.json"), "utf8"));
}

describe("GitHub's recorded answers (@octokit/fixtures), where they cover a call", () => {
  it("pages with the same Link relations and meters with the same x-ratelimit headers", async () => {
    const real = recorded("paginate-issues")[0]!;
    const ours = await get("/repos/acme/shop/compare/deploy-1...main?per_page=3");
    const rels = (link: string) => [...link.matchAll(/rel="(\w+)"/g)].map((m) => m[1]);
    expect(rels(ours.headers.get("link") ?? "")).toEqual(rels(real.headers.link ?? ""));
    const limits = (names: Iterable<string>) => [...names].filter((n) => n.startsWith("x-ratelimit-")).sort();
    expect(limits(ours.headers.keys())).toEqual(limits(Object.keys(real.headers)));
  });

  it("describes a repository with fields a real one has", async () => {
    const real = recorded("get-repository")[0]!.response as Record<string, unknown>;
    const ours = ((await get(`/repos/acme/shop/pulls/${pr.bot}`)).body as { head: { repo: Record<string, unknown> } }).head.repo;
    expect(Object.keys(ours).filter((k) => !(k in real))).toEqual([]);
    expect(Object.keys((ours.owner ?? {}) as object).filter((k) => !(k in (real.owner as object)))).toEqual([]);
  });
});

describe("GitHub's quirks, reproduced", () => {
  it("names a GitHub App's bot `dependabot` (a Bot) in GraphQL and `dependabot[bot]` in REST; GitActor.user is null for its e-mail", async () => {
    const built = scenario.pull(pr.bot!);
    const bot = p0(await pull(pr.bot!));
    expect(bot.author).toEqual({ __typename: "Bot", login: "dependabot", url: "https://github.com/apps/dependabot" });
    expect(bot.commits.nodes[0]?.commit.authors.nodes[0]).toMatchObject({ email: users["dependabot[bot]"].email, user: null });
    const restPull = (await get(`/repos/acme/shop/pulls/${pr.bot}`)).body as { user: unknown };
    expect(restPull.user).toMatchObject({ login: "dependabot[bot]", type: "Bot" });
    const restCommit = ((await get(`/repos/acme/shop/pulls/${pr.bot}/commits`)).body as Array<{ sha: string; author: unknown }>)[0]!;
    expect(restCommit.sha).toBe(built.headSha);
    expect(restCommit.author).toMatchObject({ login: "dependabot[bot]", type: "Bot" });
  });

  it("lists a PR's commits by author date, so commits(last: 1) is not the head; headRefOid is", async () => {
    const built = scenario.pull(pr.backdated!);
    const answer = p0(await pull(pr.backdated!));
    expect(answer.headRefOid).toBe(built.headSha);
    expect(answer.last.nodes[0]?.commit.oid).toBe(built.commitShas[0]);
    expect(answer.commits.nodes.map((n) => n.commit.oid)).toEqual([built.headSha, built.commitShas[0]]);
  });

  it("lists a check run and a commit status of the same name side by side, and counts skipped and neutral as passing", async () => {
    const failing = p0(await pull(pr.backdated!)).statusCheckRollup;
    expect(failing.state).toBe("FAILURE");
    expect(failing.contexts.nodes).toEqual([
      expect.objectContaining({
        __typename: "CheckRun",
        name: "build",
        conclusion: "FAILURE",
        checkSuite: { app: { slug: "github-actions", name: "github-actions" } },
      }),
      // StatusContext.creator is an Actor (schema.graphql): a person's account, here, is a User; an app's bot a Bot.
      expect.objectContaining({
        __typename: "StatusContext",
        context: "build",
        state: "SUCCESS",
        creator: { __typename: "User", login: "ci-bot" },
      }),
    ]);
    const skipped = p0(await pull(pr.bot!)).statusCheckRollup;
    expect(skipped.state).toBe("SUCCESS");
    expect(skipped.contexts.nodes.map((c) => c.conclusion)).toEqual(["SKIPPED", "NEUTRAL"]);
  });

  it("answers HTTP 200 with partial data and errors[] when a field fails, nulling up to the nearest nullable parent", async () => {
    const lift = scenario.sim.failGraphQLField({ typeName: "GitActor", fieldName: "user", when: (a) => a.email === users.alice.email });
    try {
      const answer = await post(PULL_QUERY, { ...repo, n: pr.backdated! });
      expect(answer.status).toBe(200);
      expect(p0(answer.body as GraphQLAnswer).commits.nodes[0]?.commit.authors.nodes[0]).toMatchObject({
        email: users.alice.email,
        user: null,
      });
      expect((answer.body as GraphQLAnswer).errors?.[0]).toMatchObject({
        type: "FORBIDDEN",
        path: ["repository", "p0", "commits", "nodes", 0, "commit", "authors", "nodes", 0, "user"],
      });
      expect(await graphqlViolations(PULL_QUERY, { ...repo, n: pr.backdated! }, answer.body)).toEqual([]);
    } finally {
      lift();
    }
    const liftCommits = scenario.sim.failGraphQLField({ typeName: "PullRequest", fieldName: "commits" });
    try {
      // PullRequest.commits is non-null: the PR itself becomes null.
      expect((await pull(pr.backdated!)).data?.repository.p0).toBeNull();
    } finally {
      liftCommits();
    }
  });

  it("refuses a query GitHub's schema does not allow, and an unbounded connection, as GitHub does", async () => {
    const unknown = await post(`query { repository(owner: "acme", name: "shop") { pullRequest(number: 1) { headCommit { oid } } } }`);
    expect(unknown.body.data).toBeUndefined();
    expect(unknown.body.errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('"headCommit" on type "PullRequest"') }),
    ]);
    const unbounded = await post(`query { repository(owner: "acme", name: "shop") { pullRequest(number: 1) { commits { totalCount } } } }`);
    expect((unbounded.body as GraphQLAnswer).errors?.[0]?.message).toBe(
      "You must provide a `first` or `last` value to properly paginate the `commits` connection.",
    );
    const tooMany = await post(
      `query { repository(owner: "acme", name: "shop") { pullRequest(number: 1) { commits(first: 101) { totalCount } } } }`,
    );
    expect((tooMany.body as GraphQLAnswer).errors?.[0]?.message).toBe(
      "Requesting 101 records on the `commits` connection exceeds the `first` limit of 100 records.",
    );
  });

  it("answers viewer as the token's user, and refuses variables that are not an object with 400 rather than a 500", async () => {
    const viewer = await post("query { viewer { login __typename } }");
    expect(viewer.body).toEqual({ data: { viewer: { login: "ci-bot", __typename: "User" } } });
    expect(await graphqlViolations("query { viewer { login __typename } }", {}, viewer.body)).toEqual([]);
    const response = await fetch(`${scenario.sim.url}/graphql`, {
      method: "POST",
      headers: { authorization: `Bearer ${scenario.token}`, "content-type": "application/json" },
      body: JSON.stringify({ query: "query { rateLimit { remaining } }", variables: "{}" }),
    });
    expect({ status: response.status, body: await response.json() }).toEqual({
      status: 400,
      body: { message: "Problems parsing JSON", documentation_url: "https://docs.github.com/graphql" },
    });
  });

  it("refuses a query that could ask for more than 500,000 nodes, as GitHub counts them", async () => {
    const query = `query { repository(owner: "acme", name: "shop") { pullRequest(number: 1) {
      commits(first: 100) { nodes { commit { associatedPullRequests(first: 100) { nodes { commits(first: 100) { totalCount } } } } } } } } }`;
    const answer = await post(query);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors).toEqual([
      {
        type: "MAX_NODE_LIMIT_EXCEEDED",
        message:
          "By the time this query traverses to the commits connection, it is requesting up to 1,010,100 possible nodes which exceeds the maximum limit of 500,000.",
      },
    ]);
  });

  it("caps REST compare and PR-commit lists at 250 (GraphQL's PR commits are not capped)", async () => {
    const compare = (await get("/repos/acme/shop/compare/deploy-1...main")).body as {
      total_commits: number;
      commits: Array<{ sha: string }>;
    };
    expect(compare.total_commits).toBeGreaterThan(250);
    expect(compare.commits).toHaveLength(250);
    // Without paging, the list ends with the newest commit of the comparison.
    expect(compare.commits.at(-1)?.sha).toBe(scenario.pull(pr.big!).mergeSha);
    let listed = 0;
    for (let page = 1; page <= 4; page++)
      listed += ((await get(`/repos/acme/shop/pulls/${pr.big}/commits?per_page=100&page=${page}`)).body as unknown[]).length;
    expect(listed).toBe(250);
    const total = p0(await pull(pr.big!)).commits.totalCount;
    expect(total).toBe(260);
  });

  it("meters both limits: secondary 403/429 with retry-after, and a spent window with x-ratelimit-remaining 0 and its reset", async () => {
    for (const status of [403, 429] as const) {
      scenario.sim.secondaryRateLimit(1, 9, status);
      const limited = await get(`/repos/acme/shop/pulls/${pr.bot}`);
      expect(limited.status).toBe(status);
      expect(limited.headers.get("retry-after")).toBe("9");
      expect((limited.body as { message: string }).message).toMatch(/secondary rate limit/);
    }
    scenario.sim.setRateLimitRemaining(scenario.token, 0, 600);
    try {
      const spent = await get(`/repos/acme/shop/pulls/${pr.bot}`);
      expect(spent.status).toBe(403);
      expect(spent.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(spent.headers.get("x-ratelimit-reset")) - Date.now() / 1000).toBeGreaterThan(590);
      const graphql = await post(PULL_QUERY, { ...repo, n: pr.bot! });
      expect(graphql.status).toBe(200);
      expect(graphql.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(graphql.body.errors).toEqual([expect.objectContaining({ type: "RATE_LIMITED" })]);
      expect(spent.body).toMatchObject({
        message: expect.stringMatching(/^API rate limit exceeded/),
        documentation_url: expect.any(String),
      });
    } finally {
      scenario.sim.setRateLimitRemaining(scenario.token, 5000);
    }
  });
});

describe("organisation membership", () => {
  const query = `query($org: String!) { organization(login: $org) { viewerIsAMember membersWithRole(first: 100) { totalCount nodes { login } } } }`;
  async function members(token: string, org = "acme-org") {
    const response = await fetch(`${scenario.sim.url}/graphql`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ query, variables: { org } }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(await graphqlViolations(query, { org }, body)).toEqual([]);
    return body as {
      data: { organization: { viewerIsAMember: boolean; membersWithRole: { nodes: Array<{ login: string }> } } | null };
      errors?: unknown[];
    };
  }

  it("shows a member every member, anyone else the public members only, and NOT_FOUND for an unknown login", async () => {
    scenario.sim.setOrg("acme-org", ["alice", "bob"], ["bob"]).addToken("ghp_aliceToken0123456789", "alice");
    const inside = await members("ghp_aliceToken0123456789");
    expect(inside.data.organization?.viewerIsAMember).toBe(true);
    expect(inside.data.organization?.membersWithRole.nodes.map((n) => n.login)).toEqual(["alice", "bob"]);
    const outside = await members(scenario.token);
    expect(outside.data.organization?.viewerIsAMember).toBe(false);
    expect(outside.data.organization?.membersWithRole.nodes.map((n) => n.login)).toEqual(["bob"]);
    const unknown = await members(scenario.token, "no-such-org");
    expect(unknown.data.organization).toBeNull();
    expect(unknown.errors).toEqual([
      expect.objectContaining({
        type: "NOT_FOUND",
        path: ["organization"],
        message: "Could not resolve to an Organization with the login of 'no-such-org'.",
      }),
    ]);
  });
});
