import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { runCheck } from "../src/index";
import { bySha, gitlabPolicyYaml, runSockCheck, USERS } from "./fixture";

/**
 * Which merged MR brought a commit, on GitLab as on GitHub (association.test.ts): GitLab's commit → MR lookup is
 * trusted only for the MR's own commits, its merge and squash commits, and patch-identical copies of its commits.
 * Real histories built with git; the lab's GitLab lists a direct push under a reviewed MR, as the tester (T31) saw.
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let mrs: GitLabMergeRequests;
const mr: Record<string, number> = {};
const mark: Record<string, number> = {};
let mainOnly: string;

beforeAll(async () => {
  gitlab = new GitLabSim();
  await gitlab.start();
  scenario = new GitHubScenario({ users: { ...USERS, mallory: { name: "Mallory", email: "mallory@acme.test" } } });
  const s = scenario;
  s.directPush({
    message: "Initial import",
    author: "alice",
    files: {
      ".sock-check.yml": gitlabPolicyYaml(gitlab.url),
    },
  });
  s.tag("a0");
  mr.merged = s.pullRequest({ title: "SHOP-1 Merged", author: "bob", reviews: [{ by: "carol" }], checks: { build: "success" } });
  mr.squashed = s.pullRequest({
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
  // Reviewed, then merged by hand with a commit of mallory's on top of its head: a clean merge, pushed (T32).
  mr.sneaked = s.pullRequest({
    title: "SHOP-3 Sneaked",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
    mergedBy: "mallory",
    mergeExtra: [{ message: "SHOP-3 one more thing", author: "mallory", files: { "src/sneak.ts": "open();\n" } }],
  });
  mark.foreign = s.directPush({ message: "SHOP-1 a little extra", author: "mallory", files: { "src/backdoor.ts": "open();\n" } });
  mark.another = s.directPush({ message: "SHOP-2 and one more", author: "mallory", files: { "src/door.ts": "open();\n" } });
  s.tag("a1");
  s.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(s, mrs);
  // GitLab lists mallory's direct pushes under the reviewed MRs.
  mrs.associate(s.sha(mark.foreign), mr.merged).associate(s.sha(mark.another), mr.squashed);
  squashAndMerge();
  // A CI checkout of main alone: the squashed MR's own commits are not in it.
  mainOnly = mkdtempSync(join(tmpdir(), "sock-check-gitlab-main-only-"));
  execFileSync("git", ["clone", "-q", "--no-local", "--single-branch", "--branch", "main", s.dir, mainOnly], { env: gitEnv() });
});

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
  if (mainOnly) rmSync(mainOnly, { recursive: true, force: true });
});

/**
 * GitLab's merge-commit method with squashing: the MR's commits A, B are squashed into S (on the merge base), and a
 * merge commit M joins S to the target branch; the MR names both, `merge_commit_sha` M and `squash_commit_sha` S
 * (https://docs.gitlab.com/user/project/merge_requests/squash_and_merge/). Written with git, as GitLab writes them.
 */
