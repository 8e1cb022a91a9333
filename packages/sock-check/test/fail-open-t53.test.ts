import { exitCodeOf, type OpsguardError } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import type { LocalCommit } from "../src/git";
import { collectGitHubFacts } from "../src/github";
import type { GitHubApi } from "../src/github-api";
import { envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/**
 * Ways past the gate the T53 black-box tester found on GitHub (notes/t52-sock-check.md), each checked as a user
 * sees it: the exit code and what the run says.
 */

let scenario: GitHubScenario;

beforeAll(async () => {
  scenario = await startScenario();
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(scenario.sim.url) } });
  scenario.tag("c0");
  scenario.pullRequest({ title: "SHOP-1 Add the cart", author: "bob", reviews: [{ by: "carol" }], checks: { build: "success" } });
  scenario.tag("c1");
  scenario.build();
}, 60_000);

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

const run = (...args: string[]) => runSockCheck(["--from", "c0", "--to", "c1", ...args], { cwd: scenario.dir, env: envFor(scenario) });

describe("a token GitHub refuses for an organisation enforcing SAML SSO (F8)", () => {
  it("is a refused token: 77, also with --allow-unverified, saying what to fix", async () => {
    expect((await run()).code).toBe(0);
    // GitHub's answer: HTTP 200, repository null and a FORBIDDEN error on its path (the simulator's partial answer).
    const lift = scenario.sim.failGraphQLField({
      typeName: "Query",
      fieldName: "repository",
      type: "FORBIDDEN",
      message:
        "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.",
    });
    try {
      for (const extra of [[], ["--allow-unverified"]]) {
        const refused = await run(...extra);
        expect(refused.code).toBe(77);
        expect(refused.stdout).toContain("BLOCKED");
        expect(refused.stderr).toContain(
          "GitHub refuses this token for repository acme/shop: Resource protected by organization SAML enforcement.",
        );
        expect(refused.stderr).not.toContain("--allow-unverified to let them through");
        if (extra.length > 0) expect(refused.stderr).toContain("--allow-unverified does not cover a refused token");
      }
    } finally {
      lift();
    }
  });

  it("names SAML single sign-on when GitHub's error says saml_failure", async () => {
    const api = {
      graphql: async () => ({
        data: { repository: null },
        errors: [
          {
            type: "FORBIDDEN",
            path: ["repository"],
            extensions: { saml_failure: true },
            message: "Resource protected by organization SAML enforcement.",
          },
        ],
      }),
    } as unknown as GitHubApi;
    const commit = { sha: "a".repeat(40), parents: [] } as unknown as LocalCommit;
    const facts = await collectGitHubFacts(api, [commit], { owner: "acme", name: "shop", teams: [], organizations: [], identities: {} });
    expect(exitCodeOf(facts.failure)).toBe(77);
    expect((facts.failure as OpsguardError).hint).toContain("SAML single sign-on: authorise the token for it");
  });
});

/** Runs `body` with PR #1's data and the check runs changed by `change`, then puts them back. */
async function withChanged(change: () => void, body: () => Promise<void>): Promise<void> {
  const pull = scenario.sim.pulls.get(1)!;
  const saved = structuredClone(pull);
  const runs = structuredClone(scenario.sim.checkRuns);
  change();
  try {
    await body();
  } finally {
    Object.assign(pull, saved);
    scenario.sim.checkRuns.splice(0, scenario.sim.checkRuns.length, ...runs);
  }
}

/** The only build run on PR #1's head, as the scenario made it. */
function buildRun() {
  const head = scenario.pull(1).headSha;
  return scenario.sim.checkRuns.find((r) => r.headSha === head && r.name === "build")!;
}

describe("times are compared as instants, and a missing one never counts for a pass (F1, F2, F4)", () => {
  it("does not count an approval without a submission time: it cannot be placed before the merge", async () => {
    await withChanged(
      () => {
        // PullRequestReview.submittedAt is nullable in GitHub's schema.
        (scenario.sim.pulls.get(1)!.reviews[0] as { submittedAt: string | null }).submittedAt = null;
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain(
          "needs 1 independent approval, has 0; approval by carol does not count (the provider gave no readable time for it, so it cannot be told to come before the merge)",
        );
      },
    );
  });

  it("does not count an approval written with an offset that is after the merge", async () => {
    await withChanged(
      () => {
        const pull = scenario.sim.pulls.get(1)!;
        pull.mergedAt = "2026-12-02T11:00:00Z";
        pull.reviews[0]!.submittedAt = "2026-12-02T10:30:00-02:00"; // 12:30Z: 1.5 h after the merge
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain("needs 1 independent approval, has 0");
      },
    );
  });

  it("lets a later 'changes requested' written with an offset stand over an earlier approval", async () => {
    await withChanged(
      () => {
        const pull = scenario.sim.pulls.get(1)!;
        pull.mergedAt = "2026-12-02T18:00:00Z";
        pull.reviews[0]!.submittedAt = "2026-12-02T12:00:00Z";
        // 16:00Z, after the approval; GitHub lists reviews in the order they were given
        pull.reviews.push({ ...pull.reviews[0]!, id: 9001, state: "CHANGES_REQUESTED", submittedAt: "2026-12-02T11:00:00-05:00" });
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain("changes-requested: changes requested by carol still stand");
      },
    );
  });

  it("takes the newest re-run of a check by instant: a failure after a success written with an offset blocks", async () => {
    for (const [failedAt, passedAt] of [
      ["2026-12-02T11:30:00Z", "2026-12-02T12:00:00+01:00"], // the success is at 11:00Z, older than the failure
      ["2026-12-02T11:00:00.000Z", "2026-12-02T11:00:00Z"], // the same instant: both stand
    ] as const) {
      await withChanged(
        () => {
          const passed = buildRun();
          passed.suiteId = 5;
          passed.completedAt = passedAt;
          scenario.sim.addCheckRun({ ...passed, conclusion: "failure", completedAt: failedAt });
        },
        async () => {
          const blocked = await run();
          expect(blocked.code).toBe(1);
          expect(blocked.stdout).toContain("check-failed: required check build is failure on head");
        },
      );
    }
  });

  it("blocks a completed run without a readable completion time, also when it is the only one", async () => {
    for (const completedAt of [null, "2026-12-02Tzz"]) {
      await withChanged(
        () => {
          // CheckRun.completedAt is nullable in GitHub's schema.
          buildRun().completedAt = completedAt;
        },
        async () => {
          const blocked = await run();
          expect(blocked.code).toBe(1);
          expect(blocked.stdout).toMatch(
            /required check build is success on head \w+ \(check run by github-actions\) but has no readable completion time/,
          );
        },
      );
    }
  });
});

describe("--repo naming another repository than the policy (F7)", () => {
  it("is refused with one line naming both: the reviewed policy names the repository, not the CI job", async () => {
    const before = scenario.sim.countRequests().total;
    const fork = await run("--repo", "mallory/shop");
    expect(fork.code).toBe(64);
    expect(fork.stdout).toBe("");
    expect(fork.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^sock-check: --repo mallory\/shop is not the policy's github.repository acme\/shop /),
    ]);
    expect(scenario.sim.countRequests().total).toBe(before); // nothing asked of the other repository
    const same = await run("--repo", "acme/shop");
    expect(same.code).toBe(0);
  });
});
