/** What the provider reports about a change, before any policy is applied. */

export interface Person {
  name?: string;
  email?: string;
  login?: string;
}

export type ReviewState = "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED" | "PENDING";

export interface ReviewFact {
  reviewer: string | null;
  /**
   * The reviewer account's type where the provider says (GitHub's `author.__typename`: "User", "Bot", ...).
   * Only a User's approval counts: a bot approves whatever its workflow tells it to.
   */
  reviewerType?: string | null;
  state: ReviewState;
  submittedAt: string | null;
  /** The PR head the review was given on. */
  commit: string | null;
}

export interface CheckFact {
  name: string;
  /** The GitHub App slug for a check run; the creator for a commit status; null for a GitLab CI job. */
  app: string | null;
  /** A GitHub check run, a commit status (GitHub's, or one posted to GitLab from outside), or a GitLab CI job. */
  kind: "check_run" | "status" | "job";
  /**
   * A status's creator type where the provider says (GitHub's `StatusContext.creator.__typename`): "Bot" for a
   * GitHub App's bot, whose login is the app's slug; "User" for a person's account, which may be named like any app.
   */
  creatorType?: string | null;
  /** Conclusion (check run) or state (status), lower case; "pending" while running. */
  state: string;
  /** When it completed (check run, GitLab job or status) or was posted (GitHub status); null when not said. */
  at: string | null;
  /** The commit it ran on; the PR head when the provider reports checks per head. */
  sha?: string | null;
  /**
   * The run's check suite where the provider says (GitHub's `checkRun.checkSuite.id`, GitLab's pipeline): a re-run
   * adds runs to it, so within one suite the newest run of a name stands; runs of one name in different suites (two
   * workflows with a job of that name) all stand.
   */
  suite?: string | null;
}

export interface PullCommitFact {
  sha: string;
  message: string;
  /** The author and every Co-authored-by, linked to accounts where the provider could. */
  authors: Person[];
  committer: Person;
  verified: boolean | null;
  /** Parent SHAs, where the provider reports them (orders the PR's pushes; finds base-branch update merges). */
  parents?: string[];
}

export interface PullFact {
  number: number;
  url: string;
  title: string;
  body: string;
  author: string | null;
  /** The author account's type where the provider says ("Bot" for a GitHub App's bot, "User", ...). */
  authorType?: string | null;
  headRef: string;
  headSha: string;
  baseRef: string;
  merged: boolean;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommit: string | null;
  /**
   * GitLab's `squash_commit_sha`: a single-parent commit that stands for the MR like a squash commit on GitHub, also
   * when a merge commit (`mergeCommit`) follows it, with the squash commit as its second parent.
   */
  squashCommit?: string | null;
  /**
   * GitLab says the MR was squashed (`squash`) but names no `squash_commit_sha` (a GitLab that does not report it):
   * its squash commit cannot be told, so nothing stands for the MR as one (see CommitFact.squashUnreported).
   */
  squashUnreported?: boolean;
  labels: string[];
  reviews: ReviewFact[];
  commits: PullCommitFact[];
  checks: CheckFact[];
}

export interface CommitFact {
  sha: string;
  verified: boolean | null;
  authorLogin: string | null;
  committerLogin: string | null;
  /** Numbers of the PRs the provider associates with the commit (and that brought it, see association.ts). */
  pulls: number[];
  /** Merged PRs the provider listed for the commit although it is none of their commits, merge/squash commits or rebased copies. */
  disowned?: number[];
  /** Merged PRs whose merge commit this is, though it holds changes of its own (its tree is not git's clean merge). */
  ownChanges?: number[];
  /**
   * Merged PRs whose merge commit this single-parent commit is (a squash, the last rebased copy), though its tree is
   * not the PR's content (`head`: the PR's head it was compared with).
   */
  foreignContent?: Array<{ number: number; head: string }>;
  /**
   * Merged PRs whose merge commit this is, though what it merges is not the PR's head (`merged`: its parents past the
   * first): a merge of the head plus commits of its own, or of other commits altogether, brings in what no review saw.
   * With `squash`: it merges the MR's squash commit (GitLab), whose content is not the MR's.
   */
  foreignMerge?: Array<{ number: number; head: string; merged: string[]; squash?: string; squashUnreported?: boolean }>;
  /**
   * Merged PRs this commit is one of, though it is a merge on the deploy line that brings in `commits` off it (the base
   * branch merged into the PR, which landed as a fast-forward): first-parent mode never lists those (T33).
   */
  mergesOffLine?: { pulls: number[]; commits: string[] };
  /** Merged PRs of the commit whose final state (`final`: merge commit or head) is not part of what is deployed. */
  partial?: PartialPull[];
  /**
   * A single-parent commit no MR explains, while GitLab named no squash commit for MRs it says were squashed
   * (PullFact.squashUnreported): `holds`, those whose head has this commit's tree (as a squash commit of theirs
   * would); `uncomparable`, those whose head is not in this checkout to tell. It is still a direct push; this says why.
   */
  squashUnreported?: { holds: number[]; uncomparable: number[] };
}

export interface PartialPull {
  number: number;
  final: string;
}

export interface OrgFact {
  /** Members the token sees (logins). */
  members: string[];
  /**
   * Why someone missing from `members` may still be a member, or null when the list is complete. GitHub shows a
   * token that is not an organisation member only the public members; an organisation that could not be read
   * at all leaves everyone unknown.
   */
  incomplete: string | null;
}

export interface ProviderFacts {
  commits: Map<string, CommitFact>;
  pulls: Map<number, PullFact>;
  /** "org/slug" → member logins. */
  teams: Map<string, string[]>;
  /**
   * Teams (GitLab groups) that could not be read → why: whether an approver is a member cannot be told, so a rule
   * naming one that an approver outside the known lists would meet is unverified, never failed on a guess.
   */
  unreadTeams: Map<string, string>;
  /** Organisation login → the members the token could see, and whether that is all of them. */
  orgs: Map<string, OrgFact>;
  /** sha → why it could not be verified. */
  unverified: Map<string, string>;
  /** The repository's default branch, where a change must be merged to count as reviewed for the deploy line. */
  defaultBranch: string | null;
  /** The first failure that left something unverified: decides the exit code when blocking. */
  failure: Error | undefined;
}
