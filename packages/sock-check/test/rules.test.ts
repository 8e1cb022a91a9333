import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { SLACK_SIM_TOKEN, SlackSim } from "../../lab/src/sim/slack";
import {
  graphqlUrlFor,
  pathMatcher,
  pathPatternProblem,
  projectFromRemote,
  renderCsv,
  renderMarkdown,
  repositoryFromRemote,
  runCheck,
  shaFromText,
} from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

let scenario: GitHubScenario;
let versionServer: Server;
const pr: Record<string, number> = {};

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  s.sim.setTeam("acme", "sre", ["dave"]);
  const rules = `pathRules:\n  - paths: ["infra/**"]\n    teams: [acme/sre]\n`;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url, rules) } });
  s.tag("deploy-1");
  pr.reapproved = s.pullRequest({
    title: "SHOP-20 Reviewed again after the last push",
    author: "alice",
    commits: [
      { message: "First go", author: "alice" },
      { message: "Address review", author: "alice" },
    ],
    reviews: [{ by: "bob", state: "CHANGES_REQUESTED", onCommit: 0 }, { by: "bob" }],
    checks: { build: "success" },
  });
  pr.infraByTeam = s.pullRequest({
    title: "SHOP-21 Bigger database",
    author: "alice",
    commits: [{ message: "Resize", author: "alice", files: { "infra/db.tf": "size = 2\n" } }],
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  pr.infraNoTeam = s.pullRequest({
    title: "SHOP-22 Open the firewall",
    author: "alice",
    commits: [{ message: "Open 22", author: "alice", files: { "infra/fw.tf": "open = true\n" } }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  pr.relax = s.pullRequest({
    title: "SHOP-23 Relax the policy, unreviewed",
    author: "carol",
    commits: [
      {
        message: "No approvals needed",
        author: "carol",
        files: { ".sock-check.yml": policyYaml(s.sim.url, "approvals:\n  required: 0\n").replace(/approvals:\n {2}required: 1\n/, "") },
      },
    ],
    checks: { build: "success" },
  });
  pr.injection = s.pullRequest({
    title: "=cmd|' /C calc'!A0 SHOP-24 [click](https://evil.example) @here",
    author: "bob",
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  s.tag("deploy-2");
  pr.sandbox = s.pullRequest({
    title: "SHOP-25 Reviewed into a sandbox branch, then pushed to main",
    author: "bob",
    base: "sandbox",
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  s.tag("deploy-3");
  s.build();
  versionServer = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ service: "shop", sha: s.sha(1) }));
  });
  await new Promise<void>((resolve) => versionServer.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  versionServer?.close();
  await scenario?.sim.stop();
  scenario?.cleanup();
});

describe("policy rules", () => {
  it("applies the deployed policy, so a change cannot relax the rules it is judged by", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-1", to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    // Evidence names the deployed commit by its full SHA.
    expect(report.policy_source).toBe(`${scenario.sha(1)}:.sock-check.yml`);
    expect(byPull(report.records, pr.relax!).violations.map((v) => v.rule)).toEqual(["approvals"]);
  });

  it("accepts a reviewer who requested changes and then approved the final head", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-1", to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    const record = byPull(report.records, pr.reapproved!);
    expect(record.verdict).toBe("compliant");
    expect(record.approvals.map((a) => [a.reviewer, a.state, a.counts])).toEqual([
      ["bob", "CHANGES_REQUESTED", false],
      ["bob", "APPROVED", true],
    ]);
  });

  it("counts only PRs into the deploy branch for what lands on it: a PR merged into another branch and pushed on is a direct push", async () => {
    const sandbox = scenario.pull(pr.sandbox!);
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-2", to: "deploy-3", env: envFor(scenario), toolVersion: "test" });
    const pushed = report.records.find((r) => r.commit.sha === sandbox.mergeSha);
    expect(pushed).toMatchObject({ pr: null, verdict: "noncompliant" });
    expect(pushed?.violations).toEqual([
      {
        rule: "direct-push",
        message: `pushed to the branch without a merged pull request (PR #${pr.sandbox} was merged into sandbox, not main)`,
      },
    ]);

    const policyPath = join(scenario.dir, "..", `sandbox-${process.pid}.yml`);
    writeFileSync(
      policyPath,
      policyYaml(scenario.sim.url, "commits: all\n").replace('tagPattern: "deploy-*"', 'tagPattern: "deploy-*"\n  branch: [main, "sand*"]'),
    );
    const asSandbox = await runCheck({
      dir: scenario.dir,
      from: "deploy-2",
      to: "deploy-3",
      policyPath,
      env: envFor(scenario),
      toolVersion: "test",
    });
    expect(asSandbox.report.records.map((r) => [r.pr?.number, r.verdict])).toEqual([
      [pr.sandbox, "compliant"],
      [pr.sandbox, "compliant"],
    ]);
  });

  it("requires an approval from the owning team for changes under a path rule", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-1", to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    expect(byPull(report.records, pr.infraByTeam!).verdict).toBe("compliant");
    const blocked = byPull(report.records, pr.infraNoTeam!);
    expect(blocked.violations).toEqual([
      { rule: "path-rule", message: `changes infra/fw.tf in PR #${pr.infraNoTeam} need an approval from @acme/sre` },
    ]);
  });

  it("defaults --from to the last deploy tag, and reads the deployed SHA from a file or URL", async () => {
    const byTag = await runCheck({ dir: scenario.dir, to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    // The candidate carries deploy-2 (what ships now), so the last deploy is deploy-1.
    expect(byTag.report.range.from).toBe(scenario.sha(1));
    expect(byTag.report.summary.commits).toBe(5);
    const file = join(scenario.dir, "..", `deployed-${process.pid}.txt`);
    writeFileSync(file, `${scenario.sha(1)}\n`);
    const byFile = await runCheck({ dir: scenario.dir, fromFile: file, to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    expect(byFile.report.range.from).toBe(scenario.sha(1));
    const url = `http://127.0.0.1:${(versionServer.address() as AddressInfo).port}/version`;
    const byUrl = await runCheck({ dir: scenario.dir, fromUrl: url, to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    expect(byUrl.report.range.from).toBe(scenario.sha(1));
    expect(byUrl.report.summary.commits).toBe(5);
  });

  it("keeps untrusted PR titles inert in Markdown and CSV", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "deploy-1", to: "deploy-2", env: envFor(scenario), toolVersion: "test" });
    const markdown = renderMarkdown(report, { blocked: true });
    const row = markdown.split("\n").find((line) => line.includes(`#${pr.injection}]`))!;
    expect(row).toContain("\\[click\\]\\(https://evil.example\\)");
    expect(row).toContain("\\@here");
    expect(row.split(/(?<!\\)\|/).length).toBe(9);
    const csv = renderCsv(report);
    const lines = csv.trimEnd().split("\r\n");
    expect(lines).toHaveLength(1 + report.records.length);
    expect(lines[0]?.startsWith("repo,range_from,range_to,commit_sha")).toBe(true);
    const injected = report.records.find((r) => r.pr?.number === pr.injection)!;
    expect(csv).not.toMatch(/,=cmd/);
    expect(injected.pr?.title.startsWith("=cmd")).toBe(true);
  });

  it("checks signed commits when the policy asks for them", async () => {
    const policy = join(scenario.dir, "..", `signed-${process.pid}.yml`);
    writeFileSync(policy, policyYaml(scenario.sim.url, "signedCommits: true\n"));
    const built = scenario.pull(pr.reapproved!);
    for (const sha of [...built.commitShas, built.mergeSha]) scenario.sim.setVerified(sha);
    const { report } = await runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      to: "deploy-2",
      policyPath: policy,
      env: envFor(scenario),
      toolVersion: "test",
    });
    expect(byPull(report.records, pr.reapproved!).verdict).toBe("compliant");
    const unsigned = byPull(report.records, pr.infraByTeam!);
    expect(unsigned.violations.map((v) => v.rule)).toContain("unsigned");
  });

  it("writes CSV evidence with --output and a Markdown summary on stdout when asked", async () => {
    const out = join(scenario.dir, "..", `evidence-${process.pid}.csv`);
    const run = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2", "--format", "csv", "-o", out], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("BLOCKED");
    const md = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2", "--format", "markdown"], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(md.stdout.startsWith("### sock-check: ❌ deploy blocked")).toBe(true);
  });
});

describe("--post-slack", () => {
  it("refuses --post-slack without slack.token before printing anything, with the configuration exit code", async () => {
    const run = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2", "--post-slack", "C0DEPLOYS"], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(run.code).toBe(78);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n").at(-1)).toBe(
      "sock-check: --post-slack needs slack.token in the policy (add slack: {token: env:SLACK_TOKEN} to the policy, or drop --post-slack)",
    );
  });

  it("posts the verdict and the noncompliant changes, escaped, without changing the exit code", async () => {
    const slack = new SlackSim();
    await slack.start();
    try {
      slack.addChannel({ id: "C0DEPLOYS", name: "deploys", is_member: true });
      const policy = join(scenario.dir, "..", `slack-${process.pid}.yml`);
      writeFileSync(policy, policyYaml(scenario.sim.url, `slack:\n  token: env:SOCK_CHECK_TEST_SLACK\n  baseUrl: ${slack.apiUrl}\n`));
      const run = await runSockCheck(["--config", policy, "--from", "deploy-1", "--to", "deploy-2", "--post-slack", "C0DEPLOYS"], {
        cwd: scenario.dir,
        env: { ...envFor(scenario), SOCK_CHECK_TEST_SLACK: SLACK_SIM_TOKEN },
      });
      expect(run.code).toBe(1);
      const [message] = slack.messagesTo("C0DEPLOYS");
      expect(message?.text).toContain(":x: deploy blocked");
      expect(message?.text).toContain(`#${pr.relax} SHOP-23 Relax the policy, unreviewed: needs 1 independent approval, has 0`);
      expect(message?.text).not.toContain("<https://evil.example>");
      expect(run.stderr).not.toContain(SLACK_SIM_TOKEN);
    } finally {
      await slack.stop();
    }
  });
});

