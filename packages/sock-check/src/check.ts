import { realpath } from "node:fs/promises";
import { dirname, resolve, sep } from "node:path";
import {
  ConfigError,
  HttpClient,
  type HttpClientOptions,
  type Logger,
  NoInputError,
  readConfigFileSync,
  redactSecretsDeep,
  resolveHeaderSecret,
  type SecretRef,
  UsageError,
} from "@opsguard/core";
import {
  changeTerms,
  checkAssociations,
  checkMergeContents,
  checkMergedInOffLine,
  checkPullsListedWhole,
  checkPullsShipWhole,
} from "./association";
import { shaFromFile, shaFromUrl } from "./deployed";
import { evaluate } from "./evaluate";
import { emptyFacts, unverifyUndatedMerges } from "./facts";
import { GitRepo, type MergeWindow, projectFromRemote, repositoryFromRemote } from "./git";
import { collectGitHubFacts } from "./github";
import { GitHubApi } from "./github-api";
import { collectGitLabFacts } from "./gitlab";
import type { ProviderFacts } from "./model";
import { POLICY_FILE, type Policy, parsePolicy, policyOrganizations, policyTeams, requiredChecks } from "./policy";
import { type Report, summarize } from "./record";

export interface CheckOptions {
  /** The git checkout. */
  dir: string;
  from?: string | undefined;
  fromFile?: string | undefined;
  fromUrl?: string | undefined;
  to?: string | undefined;
  /** Without --from*: the range is the first-parent commits of `to` since this time, not the last deploy tag. */
  since?: Date | undefined;
  /** A policy file outside the repository; wins over the repository's .sock-check.yml. */
  policyPath?: string | undefined;
  /** owner/name; wins over the policy and the origin remote. */
  repository?: string | undefined;
  env?: NodeJS.ProcessEnv;
  log?: Logger | undefined;
  now?: Date;
  toolVersion: string;
  onAttempt?: HttpClientOptions["onAttempt"];
  /** Told as each phase of the run starts ("asking GitHub about 40 commits"), for the progress line. */
  onPhase?: (text: string) => void;
}

export interface CheckResult {
  report: Report;
  policy: Policy;
  facts: ProviderFacts;
  /** With `since`: the first-parent commits before the dated window that were checked too (see GitRepo.mergeWindow). */
  window?: MergeWindow & { since: Date };
}

