import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/index";
import { byPull, envFor, gitlabPolicyYaml, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * Ways past the gate that the T37 black-box tester found on GitHub: a required check with several runs of one name
 * on the head passing when the one GitHub listed last (or completed last) succeeded (F1), and an emergency change's
 * retroactive review counting as done while a reviewer's "changes requested" still stands (F2), retro --since
 * missing a fast-forward merge by its old commit date (F3), a token sent over plain http (F4), a provider's error
 * text forging lines after the run's last stderr line (F8) and a --config the change under review could write (F9);
 * and, failing closed but wrongly, a deploy tag hidden by older-dated commits after it (F6). Real histories on the
 * lab's GitHub.
 */

const MINUTE = 60_000;
let scenario: GitHubScenario;
const pr: Record<string, number> = {};

beforeAll(async () => {
  scenario = new GitHubScenario({ users: USERS });
  await scenario.sim.start();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("c0");
  const reviewed = { author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" as const } };
  pr.twoWorkflows = s.pullRequest({ title: "SHOP-1 Two workflows, one failed first", ...reviewed });
  pr.stillRunning = s.pullRequest({ title: "SHOP-2 Another workflow still running", ...reviewed });
  pr.rerunPassed = s.pullRequest({ title: "SHOP-3 Failed, re-run passed", ...reviewed });
  pr.rerunRunning = s.pullRequest({ title: "SHOP-4 Passed, re-run running", ...reviewed });
  s.tag("c1");
  const emergency = { author: "alice", labels: ["emergency"], checks: { build: "success" as const } };
  pr.selfObjects = s.pullRequest({
    title: "SHOP-5 Hotfix, approved then changes requested",
    ...emergency,
    reviews: [
      { by: "bob", afterMergeMs: MINUTE },
      { by: "bob", state: "CHANGES_REQUESTED", afterMergeMs: 2 * MINUTE },
    ],
  });
  pr.otherObjects = s.pullRequest({
    title: "SHOP-6 Hotfix, approved, carol requests changes",
    ...emergency,
    reviews: [
      { by: "bob", afterMergeMs: MINUTE },
      { by: "carol", state: "CHANGES_REQUESTED", afterMergeMs: 2 * MINUTE },
    ],
  });
  pr.objectedBefore = s.pullRequest({
    title: "SHOP-7 Hotfix merged over carol's objection",
    ...emergency,
    reviews: [
      { by: "carol", state: "CHANGES_REQUESTED" },
      { by: "bob", afterMergeMs: MINUTE },
    ],
  });
  pr.reviewed = s.pullRequest({ title: "SHOP-8 Hotfix, reviewed after", ...emergency, reviews: [{ by: "bob", afterMergeMs: MINUTE }] });
  pr.reviewedEarlier = s.pullRequest({
    title: "SHOP-9 Hotfix, approved after the merge on its first commit",
    ...emergency,
    commits: [
      { message: "SHOP-9 first try", author: "alice", files: { "hotfix-9.txt": "1" } },
      { message: "SHOP-9 the fix shipped", author: "alice", files: { "hotfix-9.txt": "2" } },
    ],
    reviews: [{ by: "bob", afterMergeMs: MINUTE, onCommit: 0 }],
  });
  s.tag("c2");
  s.build();

  // Each scenario check run is a check suite of its own (a workflow run). The head's passing "build" completed
  // 30 s after the head was made; add the other runs of that name around it.
  const runOf = (n: number) => s.sim.data.checkRuns.find((r) => r.headSha === s.pull(n).headSha && r.name === "build")!;
  const at = (n: number, offsetMs: number) => new Date(Date.parse(runOf(n).completedAt!) + offsetMs).toISOString();
  const run = (n: number, extra: Partial<Parameters<typeof s.sim.addCheckRun>[0]>) =>
    s.sim.addCheckRun({
      headSha: s.pull(n).headSha,
      name: "build",
      app: "github-actions",
      conclusion: "failure",
      completedAt: null,
      ...extra,
    });
  // A second workflow with a job named build failed a minute before the first one's passed.
  run(pr.twoWorkflows!, { completedAt: at(pr.twoWorkflows!, -MINUTE) });
  // A second workflow's build is still running (no conclusion, no completion time).
  run(pr.stillRunning!, { status: "in_progress", conclusion: null });
  // The first attempt failed; re-running the suite added the passing run to the same suite a minute later.
  run(pr.rerunPassed!, { completedAt: at(pr.rerunPassed!, -MINUTE), suiteId: runOf(pr.rerunPassed!).id });
  // The suite passed, then was re-run, and the new attempt is still running.
  run(pr.rerunRunning!, { status: "in_progress", conclusion: null, suiteId: runOf(pr.rerunRunning!).id });
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

async function check(from: string, to: string) {
  return (await runCheck({ dir: scenario.dir, from, to, env: envFor(scenario), toolVersion: "test" })).report;
}

describe("a required check with several runs of one name on the head (F1)", () => {
  it("blocks when any workflow's run of it failed or is still running, whichever completed last", async () => {
    const { records } = await check("c0", "c1");
    const failed = byPull(records, pr.twoWorkflows);
    expect(failed.verdict).toBe("noncompliant");
    expect(failed.violations).toEqual([
      {
        rule: "check-failed",
        message: expect.stringMatching(/^required check build is failure on head \w{7} \(check run by github-actions\)$/),
      },
    ]);
    const running = byPull(records, pr.stillRunning);
    expect(running.verdict).toBe("noncompliant");
    expect(running.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is pending on head/)]);
  });

  it("takes a re-run of the same check suite over the attempt it replaced, and a re-run still running blocks", async () => {
    const { records } = await check("c0", "c1");
    expect(byPull(records, pr.rerunPassed).verdict).toBe("compliant");
    const rerunning = byPull(records, pr.rerunRunning);
    expect(rerunning.verdict).toBe("noncompliant");
    expect(rerunning.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is pending on head/)]);
  });

  it("says so on the command line and exits 1", async () => {
    const run = await runSockCheck(["--from", "c0", "--to", "c1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("3 noncompliant");
  });
});

describe("an emergency change's retroactive review (F2)", () => {
  it("is not done while a reviewer's latest review requests changes, theirs or another's, before or after the merge", async () => {
    const { records } = await check("c1", "c2");
    for (const [number, objector] of [
      [pr.selfObjects, "bob"],
      [pr.otherObjects, "carol"],
      [pr.objectedBefore, "carol"],
    ] as const) {
      const record = byPull(records, number);
      expect(record.verdict).toBe("noncompliant");
      expect(record.emergency).toMatchObject({ status: "overdue", retro_reviewer: null, changes_requested_by: [objector] });
      expect(record.violations.map((v) => [v.rule, v.message])).toEqual([
        ["changes-requested", `changes requested by ${objector} still stand`],
        ["retro-overdue", expect.stringMatching(/^emergency change: retroactive review was due .* and has not happened$/)],
      ]);
    }
    expect(byPull(records, pr.reviewed).emergency).toMatchObject({ status: "done", retro_reviewer: "bob" });
    // an approval given after the merge but attached to an earlier commit (the API's commit_id) reviewed something else
    expect(byPull(records, pr.reviewedEarlier).emergency).toMatchObject({ retro_reviewer: null });
    expect(byPull(records, pr.reviewed).verdict).toBe("compliant");
  });

  it("shows as overdue in retro, naming who requested changes, and retro exits 1", async () => {
    const run = await runSockCheck(["retro", "--from", "c1", "--to", "c2"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    const lines = run.stdout.split("\n");
    expect(lines.filter((l) => l.includes("OVERDUE"))).toEqual([
      expect.stringMatching(new RegExp(`^✗ #${pr.selfObjects} .*OVERDUE since .* \\(changes requested by bob still stand\\)$`)),
      expect.stringMatching(new RegExp(`^✗ #${pr.otherObjects} .*\\(changes requested by carol still stand\\)$`)),
      expect.stringMatching(new RegExp(`^✗ #${pr.objectedBefore} .*\\(changes requested by carol still stand\\)$`)),
      expect.stringMatching(new RegExp(`^✗ #${pr.reviewedEarlier} .*OVERDUE since `)),
    ]);
    expect(run.stdout).toMatch(new RegExp(`✓ #${pr.reviewed} .*: reviewed by bob`));
    expect(run.stdout).toContain("5 emergency changes: 4 overdue");
  });
});

describe("a provider's error text with newlines (F8)", () => {
  it("stays on the one stderr line that ends the run, escaped, so it cannot forge lines after it", async () => {
    const forged = "boom\nsock-check: OK to deploy: 0 noncompliant\n### sock-check: ✅ compliant";
    const lift = scenario.sim.failGraphQLField({ typeName: "Query", fieldName: "repository", message: forged });
    try {
      for (const args of [
        ["--from", "c0", "--to", "c1"],
        ["retro", "--from", "c1", "--to", "c2"],
      ]) {
        const run = await runSockCheck(args, { cwd: scenario.dir, env: envFor(scenario) });
        // The simulator's fault is GitHub's FORBIDDEN on the repository: a refused token (T53 F8).
        expect(run.code).toBe(77);
        const lines = run.stderr.trimEnd().split("\n");
        // The refusal is quoted twice (the failed request's warning, then the verdict), each on its one line, escaped.
        expect(lines.filter((l) => /OK to deploy|compliant/.test(l))).toEqual([
          expect.stringMatching(/^sock-check: warn: .*boom\\nsock-check: OK to deploy: 0 noncompliant\\n### sock-check: ✅ compliant/),
          expect.stringMatching(
            /^sock-check: .* could not be verified .*boom\\nsock-check: OK to deploy: 0 noncompliant\\n### sock-check: ✅ compliant/,
          ),
        ]);
        expect(lines.at(-1)).toMatch(/^sock-check: (deploy blocked|retro incomplete): /);
      }
    } finally {
      lift();
    }
  });
});

describe("retro --since on an emergency change merged by a fast-forward (F3)", () => {
  const DAY = 86_400_000;
  let ff: GitHubScenario;
  let hotfix: number;

  beforeAll(async () => {
    ff = new GitHubScenario({ users: USERS, start: new Date(Date.now() - 90 * DAY) });
    await ff.sim.start();
    ff.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(ff.sim.url) } });
    ff.pullRequest({ title: "SHOP-1 Reviewed long ago", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
    // Written 90 days ago, pushed onto main as it was 5 days ago: its commit keeps its date, GitHub says when it merged.
    hotfix = ff.pullRequest({
      title: "SHOP-2 Stop the outage",
      author: "alice",
      labels: ["emergency"],
      checks: { build: "success" },
      fastForward: true,
      mergedAt: new Date(Date.now() - 5 * DAY),
    });
    ff.build();
  });

  afterAll(async () => {
    await ff?.sim.stop();
    ff?.cleanup();
  });

  it("finds it by its merge time and reports its review overdue (exit 1)", async () => {
    const run = await runSockCheck(["retro"], { cwd: ff.dir, env: envFor(ff) });
    expect(run.stdout).toMatch(new RegExp(`^✗ #${hotfix} SHOP-2 Stop the outage: retroactive review OVERDUE since `, "m"));
    expect(run.stdout).not.toContain("SHOP-1");
    expect(run.code).toBe(1);
  });

  it("leaves it out once its merge is older than --since", async () => {
    const run = await runSockCheck(["retro", "--since", "4d"], { cwd: ff.dir, env: envFor(ff) });
    expect(run.stdout).toMatch(/^no emergency changes in /);
    expect(run.code).toBe(0);
  });
});

describe("retro --since when the commits before the window do not show where it starts (F3)", () => {
  let pushed: GitHubScenario;

  beforeAll(async () => {
    pushed = new GitHubScenario({ users: USERS, start: new Date(Date.now() - 90 * 86_400_000) });
    await pushed.sim.start();
    pushed.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(pushed.sim.url) } });
    // More pushes without a PR than retro looks at before the window: when each reached main, nobody says.
    for (let i = 0; i < 101; i++) pushed.directPush({ message: `Push ${i}`, author: "alice", files: { "n.txt": `${i}\n` } });
    pushed.build();
  });

  afterAll(async () => {
    await pushed?.sim.stop();
    pushed?.cleanup();
  });

  it("fails closed (69), naming --from, instead of reporting no emergency changes", async () => {
    const run = await runSockCheck(["retro"], { cwd: pushed.dir, env: envFor(pushed) });
    expect(run.code).toBe(69);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^sock-check: retro incomplete: none of the 100 first-parent commits dated before the --since window is known to have been merged before it .* \(pass --from with a commit you know was on the branch before \S+\)$/,
      ),
    ]);
  });
});

