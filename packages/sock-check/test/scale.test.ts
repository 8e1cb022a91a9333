import { afterAll, beforeAll, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { naiveRestRequests, runCheck } from "../src/index";
import { envFor, policyYaml, startScenario } from "./fixture";

/** The cost side of the benchmark, as a test: a 1,000-commit release from 300 PRs needs a couple of dozen requests. */

let scenario: GitHubScenario;
const REVIEWERS = ["bob", "carol", "dave"];

beforeAll(async () => {
  scenario = await startScenario();
  scenario.directPush({
    message: "Initial import",
    author: "alice",
    files: { ".sock-check.yml": policyYaml(scenario.sim.url, "commits: all\n") },
  });
  scenario.tag("deploy-1");
  // One PR longer than a GraphQL page (100 commits) exercises the follow-up paging.
  scenario.pullRequest({
    title: "SHOP-1000 Big refactor",
    author: "alice",
    commits: Array.from({ length: 130 }, (_, i) => ({ message: `Refactor step ${i + 1}`, author: "alice" })),
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  // 130 + 1 merge, then 271 PRs of 2 commits + merge and 28 of 1 + merge: 1,000 commits from 300 PRs.
  for (let i = 2; i <= 300; i++) {
    const n = i <= 272 ? 2 : 1;
    scenario.pullRequest({
      title: `SHOP-${i} Change ${i}`,
      author: "alice",
      commits: Array.from({ length: n }, (_, k) => ({ message: `Change ${i} part ${k + 1}`, author: "alice" })),
      reviews: [{ by: REVIEWERS[i % 3]! }],
      checks: { build: "success" },
    });
  }
  scenario.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

it("checks 1,000 commits with a few batched GraphQL queries instead of thousands of REST calls", async () => {
  const before = scenario.sim.requests.length;
  const { report, facts } = await runCheck({ dir: scenario.dir, from: "deploy-1", env: envFor(scenario), toolVersion: "test" });
  const made = scenario.sim.requests.slice(before);
  expect(report.summary.commits).toBe(1000);
  expect(report.summary.unverified).toBe(0);
  expect(report.summary.noncompliant).toBe(0);
  expect(report.records.find((r) => r.pr?.number === 1)?.verdict).toBe("compliant");
  expect(facts.pulls.get(1)?.commits).toHaveLength(130);
  expect(made.every((r) => r.path === "/graphql")).toBe(true);
  expect(report.requests).toBe(made.length);
  // 10 commit batches of 100, ceil(PRs / 25) PR batches, one extra page for the 130-commit PR.
  const pulls = facts.pulls.size;
  expect(pulls).toBe(300);
  expect(made.length).toBe(10 + Math.ceil(pulls / 25) + 1);
  expect(naiveRestRequests(1000, facts.pulls.values())).toBeGreaterThan(50 * made.length);
  // What it asserts is the number of requests, not the time: 1,000 commits through the simulator take ~20 s alone
  // on 2 cores, over the suite's 30 s default while the other files run beside it.
}, 180_000);
