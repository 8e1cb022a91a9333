import { readGitHistory } from "./git-history";

/**
 * What the GitHub simulator knows: commits as pushed, PRs, reviews, check runs, statuses, teams and
 * accounts. The REST and GraphQL views (github-rest.ts, github-graphql.ts) render this one store in
 * each API's own shapes, so the two can never disagree about the facts.
 */

export interface GitHubActor {
  name: string;
  email: string;
  date: string;
}

export interface GitHubCommit {
  sha: string;
  parents: string[];
  message: string;
  author: GitHubActor;
  committer: GitHubActor;
  /** Whether GitHub shows the commit as "Verified". */
  verified: boolean;
}

export type ReviewState = "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED";

export interface GitHubReview {
  id: number;
  user: string;
  state: ReviewState;
  commitId: string;
  submittedAt: string;
}

export interface GitHubPullRequest {
  number: number;
  title: string;
  body: string;
  user: string;
  headRef: string;
  headSha: string;
  baseRef: string;
  /** The PR's commits, in push (topological) order, oldest first. The APIs list them in their own order. */
  commits: string[];
  createdAt: string;
  merged: boolean;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
  /**
   * The commits a rebase merge wrote on the base branch (copies of the PR's commits; the last is
   * `mergeCommitSha`, "the commit that the base branch was updated to" — REST pulls `merge_commit_sha`).
   * GitHub associates each with the PR. Absent for merge and squash merges, which write one commit.
   */
  rebasedCommits?: string[];
  labels: string[];
  reviews: GitHubReview[];
}

export type CheckConclusion = "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required";

export interface GitHubCheckRun {
  id: number;
  headSha: string;
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: CheckConclusion | null;
  /** The GitHub App's slug. */
  app: string;
  startedAt: string;
  completedAt: string | null;
  /**
   * The check suite it belongs to (default: a suite of its own, one per workflow run). Re-running a suite adds
   * check runs to the same suite: "Rerequest a check suite … its status is reset to queued and the conclusion is
   * cleared" (docs.github.com/rest/checks/suites#rerequest-a-check-suite).
   */
  suiteId?: number;
}

export interface GitHubStatus {
  id: number;
  sha: string;
  context: string;
  state: "success" | "failure" | "error" | "pending";
  /**
   * Who posted the status: a person's login, or a GitHub App's bot by its REST login "slug[bot]". GraphQL's
   * `StatusContext.creator` is an `Actor`: the bot is a `Bot` with login "slug", a person a `User` (see isBot).
   */
  creator: string;
  createdAt: string;
}

/** An organisation's member and whether they made the membership public (members choose; private by default). */
export interface GitHubOrgMember {
  login: string;
  public: boolean;
}

export type PullRequestInput = Omit<GitHubPullRequest, "reviews" | "labels" | "body" | "createdAt" | "mergedBy" | "mergedAt"> &
  Partial<Pick<GitHubPullRequest, "labels" | "body" | "createdAt" | "mergedBy" | "mergedAt">>;

/** Numeric ids GitHub gives every account; stable per login so REST and GraphQL agree. */
function accountId(login: string): number {
  let hash = 7;
  for (const ch of login) hash = (hash * 31 + ch.charCodeAt(0)) % 90_000_000;
  return 10_000_000 + hash;
}

