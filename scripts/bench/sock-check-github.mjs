// sock-check's cost against the GitHub simulator (GraphQL executed against GitHub's published schema) for a
// release of 300 commits from 100 PRs (policy "commits: all"; each PR two commits and a merge commit, a check
// run, a commit status and an approval; an approval rule needs a member of a 100-member organisation, which the
// token's account belongs to, so it sees private members too: one page of 100). Target: ≤ 10 requests.
import { tsImport } from "tsx/esm/api";
import { printTable } from "./lib.mjs";

export const GITHUB_TARGET = 10;

export async function githubCost() {
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
    const policy = `github:\n  repository: acme/shop\n  apiUrl: ${scenario.sim.url}\n  token: env:BENCH_GITHUB_TOKEN\ncommits: all\nchecks:\n  required: [build]\nticket:\n  pattern: "SHOP-\\\\d+"\napprovalRules:\n  - name: members\n    requires: { organizations: [acme] }\n`;
    // The token acts as ci-bot, a member: carol's private membership is visible to it.
    const staff = Array.from({ length: 98 }, (_, i) => `staff-${i}`);
    scenario.sim.setOrg("acme", ["ci-bot", ...staff, "carol"]);
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
        statuses: { "ci/preview": "success" },
      });
    }
    scenario.build();
    const start = performance.now();
    const { report } = await sock.runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      env: { ...process.env, BENCH_GITHUB_TOKEN: scenario.token },
      toolVersion: "bench",
    });
    const ms = performance.now() - start;
    if (report.summary.commits !== 300 || report.summary.compliant !== 300) {
      throw new Error(`unexpected GitHub result: ${JSON.stringify(report.summary)}`);
    }
    console.log(`\nsock-check cost: ${report.summary.commits} commits from ${report.summary.pulls} PRs against the GitHub simulator`);
    printTable([
      ["provider", "requests", "target", "wall ms", "verdict"],
      [
        "GitHub (batched GraphQL)",
        report.requests,
        `<= ${GITHUB_TARGET}`,
        ms.toFixed(0),
        report.requests <= GITHUB_TARGET ? "within target" : "OVER TARGET",
      ],
    ]);
    if (report.requests > GITHUB_TARGET) process.exitCode = 1;
  } finally {
    await scenario.sim.stop();
    scenario.cleanup();
  }
}
