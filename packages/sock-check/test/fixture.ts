import { runInProcess } from "../../core/test/run-in-process";
import { GitHubScenario, type ScenarioUser } from "../../lab/src/sim/github-scenario";
import type { GitLabSim } from "../../lab/src/sim/gitlab";
import type { GitLabCommitStatus, GitLabMergeRequests } from "../../lab/src/sim/gitlab-merge-requests";
import { createSockCheckProgram } from "../src/cli";
import { type ChangeRecord, runCheck } from "../src/index";

export const TOKEN_ENV = "SOCK_CHECK_TEST_GITHUB_TOKEN";

export const USERS: Record<string, ScenarioUser> = {
  alice: { name: "Alice Archer", email: "alice@acme.test" },
  bob: { name: "Bob Baker", email: "bob@acme.test" },
  carol: { name: "Carol Chen", email: "carol@acme.test" },
  dave: { name: "Dave Diaz", email: "dave@acme.test" },
  "dependabot[bot]": { name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com", bot: true },
};

export function policyYaml(apiUrl: string, extra = ""): string {
  return `github:
  repository: acme/shop
  apiUrl: ${apiUrl}
  token: env:${TOKEN_ENV}
  timeoutMs: 3000
  maxRateLimitWaitMs: 5000
deploy:
  tagPattern: "deploy-*"
approvals:
  required: 1
checks:
  required: [build]
ticket:
  pattern: "SHOP-\\\\d+"
exemptions:
  bots: ["dependabot[bot]"]
  emergency:
    label: emergency
    reviewWithin: 72h
${extra}`;
}

/** The record of one commit in a report; throws when there is none, so a test names the commit it missed. */
export function bySha(records: readonly ChangeRecord[], sha: string): ChangeRecord {
  const record = records.find((r) => r.commit.sha === sha);
  if (!record) throw new Error(`no record for ${sha}`);
  return record;
}

/** The record of one PR (GitLab: MR) in a report, by its number; throws when there is none, naming it. */
export function byPull(records: readonly ChangeRecord[], number: number | undefined): ChangeRecord {
  const record = records.find((r) => r.pr?.number === number);
  if (!record) throw new Error(`no record for PR/MR ${number}`);
  return record;
}

/** byPull in GitLab's terms. */
export const byMr = byPull;

/** The GitLab policy of the GitLab tests: project acme/shop on the simulator at `url`, a build check, SHOP-n tickets. */
export function gitlabPolicyYaml(url: string, extra = ""): string {
  return `provider: gitlab
gitlab:
  project: acme/shop
  apiUrl: ${url}/api/v4
  token: env:SOCK_CHECK_TEST_GITLAB_TOKEN
  timeoutMs: 3000
checks:
  required: [build]
ticket:
  pattern: "SHOP-\\\\d+"
${extra}`;
}

/** A scenario whose simulator is already listening, so the policy can point at it. */
export async function startScenario(options: { start?: Date } = {}): Promise<GitHubScenario> {
  const scenario = new GitHubScenario({ users: USERS, ...(options.start ? { start: options.start } : {}) });
  await scenario.sim.start();
  return scenario;
}

export function envFor(scenario: GitHubScenario): NodeJS.ProcessEnv {
  return { ...process.env, [TOKEN_ENV]: scenario.token, NO_COLOR: "1" };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI from source as a user runs it (arguments, environment, working directory; exit code and both streams),
 * in this process through core's test I/O. output-boundary.test.ts keeps one spawn of the real entry.
 */
export function runSockCheck(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliRun> {
  return runInProcess(createSockCheckProgram, args, options);
}

/** The CLI, as a user runs it in the scenario's checkout, against the GitLab simulator (no colour). */
export function runOnGitLab(scenario: GitHubScenario, gitlab: GitLabSim, args: string[]): Promise<CliRun> {
  return runSockCheck(args, {
    cwd: scenario.dir,
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token, NO_COLOR: "1" },
  });
}

/** The MR's `build` job on its head, as mirrorScenarioToGitLab made it (one per MR). */
export function buildJob(mrs: GitLabMergeRequests, scenario: GitHubScenario, iid: number): GitLabCommitStatus {
  const head = scenario.pull(iid).headSha;
  return mrs.statuses.find((s) => s.sha === head && s.name === "build")!;
}

/** `seconds` after that job was created, as GitLab writes times: for the jobs and pipelines a test adds around it. */
export function afterBuild(mrs: GitLabMergeRequests, scenario: GitHubScenario, iid: number, seconds: number): string {
  return new Date(Date.parse(buildJob(mrs, scenario, iid).createdAt) + seconds * 1000).toISOString();
}

/** sock-check's check, in process, of `from..to` in the scenario's checkout against the GitLab simulator. */
export function checkOnGitLab(scenario: GitHubScenario, gitlab: GitLabSim, from: string, to: string): ReturnType<typeof runCheck> {
  return runCheck({
    dir: scenario.dir,
    from,
    to,
    env: { ...process.env, SOCK_CHECK_TEST_GITLAB_TOKEN: gitlab.token },
    toolVersion: "test",
  });
}