export class GitHubData {
  readonly owner: string;
  readonly repo: string;
  readonly commits = new Map<string, GitHubCommit>();
  readonly pulls = new Map<number, GitHubPullRequest>();
  readonly checkRuns: GitHubCheckRun[] = [];
  readonly statuses: GitHubStatus[] = [];
  readonly teams = new Map<string, string[]>();
  /** Organisation login → its members, with each membership's visibility. */
  readonly orgs = new Map<string, GitHubOrgMember[]>();
  /**
   * Extra commit → PR associations GitHub keeps although the commit is not (or no longer) one of the PR's
   * commits nor its merge: e.g. a commit that was on the PR branch when GitHub listed it and was then pushed
   * to the base branch directly, leaving base..head. Tester finding 14 met one; `associatedPullRequests` lists it.
   */
  readonly extraAssociations = new Map<string, number[]>();
  /** Verified e-mail → login, as GitHub links commits to accounts. */
  readonly emails = new Map<string, string>();
  /** REST logins of GitHub App bots, e.g. "dependabot[bot]". */
  readonly bots = new Set<string>();
  /** Branch and tag names → commit, as pushed. */
  readonly refs = new Map<string, string>();
  #nextId = 1;
  #pullIndex: Map<string, GitHubPullRequest[]> | undefined;

  constructor(owner: string, repo: string) {
    this.owner = owner;
    this.repo = repo;
  }

  nextId(): number {
    return this.#nextId++;
  }

  /** A bot is known by its REST login ("name[bot]"); a login given without the suffix gets it. */
  addUser(login: string, emails: readonly string[] = [], options: { bot?: boolean } = {}): string {
    const rest = options.bot && !login.endsWith("[bot]") ? `${login}[bot]` : login;
    for (const email of [...emails, `${accountId(rest)}+${rest}@users.noreply.github.com`]) this.emails.set(email.toLowerCase(), rest);
    if (options.bot) this.bots.add(rest);
    return rest;
  }

  /**
   * A GitHub App's bot: registered as one, or any REST login ending in "[bot]", which only apps' bots have (a user
   * name "may only contain alphanumeric characters or single hyphens" — docs.github.com/account-and-profile/
   * setting-up-and-managing-your-personal-account-on-github/managing-personal-account-settings/changing-your-github-username).
   * GraphQL types such an actor `Bot` ("a special type of user which takes actions on behalf of GitHub Apps",
   * schema.graphql); a login without the suffix is a `User`, whatever it is called.
   */
  isBot(login: string): boolean {
    return this.bots.has(login) || login.endsWith("[bot]");
  }

  accountId(login: string): number {
    return accountId(login);
  }

  /** The account an e-mail belongs to, as GitHub links commit authors; undefined when none. */
  accountOf(email: string): string | undefined {
    return this.emails.get(email.toLowerCase());
  }

  pushGitRepository(dir: string): void {
    const { commits, refs } = readGitHistory(dir);
    for (const commit of commits) if (!this.commits.has(commit.sha)) this.commits.set(commit.sha, { ...commit, verified: false });
    for (const [name, sha] of refs) this.refs.set(name, sha);
  }

  commit(sha: string): GitHubCommit {
    const commit = this.commits.get(sha);
    if (!commit) throw new Error(`GitHub simulator: unknown commit ${sha}`);
    return commit;
  }

  addPullRequest(input: PullRequestInput): GitHubPullRequest {
    const pull: GitHubPullRequest = {
      body: "",
      labels: [],
      createdAt: new Date(0).toISOString(),
      mergedAt: null,
      mergedBy: null,
      ...input,
      reviews: [],
    };
    this.pulls.set(pull.number, pull);
    this.#pullIndex = undefined;
    return pull;
  }

  /** GitHub lists `sha` under PR `number` from now on (see extraAssociations). */
  associate(sha: string, number: number): void {
    this.extraAssociations.set(sha, [...(this.extraAssociations.get(sha) ?? []), number]);
    this.#pullIndex = undefined;
  }

  pull(number: number): GitHubPullRequest {
    const pull = this.pulls.get(number);
    if (!pull) throw new Error(`GitHub simulator: unknown pull request #${number}`);
    return pull;
  }

  /**
   * A PR's commits in the order GitHub lists them: by author date, oldest first, not by push order. A
   * rebased or back-dated head is therefore not last. Reported e.g. in
   * https://github.com/orgs/community/discussions/63519 (commit order in a PR differs from the branch);
   * the head is `headRefOid` ("the oid of the head ref ... even if the ref has been deleted", GraphQL schema).
   */
  listedPullCommits(pull: GitHubPullRequest): string[] {
    const known = pull.commits.filter((sha) => this.commits.has(sha));
    return known
      .map((sha, push) => ({ sha, push, date: Date.parse(this.commit(sha).author.date) }))
      .sort((a, b) => a.date - b.date || a.push - b.push)
      .map((c) => c.sha);
  }