function squashAndMerge(): void {
  const dir = scenario.dir;
  const base = Date.now() - 3_600_000;
  const git = (args: string[], at: number, input?: string) =>
    execFileSync("git", args, {
      cwd: dir,
      input,
      encoding: "utf8",
      env: {
        ...gitEnv(),
        GIT_AUTHOR_NAME: "Alice Archer",
        GIT_AUTHOR_EMAIL: "alice@acme.test",
        GIT_COMMITTER_NAME: "Alice Archer",
        GIT_COMMITTER_EMAIL: "alice@acme.test",
        GIT_AUTHOR_DATE: new Date(at).toISOString(),
        GIT_COMMITTER_DATE: new Date(at).toISOString(),
      },
    }).trim();
  const main = git(["rev-parse", "main"], base);
  const tree = (files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) {
      const blob = git(["hash-object", "-w", "--stdin"], base, text);
      git(["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`], base);
    }
    return git(["write-tree"], base);
  };
  git(["read-tree", main], base);
  const a = git(["commit-tree", tree({ "src/a.ts": "a\n" }), "-p", main, "-m", "Part one"], base);
  const b = git(["commit-tree", tree({ "src/b.ts": "b\n" }), "-p", a, "-m", "Part two"], base + 60_000);
  const squash = git(["commit-tree", `${b}^{tree}`, "-p", main, "-m", "SHOP-9 Squashed into a merge"], base + 600_000);
  const merge = git(["commit-tree", `${b}^{tree}`, "-p", main, "-p", squash, "-m", "Merge branch 'shop-9' into 'main'"], base + 600_000);
  git(["update-ref", "refs/heads/shop-9", b], base);
  git(["update-ref", "refs/heads/main", merge], base);
  git(["read-tree", "main"], base);
  git(["tag", "a2", merge], base);
  // An "evil merge": MR !91's merge commit holds a file none of its commits has (T31 #4, on GitLab).
  const c = git(["commit-tree", tree({ "src/c.ts": "c\n" }), "-p", merge, "-m", "Part three"], base + 900_000);
  const evil = git(
    ["commit-tree", tree({ "src/evil.ts": "open();\n" }), "-p", merge, "-p", c, "-m", "Merge branch 'shop-10' into 'main'"],
    base + 1_200_000,
  );
  git(["update-ref", "refs/heads/shop-10", c], base);
  git(["update-ref", "refs/heads/main", evil], base);
  git(["read-tree", "main"], base);
  git(["tag", "a3", evil], base);
  // MR !92 merged with squash and a merge commit, its squash commit carrying a file the MR never had (T33).
  const d = git(["commit-tree", tree({ "src/d.ts": "d\n" }), "-p", evil, "-m", "Part four"], base + 1_500_000);
  const fatSquash = git(["commit-tree", tree({ "src/evil2.ts": "open();\n" }), "-p", evil, "-m", "SHOP-11 Squashed"], base + 1_800_000);
  const fatMerge = git(
    ["commit-tree", `${fatSquash}^{tree}`, "-p", evil, "-p", fatSquash, "-m", "Merge branch 'shop-11' into 'main'"],
    base + 1_800_000,
  );
  git(["update-ref", "refs/heads/shop-11", d], base);
  git(["update-ref", "refs/heads/main", fatMerge], base);
  git(["read-tree", "main"], base);
  git(["tag", "a4", fatMerge], base);
  mrs.pushGitRepository(dir);
  mrs.addMergeRequest({
    iid: 90,
    title: "SHOP-9 Squashed into a merge",
    author: "alice",
    sourceBranch: "shop-9",
    commits: [a, b],
    createdAt: new Date(base).toISOString(),
    mergedAt: new Date(base + 600_000).toISOString(),
    mergedBy: "alice",
    mergeCommitSha: merge,
    squashCommitSha: squash,
  });
  mrs.approve(90, "bob", new Date(base + 120_000).toISOString());
  const ran = new Date(base + 180_000).toISOString();
  mrs.addStatus({ sha: b, name: "build", status: "success", createdAt: ran, finishedAt: ran });
  mrs.addMergeRequest({
    iid: 91,
    title: "SHOP-10 Merged with more than its commits",
    author: "alice",
    sourceBranch: "shop-10",
    commits: [c],
    createdAt: new Date(base + 900_000).toISOString(),
    mergedAt: new Date(base + 1_200_000).toISOString(),
    mergedBy: "alice",
    mergeCommitSha: evil,
  });
  mrs.approve(91, "bob", new Date(base + 960_000).toISOString());
  const ranAgain = new Date(base + 1_000_000).toISOString();
  mrs.addStatus({ sha: c, name: "build", status: "success", createdAt: ranAgain, finishedAt: ranAgain });
  mrs.addMergeRequest({
    iid: 92,
    title: "SHOP-11 Squashed with more than its commits",
    author: "alice",
    sourceBranch: "shop-11",
    commits: [d],
    createdAt: new Date(base + 1_500_000).toISOString(),
    mergedAt: new Date(base + 1_800_000).toISOString(),
    mergedBy: "alice",
    mergeCommitSha: fatMerge,
    squashCommitSha: fatSquash,
  });
  mrs.approve(92, "bob", new Date(base + 1_600_000).toISOString());
  const ranLast = new Date(base + 1_650_000).toISOString();
  mrs.addStatus({ sha: d, name: "build", status: "success", createdAt: ranLast, finishedAt: ranLast });
  squashed.merge = merge;
  squashed.squash = squash;
  squashed.evil = evil;
  squashed.fatSquash = fatSquash;
  squashed.fatMerge = fatMerge;
  squashed.d = d;
  squashed.b = b;
}
const squashed = { merge: "", squash: "", evil: "", fatSquash: "", fatMerge: "", d: "", b: "" };

const env = () => ({ ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token, NO_COLOR: "1" });

async function check(dir = scenario.dir) {
  return (await runCheck({ dir, from: "a0", to: "a1", env: env(), toolVersion: "test" })).report;
}

describe("the MR a commit arrived through, on GitLab", () => {
  it("does not let a merged MR vouch for a commit that is not its own, whatever GitLab lists", async () => {
    const report = await check();
    for (const [sha, iid] of [
      [scenario.sha(mark.foreign!), mr.merged!],
      [scenario.sha(mark.another!), mr.squashed!],
    ] as const) {
      const record = bySha(report.records, sha);
      expect(record.verdict).toBe("noncompliant");
      expect(record.pr).toBeNull();
      expect(record.violations).toEqual([
        {
          rule: "direct-push",
          message: `pushed to the branch without a merged merge request (GitLab lists it under MR !${iid}, but it is none of that MR's commits, its merge or squash commit or a rebased copy of one)`,
        },
      ]);
    }
    // The MRs' own commits, merge commit and squash commit still arrive through them.
    expect(bySha(report.records, scenario.pull(mr.merged!).mergeSha)).toMatchObject({ verdict: "compliant", pr: { number: mr.merged } });
    expect(bySha(report.records, scenario.pull(mr.squashed!).mergeSha)).toMatchObject({
      verdict: "compliant",
      pr: { number: mr.squashed },
    });
  });

  it("leaves such a commit unverified when the MR's commits are not in the checkout, and says how to fetch them", async () => {
    const report = await check(mainOnly);
    expect(bySha(report.records, scenario.sha(mark.another!))).toMatchObject({
      verdict: "unverified",
      violations: [
        {
          rule: "unverified",
          message: expect.stringContaining(
            `GitLab lists it under MR !${mr.squashed}, but it is neither one of the MR's commits nor its merge or squash commit, and the MR's commits are not in this checkout to tell a rebased copy (run git fetch origin refs/merge-requests/${mr.squashed}/head)`,
          ),
        },
      ],
    });
    // The merged MR's commits came with its merge: that comparison needs no fetch.
    expect(bySha(report.records, scenario.sha(mark.foreign!)).verdict).toBe("noncompliant");
  });

  it("still takes the squash commit GitLab names beside the merge commit as the MR's own", async () => {
    const policyPath = join(scenario.dir, "..", `gitlab-all-${process.pid}.yml`);
    writeFileSync(
      policyPath,
      `${execFileSync("git", ["show", "a0:.sock-check.yml"], { cwd: scenario.dir, encoding: "utf8" })}commits: all\n`,
    );
    const { report } = await runCheck({ dir: scenario.dir, from: "a1", to: "a2", policyPath, env: env(), toolVersion: "test" });
    expect(report.records.map((r) => [r.commit.sha, r.verdict, r.pr?.number])).toEqual(
      expect.arrayContaining([
        [squashed.squash, "compliant", 90],
        [squashed.merge, "compliant", 90],
      ]),
    );
    expect(report.records).toHaveLength(2);
  });

  it("does not let an MR vouch for its merge commit when that holds changes of its own", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "a2", to: "a3", env: env(), toolVersion: "test" });
    expect(report.records).toEqual([
      expect.objectContaining({
        commit: expect.objectContaining({ sha: squashed.evil }),
        verdict: "noncompliant",
        violations: [
          {
            rule: "direct-push",
            message:
              "pushed to the branch without a merged merge request (it is the merge commit of MR !91, but holds changes of its own that no review saw: its tree is not git's clean merge of its parents)",
          },
        ],
      }),
    ]);
  });

  it("does not let an MR vouch for a merge commit that merges more than its head, though the merge is clean", async () => {
    const built = scenario.pull(mr.sneaked!);
    const second = execFileSync("git", ["rev-parse", `${built.mergeSha}^2`], { cwd: scenario.dir, encoding: "utf8" }).trim();
    expect(second).not.toBe(built.headSha);
    for (const dir of [scenario.dir, mainOnly]) {
      const record = bySha((await check(dir)).records, built.mergeSha);
      expect(record).toMatchObject({ verdict: "noncompliant", pr: null });
      expect(record.violations).toEqual([
        {
          rule: "direct-push",
          message: `pushed to the branch without a merged merge request (it is the merge commit of MR !${mr.sneaked}, but it merges ${second.slice(0, 7)}, not the MR's head ${built.headSha.slice(0, 7)}: what it brings in is not what was reviewed)`,
        },
      ]);
    }
  });

  it("compares the squash commit a merge commit merges with the MR, though first-parent mode lists only the merge", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "a3", to: "a4", env: env(), toolVersion: "test" });
    expect(report.records).toEqual([
      expect.objectContaining({
        commit: expect.objectContaining({ sha: squashed.fatMerge }),
        verdict: "noncompliant",
        violations: [
          {
            rule: "direct-push",
            message: `pushed to the branch without a merged merge request (it is the merge commit of MR !92, but the squash commit it merges, ${squashed.fatSquash.slice(0, 7)}, does not hold the MR's content: its tree is not the MR's head ${squashed.d.slice(0, 7)} merged onto its parent)`,
          },
        ],
      }),
    ]);
    // The honest merge commit with squash (MR !90) still stands for its MR in first-parent mode.
    const honest = await runCheck({ dir: scenario.dir, from: "a1", to: "a2", env: env(), toolVersion: "test" });
    expect(honest.report.records.map((r) => [r.commit.sha, r.verdict, r.pr?.number])).toEqual([[squashed.merge, "compliant", 90]]);
  });

  it("says that GitLab did not name a squashed MR's squash commit when it judges that commit a direct push", async () => {
    // A GitLab whose merge requests carry no squash_commit_sha: only `squash: true` says the MR was squashed.
    mrs.reportsSquashCommitSha = false;
    try {
      const squash = scenario.pull(mr.squashed!).mergeSha;
      const local = bySha((await check()).records, squash);
      expect(local).toMatchObject({ verdict: "noncompliant", pr: null });
      expect(local.violations).toEqual([
        {
          rule: "direct-push",
          message: `pushed to the branch without a merged merge request (it has the tree of the head of MR !${mr.squashed}, as the squash commit of a squashed MR does, but GitLab did not name that squash commit (no squash_commit_sha in its answer), so nothing ties this commit to the MR)`,
        },
      ]);
      // A CI checkout of main alone has no MR head to compare with: the reason names the squashed MRs GitLab listed
      // (!90 and !92 too, merged with a merge commit), says so, and how to fetch the heads.
      const ci = bySha((await check(mainOnly)).records, squash);
      expect(ci.violations).toEqual([
        {
          rule: "direct-push",
          message: `pushed to the branch without a merged merge request (GitLab did not name the squash commit of squashed MR !${mr.squashed}, !90, !92 (no squash_commit_sha in its answer), and the MR heads are not in this checkout to tell whether this is one: git fetch origin '+refs/merge-requests/*/head:refs/remotes/origin/merge-requests/*')`,
        },
      ]);
      // GitLab's merge commit with squash: what it merges is the unnamed squash commit, not the MR's head.
      const { report } = await runCheck({ dir: scenario.dir, from: "a1", to: "a2", env: env(), toolVersion: "test" });
      expect(report.records).toEqual([
        expect.objectContaining({
          commit: expect.objectContaining({ sha: squashed.merge }),
          verdict: "noncompliant",
          violations: [
            {
              rule: "direct-push",
              message: `pushed to the branch without a merged merge request (it is the merge commit of MR !90, which GitLab says was squashed but without naming its squash commit (no squash_commit_sha in its answer), so what it merges, ${squashed.squash.slice(0, 7)}, cannot be taken for that squash commit: it is not the MR's head ${squashed.b.slice(0, 7)})`,
            },
          ],
        }),
      ]);
    } finally {
      mrs.reportsSquashCommitSha = true;
    }
  });

  it("blocks the deploy from the CLI, naming the MR GitLab listed", async () => {
    const run = await runSockCheck(["--from", "a0", "--to", "a1"], { cwd: scenario.dir, env: env() });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`GitLab lists it under MR !${mr.merged}, but it is none of that MR's commits`);
  });
});
