import { exitCodeOf, HttpError } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { emptyFacts, failClosed } from "../src/facts";
import type { LocalCommit } from "../src/git";
import { collectGitHubFacts } from "../src/github";
import type { GitHubApi } from "../src/github-api";
import { envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/**
 * A repository (GitHub) or project (GitLab) that is not there, or that the token cannot see — both vendors answer
 * the same way for the two, so a private one stays secret — is one exit code on both providers: 77, like a refused
 * token, and --allow-unverified does not cover it. Nothing can be verified in such a run, now or on any later
 * run, so letting it through would turn the gate off.
 */

let github: GitHubScenario;
let gitlab: GitLabSim;
let gitlabScenario: GitHubScenario;

beforeAll(async () => {
  github = await startScenario();
  // No github.repository: --repo may name one only where the policy does not.
  const policy = policyYaml(github.sim.url).replace("  repository: acme/shop\n", "");
  github.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
  github.tag("deploy-1");
  github.pullRequest({ title: "SHOP-1 Add the cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  github.build();

  gitlab = new GitLabSim();
  await gitlab.start();
  gitlabScenario = await startScenario();
  gitlabScenario.directPush({
    message: "Initial import",
    author: "alice",
    files: {
      ".sock-check.yml": `provider: gitlab
gitlab:
  apiUrl: ${gitlab.url}/api/v4
  token: env:SOCK_CHECK_TEST_GITLAB_TOKEN
  timeoutMs: 3000
`,
    },
  });
  gitlabScenario.tag("deploy-1");
  gitlabScenario.pullRequest({ title: "SHOP-1 Add the cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  gitlabScenario.build();
  mirrorScenarioToGitLab(gitlabScenario, new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" }));
});

afterAll(async () => {
  await github?.sim.stop();
  github?.cleanup();
  await gitlab?.stop();
  await gitlabScenario?.sim.stop();
  gitlabScenario?.cleanup();
});

describe("a repository or project the token cannot see", () => {
  it("exits 77 on GitHub, also with --allow-unverified, naming the repository", async () => {
    for (const extra of [[], ["--allow-unverified"]]) {
      const run = await runSockCheck(["--from", "deploy-1", "--repo", "acme/nope", ...extra], { cwd: github.dir, env: envFor(github) });
      expect(run.code).toBe(77);
      expect(run.stderr).toContain(
        "repository acme/nope was not found, or this token cannot see it: Could not resolve to a Repository with the name 'acme/nope'.",
      );
      expect(run.stderr).toContain("check github.repository (or --repo) and that the token can read it");
      expect(run.stdout).toContain("BLOCKED");
      if (extra.length > 0) expect(run.stderr).toContain("--allow-unverified does not cover a repository the token cannot see");
    }
  });

  it("takes a null repository with no error (a front end that drops GitHub's errors) as one it cannot see: 77", async () => {
    const api = { graphql: async () => ({ data: { repository: null }, errors: [] }) } as unknown as GitHubApi;
    const commit = { sha: "a".repeat(40), parents: [] } as unknown as LocalCommit;
    const facts = await collectGitHubFacts(api, [commit], { owner: "acme", name: "shop", teams: [], organizations: [], identities: {} });
    expect(facts.failure?.message).toBe(
      "repository acme/shop was not found, or this token cannot see it: GitHub answered repository: null",
    );
    expect(exitCodeOf(facts.failure)).toBe(77);
    expect(facts.unverified.get(commit.sha)).toBe(facts.failure?.message);
  });

  it("takes a 404 from an API route past the project's (its merge requests, events) as a service failure: 69", async () => {
    const facts = emptyFacts();
    const sha = "b".repeat(40);
    const answered = "GitLab answered HTTP 404: 404 Not Found (http://127.0.0.1:1/api/v4/projects/7/merge_requests/9/commits)";
    await failClosed(
      facts,
      "GitLab API",
      undefined,
    )([sha], async () => {
      throw new HttpError(answered, 65, 404, { message: "404 Not Found" });
    });
    expect(exitCodeOf(facts.failure)).toBe(69);
    expect(facts.failure?.message).toBe(answered);
    expect(facts.unverified.get(sha)).toBe(answered);
  });

  it("exits 77 on GitLab, also with --allow-unverified, naming the project", async () => {
    const env = { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token, NO_COLOR: "1" };
    for (const extra of [[], ["--allow-unverified"]]) {
      const run = await runSockCheck(["--from", "deploy-1", "--repo", "acme/nope", ...extra], { cwd: gitlabScenario.dir, env });
      expect(run.code).toBe(77);
      expect(run.stderr).toContain("GitLab project acme/nope was not found, or this token cannot see it");
      expect(run.stderr).toContain("check gitlab.project (or --repo) and that the token can read it");
      expect(run.stdout).toContain("BLOCKED");
    }
    // The project that is there still passes: the 77 is about the project, not the token.
    const found = await runSockCheck(["--from", "deploy-1", "--repo", "acme/shop"], { cwd: gitlabScenario.dir, env });
    expect(found.stderr).toBe("");
    expect(found.code).toBe(0);
  });
});
