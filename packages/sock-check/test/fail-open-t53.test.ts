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
