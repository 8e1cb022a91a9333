// sock-check's cost against the GitLab simulator for a release of 300 commits from 100 merge requests
// (policy "commits: all"; each MR two commits and a merge commit, one CI job, one approval), with an
// ordinary (non-administrator) token and people who keep their e-mail private. Target: ≤ 40 requests.
import { tsImport } from "tsx/esm/api";
import { printTable } from "./lib.mjs";

export const GITLAB_TARGET = 40;

export async function gitlabCost() {
  const root = new URL("../../", import.meta.url).pathname;
  const lab = await tsImport(`${root}packages/lab/src/index.ts`, import.meta.url);
  const sock = await tsImport(`${root}packages/sock-check/src/index.ts`, import.meta.url);
  const users = {
    alice: { name: "Alice Archer", email: "alice@acme.test" },
    bob: { name: "Bob Baker", email: "bob@acme.test" },
    carol: { name: "Carol Chen", email: "carol@acme.test" },
  };
  const gitlab = new lab.GitLabSim({ admin: false });
  for (const [username, user] of Object.entries(users)) gitlab.addUser({ username, ...user, publicEmail: null });
  await gitlab.start();
  const scenario = new lab.GitHubScenario({ users });
  try {
    const policy = `provider: gitlab\ngitlab:\n  project: acme/shop\n  apiUrl: ${gitlab.url}/api/v4\n  token: env:BENCH_GITLAB_TOKEN\ncommits: all\nchecks:\n  required: [build]\nticket:\n  pattern: "SHOP-\\\\d+"\n`;
    scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
    scenario.tag("deploy-1");
    for (let i = 1; i <= 100; i++) {
      const author = i % 2 ? "alice" : "bob";
      scenario.pullRequest({
        title: `SHOP-${i} Change ${i}`,
        author,
        commits: [1, 2].map((k) => ({ message: `Change ${i} part ${k}`, author })),
        reviews: [{ by: "carol" }],
        checks: { build: "success" },
      });
    }
    scenario.build();
    lab.mirrorScenarioToGitLab(scenario, new lab.GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" }));
    const start = performance.now();
    const { report } = await sock.runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      env: { ...process.env, BENCH_GITLAB_TOKEN: gitlab.token },
      toolVersion: "bench",
    });
    const ms = performance.now() - start;
    if (report.summary.commits !== 300 || report.summary.compliant !== 300) {
      throw new Error(`unexpected GitLab result: ${JSON.stringify(report.summary)}`);
    }
    const byRoute = new Map();
    for (const r of gitlab.requests) {
      const route = r.path.replace(/\/[0-9a-f]{40}/g, "/:sha").replace(/\/merge_requests\/\d+/g, "/merge_requests/:iid");
      byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
    }
    console.log(`\nsock-check cost: ${report.summary.commits} commits from ${report.summary.pulls} MRs against the GitLab simulator`);
    printTable([
      ["provider", "requests", "target", "wall ms", "verdict"],
      [
        "GitLab (REST + GraphQL approvedBy)",
        report.requests,
        `<= ${GITLAB_TARGET}`,
        ms.toFixed(0),
        report.requests <= GITLAB_TARGET ? "within" : "OVER",
      ],
    ]);
    console.log(`GitLab requests by route: ${[...byRoute].map(([route, n]) => `${route} ${n}`).join(", ")}`);
    return report.requests;
  } finally {
    await gitlab.stop();
    scenario.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await gitlabCost();