  /** Commits reachable from head and not from base, oldest first, as `git log --reverse base..head`. */
  reachableRange(base: string, head: string): string[] {
    const excluded = this.ancestors(base);
    const seen = new Set<string>();
    const order: string[] = [];
    const stack = [head];
    while (stack.length > 0) {
      const sha = stack.pop()!;
      if (seen.has(sha) || excluded.has(sha)) continue;
      seen.add(sha);
      order.push(sha);
      for (const parent of this.commits.get(sha)?.parents ?? []) stack.push(parent);
    }
    return order.sort((a, b) => (this.commits.get(a)?.committer.date ?? "").localeCompare(this.commits.get(b)?.committer.date ?? ""));
  }

  ancestors(sha: string): Set<string> {
    const seen = new Set<string>();
    const stack = [sha];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      for (const parent of this.commits.get(s)?.parents ?? []) stack.push(parent);
    }
    return seen;
  }

  /** A full SHA, a branch or tag name, or an unambiguous SHA prefix of at least 7 characters. */
  resolve(ref: string): string | undefined {
    if (this.commits.has(ref)) return ref;
    const named = this.refs.get(ref);
    if (named) return named;
    const matches = [...this.commits.keys()].filter((sha) => ref.length >= 7 && sha.startsWith(ref));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** PRs whose commits contain the commit, or that merged it (GitHub's "commits/{sha}/pulls"). */
  pullsOfCommit(sha: string): GitHubPullRequest[] {
    if (!this.#pullIndex) {
      this.#pullIndex = new Map();
      for (const p of this.pulls.values()) {
        const landed = [...(p.rebasedCommits ?? []), ...(p.mergeCommitSha ? [p.mergeCommitSha] : [])];
        const extra = [...this.extraAssociations].filter(([, numbers]) => numbers.includes(p.number)).map(([sha]) => sha);
        for (const c of new Set([...p.commits, ...landed, ...extra])) {
          this.#pullIndex.set(c, [...(this.#pullIndex.get(c) ?? []), p]);
        }
      }
    }
    return this.#pullIndex.get(sha) ?? [];
  }

  /**
   * The members of an organisation a viewer can see: all of them to a member, the public ones to anyone else —
   * "If the authenticated user is also a member of this organization then both concealed and public members will
   * be returned" (REST orgs/list-members, @octokit/openapi api.github.com; GraphQL's `membersWithRole` reads the
   * same list: "A list of users who are members of this organization"). Private membership is the default:
   * docs.github.com/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-your-membership-in-organizations/publicizing-or-hiding-organization-membership
   */
  visibleMembers(org: string, viewer: string | undefined): string[] {
    const members = this.orgs.get(org) ?? [];
    const insider = viewer !== undefined && members.some((m) => m.login === viewer);
    return members.filter((m) => insider || m.public).map((m) => m.login);
  }

  /** Whether an organisation exists here: one with members set, or one a team was set for. */
  hasOrg(org: string): boolean {
    return this.orgs.has(org) || [...this.teams.keys()].some((key) => key.startsWith(`${org}/`));
  }

  checkRunsOf(sha: string): GitHubCheckRun[] {
    return this.checkRuns.filter((r) => r.headSha === sha);
  }

  /** The newest status per context, as GitHub's combined status and status rollup report them. */
  latestStatuses(sha: string): GitHubStatus[] {
    const byContext = new Map<string, GitHubStatus>();
    for (const s of this.statuses.filter((x) => x.sha === sha).sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      byContext.set(s.context, s);
    }
    return [...byContext.values()];
  }
}
