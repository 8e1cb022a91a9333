import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { GitHubScenario } from "../sim/github-scenario";
import type { DemoSection } from "./types";

const BUNDLE = new URL("../../../sock-check/dist/sock-check.cjs", import.meta.url).pathname;
const TOKEN_ENV = "DEMO_GITHUB_TOKEN";

export const sockCheckDemo: DemoSection = {
  title: "sock-check: gate a deploy on change management (reviewed, checked, ticketed) against the GitHub simulator",
  async run(_lab, out) {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs sock-check" first`);
    const scenario = new GitHubScenario({
      users: {
        alice: { name: "Alice Archer", email: "alice@acme.test" },
        bob: { name: "Bob Baker", email: "bob@acme.test" },
        carol: { name: "Carol Chen", email: "carol@acme.test" },
        "dependabot[bot]": { name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com", bot: true },
      },
    });
    await scenario.sim.start();
    try {
      const policy = [
        `github: {repository: acme/shop, apiUrl: "${scenario.sim.url}", token: "env:${TOKEN_ENV}"}`,
        "checks: {required: [build]}",
        'ticket: {pattern: "SHOP-\\\\d+"}',
        'exemptions: {bots: ["dependabot[bot]"], emergency: {label: emergency, reviewWithin: 72h}}',
        "",
      ].join("\n");
      scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
      scenario.tag("deploy-41");
      scenario.pullRequest({ title: "SHOP-101 Add gift cards", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
      scenario.pullRequest({ title: "Bump express from 4.19.1 to 4.19.2", author: "dependabot[bot]", checks: { build: "success" } });
      scenario.pullRequest({
        title: "SHOP-102 Rework checkout",
        author: "bob",
        commits: [
          { message: "Rework checkout", author: "bob", coAuthors: ["carol"] },
          { message: "Fix tests", author: "bob" },
        ],
        reviews: [{ by: "carol" }],
        checks: { build: "failure" },
      });
      scenario.directPush({ message: "Quick fix on prod", author: "carol" });
      scenario.pullRequest({
        title: "SHOP-103 Stop the payment outage",
        author: "alice",
        labels: ["emergency"],
        checks: { build: "success" },
        mergedAt: new Date(),
      });
      const dir = scenario.build();
      out("repo: deploy-41 is live; since then 3 PRs, a dependabot bump and a direct push to main");
      const r = await sockCheck(dir, { ...process.env, [TOKEN_ENV]: scenario.token, NO_COLOR: "1" });
      out(`$ sock-check   (exit ${r.code}: ${r.code === 1 ? "deploy blocked" : "unexpected"})`);
      for (const line of r.stdout.trimEnd().split("\n")) out(`  ${line}`);
      for (const line of r.stderr.trimEnd().split("\n").filter(Boolean)) out(`  stderr: ${line}`);
      if (r.code !== 1) throw new Error(`sock-check exited ${r.code}, expected 1 (noncompliant)`);
      out(`GitHub API requests used: ${scenario.sim.requests.length}`);
    } finally {
      await scenario.sim.stop();
      scenario.cleanup();
    }
  },
};

function sockCheck(cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BUNDLE], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