/** Gathers the range, the policy and the provider's facts, and evaluates every commit. */
export async function runCheck(options: CheckOptions): Promise<CheckResult> {
  const git = new GitRepo(options.dir);
  await git.ensureRepository();
  if (options.policyPath) await refuseCheckoutPolicy(git, options.policyPath);
  const to = await git.resolve(options.to ?? "HEAD", "--to");
  const candidateText = options.policyPath ? undefined : await git.show(to, POLICY_FILE);
  let candidate: LoadedPolicy | undefined;
  const candidatePolicy = async () => {
    // Full SHAs: the report is evidence, and an abbreviated one can become ambiguous as the repository grows.
    candidate ??= await loadPolicy(options, candidateText, `${to}:${POLICY_FILE}`);
    return candidate;
  };
  const { from, window } = await resolveFrom(git, options, candidatePolicy, to);

  let loaded: LoadedPolicy;
  const deployedText = options.policyPath ? undefined : await git.show(from, POLICY_FILE);
  if (options.policyPath) {
    loaded = await loadPolicy(options, undefined, options.policyPath);
  } else if (deployedText !== undefined) {
    // The deployed policy governs: a change under review must not be able to relax the rules it is judged by.
    loaded = await loadPolicy(options, deployedText, `${from}:${POLICY_FILE}`);
    if (candidateText !== undefined && candidateText !== deployedText) {
      options.log?.warn(`${POLICY_FILE} changes in this range; the deployed version applies until it ships`);
    }
    if (candidate && candidate.policy.deploy.tagPattern !== loaded.policy.deploy.tagPattern) {
      throw new ConfigError("deploy.tagPattern changes in this range, so the last deploy tag cannot be trusted", {
        hint: "pass --from with the deployed commit",
      });
    }
  } else {
    // Fail closed (T33): the candidate's policy would judge the very changes that bring it — and name the API server
    // the token is sent to. A first deploy under sock-check names its policy on purpose.
    throw new ConfigError(
      `no ${POLICY_FILE} in the deployed commit ${from.slice(0, 7)}: the candidate's cannot judge the changes that bring it (nor choose where the token goes)`,
      {
        hint: `for the first deploy with sock-check, pass -c FILE with a policy you reviewed (the candidate's ${POLICY_FILE} once checked)`,
      },
    );
  }
  const { policy, source } = loaded;
  const cut = await git.shallowBoundary(from, to);
  if (cut.length > 0) {
    // Fail closed: a shallow clone hides every commit behind its boundary, so the range would look shorter than it is.
    throw new NoInputError(
      `the checkout is a shallow clone: history behind ${short(cut[0]!)} is missing, so ${short(from)}..${short(to)} cannot be told`,
      {
        hint: "run git fetch --unshallow --tags (in GitHub Actions: actions/checkout with fetch-depth: 0)",
      },
    );
  }
  if (!(await git.isAncestor(from, to))) {
    options.log?.warn("the deployed commit is not an ancestor of the candidate (rollback or rewritten history?)", { from, to });
  }

  const firstParent = policy.commits === "first-parent";
  options.onPhase?.(`reading ${short(from)}..${short(to)}`);
  const commits = await git.commits(from, to, firstParent);
  const changedPaths = new Map<string, string[]>();
  if (policy.pathRules.length > 0 || policy.approvalRules.some((r) => r.if.changedPaths)) {
    for (const c of commits) changedPaths.set(c.sha, await git.changedPaths(c.sha, c.parents[0]));
  }
  const env = options.env ?? process.env;
  let requests = 0;
  const onAttempt: HttpClientOptions["onAttempt"] = (method, url) => {
    requests++;
    options.onAttempt?.(method, url);
  };
  const teams = policyTeams(policy);
  let repo: string;
  let facts: ProviderFacts;
  if (policy.provider === "gitlab") {
    if (policyOrganizations(policy).length > 0) {
      throw new ConfigError("approvalRules[].requires.organizations is for GitHub organisations", {
        hint: "on GitLab, name the group under requires.teams",
      });
    }
    repo = await gitlabProjectOf(git, options, policy);
    const http = new HttpClient({
      service: "GitLab API",
      baseUrl: policy.gitlab.apiUrl,
      timeoutMs: policy.gitlab.timeoutMs,
      deadline: runDeadline("gitlab", policy.gitlab.runTimeoutMs),
      maxRetryAfterMs: policy.gitlab.maxRateLimitWaitMs,
      maxTotalRetryAfterMs: policy.gitlab.maxRateLimitWaitMs,
      headers: { authorization: `Bearer ${resolveHeaderSecret(policy.gitlab.token as SecretRef, "gitlab.token", env).reveal()}` },
      ...(options.log ? { log: options.log } : {}),
      onAttempt,
    });
    options.onPhase?.(`asking GitLab about ${commits.length} commit(s)`);
    facts =
      commits.length > 0
        ? await collectGitLabFacts(http, git, commits, {
            project: repo,
            teams,
            signed: policy.signedCommits,
            requiredChecks: requiredChecks(policy).map((c) => c.name),
            identities: policy.identities,
            requireOnHead: policy.approvals.requireOnHead,
            log: options.log,
          })
        : emptyFacts();
  } else {
    repo = await repositoryOf(git, options, policy);
    const [owner, name] = repo.split("/") as [string, string];
    const badTeam = teams.find((t) => t.split("/").length !== 2);
    if (badTeam) throw new ConfigError(`team "${badTeam}" must be "org/team-slug" with provider github`);
    const api = new GitHubApi({
      apiUrl: policy.github.apiUrl,
      graphqlUrl: policy.github.graphqlUrl,
      token: resolveHeaderSecret(policy.github.token as SecretRef, "github.token", env),
      timeoutMs: policy.github.timeoutMs,
      deadline: runDeadline("github", policy.github.runTimeoutMs),
      maxRateLimitWaitMs: policy.github.maxRateLimitWaitMs,
      log: options.log,
      onAttempt,
    });
    const organizations = policyOrganizations(policy);
    options.onPhase?.(`asking GitHub about ${commits.length} commit(s)`);
    facts =
      commits.length > 0
        ? await collectGitHubFacts(api, commits, { owner, name, teams, organizations, identities: policy.identities, log: options.log })
        : emptyFacts();
  }
  const parentsOf = new Map(commits.map((c) => [c.sha, c.parents]));
  const terms = changeTerms(policy.provider);
  // GitHub's commit → PR association and GitLab's commit → MR lookup are lookups, not proof that the PR brought the commit.
  await checkAssociations(facts, git, parentsOf, terms);
  // Both providers: a merge, squash commit or last rebased copy the provider names a PR's merge commit must hold the PR's content.
  await checkMergeContents(facts, git, parentsOf, terms);
  // Both providers: the self-approval rule sees only the authors of the commits the provider lists for a PR.
  await checkPullsListedWhole(facts, git, parentsOf, terms);
  // First-parent mode: a PR's own merge commit on the line (an update merge landed by fast-forward) brings in commits off it.
  if (firstParent) await checkMergedInOffLine(facts, git, parentsOf, from);
  unverifyUndatedMerges(facts, terms);
  // Both providers: a PR's review covers its commits only when the whole PR ships.
  options.onPhase?.(`checking what each ${terms.kind} ships`);
  await checkPullsShipWhole(facts, git, to);

  // An update merge keeps approvals only when it is the clean merge of its parents (see evaluate's onHeadIgnoring).
  const cleanMerges = new Set<string>();
  if (policy.approvals.ignoreUpdateMerges) {
    for (const pull of facts.pulls.values()) {
      for (const c of pull.commits)
        if (c.parents && c.parents.length > 1 && (await git.isCleanMerge(c.sha, c.parents))) cleanMerges.add(c.sha);
    }
  }
  const now = options.now ?? new Date();
  const range = { from, to, mode: policy.commits };
  // What lands on the deploy line must arrive through a PR into the deploy branch, not one merged elsewhere and pushed on.
  const deployLine = new Set((firstParent ? commits : await git.commits(from, to, true)).map((c) => c.sha));
  const configured = policy.deploy.branch === undefined ? undefined : [policy.deploy.branch].flat();
  const deployBranches = configured ?? (facts.defaultBranch ? [facts.defaultBranch] : null);
  if (deployBranches === null) {
    // Without a deploy branch the "PR into the deploy branch" rule has nothing to check: a PR reviewed into another
    // branch and pushed on passed (T31 #15). What lands on the deploy line is unverified instead.
    const reason = `${terms.provider} did not say which branch is the repository's default, so whether each change came through a ${terms.kind} into it is unknown; set deploy.branch in the policy`;
    for (const sha of deployLine) if (!facts.unverified.has(sha)) facts.unverified.set(sha, reason);
  }
  // Provider text (an error that echoes the token) is redacted before any renderer escapes it past recognition.
  const records = redactSecretsDeep(
    evaluate({
      policy,
      repo,
      range,
      commits,
      facts,
      changedPaths,
      deployLine,
      deployBranches,
      cleanMerges,
      now,
      toolVersion: options.toolVersion,
    }),
  );
  return {
    policy,
    facts,
    ...(window && options.since ? { window: { ...window, since: options.since } } : {}),
    report: {
      schema: "opsguard.sock-check/v1",
      tool_version: options.toolVersion,
      generated_at: now.toISOString(),
      repo,
      provider: policy.provider,
      range,
      policy_source: source,
      summary: summarize(records),
      records,
      requests,
    },
  };
}

