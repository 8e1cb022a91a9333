import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { type ChangeRecord, runCheck } from "../src/index";
import { runSockCheck, USERS } from "./fixture";

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
      ".sock-check.yml": `provider: gitlab
gitlab:
  project: acme/shop
  apiUrl: ${gitlab.url}/api/v4
  token: env:SOCK_CHECK_TEST_GITLAB_TOKEN
  timeoutMs: 3000
checks:
  required: [build]
ticket:
  pattern: "SHOP-\\\\d+"
`,
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
  mark.foreign = s.directPush({ message: "SHOP-1 a little extra", author: "mallory", files: { "src/backdoor.ts": "open();\n" } });
  mark.another = s.directPush({ message: "SHOP-2 and one more", author: "mallory", files: { "src/door.ts": "open();\n" } });
  s.tag("a1");
  s.build();
  mrs = new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" });
  mirrorScenarioToGitLab(s, mrs);
  // GitLab lists mallory's direct pushes under the reviewed MRs.
  mrs.associate(s.sha(mark.foreign), mr.merged).associate(s.sha(mark.another), mr.squashed);
  // A CI checkout of main alone: the squashed MR's own commits are not in it.
  mainOnly = mkdtempSync(join(tmpdir(), "sock-check-gitlab-main-only-"));
  execFileSync("git", ["clone", "-q", "--no-local", "--single-branch", "--branch", "main", s.dir, mainOnly], { env: gitEnv() });
});

afterAll(async () => {
  await gitlab?.stop();
  scenario?.cleanup();
  if (mainOnly) rmSync(mainOnly, { recursive: true, force: true });
});

const env = () => ({ ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token, NO_COLOR: "1" });

async function check(dir = scenario.dir) {
  return (await runCheck({ dir, from: "a0", to: "a1", env: env(), toolVersion: "test" })).report;
}

function bySha(records: readonly ChangeRecord[], sha: string): ChangeRecord {
  const record = records.find((r) => r.commit.sha === sha);
  if (!record) throw new Error(`no record for ${sha}`);
  return record;
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
          message: `pushed to the branch without a merged pull request (GitLab lists it under MR !${iid}, but it is none of that MR's commits, its merge or squash commit or a rebased copy of one)`,
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

  it("blocks the deploy from the CLI, naming the MR GitLab listed", async () => {
    const run = await runSockCheck(["--from", "a0", "--to", "a1"], { cwd: scenario.dir, env: env() });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`GitLab lists it under MR !${mr.merged}, but it is none of that MR's commits`);
  });
});
