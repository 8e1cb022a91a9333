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
}

export interface GitHubStatus {
  id: number;
  sha: string;
  context: string;
  state: "success" | "failure" | "error" | "pending";
  /** Login of the account (or REST-style bot login) that posted the status. */
  creator: string;
  createdAt: string;
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

  isBot(login: string): boolean {
    return this.bots.has(login);
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
        for (const c of new Set([...p.commits, ...(p.mergeCommitSha ? [p.mergeCommitSha] : [])])) {
          this.#pullIndex.set(c, [...(this.#pullIndex.get(c) ?? []), p]);
        }
      }
    }
    return this.#pullIndex.get(sha) ?? [];
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
