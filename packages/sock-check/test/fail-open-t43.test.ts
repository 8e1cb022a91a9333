import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { envFor, policyYaml, runSockCheck, USERS } from "./fixture";

/**
 * A way past the gate the T43 black-box tester found on GitHub: a --config path inside the checkout that is a
 * symlink to a policy file outside it, which the change under review could retarget (N7).
 */

let scenario: GitHubScenario;
let outside: string;

beforeAll(async () => {
  scenario = new GitHubScenario({ users: USERS });
  await scenario.sim.start();
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(scenario.sim.url) } });
  scenario.tag("c0");
  scenario.pullRequest({ title: "SHOP-1 Unreviewed", author: "alice", checks: { build: "success" } });
  scenario.tag("c1");
  scenario.build();
  outside = mkdtempSync(join(tmpdir(), "sock-check-outside-"));
  writeFileSync(join(outside, "relaxed.yml"), policyYaml(scenario.sim.url).replace("required: 1", "required: 0"));
}, 60_000);

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
  if (outside) rmSync(outside, { recursive: true, force: true });
});

describe("a --config path inside the checkout that links outside it (N7)", () => {
  it("is refused (78, one line), whether the file or a directory on the way is the symlink", async () => {
    mkdirSync(join(scenario.dir, "ci"));
    symlinkSync(join(outside, "relaxed.yml"), join(scenario.dir, "ci", "linked.yml"));
    symlinkSync(outside, join(scenario.dir, "policies"));
    try {
      for (const path of [join("ci", "linked.yml"), join("policies", "relaxed.yml")]) {
        const run = await runSockCheck(["-c", path, "--from", "c0", "--to", "c1"], { cwd: scenario.dir, env: envFor(scenario) });
        expect(run.code).toBe(78);
        expect(run.stdout).toBe("");
        expect(run.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(/^sock-check: --config \S+ is inside the checkout under review \(.+\), whose changes could relax it/),
        ]);
      }
    } finally {
      rmSync(join(scenario.dir, "ci"), { recursive: true, force: true });
      rmSync(join(scenario.dir, "policies"), { force: true });
    }
  });

  it("still takes the same policy file named by its own path outside the checkout", async () => {
    const run = await runSockCheck(["-c", join(outside, "relaxed.yml"), "--from", "c0", "--to", "c1"], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(run.code).toBe(0);
  });
});