/**
 * A --config file inside the checkout is the change under review's to write (a `-c ci/policy.yml`, a
 * SOCK_CHECK_CONFIG into the repository, `-c .sock-check.yml`): it would let every change ship its own, relaxed
 * policy (T37 F9). Refused, as the deployed policy's absence is: the policy must come from outside. A path that does
 * not resolve is left to the reading, which says so.
 */
async function refuseCheckoutPolicy(git: GitRepo, policyPath: string): Promise<void> {
  const tree = await git.workTree();
  if (!tree) return;
  const inside = (p: string | undefined) => p !== undefined && (p === tree || p.startsWith(`${tree}${sep}`));
  // The file it resolves to, and the path as given: a symlink in the checkout (the file, or a directory on the way)
  // pointing outside is still the change's to retarget (T43 N7). The given path's directories are resolved, not the
  // file, so a checkout reached through a symlinked directory (/tmp → /private/tmp) is still recognised.
  const resolvedPaths = [await realpath(policyPath).catch(() => undefined)];
  for (let dir = dirname(resolve(policyPath)); ; dir = dirname(dir)) {
    resolvedPaths.push(await realpath(dir).catch(() => undefined));
    if (dir === dirname(dir)) break;
  }
  if (!resolvedPaths.some(inside)) return;
  throw new ConfigError(`--config ${policyPath} is inside the checkout under review (${tree}), whose changes could relax it`, {
    hint: "keep the policy file outside the repository (e.g. in the runner's temp directory), or leave out --config to use the deployed .sock-check.yml",
  });
}

interface LoadedPolicy {
  policy: Policy;
  source: string;
}

