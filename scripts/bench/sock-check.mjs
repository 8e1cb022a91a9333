#!/usr/bin/env node
// sock-check's cost against the GitHub simulator for a release of 1,000 commits from 300 PRs (policy
// "commits: all"): API requests and wall time of sock-check's batched GraphQL collection, against a
// naive REST collector run in the same process on the same data (compare pages, a PR lookup per
// commit, then per PR: the PR, its reviews, commits, combined status and check runs, each paged).
import { tsImport } from "tsx/esm/api";
import { printTable } from "./lib.mjs";

const root = new URL("../../", import.meta.url).pathname;
const lab = await tsImport(`${root}packages/lab/src/index.ts`, import.meta.url);
const sock = await tsImport(`${root}packages/sock-check/src/index.ts`, import.meta.url);

const users = {
  alice: { name: "Alice Archer", email: "alice@acme.test" },
  bob: { name: "Bob Baker", email: "bob@acme.test" },
  carol: { name: "Carol Chen", email: "carol@acme.test" },
};
const scenario = new lab.GitHubScenario({ users });
await scenario.sim.start();
try {
  const policy = `github:\n  repository: acme/shop\n  apiUrl: ${scenario.sim.url}\n  token: env:BENCH_GITHUB_TOKEN\ncommits: all\nchecks:\n  required: [build]\nticket:\n  pattern: "SHOP-\\\\d+"\n`;
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
  scenario.tag("deploy-1");
  // 300 PRs: 100 of 3 commits and 200 of 2, each plus its merge commit = 1,000 commits.
  for (let i = 1; i <= 300; i++) {
    const n = i <= 100 ? 3 : 2;
    const author = i % 2 ? "alice" : "bob";
    scenario.pullRequest({
      title: `SHOP-${i} Change ${i}`,
      author,
      commits: Array.from({ length: n }, (_, k) => ({ message: `Change ${i} part ${k + 1}`, author })),
      reviews: [{ by: "carol" }],
      checks: { build: "success", lint: "success" },
      statuses: { "ci/deploy-preview": "success" },
    });
  }
  scenario.build();
  const env = { ...process.env, BENCH_GITHUB_TOKEN: scenario.token };

  let start = performance.now();
  const { report, facts } = await sock.runCheck({ dir: scenario.dir, from: "deploy-1", env, toolVersion: "bench" });
  const graphqlMs = performance.now() - start;
  if (report.summary.commits !== 1000 || report.summary.compliant !== 1000) {
    throw new Error(`unexpected result: ${JSON.stringify(report.summary)}`);
  }

  const before = scenario.sim.requests.length;
  start = performance.now();
  await naiveRest(scenario.sim.url, scenario.token, "deploy-1", "main");
  const restMs = performance.now() - start;
  const restRequests = scenario.sim.requests.length - before;
  const estimate = sock.naiveRestRequests(report.summary.commits, facts.pulls.values());

  console.log(`sock-check cost: ${report.summary.commits} commits from ${report.summary.pulls} PRs against the GitHub simulator`);
  printTable([
    ["collector", "requests", "wall ms", "ratio"],
    ["sock-check (GraphQL batches)", report.requests, graphqlMs.toFixed(0), "1.00"],
    ["naive REST (measured)", restRequests, restMs.toFixed(0), (restMs / graphqlMs).toFixed(2)],
    ["naive REST (sock-check's estimate)", estimate, "-", "-"],
  ]);
  console.log(`requests: ${(restRequests / report.requests).toFixed(0)}x fewer than naive REST`);
  // The simulator answers in microseconds; GitHub takes ~100 ms a round trip, which is where request counts turn into minutes.
  const rtt = 100;
  console.log(
    `at ${rtt} ms per round trip: sock-check ~${((graphqlMs + report.requests * rtt) / 1000).toFixed(1)} s, naive REST ~${((restMs + restRequests * rtt) / 1000).toFixed(1)} s`,
  );
} finally {
  await scenario.sim.stop();
  scenario.cleanup();
}

// GitHub: 300 commits from 100 PRs, its request count next to its target.
await (await import("./sock-check-github.mjs")).githubCost();

async function naiveRest(baseUrl, token, base, head) {
  const headers = { authorization: `Bearer ${token}`, accept: "application/vnd.github+json" };
  const getAll = async (path) => {
    const items = [];
    let url = `${baseUrl}${path}${path.includes("?") ? "&" : "?"}per_page=100`;
    while (url) {
      const response = await fetch(url, { headers });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      const body = await response.json();
      items.push(...(Array.isArray(body) ? body : (body.commits ?? body.check_runs ?? [])));
      url = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
    }
    return items;
  };
  const commits = await getAll(`/repos/acme/shop/compare/${base}...${head}`);
  const pulls = new Set();
  for (const c of commits) for (const p of await getAll(`/repos/acme/shop/commits/${c.sha}/pulls`)) pulls.add(p.number);
  for (const n of pulls) {
    const pull = await (await fetch(`${baseUrl}/repos/acme/shop/pulls/${n}`, { headers })).json();
    await getAll(`/repos/acme/shop/pulls/${n}/reviews`);
    await getAll(`/repos/acme/shop/pulls/${n}/commits`);
    await fetch(`${baseUrl}/repos/acme/shop/commits/${pull.head.sha}/status`, { headers }).then((r) => r.json());
    await getAll(`/repos/acme/shop/commits/${pull.head.sha}/check-runs`);
  }
}

// GitLab: 300 commits from 100 merge requests, its request count next to its target.
await (await import("./sock-check-gitlab.mjs")).gitlabCost();
