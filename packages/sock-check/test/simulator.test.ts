import { afterAll, beforeAll, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { startScenario } from "./fixture";

/**
 * The GitHub simulator's REST routes, as GitHub documents them: the benchmark's naive collector (the
 * baseline sock-check's request count is compared with) walks exactly these, so they must page and meter
 * like GitHub does. The tool itself speaks GraphQL, covered by the other tests.
 */

let scenario: GitHubScenario;
let pull: number;
interface Compare {
  total_commits: number;
  commits: Array<{ commit: { message: string } }>;
}
const repo = "/repos/acme/shop";

beforeAll(async () => {
  scenario = await startScenario();
  scenario.directPush({ message: "Initial import", author: "alice" });
  scenario.tag("deploy-1");
  for (let i = 0; i < 3; i++) scenario.directPush({ message: `Change ${i}`, author: "bob" });
  pull = scenario.pullRequest({
    title: "SHOP-1 Add the cart",
    author: "alice",
    commits: [
      { message: "Cart", author: "alice" },
      { message: "Cart tests", author: "alice" },
    ],
    reviews: [{ by: "bob", state: "CHANGES_REQUESTED", onCommit: 0 }, { by: "bob" }],
    checks: { build: "success", "circleci/lint": "failure" },
    statuses: { deploy: "pending" },
  });
  scenario.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function get<T = { message?: string }>(path: string, token: string | undefined = scenario.token) {
  const response = await fetch(path.startsWith("http") ? path : `${scenario.sim.url}${path}`, {
    headers: { accept: "application/vnd.github+json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

it("pages a compare by Link header, oldest first, and meters every call", async () => {
  const first = await get<Compare>(`${repo}/compare/deploy-1...main?per_page=2`);
  expect(first.status).toBe(200);
  expect(first.body.total_commits).toBe(6);
  expect(first.body.commits.map((c) => c.commit.message.trim())).toEqual(["Change 0", "Change 1"]);
  const next = /<([^>]+)>;\s*rel="next"/.exec(first.headers.get("link") ?? "")?.[1];
  expect(next).toContain("page=2");
  const second = await get<Compare>(next!);
  expect(second.body.commits[0]?.commit.message.trim()).toBe("Change 2");
  expect(Number(second.headers.get("x-ratelimit-remaining"))).toBe(Number(first.headers.get("x-ratelimit-remaining")) - 1);
  expect(second.headers.get("x-ratelimit-reset")).toMatch(/^\d+$/);
});

it("serves a PR, its reviews, commits, combined status and check runs for its head", async () => {
  const built = scenario.pull(pull);
  const pulls = await get<Array<{ number: number }>>(`${repo}/commits/${built.mergeSha}/pulls`);
  expect(pulls.body.map((p) => p.number)).toEqual([pull]);
  const pr = await get<unknown>(`${repo}/pulls/${pull}`);
  expect(pr.body).toMatchObject({
    number: pull,
    merged: true,
    head: { sha: built.headSha },
    base: { ref: "main" },
    user: { login: "alice" },
  });
  const reviews = await get<Array<{ state: string; commit_id: string }>>(`${repo}/pulls/${pull}/reviews`);
  expect(reviews.body.map((r) => [r.state, r.commit_id])).toEqual([
    ["CHANGES_REQUESTED", built.commitShas[0]],
    ["APPROVED", built.headSha],
  ]);
  const commits = await get<Array<{ sha: string }>>(`${repo}/pulls/${pull}/commits`);
  expect(commits.body.map((c) => c.sha)).toEqual(built.commitShas);
  const status = await get<{ statuses: Array<{ context: string; state: string }> }>(`${repo}/commits/${built.headSha}/status`);
  expect(status.body.statuses.map((s) => [s.context, s.state])).toEqual([["deploy", "pending"]]);
  const runs = await get<{ total_count: number; check_runs: Array<{ name: string; conclusion: string; app: { slug: string } }> }>(
    `${repo}/commits/${built.headSha}/check-runs`,
  );
  expect(runs.body.total_count).toBe(2);
  expect(runs.body.check_runs.map((r) => [r.app.slug, r.name, r.conclusion])).toEqual(
    expect.arrayContaining([
      ["github-actions", "build", "success"],
      ["circleci", "lint", "failure"],
    ]),
  );
});

it("answers GitHub's errors: 401 for a bad token, 404 for an unknown PR, 403 with retry-after for the secondary limit", async () => {
  const denied = await get(`${repo}/pulls/${pull}`, "ghp_wrong");
  expect(denied).toMatchObject({ status: 401, body: { message: "Bad credentials" } });
  expect((await get(`${repo}/pulls/9999`)).status).toBe(404);
  scenario.sim.secondaryRateLimit(1, 7, 403);
  const limited = await get(`${repo}/pulls/${pull}`);
  expect(limited.status).toBe(403);
  expect(limited.headers.get("retry-after")).toBe("7");
  expect(limited.body.message).toMatch(/secondary rate limit/i);
  expect((await get(`${repo}/pulls/${pull}`)).status).toBe(200);
});