describe("helpers", () => {
  it("documents in --help the policy keys and that the policy is never searched for in rc files", async () => {
    const help = await runSockCheck(["--help"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(help.code).toBe(0);
    expect(help.stdout).not.toContain(".sock-checkrc");
    expect(help.stdout).toMatch(/-c, --config <file>\s+policy file outside the repository/);
    for (const key of ["deploy.branch", "gitlab.project", "identities", "exemptions.emergency", "maxRateLimitWaitMs"]) {
      expect(help.stdout).toContain(key);
    }
    const retro = await runSockCheck(["retro", "--help"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(retro.stdout).toMatch(/--since <duration>[\s\S]*default: "30d"/);
  });

  it("matches path globs like .gitignore users expect: braces, classes, extglobs, any depth without a slash", () => {
    const matches = (glob: string, path: string) => pathMatcher([glob])(path);
    expect(matches("infra/**", "infra/a/b.tf")).toBe(true);
    expect(matches("infra/*.tf", "infra/a/b.tf")).toBe(false);
    expect(matches("**/*.sql", "db/migrations/001.sql")).toBe(true);
    expect(matches("**/*.sql", "001.sql")).toBe(true);
    expect(matches("docs/", "docs/readme.md")).toBe(true);
    expect(matches("infra/**/*.{tf,hcl}", "infra/prod/main.hcl")).toBe(true);
    expect(matches("infra/**/*.{tf,hcl}", "infra/prod/main.yaml")).toBe(false);
    expect(matches("config/[ab].yml", "config/b.yml")).toBe(true);
    expect(matches("*.@(pem|key)", "deploy/certs/site.key")).toBe(true);
    expect(matches("Dockerfile", "services/api/Dockerfile")).toBe(true);
    expect(matches("/Dockerfile", "services/api/Dockerfile")).toBe(false);
    expect(matches("secrets", "app/secrets/db.env")).toBe(true);
    expect(matches(".github/workflows/*", ".github/workflows/ci.yml")).toBe(true);
  });

  it("names what is wrong with a path pattern it cannot read", () => {
    expect(pathPatternProblem("infra/{tf,hcl")).toMatch(/Missing closing: "}"/);
    expect(pathPatternProblem("config/[ab.yml")).toMatch(/Missing closing: "]"/);
    expect(pathPatternProblem("!docs/**")).toMatch(/negation/);
    expect(pathPatternProblem("../outside")).toMatch(/relative to the repository root/);
    expect(pathPatternProblem("infra/**/*.{tf,hcl}")).toBeUndefined();
  });

  it("finds the GraphQL endpoint and the repository the way github.com, Enterprise Server and GitLab lay them out", () => {
    expect(graphqlUrlFor("https://api.github.com")).toBe("https://api.github.com/graphql");
    expect(graphqlUrlFor("https://ghe.example.com/api/v3")).toBe("https://ghe.example.com/api/graphql");
    expect(repositoryFromRemote("git@github.com:acme/shop.git")).toBe("acme/shop");
    expect(repositoryFromRemote("https://github.com/acme/shop")).toBe("acme/shop");
    expect(projectFromRemote("git@gitlab.example.com:platform/payments/api.git")).toBe("platform/payments/api");
    expect(projectFromRemote("https://gitlab.example.com/platform/api.git")).toBe("platform/api");
    expect(projectFromRemote("/srv/git/api.git")).toBeUndefined();
  });

  it("reads a deployed SHA from text or JSON and refuses anything else", () => {
    expect(shaFromText("0123456789abcdef0123456789abcdef01234567\n", "x")).toBe("0123456789abcdef0123456789abcdef01234567");
    expect(shaFromText('{"revision":"ABCDEF1"}', "x")).toBe("abcdef1");
    expect(() => shaFromText("<html>maintenance</html>", "--from-url https://x")).toThrow(/does not contain exactly one commit SHA/);
  });
});

describe("a range that edits the policy", () => {
  it("refuses a deploy tag found with a tag pattern the range itself changed, and judges a broken candidate policy by the deployed one", async () => {
    const s = await startScenario();
    try {
      s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
      s.tag("deploy-1");
      const retag = s.pullRequest({
        title: "SHOP-30 Count every tag as a deploy",
        author: "alice",
        commits: [
          { message: "Any tag", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url).replace('"deploy-*"', '"*"') } },
        ],
        reviews: [{ by: "bob" }],
        checks: { build: "success" },
      });
      s.tag("nightly");
      s.pullRequest({
        title: "SHOP-31 Break the policy file",
        author: "alice",
        commits: [{ message: "Oops", author: "alice", files: { ".sock-check.yml": "approvals: [\n" } }],
        reviews: [{ by: "bob" }],
        checks: { build: "success" },
      });
      s.build();
      await expect(runCheck({ dir: s.dir, to: s.pull(retag).mergeSha, env: envFor(s), toolVersion: "test" })).rejects.toMatchObject({
        exitCode: 78,
        message: expect.stringContaining("deploy.tagPattern changes in this range"),
      });
      const { report } = await runCheck({ dir: s.dir, from: "deploy-1", env: envFor(s), toolVersion: "test" });
      expect(report.summary).toMatchObject({ commits: 2, compliant: 2 });
    } finally {
      await s.sim.stop();
      s.cleanup();
    }
  });
});
