import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabAccess, GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { runCheck } from "../src/index";
import { byMr, gitlabPolicyYaml, runOnGitLab, runSockCheck, USERS } from "./fixture";

/** The same rules against GitLab: merge requests, approval notes tied to pushes, CI statuses. */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
const mr: Record<string, number> = {};
let directPush: number;
let mrs: GitLabMergeRequests;
let policyText: string;

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  scenario = new GitHubScenario({ users: USERS });
  policyText = gitlabPolicyYaml(gitlab.url);
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyText } });
  scenario.tag("deploy-1");
  mr.ok = scenario.pullRequest({ title: "SHOP-1 Add the cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  mr.self = scenario.pullRequest({
    title: "SHOP-2 Pricing",
    author: "alice",
    commits: [{ message: "Pricing", author: "alice", coAuthors: ["carol"] }],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  mr.stale = scenario.pullRequest({
    title: "SHOP-3 Checkout",
    author: "alice",
    commits: [
      { message: "Checkout", author: "alice" },
      { message: "Pushed after the approval", author: "alice" },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  mr.failed = scenario.pullRequest({ title: "SHOP-4 Search", author: "bob", reviews: [{ by: "alice" }], checks: { build: "failure" } });
  mr.infraBySre = scenario.pullRequest({
    title: "SHOP-5 Bigger database",
    author: "alice",
    commits: [{ message: "Resize", author: "alice", files: { "infra/db.tf": "size = 2\n" } }],
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  mr.infraByOther = scenario.pullRequest({
    title: "SHOP-6 Open the firewall",
    author: "alice",
    commits: [{ message: "Open 22", author: "alice", files: { "infra/fw.tf": "open = true\n" } }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  mr.sandbox = scenario.pullRequest({
    title: "SHOP-7 Reviewed into a sandbox branch",
    author: "bob",
    base: "sandbox",
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  mr.squashed = scenario.pullRequest({
    title: "SHOP-8 Squashed wishlist",
    author: "bob",
    commits: [
      { message: "Wishlist", author: "bob" },
      { message: "Wishlist, with carol", author: "bob", coAuthors: ["carol"] },
    ],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
    squash: true,
  });
  mr.scanned = scenario.pullRequest({ title: "SHOP-9 Scanned", author: "bob", reviews: [{ by: "alice" }], checks: { build: "success" } });
  directPush = scenario.directPush({ message: "Fix typo on prod", author: "dave" });
  scenario.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(scenario, mrs);
  gitlab.addGroup("acme/sre", { dave: GitLabAccess.DEVELOPER });
  // An outside scanner reports through the commit status API: a status on the head, not a CI job.
  const scanned = scenario.pull(mr.scanned!);
  mrs.addStatus({
    sha: scanned.headSha,
    name: "security/scan",
    status: "success",
    createdAt: scanned.mergedAt,
    finishedAt: scanned.mergedAt,
    external: true,
  });
});

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
});

it("applies the policy to GitLab merge requests", async () => {
  gitlab.requests.length = 0;
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(report.repo).toBe("acme/shop");
  expect(byMr(report.records, mr.ok!)).toMatchObject({ verdict: "compliant", tickets: ["SHOP-1"] });
  expect(byMr(report.records, mr.ok!).approvals).toEqual([expect.objectContaining({ reviewer: "bob", on_head: true, counts: true })]);
  expect(byMr(report.records, mr.self!).violations.map((v) => v.rule)).toEqual(["self-approval"]);
  expect(byMr(report.records, mr.stale!).violations.map((v) => v.rule)).toEqual(["stale-approval"]);
  expect(byMr(report.records, mr.failed!).violations.map((v) => v.rule)).toEqual(["check-failed"]);
  const direct = report.records.find((r) => r.commit.sha === scenario.sha(directPush));
  expect(direct?.violations.map((v) => v.rule)).toEqual(["direct-push"]);
  // The project's default branch (main) is the deploy branch: an MR merged into sandbox does not count for main.
  const pushedOn = report.records.find((r) => r.commit.sha === scenario.pull(mr.sandbox!).mergeSha);
  expect(pushedOn?.violations[0]?.message).toContain(`MR !${mr.sandbox} was merged into sandbox, not main`);
  expect(gitlab.requests.every((r) => r.headers.authorization === `Bearer ${gitlab.token}`)).toBe(true);
  // Every required check is a CI job here: no commit's statuses are asked.
  expect(gitlab.requests.filter((r) => r.path.endsWith("/statuses"))).toEqual([]);
  // A squashed MR's commits are not in the local history: GitLab's list of them still shows carol as co-author.
  expect(byMr(report.records, mr.squashed!).violations.map((v) => v.rule)).toEqual(["self-approval"]);
});

it("asks a head's commit statuses only when a required check is not among the CI jobs", async () => {
  const policyPath = join(scenario.dir, "..", `gitlab-external-${process.pid}.yml`);
  writeFileSync(policyPath, policyText.replace("required: [build]", "required: [build, security/scan]"));
  gitlab.requests.length = 0;
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    policyPath,
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(byMr(report.records, mr.scanned!).verdict).toBe("compliant");
  expect(byMr(report.records, mr.ok!).violations).toEqual([{ rule: "check-missing", message: expect.stringContaining("security/scan") }]);
  const heads = new Set(scenario.builtPulls().map((p) => p.headSha));
  const statusCalls = gitlab.requests.filter((r) => r.path.endsWith("/statuses"));
  expect(statusCalls.length).toBeGreaterThan(0);
  expect(statusCalls.every((r) => heads.has(r.path.split("/").at(-2) ?? ""))).toBe(true);
});

it("rides out GitLab's rate limit and keeps the verdicts", async () => {
  gitlab.rateLimit(2, { retryAfterSec: 1 });
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(byMr(report.records, mr.ok!).verdict).toBe("compliant");
  expect(report.summary.unverified).toBe(0);
  expect(gitlab.requests.filter((r) => r.status === 429)).toHaveLength(2);
});

it("bounds all of a run's rate-limit waits together by gitlab.maxRateLimitWaitMs, as on GitHub", async () => {
  const policyPath = join(scenario.dir, "..", `gitlab-budget-${process.pid}.yml`);
  writeFileSync(policyPath, policyText.replace("timeoutMs: 3000", "timeoutMs: 3000\n  maxRateLimitWaitMs: 1500"));
  // 1 s each, again and again: the second wait would pass the 1.5 s budget, though each is under it.
  gitlab.rateLimit(100, { retryAfterSec: 1 });
  gitlab.requests.length = 0;
  try {
    const { report, facts } = await runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      policyPath,
      env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
      toolVersion: "test",
    });
    expect(facts.failure).toMatchObject({ exitCode: 75, message: expect.stringContaining("it asks to wait 1 s after waiting 1 s") });
    expect(report.summary.unverified).toBe(report.summary.commits);
    expect(gitlab.requests.filter((r) => r.status === 429)).toHaveLength(2);
  } finally {
    gitlab.rateLimit(0);
  }
});

it("leaves an MR unverified when GitLab's events no longer say when a standing approval was given", async () => {
  const ok = scenario.pull(mr.ok!);
  const approval = mrs.mergeRequests.get(mr.ok!)?.notes.find((n) => n.body === "approved this merge request");
  mrs.eventsKeptSince = new Date(Date.parse(approval?.createdAt ?? "") + 1).toISOString();
  try {
    const { report } = await runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
      toolVersion: "test",
    });
    const record = report.records.find((r) => r.commit.sha === ok.mergeSha);
    expect(record?.verdict).toBe("unverified");
    expect(record?.violations[0]?.message).toContain(`MR !${mr.ok}: GitLab's events do not say when bob approved`);
    expect(byMr(report.records, mr.failed!).violations.map((v) => v.rule)).toEqual(["check-failed"]);
  } finally {
    mrs.eventsKeptSince = null;
  }
});

it("leaves the MRs unverified when GitLab's GraphQL answers with errors", async () => {
  gitlab.fault({ body: { data: null, errors: [{ message: "Internal server error" }] } }, { method: "POST", path: "/api/graphql" });
  const { report, facts } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(facts.failure?.message).toContain("GitLab GraphQL answered with errors: Internal server error");
  expect(report.records.find((r) => r.commit.sha === scenario.pull(mr.ok!).mergeSha)?.verdict).toBe("unverified");
  expect(report.summary.compliant).toBe(0);
});

it("speaks of merge requests, MR !N, in every report of a GitLab project, never of PRs", async () => {
  const sock = (format: string) => runOnGitLab(scenario, gitlab, ["--from", "deploy-1", "--format", format]);
  const digest = (await sock("digest")).stdout;
  expect(digest).toMatch(/^acme\/shop [0-9a-f]{7}\.\.[0-9a-f]{7} \(first-parent\): \d+ commits in \d+ MRs$/m);
  expect(digest).toContain(`!${mr.ok} SHOP-1 Add the cart`);
  expect(digest).toContain(`${scenario.sha(directPush).slice(0, 7)} Fix typo on prod (no MR)`);
  expect(digest).toContain("✗ direct-push: pushed to the branch without a merged merge request");
  expect(digest).toContain(`(MR !${mr.sandbox} was merged into sandbox, not main)`);
  expect(digest).toMatch(/^\d+ commits, \d+ MRs: /m);

  const markdown = (await sock("markdown")).stdout;
  expect(markdown).toContain(`[!${mr.ok}](https://gitlab.example/acme/shop/-/merge_requests/${mr.ok}) SHOP-1 Add the cart`);
  expect(markdown).toContain("Fix typo on prod (no MR)");
  const html = (await sock("html")).stdout;
  expect(html).toContain(`rel="noreferrer">!${mr.ok}</a> SHOP-1 Add the cart`);
  expect(html).toContain("<em>(no MR: direct push)</em>");
  const json = JSON.parse((await sock("json")).stdout);
  expect(json.provider).toBe("gitlab");
  expect(byMr(json.records, mr.self!).approvals).toEqual([
    expect.objectContaining({ reviewer: "carol", note: "reviewer is the MR author, a commit author/co-author or committer" }),
  ]);
  // Not one "PR" in what a GitLab user reads (commit subjects the scenario wrote, "Merge pull request #1", aside).
  for (const text of [digest, markdown, html]) expect(text).not.toMatch(/\bPRs?\b/);
});

it("fails closed when GitLab refuses the token", async () => {
  const { report, facts } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: "glpat-wrong-token-000" },
    toolVersion: "test",
  });
  expect(report.summary.unverified).toBe(report.summary.commits);
  expect(facts.failure?.message).toContain("HTTP 401");
});

it("tells what makes GitLab take a refused token, and never offers --allow-unverified, which does not cover it", async () => {
  const sock = (token: string) =>
    runSockCheck(["--from", "deploy-1"], {
      cwd: scenario.dir,
      env: { ...process.env, NO_COLOR: "1", SOCK_CHECK_TEST_GITLAB_TOKEN: token },
    });
  const invalid = await sock("glpat-wrong-token-000");
  expect(invalid.code).toBe(77);
  expect(invalid.stderr).toContain(
    "(GitLab does not accept the token (expired, revoked or mistyped?): set gitlab.token to a valid access token with the read_api scope and at least the Reporter role on the project and re-run)",
  );
  expect(invalid.stderr).not.toContain("--allow-unverified");

  // GitLab's answer to a token without the scope an endpoint needs (a read_user token on /projects/:id).
  gitlab.fault(
    {
      status: 403,
      body: { error: "insufficient_scope", error_description: "The request requires higher privileges than provided by the access token." },
    },
    { times: 1000 },
  );
  try {
    const short = await sock(gitlab.token);
    expect(short.code).toBe(77);
    expect(short.stderr).toContain(
      "(give the token the read_api scope and at least the Reporter role on the project (a Guest cannot read a private project's code, merge requests or jobs) and re-run)",
    );
    expect(short.stderr).not.toContain("--allow-unverified");
  } finally {
    gitlab.clearFaults();
  }
});

it("checks GitLab commit signatures when the policy asks for signed commits", async () => {
  const policyPath = join(scenario.dir, "..", `gitlab-signed-${process.pid}.yml`);
  writeFileSync(policyPath, `${policyText}signedCommits: true\n`);
  const ok = scenario.pull(mr.ok!);
  for (const sha of [...ok.commitShas, ok.mergeSha]) mrs.signatures.set(sha, "verified");
  const failed = scenario.pull(mr.failed!);
  for (const sha of [...failed.commitShas, failed.mergeSha]) mrs.signatures.set(sha, "unverified_key");
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    policyPath,
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(byMr(report.records, mr.ok!)).toMatchObject({ verdict: "compliant", commit: { signed: true } });
  // A signature GitLab cannot verify counts as none; the MR's commits and its merge commit are each named.
  const failedMr = byMr(report.records, mr.failed!);
  expect(failedMr.violations.map((v) => v.rule)).toEqual(["check-failed", "unsigned", "unsigned"]);
  expect(failedMr.violations.map((v) => v.message).join(" ")).toContain(failed.mergeSha.slice(0, 7));
  expect(byMr(report.records, mr.self!).violations.map((v) => v.rule)).toEqual(["self-approval", "unsigned", "unsigned"]);
  const direct = report.records.find((r) => r.commit.sha === scenario.sha(directPush));
  expect(direct?.violations.map((v) => v.rule)).toEqual(["direct-push", "unsigned"]);
  expect(gitlab.requests.some((r) => r.path.endsWith(`/repository/commits/${ok.mergeSha}/signature`))).toBe(true);
});

it("requires an approval from a member of the GitLab group a path rule names", async () => {
  const policyPath = join(scenario.dir, "..", `gitlab-paths-${process.pid}.yml`);
  writeFileSync(policyPath, `${policyText}pathRules:\n  - paths: ["infra/**"]\n    teams: [acme/sre]\n`);
  const { report } = await runCheck({
    dir: scenario.dir,
    from: "deploy-1",
    policyPath,
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
  expect(byMr(report.records, mr.infraBySre!).verdict).toBe("compliant");
  expect(byMr(report.records, mr.infraByOther!).violations).toEqual([
    { rule: "path-rule", message: `changes infra/fw.tf in MR !${mr.infraByOther} need an approval from @acme/sre` },
  ]);
  expect(byMr(report.records, mr.ok!).verdict).toBe("compliant");
});
