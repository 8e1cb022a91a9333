import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/index";
import { bySha, envFor, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * Which merged PR brought a commit (tester finding 14): GitHub's association is trusted only for a PR's own
 * commits, its merge commit, and patch-identical copies of its commits (a rebase merge). Real histories built
 * with git; the lab's GitHub associates rebased copies with their PR as GitHub does.
 */

let scenario: GitHubScenario;
const pr: Record<string, number> = {};
const mark: Record<string, number> = {};
let shallowCopy: string;

beforeAll(async () => {
  scenario = new GitHubScenario({ users: { ...USERS, mallory: { name: "Mallory", email: "mallory@acme.test" } } });
  await scenario.sim.start();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("a0");
  pr.rebased = s.pullRequest({
    title: "SHOP-1 Rebased",
    author: "alice",
    rebase: true,
    commits: [
      { message: "Model", author: "alice", files: { "src/model.ts": "export const model = 1;\n" } },
      { message: "View", author: "alice", files: { "src/view.ts": "export const view = 1;\n" } },
      { message: "Wire up", author: "alice", files: { "src/app.ts": "import './model';\n" } },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  pr.squashed = s.pullRequest({
    title: "SHOP-2 Squashed",
    author: "alice",
    squash: true,
    commits: [
      { message: "Try", author: "alice" },
      { message: "Fix", author: "alice" },
    ],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  pr.merged = s.pullRequest({ title: "SHOP-3 Merged", author: "bob", reviews: [{ by: "carol" }], checks: { build: "success" } });
  mark.foreign = s.directPush({ message: "SHOP-3 a little extra", author: "mallory", files: { "src/backdoor.ts": "open();\n" } });
  // Reviewed, then merged by hand with a commit of mallory's on top of its head: a clean merge, pushed (T32).
  pr.sneaked = s.pullRequest({
    title: "SHOP-4 Sneaked",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
    mergedBy: "mallory",
    mergeExtra: [{ message: "SHOP-4 one more thing", author: "mallory", files: { "src/evil.ts": "open();\n" } }],
  });
  s.tag("a1");
  s.build();
  // GitHub lists mallory's direct push under the reviewed PR #3 (the association the tester met).
  s.sim.associate(s.sha(mark.foreign), pr.merged);
  // A CI checkout of main alone: the PR branches (and so the rebased PR's original commits) are not in it.
  shallowCopy = mkdtempSync(join(tmpdir(), "sock-check-main-only-"));
  execFileSync("git", ["clone", "-q", "--no-local", "--single-branch", "--branch", "main", scenario.dir, shallowCopy], { env: gitEnv() });
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
  if (shallowCopy) rmSync(shallowCopy, { recursive: true, force: true });
});

async function check(dir = scenario.dir) {
  return (await runCheck({ dir, from: "a0", to: "a1", env: envFor(scenario), toolVersion: "test" })).report;
}

describe("the PR a commit arrived through", () => {
  it("accepts every copy a rebase merge wrote, the squash commit and the merge commit", async () => {
    const report = await check();
    const rebased = scenario.sim.pulls.get(pr.rebased!)?.rebasedCommits ?? [];
    expect(rebased).toHaveLength(3);
    for (const sha of rebased) {
      expect(bySha(report.records, sha)).toMatchObject({ verdict: "compliant", pr: { number: pr.rebased } });
    }
    expect(bySha(report.records, scenario.pull(pr.squashed!).mergeSha)).toMatchObject({
      verdict: "compliant",
      pr: { number: pr.squashed },
    });
    expect(bySha(report.records, scenario.pull(pr.merged!).mergeSha)).toMatchObject({ verdict: "compliant", pr: { number: pr.merged } });
  });

  it("does not let a merged PR vouch for a commit that is not its own, whatever GitHub lists", async () => {
    const record = bySha((await check()).records, scenario.sha(mark.foreign!));
    expect(record.verdict).toBe("noncompliant");
    expect(record.pr).toBeNull();
    expect(record.violations).toEqual([
      {
        rule: "direct-push",
        message: `pushed to the branch without a merged pull request (GitHub lists it under PR #${pr.merged}, but it is none of that PR's commits, its merge commit or a rebased copy of one)`,
      },
    ]);
  });

  it("leaves a rebased copy unverified when the PR's commits are not in the checkout, and says how to fetch them", async () => {
    const report = await check(shallowCopy);
    const [first, second, last] = scenario.sim.pulls.get(pr.rebased!)?.rebasedCommits ?? [];
    for (const sha of [first!, second!]) {
      expect(bySha(report.records, sha)).toMatchObject({
        verdict: "unverified",
        violations: [
          {
            rule: "unverified",
            message: expect.stringContaining(
              `the PR's commits are not in this checkout to tell a rebased copy (run git fetch origin refs/pull/${pr.rebased}/head)`,
            ),
          },
        ],
      });
    }
    // The last copy is the PR's merge commit, as GitHub reports it: its content is compared with the PR's head, which
    // is not here either (GitHub's word alone passed it, whatever it held: T31).
    expect(bySha(report.records, last!)).toMatchObject({
      verdict: "unverified",
      violations: [{ rule: "unverified", message: expect.stringContaining(`(run git fetch origin refs/pull/${pr.rebased}/head)`) }],
    });
    // Fetching the PR's head, as the message says, settles it.
    execFileSync("git", ["fetch", "-q", scenario.dir, `refs/heads/${scenario.pull(pr.rebased!).branch}`], {
      cwd: shallowCopy,
      env: gitEnv(),
    });
    const fetched = await check(shallowCopy);
    for (const sha of [first!, second!, last!]) expect(bySha(fetched.records, sha).verdict).toBe("compliant");
  });

  it("does not let a PR vouch for a merge commit that merges more than its head, though the merge is clean", async () => {
    const built = scenario.pull(pr.sneaked!);
    const parents = execFileSync("git", ["rev-list", "--no-walk", "--parents", built.mergeSha], { cwd: scenario.dir, encoding: "utf8" })
      .trim()
      .split(" ");
    expect(parents).toHaveLength(3);
    expect(parents[2]).not.toBe(built.headSha);
    const record = bySha((await check()).records, built.mergeSha);
    expect(record).toMatchObject({ verdict: "noncompliant", pr: null });
    expect(record.violations).toEqual([
      {
        rule: "direct-push",
        message: `pushed to the branch without a merged pull request (it is the merge commit of PR #${pr.sneaked}, but it merges ${parents[2]!.slice(0, 7)}, not the PR's head ${built.headSha.slice(0, 7)}: what it brings in is not what was reviewed)`,
      },
    ]);
  });

  it("does not take a base-branch commit a fast-forwarded PR merged in as checked (first-parent mode)", async () => {
    // mallory pushes a hotfix straight to main; alice's PR merges main in ("update branch") and lands as a
    // fast-forward: main's first-parent line now runs through the PR's commits, the hotfix only behind its merge (T33).
    const as = (login: "alice" | "mallory") => {
      const { name, email } = login === "alice" ? USERS.alice! : { name: "Mallory", email: "mallory@acme.test" };
      return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: email };
    };
    const git = (args: string[], index?: string, input?: string, by: "alice" | "mallory" = "alice") =>
      execFileSync("git", args, {
        cwd: scenario.dir,
        input,
        encoding: "utf8",
        env: { ...gitEnv(), ...as(by), ...(index ? { GIT_INDEX_FILE: index } : {}) },
      }).trim();
    const index = join(mkdtempSync(join(tmpdir(), "sock-check-ff-index-")), "index");
    const treeWith = (base: string, files: Record<string, string>) => {
      git(["read-tree", base], index);
      for (const [path, text] of Object.entries(files)) {
        const blob = git(["hash-object", "-w", "--stdin"], undefined, text);
        git(["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`], index);
      }
      return git(["write-tree"], index);
    };
    const tip = git(["rev-parse", "a1"]);
    const feature = git(["commit-tree", treeWith(tip, { "src/feature.ts": "f\n" }), "-p", tip, "-m", "SHOP-5 Feature"]);
    const hotfix = git(
      ["commit-tree", treeWith(tip, { "src/hotfix.ts": "open();\n" }), "-p", tip, "-m", "hotfix"],
      undefined,
      undefined,
      "mallory",
    );
    const update = git([
      "commit-tree",
      treeWith(tip, { "src/feature.ts": "f\n", "src/hotfix.ts": "open();\n" }),
      "-p",
      feature,
      "-p",
      hotfix,
      "-m",
      "Merge branch 'main' into shop-5",
    ]);
    git(["tag", "a2", update]);
    scenario.sim.pushGitRepository(scenario.dir);
    const at = (minutes: number) => new Date(Date.now() - 3_600_000 + minutes * 60_000).toISOString();
    const number = 500;
    scenario.sim.addPullRequest({
      number,
      title: "SHOP-5 Feature",
      body: "",
      user: "alice",
      headRef: "shop-5",
      headSha: update,
      baseRef: "main",
      commits: [feature, update],
      createdAt: at(0),
      merged: true,
      mergedAt: at(30),
      mergedBy: "alice",
      mergeCommitSha: update,
      labels: [],
    });
    scenario.sim.addReview(number, { user: "bob", state: "APPROVED", commitId: update, submittedAt: at(20) });
    scenario.sim.addCheckRun({ headSha: update, name: "build", app: "github-actions", conclusion: "success", completedAt: at(10) });
    const { report } = await runCheck({ dir: scenario.dir, from: "a1", to: "a2", env: envFor(scenario), toolVersion: "test" });
    expect(report.records.map((r) => r.commit.sha)).toEqual([feature, update]);
    expect(bySha(report.records, feature).verdict).toBe("compliant");
    expect(bySha(report.records, update)).toMatchObject({
      verdict: "noncompliant",
      pr: null,
      violations: [
        {
          rule: "direct-push",
          message: `pushed to the branch without a merged pull request (it is a commit of PR #${number} that merges 1 commit(s) off the deploy line (${hotfix.slice(0, 7)}), which first-parent mode does not check one by one (the base branch merged into the PR, which then landed as a fast-forward): set commits: all in the policy to check them)`,
        },
      ],
    });
    // Not a provider failing: --allow-unverified does not let it through.
    const run = await runSockCheck(["--from", "a1", "--to", "a2", "--allow-unverified"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("set commits: all in the policy to check them");
  });

  it("blocks the deploy from the CLI, naming the PR GitHub listed", async () => {
    const run = await runSockCheck(["--from", "a0", "--to", "a1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`GitHub lists it under PR #${pr.merged}, but it is none of that PR's commits`);
  });
});
