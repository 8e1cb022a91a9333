import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/**
 * `checks.required: [{name, app}]` pins a check to one GitHub App. A check run names its app
 * (`checkSuite.app.slug`); a commit status only its creator, an `Actor`: a GitHub App's statuses are created by its
 * bot (`__typename: "Bot"`, login = the app's slug), while a user account can be named like the app, and a
 * workflow's GITHUB_TOKEN posts as github-actions' bot. Only the app's own bot stands for the app.
 */

let scenario: GitHubScenario;
const pr: Record<string, number> = {};
const CONTEXT = "gate/deploy";

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  // GitHub's REST logins: the app's bot is gatekeeper[bot] (only apps' bots end in "[bot]", so the simulator types
  // it a Bot unregistered); "gatekeeper" is an ordinary user account, free for anyone to register.
  s.sim.addUser("gatekeeper", ["gatekeeper@evil.test"]);
  s.directPush({
    message: "Initial import",
    author: "alice",
    files: { ".sock-check.yml": policyYaml(s.sim.url).replace("required: [build]", `required: [{name: "${CONTEXT}", app: gatekeeper}]`) },
  });
  s.tag("t0");
  const pull = (title: string, statusCreator: string) =>
    s.pullRequest({ title, author: "alice", reviews: [{ by: "bob" }], statuses: { [CONTEXT]: "success" }, statusCreator });
  pr.byApp = pull("SHOP-1 Gate passed by the app", "gatekeeper[bot]");
  pr.byUser = pull("SHOP-2 Gate passed by a user named like the app", "gatekeeper");
  pr.byWorkflow = pull("SHOP-3 Gate passed by a workflow's GITHUB_TOKEN", "github-actions[bot]");
  s.tag("t1");
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

describe("a required check pinned to a GitHub App, met by a commit status", () => {
  it("counts the status the app's bot posted, and not one by a user named like the app or by a workflow", async () => {
    const { report } = await runCheck({ dir: scenario.dir, from: "t0", to: "t1", env: envFor(scenario), toolVersion: "test" });
    expect(byPull(report.records, pr.byApp!)).toMatchObject({ verdict: "compliant" });
    expect(byPull(report.records, pr.byApp!).checks).toEqual([
      expect.objectContaining({ kind: "status", app: "gatekeeper", required: true }),
    ]);

    const byUser = byPull(report.records, pr.byUser!);
    expect(byUser.verdict).toBe("noncompliant");
    expect(byUser.checks).toEqual([
      expect.objectContaining({
        kind: "status",
        app: "gatekeeper",
        required: false,
        note: "a commit status by gatekeeper, a User account, not by the app gatekeeper",
      }),
    ]);
    expect(byUser.violations).toEqual([
      {
        rule: "check-missing",
        message: expect.stringMatching(
          /^required check gate\/deploy \(gatekeeper\) did not run on head [0-9a-f]{7} \(a commit status of that name by gatekeeper, a User account, is not the app's\)$/,
        ),
      },
    ]);

    const byWorkflow = byPull(report.records, pr.byWorkflow!);
    expect(byWorkflow.verdict).toBe("noncompliant");
    expect(byWorkflow.violations.map((v) => v.rule)).toEqual(["check-missing"]);
  });

  it("blocks the deploy from the CLI", async () => {
    const run = await runSockCheck(["--from", "t0", "--to", "t1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("is not the app's");
  });

  it("shows a status that does not count as not counting in the digest, Markdown and HTML, never with a tick", async () => {
    const args = ["--from", "t0", "--to", "t1"];
    const digest = (await runSockCheck(args, { cwd: scenario.dir, env: envFor(scenario) })).stdout;
    // The details line under each PR's headline: the app's own status passes, the user's shows why it does not count.
    const checksOf = (number: number) => digest.split("\n")[digest.split("\n").findIndex((l) => l.includes(`#${number} `)) + 1];
    expect(checksOf(pr.byApp!)).toContain("checks gate/deploy✓ ·");
    expect(checksOf(pr.byUser!)).toContain(
      "checks gate/deploy(success, does not count: a commit status by gatekeeper, a User account, not by the app gatekeeper) ·",
    );
    expect(checksOf(pr.byWorkflow!)).toContain(
      "checks gate/deploy(success, does not count: a commit status by github-actions, a Bot account, not by the app gatekeeper) ·",
    );

    const markdown = (await runSockCheck([...args, "--format", "markdown"], { cwd: scenario.dir, env: envFor(scenario) })).stdout;
    const row = markdown.split("\n").find((l) => l.includes(`#${pr.byUser}]`));
    expect(row).toContain(
      "gate/deploy (status) success, does not count: a commit status by gatekeeper, a User account, not by the app gatekeeper",
    );
    expect(row).not.toContain("✓");

    const html = (await runSockCheck([...args, "--format", "html"], { cwd: scenario.dir, env: envFor(scenario) })).stdout;
    expect(html).toContain(
      '<tr class="fail"><td>gate/deploy (status) <em>does not count: a commit status by gatekeeper, a User account, not by the app gatekeeper</em></td>',
    );
  });
});
