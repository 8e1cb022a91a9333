import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { runCheck, verdictError } from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

const HOUR = 3_600_000;
let scenario: GitHubScenario;
let pr: Record<string, number>;
let directPushMark: number;

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url), "README.md": "shop\n" } });
  s.tag("deploy-1");
  pr = {};
  pr.compliant = s.pullRequest({ title: "SHOP-1 Add the cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  pr.bot = s.pullRequest({ title: "Bump lodash from 4.17.20 to 4.17.21", author: "dependabot[bot]", checks: { build: "success" } });
  s.tag("deploy-2");
  pr.self = s.pullRequest({
    title: "SHOP-2 Pricing rules",
    author: "alice",
    commits: [{ message: "Pricing rules", author: "alice", coAuthors: ["carol"] }],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  pr.stale = s.pullRequest({
    title: "SHOP-3 Checkout flow",
    author: "alice",
    commits: [
      { message: "Checkout flow", author: "alice" },
      { message: "Pushed after the approval", author: "alice" },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  pr.failedCheck = s.pullRequest({
    title: "SHOP-4 Faster search",
    author: "bob",
    reviews: [{ by: "alice" }],
    checks: { build: "failure" },
  });
  pr.noTicket = s.pullRequest({
    title: "Tidy the footer",
    author: "bob",
    branch: "tidy-footer",
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  directPushMark = s.directPush({ message: "Fix typo on prod", author: "dave" });
  pr.changesRequested = s.pullRequest({
    title: "SHOP-8 New shipping rates",
    author: "carol",
    reviews: [{ by: "alice" }, { by: "dave", state: "CHANGES_REQUESTED" }],
    checks: { build: "success" },
  });
  s.tag("deploy-3");
  pr.emergencyDone = s.pullRequest({
    title: "SHOP-9 Stop the outage",
    author: "dave",
    labels: ["emergency"],
    checks: { build: "success" },
    reviews: [{ by: "bob", afterMergeMs: 2 * HOUR }],
  });
  s.tag("deploy-4");
  pr.emergencyOverdue = s.pullRequest({
    title: "SHOP-10 Hotfix payments",
    author: "dave",
    labels: ["emergency"],
    checks: { build: "success" },
  });
  s.tag("deploy-5");
  pr.emergencyPending = s.pullRequest({
    title: "SHOP-11 Hotfix login",
    author: "carol",
    labels: ["emergency"],
    checks: { build: "success" },
    mergedAt: new Date(Date.now() - HOUR),
  });
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function check(from: string, to = "HEAD") {
  return runCheck({ dir: scenario.dir, from, to, env: envFor(scenario), toolVersion: "test" });
}

describe("sock-check against a real repository and the GitHub simulator", () => {
  it("passes a range where every change was reviewed, checked and ticketed, and exempts listed bots", async () => {
    const { report } = await check("deploy-1", "deploy-2");
    expect(report.summary).toMatchObject({ commits: 2, pulls: 2, compliant: 1, exempt: 1, noncompliant: 0, unverified: 0 });
    const ok = byPull(report.records, pr.compliant!);
    expect(ok.verdict).toBe("compliant");
    expect(ok.approvals).toEqual([expect.objectContaining({ reviewer: "bob", state: "APPROVED", on_head: true, counts: true })]);
    expect(ok.tickets).toEqual(["SHOP-1"]);
    expect(ok.checks).toEqual([expect.objectContaining({ name: "build", state: "success", required: true })]);
    expect(ok.pr).toMatchObject({ author: "alice", merged_by: "alice", head_sha: scenario.pull(pr.compliant!).headSha });
    expect(ok.commit.sha).toBe(scenario.pull(pr.compliant!).mergeSha);
    const bot = byPull(report.records, pr.bot!);
    expect(bot.verdict).toBe("exempt");
    // GraphQL names the author "dependabot" (a Bot); the policy's "dependabot[bot]" still matches, and says so.
    expect(bot.pr?.author).toBe("dependabot");
    expect(bot.exemption).toBe("bot:dependabot[bot] (exemptions.bots matched the PR author dependabot, a bot account)");
  });

  it("finds each kind of violation and names the rule", async () => {
    const { report } = await check("deploy-2", "deploy-3");
    const rules = (n: number) => byPull(report.records, n).violations.map((v) => v.rule);
    expect(rules(pr.self!)).toEqual(["self-approval"]);
    expect(byPull(report.records, pr.self!).violations[0]?.message).toContain("approval by carol does not count");
    expect(rules(pr.stale!)).toEqual(["stale-approval"]);
    expect(rules(pr.failedCheck!)).toEqual(["check-failed"]);
    expect(rules(pr.noTicket!)).toEqual(["ticket"]);
    expect(rules(pr.changesRequested!)).toEqual(["changes-requested"]);
    expect(byPull(report.records, pr.changesRequested!).violations[0]?.message).toContain("dave");
    const direct = report.records.find((r) => r.commit.sha === scenario.sha(directPushMark));
    expect(direct).toMatchObject({ pr: null, verdict: "noncompliant", violations: [expect.objectContaining({ rule: "direct-push" })] });
    expect(report.summary).toMatchObject({ commits: 6, noncompliant: 6, compliant: 0 });
  });

  it("lets an emergency change through flagged, and clears it once reviewed after the merge", async () => {
    const done = byPull((await check("deploy-3", "deploy-4")).report.records, pr.emergencyDone!);
    expect(done.verdict).toBe("compliant");
    expect(done.emergency).toMatchObject({ status: "done", retro_reviewer: "bob" });

    const pending = byPull((await check("deploy-5")).report.records, pr.emergencyPending!);
    expect(pending.verdict).toBe("emergency");
    expect(pending.emergency?.status).toBe("pending");
    expect(Date.parse(pending.emergency!.due_at) - Date.parse(pending.pr!.merged_at!)).toBe(72 * HOUR);
  });

  it("blocks an emergency change whose retroactive review is overdue", async () => {
    const overdue = byPull((await check("deploy-4", "deploy-5")).report.records, pr.emergencyOverdue!);
    expect(overdue.verdict).toBe("noncompliant");
    expect(overdue.violations.map((v) => v.rule)).toEqual(["retro-overdue"]);
  });

  it("exits 0 on a compliant range and 1 on a noncompliant one, with the digest on stdout", async () => {
    const ok = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("✓ #1 SHOP-1 Add the cart");
    expect(ok.stdout).toMatch(/OK to deploy/);

    const bad = await runSockCheck(["--from", "deploy-2", "--to", "deploy-3"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("✗ direct-push: pushed to the branch without a merged pull request");
    expect(bad.stdout).toMatch(/6 noncompliant, 0 unverified — BLOCKED/);
    expect(bad.stderr.trim()).toMatch(/^sock-check: deploy blocked: 6 noncompliant commits in [0-9a-f]{7}\.\.[0-9a-f]{7}$/);
    expect(bad.stderr).not.toContain(scenario.token);
  });

  it("writes JSON evidence to --output while the digest goes to the terminal", async () => {
    const out = join(scenario.dir, "..", `evidence-${process.pid}.json`);
    const run = await runSockCheck(["--from", "deploy-2", "--to", "deploy-3", "--format", "json", "--output", out], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("BLOCKED");
    const evidence = JSON.parse(readFileSync(out, "utf8"));
    expect(evidence).toMatchObject({ schema: "opsguard.sock-check/v1", repo: "acme/shop", summary: { commits: 6 } });
    expect(evidence.records[0]).toHaveProperty("commit.sha");
    expect(evidence.records[0]).toHaveProperty("generated_at");
    expect(evidence.records[0]).toHaveProperty("tool_version");
  });

  it("reports retro status with `retro` and fails when one is overdue", async () => {
    const overdue = await runSockCheck(["retro", "--from", "deploy-4", "--to", "deploy-5"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(overdue.code).toBe(1);
    expect(overdue.stdout).toContain("retroactive review OVERDUE");
    const done = await runSockCheck(["retro", "--from", "deploy-3", "--to", "deploy-4"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(done.code).toBe(0);
    expect(done.stdout).toContain("reviewed by bob");
  });

  it("runs `retro` over what merged recently, so emergency changes that already shipped past the deploy tag are still followed up", async () => {
    const recent = await runSockCheck(["retro"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(recent.code).toBe(1);
    expect(recent.stdout).toContain(`#${pr.emergencyDone} SHOP-9 Stop the outage: reviewed by bob`);
    expect(recent.stdout).toContain(`#${pr.emergencyOverdue} SHOP-10 Hotfix payments: retroactive review OVERDUE`);
    expect(recent.stdout).toContain(`#${pr.emergencyPending} SHOP-11 Hotfix login: needs retroactive review by`);

    const lastDay = await runSockCheck(["retro", "--since", "1d"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(lastDay.code).toBe(0);
    expect(lastDay.stdout).toContain("SHOP-11 Hotfix login: needs retroactive review by");
    expect(lastDay.stdout).not.toContain("SHOP-10");

    for (const since of ["a week", "0d"]) {
      const bad = await runSockCheck(["retro", "--since", since], { cwd: scenario.dir, env: envFor(scenario) });
      expect(bad.code).toBe(64);
      expect(bad.stderr.trim()).toBe(`sock-check: --since ${since}: expected a duration such as 30d, 72h or 90m`);
    }

    // --json beside another --format asks for two outputs: refused, where check printed JSON and retro its text
    for (const args of [
      ["--json", "--format", "csv"],
      ["retro", "--json", "--format", "html"],
    ]) {
      const both = await runSockCheck(args, { cwd: scenario.dir, env: envFor(scenario) });
      expect(both.code).toBe(64);
      expect(both.stderr.trim()).toMatch(/^sock-check: --json and --format (csv|html) ask for two outputs \(give one of them\)$/);
      expect(both.stdout).toBe("");
    }
  });

  it("fails closed when GitHub cannot answer, and says which commits were not verified", async () => {
    scenario.sim.fault({ status: 502, body: { message: "Server Error" } }, { path: "/graphql", times: 1000 });
    try {
      const blocked = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(blocked.code).toBe(69);
      expect(blocked.stderr).toMatch(/deploy blocked: 2 commits could not be verified \([0-9a-f]{7}, [0-9a-f]{7}\)/);
      expect(blocked.stdout).toContain("BLOCKED");

      const allowed = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2", "--allow-unverified", "--format", "json"], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(allowed.code).toBe(0);
      expect(JSON.parse(allowed.stdout).summary).toMatchObject({ unverified: 2, compliant: 0 });
      expect(allowed.stderr).toContain("could not be verified and are let through");
    } finally {
      scenario.sim.clearFaults();
    }
  });

  it("blocks on a refused token even with --allow-unverified: an expired CI token must not turn the gate off", async () => {
    // GitHub's answer to a bad token: 401 {"message": "Bad credentials"} (docs.github.com/rest/overview/troubleshooting-the-rest-api#bad-credentials)
    scenario.sim.fault({ status: 401, body: { message: "Bad credentials" } }, { path: "/graphql", times: 1000 });
    try {
      const refused = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2", "--allow-unverified"], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(refused.code).toBe(77);
      expect(refused.stderr).toContain(
        "deploy blocked (--allow-unverified does not cover a refused token): 2 commits could not be verified",
      );
      expect(refused.stderr).not.toContain("let through");
      expect(refused.stdout).toContain("BLOCKED");
      // Without the flag, the hint says what fixes it and does not offer the flag that does not.
      const plain = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(plain.code).toBe(77);
      expect(plain.stderr).toContain(
        "(GitHub does not accept the token (expired, revoked or mistyped?): set github.token to a valid one and re-run)",
      );
      expect(plain.stderr).not.toContain("--allow-unverified");
    } finally {
      scenario.sim.clearFaults();
    }
  });

  it("names the reason when GitHub rejects the query or cannot see the repository, instead of blaming the commits", async () => {
    scenario.sim.fault(
      { status: 200, body: { errors: [{ message: "Something went wrong while executing your query." }] } },
      {
        path: "/graphql",
        times: 1,
      },
    );
    const broken = await check("deploy-1", "deploy-2");
    expect(broken.report.summary).toMatchObject({ unverified: 2 });
    expect(broken.report.records[0]?.violations[0]?.message).toBe(
      "could not be verified: GitHub GraphQL failed: Something went wrong while executing your query.",
    );

    // A policy that names no repository, so --repo may (one that differs from the policy's is refused).
    const unnamed = join(scenario.dir, "..", `unnamed-policy-${process.pid}.yml`);
    writeFileSync(unnamed, policyYaml(scenario.sim.url).replace("  repository: acme/shop\n", ""));
    const hidden = await runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      to: "deploy-2",
      policyPath: unnamed,
      repository: "acme/nope",
      env: envFor(scenario),
      toolVersion: "test",
    });
    expect(hidden.report.records[0]?.violations[0]?.message).toBe(
      "could not be verified: repository acme/nope was not found, or this token cannot see it: Could not resolve to a Repository with the name 'acme/nope'.",
    );
    rmSync(unnamed);
    // Not found and not visible are one answer from GitHub: 77, as on GitLab (repository-not-found.test.ts).
    expect(verdictError(hidden, false)?.exitCode).toBe(77);
  });

  it("rides out GitHub's secondary rate limit (403 and 429 with retry-after)", async () => {
    scenario.sim.secondaryRateLimit(1, 1, 403);
    const before = scenario.sim.requests.length;
    const first = await check("deploy-1", "deploy-2");
    expect(first.report.summary.compliant).toBe(1);
    expect(scenario.sim.requests.slice(before).map((r) => r.status)).toEqual([403, 200, 200]);
    scenario.sim.secondaryRateLimit(1, 1, 429);
    const second = await check("deploy-1", "deploy-2");
    expect(second.report.summary.unverified).toBe(0);
  });

  it("waits for the primary rate-limit window when GitHub says it is spent, and gives up when the reset is too far", async () => {
    scenario.sim.setRateLimitRemaining(scenario.token, 1, 2);
    const before = scenario.sim.requests.length;
    const waited = await check("deploy-1", "deploy-2");
    expect(waited.report.summary.compliant).toBe(1);
    expect(scenario.sim.requests.slice(before).map((r) => r.status)).toEqual([200, 200]);

    scenario.sim.setRateLimitRemaining(scenario.token, 0, 3600);
    try {
      const result = await check("deploy-1", "deploy-2");
      const { report, facts } = result;
      expect(report.summary.unverified).toBe(2);
      expect(facts.failure).toMatchObject({ exitCode: 75 });
      expect(facts.failure?.message).toMatch(/rate limit .*wait \d+ s/);
      expect(verdictError(result, false)?.exitCode).toBe(75);
    } finally {
      scenario.sim.setRateLimitRemaining(scenario.token, 5000, 3600);
    }
  });

  it("turns a bad token, a bad ref and a bad policy into one line and their exit codes", async () => {
    const badToken = await runSockCheck(["--from", "deploy-1", "--to", "deploy-2"], {
      cwd: scenario.dir,
      env: { ...envFor(scenario), SOCK_CHECK_TEST_GITHUB_TOKEN: "ghp_wrongwrongwrong" },
    });
    expect(badToken.code).toBe(77);
    expect(badToken.stderr).toContain("Bad credentials");
    expect(badToken.stderr).not.toContain("ghp_wrongwrongwrong");

    const noToken = await runSockCheck(["--from", "deploy-1"], {
      cwd: scenario.dir,
      env: { ...envFor(scenario), SOCK_CHECK_TEST_GITHUB_TOKEN: "" },
    });
    expect(noToken.code).toBe(78);
    expect(noToken.stderr.trim().split("\n")).toHaveLength(1);

    const badRef = await runSockCheck(["--from", "no-such-tag"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(badRef.code).toBe(64);
    expect(badRef.stderr).toContain("--from no-such-tag: no such commit");

    const policy = join(scenario.dir, "..", `bad-policy-${process.pid}.yml`);
    writeFileSync(policy, "approvals:\n  required: many\nunknownKey: 1\n");
    const badPolicy = await runSockCheck(["--config", policy, "--from", "deploy-1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(badPolicy.code).toBe(78);
    expect(badPolicy.stderr).toMatch(/invalid policy in .*: (approvals\.required|\(top level\))/);
    expect(badPolicy.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("a deployed commit without a policy (the first deploy under sock-check)", () => {
  let first: Awaited<ReturnType<typeof startScenario>>;

  beforeAll(async () => {
    first = await startScenario();
    first.directPush({ message: "Initial import", author: "alice", files: { "README.md": "shop\n" } });
    first.tag("deploy-1");
    // The candidate brings the policy it would be judged by (and where the token would go: T33).
    first.directPush({ message: "SHOP-1 Add the gate", author: "carol", files: { ".sock-check.yml": policyYaml(first.sim.url) } });
    first.build();
  });

  afterAll(async () => {
    await first?.sim.stop();
    first?.cleanup();
  });

  it("refuses the candidate's policy with one line and exit 78, sending the token nowhere; -c names one", async () => {
    const refused = await runSockCheck(["--from", "deploy-1"], { cwd: first.dir, env: envFor(first) });
    expect(refused.code).toBe(78);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain("no .sock-check.yml in the deployed commit");
    expect(refused.stderr).toContain("pass -c FILE with a policy you reviewed");
    expect(first.sim.requests).toHaveLength(0);

    const policy = join(first.dir, "..", `first-policy-${process.pid}.yml`);
    writeFileSync(policy, policyYaml(first.sim.url));
    const named = await runSockCheck(["-c", policy, "--from", "deploy-1"], { cwd: first.dir, env: envFor(first) });
    expect(named.code).toBe(1);
    expect(named.stdout).toContain("direct-push");
  });
});