async function loadPolicy(options: CheckOptions, text: string | undefined, source: string): Promise<LoadedPolicy> {
  if (options.policyPath) {
    // As every tool's --config: a FIFO, a device or a huge file is refused at once instead of hanging the gate.
    const fileText = readConfigFileSync(options.policyPath, "--config (or $SOCK_CHECK_CONFIG) must name a policy file");
    return { policy: parsePolicy(fileText, options.policyPath), source: options.policyPath };
  }
  if (text === undefined) {
    throw new ConfigError(`no ${POLICY_FILE} in the repository`, { hint: `commit one (see the README) or pass --config FILE` });
  }
  return { policy: parsePolicy(text, source), source };
}

/**
 * First-parent commits dated before `--since` checked besides the window, one GraphQL batch: a fast-forward merge keeps
 * its commits' dates, so those may have been merged in the window (retro keeps them by their PR's merge time).
 */
const EARLIER_COMMITS = 100;

async function resolveFrom(
  git: GitRepo,
  options: CheckOptions,
  candidatePolicy: () => Promise<LoadedPolicy>,
  to: string,
): Promise<{ from: string; window?: MergeWindow }> {
  const given = [options.from, options.fromFile, options.fromUrl].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError("give only one of --from, --from-file and --from-url");
  if (options.from) return { from: await git.resolve(options.from, "--from") };
  if (options.fromFile) return { from: await git.resolve(await shaFromFile(options.fromFile), "--from-file") };
  if (options.fromUrl) return { from: await git.resolve(await shaFromUrl(options.fromUrl, 10_000), "--from-url") };
  if (options.since) {
    const window = await git.mergeWindow(to, options.since, EARLIER_COMMITS);
    return { from: window.from, window };
  }
  const { policy } = await candidatePolicy();
  const tag = await git.lastTag(policy.deploy.tagPattern, to);
  if (!tag) {
    throw new NoInputError(`no deploy tag matching "${policy.deploy.tagPattern}" before ${short(to)}`, {
      hint: "pass --from REF, --from-file or --from-url, or set deploy.tagPattern",
    });
  }
  return { from: await git.resolve(tag, `deploy tag ${tag}`) };
}

async function repositoryOf(git: GitRepo, options: CheckOptions, policy: Policy): Promise<string> {
  if (options.repository) {
    if (!/^[\w.-]+\/[\w.-]+$/.test(options.repository)) throw new UsageError(`--repo ${options.repository}: expected owner/name`);
    refuseOtherRepository(options.repository, policy.github.repository);
    return options.repository;
  }
  if (policy.github.repository) return policy.github.repository;
  const remote = await git.remoteUrl();
  const fromRemote = remote ? repositoryFromRemote(remote) : undefined;
  if (!fromRemote)
    throw new ConfigError("cannot tell which GitHub repository this is", { hint: "set github.repository or pass --repo owner/name" });
  return fromRemote;
}

async function gitlabProjectOf(git: GitRepo, options: CheckOptions, policy: Policy): Promise<string> {
  if (options.repository) return options.repository;
  if (policy.gitlab.project !== undefined) return String(policy.gitlab.project);
  const remote = await git.remoteUrl();
  const fromRemote = remote ? projectFromRemote(remote) : undefined;
  if (!fromRemote)
    throw new ConfigError("cannot tell which GitLab project this is", { hint: "set gitlab.project or pass --repo group/name" });
  return fromRemote;
}

/**
 * --repo may name the repository only where the policy does not: the policy is the reviewed source of truth (read
 * from the deployed commit, or a --config kept outside the checkout), while --repo comes from the CI job, e.g. the
 * Action's `repo` input in the candidate's own workflow. Pointed at a fork (same commits, its own approvals) a
 * silent override passed what the policy's repository blocked (T53 F7). GitHub compares names case-insensitively.
 */
function refuseOtherRepository(flag: string, configured: string | undefined): void {
  if (configured === undefined || configured.toLowerCase() === flag.toLowerCase()) return;
  throw new UsageError(`--repo ${flag} is not the policy's github.repository ${configured}`, {
    hint: "leave out --repo (the policy names the repository), or change github.repository in the policy",
  });
}

function short(sha: string): string {
  return sha.slice(0, 7);
}

/** The deadline of a run's API requests, counted from when the client is made (T67 F6). */
function runDeadline(provider: "github" | "gitlab", ms: number): { at: number; name: string } {
  return { at: Date.now() + ms, name: `the run's deadline (${provider}.runTimeoutMs ${ms})` };
}