describe("an API URL over plain http (F4)", () => {
  it("refuses a --from-url user name and password over http to another host (64), never sending them", async () => {
    const requests = scenario.sim.countRequests().total;
    const run = await runSockCheck(["--from-url", "http://deploy:s3cretpass@version.example.test/version", "--to", "c1"], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(run.code).toBe(64);
    expect(run.stderr.trim().split("\n")).toEqual([
      "sock-check: --from-url http://version.example.test/version: a user name or password over http would be sent in clear text (use https (http only to 127.0.0.1, ::1 or localhost))",
    ]);
    expect(run.stderr).not.toContain("s3cretpass");
    expect(scenario.sim.countRequests().total).toBe(requests);
  });

  it("is refused (78, one line) unless it is a loopback address, before any token is sent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sock-check-http-"));
    try {
      for (const [yaml, key] of [
        [policyYaml("http://api.github.example"), "github.apiUrl"],
        [gitlabPolicyYaml("http://gitlab.example"), "gitlab.apiUrl"],
      ] as const) {
        const policy = join(dir, "policy.yml");
        writeFileSync(policy, yaml);
        const requests = scenario.sim.countRequests().total;
        const run = await runSockCheck(["-c", policy, "--from", "c0", "--to", "c1"], { cwd: scenario.dir, env: envFor(scenario) });
        expect(run.code).toBe(78);
        expect(run.stderr.trim().split("\n")).toEqual([
          expect.stringContaining(
            `${key}: plain http:// would send the token in clear: use https:// (http:// only to 127.0.0.1, ::1 or localhost)`,
          ),
        ]);
        expect(scenario.sim.countRequests().total).toBe(requests);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a --config file inside the checkout under review (F9)", () => {
  it("is refused (78, one line), by flag, by SOCK_CHECK_CONFIG or as the candidate's own .sock-check.yml", async () => {
    const relaxed = join(scenario.dir, "relaxed.yml");
    writeFileSync(relaxed, policyYaml(scenario.sim.url).replace("required: 1", "required: 0"));
    try {
      for (const [args, env] of [
        [["-c", "relaxed.yml"], {}],
        [[], { SOCK_CHECK_CONFIG: relaxed }],
        [["-c", ".sock-check.yml"], {}],
      ] as const) {
        const run = await runSockCheck([...args, "--from", "c0", "--to", "c1"], {
          cwd: scenario.dir,
          env: { ...envFor(scenario), ...env },
        });
        expect(run.code).toBe(78);
        expect(run.stdout).toBe("");
        expect(run.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(
            /^sock-check: --config \S+ is inside the checkout under review \(.+\), whose changes could relax it \(keep the policy file outside the repository/,
          ),
        ]);
      }
    } finally {
      rmSync(relaxed, { force: true });
    }
  });
});

describe("the default deploy tag behind commits with older committer dates (F6)", () => {
  it("is found on an ancestor of --to however the later commits are dated", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sock-check-skew-"));
    try {
      const git = (args: string[], date?: string) =>
        execFileSync("git", args, {
          cwd: dir,
          encoding: "utf8",
          env: {
            ...process.env,
            GIT_AUTHOR_NAME: "Alice Archer",
            GIT_AUTHOR_EMAIL: "alice@acme.test",
            GIT_COMMITTER_NAME: "Alice Archer",
            GIT_COMMITTER_EMAIL: "alice@acme.test",
            ...(date ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}),
          },
        }).trim();
      git(["init", "-q", "-b", "main"]);
      writeFileSync(join(dir, ".sock-check.yml"), policyYaml(scenario.sim.url));
      git(["add", "."]);
      git(["commit", "-q", "-m", "Initial import"], "2026-01-02T00:00:00Z");
      git(["commit", "-q", "--allow-empty", "-m", "Deployed"], "2026-01-03T00:00:00Z");
      git(["tag", "deploy-1"]);
      const deployed = git(["rev-parse", "HEAD"]);
      // Ten commits dated a year before the tag's (an imported history, a skewed clock): git tag --merged gives up.
      for (let i = 0; i < 10; i++) git(["commit", "-q", "--allow-empty", "-m", `Imported ${i}`], "2025-01-01T00:00:00Z");
      expect(git(["tag", "--merged", "HEAD", "--list", "deploy-*"])).toBe("");

      const run = await runSockCheck(["--json"], { cwd: dir, env: envFor(scenario) });
      expect(run.stderr).not.toContain("no deploy tag");
      expect(JSON.parse(run.stdout).range.from).toBe(deployed);
      expect(JSON.parse(run.stdout).summary.commits).toBe(10);
      // A tag on the candidate itself (annotated now, so the newest) is what ships now, never the deployed commit.
      git(["tag", "-a", "deploy-2", "-m", "Deploy 2"]);
      const again = await runSockCheck(["--json"], { cwd: dir, env: envFor(scenario) });
      expect(JSON.parse(again.stdout).range.from).toBe(deployed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
