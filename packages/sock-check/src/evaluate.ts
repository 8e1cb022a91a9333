import { type ChangeTerms, changeTerms, disownedReason } from "./association";
import type { LocalCommit } from "./git";
import { branchMatcher, pathMatcher, UNREADABLE_NAME } from "./globs";
import type { CheckFact, CommitFact, Person, ProviderFacts, PullCommitFact, PullFact, ReviewFact } from "./model";
import { type ApprovalExpression, durationMs, type Policy, requiredChecks } from "./policy";
import type { ApprovalRecord, ChangeRecord, CheckRecord, EmergencyRecord, Verdict, Violation } from "./record";
import { instant } from "./time";
import { loginOfGitHubNoreply, PLATFORM_EMAILS, PLATFORM_LOGINS } from "./unlinked";

/** The change-management rules, applied to what the provider reported. Pure: same facts, same verdicts. */

export interface EvaluateInput {
  policy: Policy;
  repo: string;
  range: ChangeRecord["range"];
  commits: readonly LocalCommit[];
  facts: ProviderFacts;
  /** sha → paths it changed; only needed when the policy has path rules. */
  changedPaths: ReadonlyMap<string, readonly string[]>;
  /** Commits on the first-parent line of the candidate: these must arrive through a PR into one of `deployBranches`. */
  deployLine: ReadonlySet<string>;
  /** Branch names or globs; null when the provider did not say, and then any merged PR counts. */
  deployBranches: readonly string[] | null;
  /** PR merge commits whose tree is the clean merge of their parents (checked with local git); others are not ignored. */
  cleanMerges?: ReadonlySet<string>;
  now: Date;
  toolVersion: string;
}

interface PullVerdict {
  approvals: ApprovalRecord[];
  checks: CheckRecord[];
  tickets: string[];
  emergency: EmergencyRecord | null;
  exemption: string | null;
  violations: Violation[];
  eligibleApprovers: string[];
  /**
   * Who of them approved what ships: on the head (or not made stale by ignored pushes) when
   * approvals.requireOnHead; path and approval rules name reviewers, and a stale approval is not theirs.
   */
  currentApprovers: string[];
}

export function evaluate(input: EvaluateInput): ChangeRecord[] {
  const generatedAt = input.now.toISOString();
  const byPull = new Map<number, PullVerdict>();
  const terms = changeTerms(input.policy.provider);
  return input.commits.map((commit) => {
    const base = {
      repo: input.repo,
      range: input.range,
      commit: {
        sha: commit.sha,
        subject: commit.subject,
        author: withLogin(commit.author, input.facts.commits.get(commit.sha)?.authorLogin),
        committer: withLogin(commit.committer, input.facts.commits.get(commit.sha)?.committerLogin),
        co_authors: commit.coAuthors,
        signed: input.facts.commits.get(commit.sha)?.verified ?? null,
      },
      tool_version: input.toolVersion,
      generated_at: generatedAt,
    };
    const empty = { pr: null, approvals: [], checks: [], tickets: [], labels: [], emergency: null, exemption: null };
    const fact = input.facts.commits.get(commit.sha);
    const branch = input.deployLine.has(commit.sha) && input.deployBranches ? input.deployBranches : null;
    const pull = fact ? pickPull(commit.sha, fact.pulls, input.facts, branch) : undefined;
    const unverified = input.facts.unverified.get(commit.sha);
    if (unverified !== undefined) {
      return {
        ...base,
        ...empty,
        // the MR or PR the reason is about, when it was read: the record keeps what its verdict concerns (T65)
        pr: pull ? pullRecord(pull) : null,
        verdict: "unverified",
        violations: [{ rule: "unverified", message: `could not be verified: ${unverified}` }],
      };
    }
    if (!pull) {
      const elsewhere = fact ? mergedElsewhere(fact.pulls, input.facts, branch) : [];
      const unmerged =
        elsewhere.length > 0
          ? ` (${terms.kind} ${elsewhere.map((p) => `${terms.number(p.number)} was merged into ${p.baseRef}`).join(", ")}, not ${branch?.join(" or ")})`
          : fact?.pulls.length
            ? ` (${terms.list(fact.pulls)} not merged)`
            : fact?.partial?.length
              ? ` (${fact.partial.map((p) => `${terms.list([p.number])} was merged as ${p.final.slice(0, 7)}`).join(", ")}, which is not part of ${input.range.to.slice(0, 7)}: only part of that ${terms.kind} would ship)`
              : fact?.disowned?.length
                ? ` (${disownedReason(fact.disowned, terms)})`
                : fact?.ownChanges?.length
                  ? ` (it is the merge commit of ${terms.list(fact.ownChanges)}, but holds changes of its own that no review saw: its tree is not git's clean merge of its parents)`
                  : fact?.foreignContent?.length
                    ? ` (${fact.foreignContent.map((p) => `it stands for ${terms.list([p.number])} as its merge commit, but its content is not the ${terms.kind}'s: its tree is neither the ${terms.kind}'s head ${p.head.slice(0, 7)} merged onto its parent nor its parent with the head's own change applied`).join("; ")})`
                    : fact?.foreignMerge?.length
                      ? ` (${fact.foreignMerge.map((p) => foreignMergeReason(p, terms)).join("; ")})`
                      : fact?.mergesOffLine
                        ? ` (${mergesOffLineReason(fact.mergesOffLine, terms)})`
                        : fact?.squashUnreported
                          ? ` (${squashUnreportedReason(fact.squashUnreported, terms)})`
                          : "";
      const violations: Violation[] = [{ rule: "direct-push", message: `pushed to the branch without a merged ${terms.noun}${unmerged}` }];
      if (input.policy.signedCommits && fact?.verified !== true)
        violations.push({ rule: "unsigned", message: "commit is not signed and verified" });
      return { ...base, ...empty, verdict: "noncompliant", violations };
    }
    let verdict = byPull.get(pull.number);
    if (!verdict) {
      verdict = evaluatePull(pull, input, terms);
      byPull.set(pull.number, verdict);
    }
    const violations = [...verdict.violations];
    if (input.policy.signedCommits && fact?.verified !== true && !pull.commits.some((c) => c.sha === commit.sha)) {
      violations.push({ rule: "unsigned", message: `commit ${commit.sha.slice(0, 7)} is not signed and verified` });
    }
    violations.push(...pathViolations(commit, pull, verdict, input, terms));
    if (!verdict.exemption && !verdict.emergency) violations.push(...approvalRuleViolations(commit, pull, verdict, input));
    return {
      ...base,
      pr: pullRecord(pull),
      approvals: verdict.approvals,
      checks: verdict.checks,
      tickets: uniq([...verdict.tickets, ...ticketsIn(commit.message, input.policy)]),
      labels: pull.labels,
      emergency: verdict.emergency,
      exemption: verdict.exemption,
      verdict: verdictOf(violations, verdict, input.facts.unverified.has(commit.sha)),
      violations,
    };
  });
}

function verdictOf(violations: readonly Violation[], pull: PullVerdict, unverified: boolean): Verdict {
  if (unverified) return "unverified";
  // A rule that failed outright blocks whatever else is unknown; only unknowns left make the change unverified.
  if (violations.some((v) => v.rule !== "unverified")) return "noncompliant";
  if (violations.length > 0) return "unverified";
  if (pull.emergency?.status === "pending") return "emergency";
  if (pull.exemption) return "exempt";
  return "compliant";
}

/**
 * The merged PR that brought the commit in: the one whose merge (or squash) commit it is, else the earliest merged.
 * With a `branch`, only PRs merged into it count: a PR reviewed into another branch did not review the push onward.
 */
/**
 * A file name in a message, quoted as git quotes one when it holds a control character, a quote or a backslash
 * (`"infra/a\nb.tf"`): every report turns control characters into spaces, so a newline, CR or tab read as a plain
 * space, another file's name (T65). Control characters are written \n, \r, \t or \xNN.
 */
function shownName(name: string): string {
  if (!/[\u0000-\u001f\u007f-\u009f"\\]/.test(name)) return name;
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  const escaped = name
    .replace(/["\\]/g, "\\$&")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `"${escaped}"`;
}

function pullRecord(pull: PullFact): NonNullable<ChangeRecord["pr"]> {
  return {
    number: pull.number,
    url: pull.url,
    title: pull.title,
    author: pull.author,
    head_ref: pull.headRef,
    head_sha: pull.headSha,
    merged_at: pull.mergedAt,
    merged_by: pull.mergedBy,
  };
}

function pickPull(sha: string, numbers: readonly number[], facts: ProviderFacts, branch: readonly string[] | null): PullFact | undefined {
  const pulls = mergedPulls(numbers, facts).filter((p) => branch === null || intoBranch(p, branch));
  return pulls.find((p) => p.mergeCommit === sha) ?? pulls.sort((a, b) => byTime(a.mergedAt, b.mergedAt))[0];
}

function mergedPulls(numbers: readonly number[], facts: ProviderFacts): PullFact[] {
  return numbers.map((n) => facts.pulls.get(n)).filter((p): p is PullFact => p?.merged === true);
}

function mergedElsewhere(numbers: readonly number[], facts: ProviderFacts, branch: readonly string[] | null): PullFact[] {
  return branch === null ? [] : mergedPulls(numbers, facts).filter((p) => !intoBranch(p, branch));
}

function intoBranch(pull: PullFact, branches: readonly string[]): boolean {
  return branches.some((b) => branchMatcher(b)(pull.baseRef));
}

/**
 * The note of an approval without a reviewer: the account was deleted. GitHub then shows its reviews as by "ghost"
 * and its GraphQL gives their author as null (docs.github.com/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-personal-account-settings/deleting-your-personal-account:
 * what the account wrote elsewhere is "associated with our Ghost user"). Nobody can tell whether it was the author's
 * own second account or an independent reviewer, so it does not count; it is no self-approval either.
 */
const DELETED_REVIEWER = "reviewer is a deleted account (GitHub's or GitLab's ghost): whose approval it was cannot be told";

/** The note of an approval without a readable time: where order decides, what cannot be placed does not count (T53 F4). */
const UNDATED_APPROVAL = "the provider gave no readable time for it, so it cannot be told to come before the merge";

/** The note of an approval whose account type the provider should have given and did not (GitLab's `bot` missing). */
const UNTYPED_REVIEWER = "the provider did not say whether the reviewer is a person or a bot";

function evaluatePull(pull: PullFact, input: EvaluateInput, terms: ChangeTerms): PullVerdict {
  const { policy } = input;
  const selfNote = `reviewer is the ${terms.kind} author, a commit author/co-author or committer`;
  const violations: Violation[] = [];
  const conflicted = conflictedIdentities(pull, policy);
  const isConflicted = (login: string | null) => login === null || conflicted.has(login.toLowerCase());
  // A merged PR's merge time is readable here: one that is not leaves its commits unverified (unverifyUndatedMerges).
  const mergedAt = instant(pull.mergedAt) ?? Number.POSITIVE_INFINITY;
  const reviews = [...pull.reviews].sort((a, b) => byTime(a.submittedAt, b.submittedAt));
  const standing = standingDecisions(reviews, mergedAt);
  const approvals: ApprovalRecord[] = reviews
    .filter((r) => r.state !== "COMMENTED" && r.state !== "PENDING")
    .map((r) => {
      const latest = r.reviewer ? standing.get(r.reviewer.toLowerCase()) : undefined;
      const at = instant(r.submittedAt);
      const note =
        at !== undefined && at > mergedAt
          ? "after the merge"
          : r.state !== "APPROVED"
            ? undefined
            : at === undefined
              ? UNDATED_APPROVAL
              : r.reviewer === null
                ? DELETED_REVIEWER
                : isConflicted(r.reviewer)
                  ? selfNote
                  : !byPerson(r)
                    ? r.reviewerType === null
                      ? UNTYPED_REVIEWER
                      : `reviewer is a ${r.reviewerType} account, not a person`
                    : latest !== r
                      ? "superseded by a later review"
                      : undefined;
      return {
        reviewer: r.reviewer,
        state: r.state,
        submitted_at: r.submittedAt,
        commit: r.commit,
        on_head: r.commit === pull.headSha || onHeadIgnoring(r.commit, pull, policy, input.cleanMerges),
        counts: r.state === "APPROVED" && note === undefined,
        ...(note ? { note } : {}),
      };
    });
  const eligible = approvals.filter((a) => a.counts);
  const eligibleApprovers = uniqLogins(eligible.map((a) => a.reviewer ?? ""));
  const currentApprovers = policy.approvals.requireOnHead
    ? uniqLogins(eligible.filter((a) => a.on_head).map((a) => a.reviewer ?? ""))
    : eligibleApprovers;
  const selfApprovers = uniq(approvals.filter((a) => a.note === selfNote).map((a) => a.reviewer ?? "?"));
  const botApprovers = uniq(approvals.filter((a) => a.note?.endsWith("not a person")).map((a) => a.reviewer ?? "?"));
  const deletedApprovals = approvals.filter((a) => a.note === DELETED_REVIEWER).length;
  const untypedApprovers = uniq(approvals.filter((a) => a.note === UNTYPED_REVIEWER).map((a) => a.reviewer ?? "?"));
  const undatedApprovers = uniq(approvals.filter((a) => a.note === UNDATED_APPROVAL).map((a) => a.reviewer ?? "?"));

  const approvalViolations: Violation[] = [];
  const required = policy.approvals.required;
  if (eligibleApprovers.length < required) {
    const self =
      (selfApprovers.length > 0 ? `; approval by ${selfApprovers.join(", ")} does not count (author, co-author or committer)` : "") +
      (botApprovers.length > 0 ? `; approval by ${botApprovers.join(", ")} does not count (a bot, not a reviewer)` : "") +
      (untypedApprovers.length > 0
        ? `; approval by ${untypedApprovers.join(", ")} does not count (the provider did not say whether the account is a person or a bot)`
        : "") +
      (undatedApprovers.length > 0
        ? `; approval by ${undatedApprovers.join(", ")} does not count (the provider gave no readable time for it, so it cannot be told to come before the merge)`
        : "") +
      (deletedApprovals > 0
        ? `; ${deletedApprovals === 1 ? "an approval by a deleted account does" : `${deletedApprovals} approvals by deleted accounts do`} not count (whose it was cannot be told, so it is no independent review)`
        : "");
    approvalViolations.push({
      rule: selfApprovers.length > 0 && eligibleApprovers.length === 0 ? "self-approval" : "approvals",
      message: `needs ${required} independent approval${required === 1 ? "" : "s"}, has ${eligibleApprovers.length}${self}`,
    });
  }
  if (policy.approvals.requireOnHead && required > 0 && eligible.length > 0 && !eligible.some((a) => a.on_head)) {
    approvalViolations.push({
      rule: "stale-approval",
      message: `no approval on the final head ${pull.headSha.slice(0, 7)}: ${eligibleApprovers.join(", ")} approved before later pushes`,
    });
  }
  const objectors = [...standing.values()].filter((r) => r.state === "CHANGES_REQUESTED").map((r) => r.reviewer ?? "?");
  if (objectors.length > 0) {
    approvalViolations.push({ rule: "changes-requested", message: `changes requested by ${objectors.join(", ")} still stand` });
  }

  const bot = exemptBot(pull, policy.exemptions.bots, terms);
  const emergencyLabel = policy.exemptions.emergency?.label;
  let emergency: EmergencyRecord | null = null;
  if (bot) {
    // Dependency bumps from a listed bot skip review and ticket; checks still apply.
  } else if (emergencyLabel && pull.labels.includes(emergencyLabel) && approvalViolations.length > 0) {
    emergency = emergencyOf(pull, reviews, isConflicted, input);
    // The label waives the review beforehand, not a reviewer's "changes requested": that blocks as on any PR.
    if (emergency.changes_requested_by) {
      violations.push({
        rule: "changes-requested",
        message: `changes requested by ${emergency.changes_requested_by.join(", ")} still stand`,
      });
    }
    if (emergency.status === "overdue") {
      violations.push({
        rule: "retro-overdue",
        message: `emergency change: retroactive review was due ${emergency.due_at} and has not happened`,
      });
    }
  } else {
    violations.push(...approvalViolations);
  }

  const checks = checkRecords(pull, policy);
  violations.push(...checkViolations(pull, policy));

  const tickets = uniq([
    ...ticketsIn(pull.title, policy),
    ...ticketsIn(pull.body, policy),
    ...ticketsIn(pull.headRef, policy),
    ...pull.commits.flatMap((c) => ticketsIn(c.message, policy)),
  ]);
  if (policy.ticket.required && !bot && tickets.length === 0) {
    violations.push({ rule: "ticket", message: `no ticket reference in the ${terms.kind} title, body, branch or commit messages` });
  }

  if (policy.signedCommits) {
    const unsigned = pull.commits.filter((c) => c.verified !== true).map((c) => c.sha.slice(0, 7));
    if (unsigned.length > 0) violations.push({ rule: "unsigned", message: `unsigned or unverified commits: ${unsigned.join(", ")}` });
  }
  return { approvals, checks, tickets, emergency, exemption: bot, violations, eligibleApprovers, currentApprovers };
}

/**
 * The exemption a listed bot gives the PR, naming the entry that matched; null when none does. An entry matches
 * the author's login exactly, or — when the provider says the author is a bot (GitHub's `__typename: "Bot"`) —
 * in either spelling: GitHub's GraphQL gives a GitHub App's bot as `dependabot`, REST and the UI as
 * `dependabot[bot]`. A user account named like a bot is not one, so it gets no exemption by the bare name.
 */
/**
 * Whether the review is a person's: GitHub says `User` for a person and `Bot` for a GitHub App (github-actions
 * can approve a PR from a workflow), which approves whatever its workflow says and is no organisation's member;
 * GitLab's `UserCore.bot` gives "Bot" for an access token's bot user (gitlab.ts). A review whose provider types no
 * accounts leaves reviewerType out; one that should but did not say (null) is not known to be a person's.
 */
function byPerson(review: ReviewFact): boolean {
  return review.reviewerType === undefined || review.reviewerType === "User";
}

function exemptBot(pull: PullFact, bots: readonly string[], terms: ChangeTerms): string | null {
  const author = pull.author;
  if (!author) return null;
  const bare = (login: string) => login.toLowerCase().replace(/\[bot\]$/, "");
  const exact = bots.find((b) => b.toLowerCase() === author.toLowerCase());
  const entry = exact ?? (pull.authorType === "Bot" ? bots.find((b) => bare(b) === bare(author)) : undefined);
  if (!entry) return null;
  // Anyone who can push to the bot's branch can add a commit to its PR: the exemption covers the bot's own work only.
  if (!pull.commits.every((c) => isBotCommit(c, [entry]))) return null;
  const who = pull.authorType === "Bot" ? `${author}, a bot account` : author;
  return `bot:${entry} (exemptions.bots matched the ${terms.kind} author ${who})`;
}

function emergencyOf(
  pull: PullFact,
  reviews: readonly ReviewFact[],
  isConflicted: (login: string | null) => boolean,
  input: EvaluateInput,
): EmergencyRecord {
  const rule = input.policy.exemptions.emergency!;
  const mergedAt = instant(pull.mergedAt) ?? input.now.getTime();
  const due = new Date(mergedAt + durationMs(rule.reviewWithin));
  // Each reviewer's latest decision, before or after the merge: as for any PR, a "changes requested" that still
  // stands (the retro reviewer's own later one, or anyone else's, even from before the merge) means the review
  // is not done, and an approval counts only while it is its reviewer's latest word.
  const latest = standingDecisions(reviews, Number.POSITIVE_INFINITY);
  const objectors = [...latest.values()].filter((r) => r.state === "CHANGES_REQUESTED").map((r) => r.reviewer ?? "?");
  const retro =
    objectors.length > 0
      ? undefined
      : reviews.find(
          (r) =>
            r.state === "APPROVED" &&
            (instant(r.submittedAt) ?? Number.NEGATIVE_INFINITY) > mergedAt &&
            // of what was merged: an approval the API attached to an earlier commit reviewed something else
            (r.commit === null || r.commit === pull.headSha) &&
            !isConflicted(r.reviewer) &&
            byPerson(r) &&
            latest.get(r.reviewer?.toLowerCase() ?? "") === r,
        );
  return {
    label: rule.label,
    due_at: due.toISOString(),
    status: retro ? "done" : input.now > due ? "overdue" : "pending",
    retro_reviewer: retro?.reviewer ?? null,
    retro_reviewed_at: retro?.submittedAt ?? null,
    ...(objectors.length > 0 ? { changes_requested_by: objectors } : {}),
  };
}

/** The decisions a review can stand on: a later one of the same reviewer replaces the earlier. */
const DECISIONS = new Set(["APPROVED", "CHANGES_REQUESTED", "DISMISSED"]);

/**
 * Each reviewer's standing decision: the latest approval, request for changes or dismissal submitted up to `until`,
 * by time (`reviews` in time order). Keyed case-insensitively: GitHub (and GitLab) logins are, so "Carol" and
 * "carol" are one reviewer. A review without a readable time cannot be placed: an approval or dismissal so supersedes
 * nothing, and a request for changes stands whatever else the reviewer did (GitLab gives its "Request changes" no
 * time at all: it stands now), so an unreadable time never clears an objection (T53 F1).
 */
function standingDecisions(reviews: readonly ReviewFact[], until: number): Map<string, ReviewFact> {
  const standing = new Map<string, ReviewFact>();
  const decisions = reviews.filter((r) => r.reviewer !== null && DECISIONS.has(r.state));
  for (const review of decisions) {
    const at = instant(review.submittedAt);
    if (at !== undefined && at <= until) standing.set(review.reviewer!.toLowerCase(), review);
  }
  for (const review of decisions) {
    if (review.state === "CHANGES_REQUESTED" && instant(review.submittedAt) === undefined)
      standing.set(review.reviewer!.toLowerCase(), review);
  }
  return standing;
}

/** Orders two ISO 8601 times by instant; one without a readable time sorts first (it is placed nowhere else). */
function byTime(a: string | null | undefined, b: string | null | undefined): number {
  const x = instant(a) ?? Number.NEGATIVE_INFINITY;
  const y = instant(b) ?? Number.NEGATIVE_INFINITY;
  return x === y ? 0 : x < y ? -1 : 1;
}

/**
 * Whether an approval given on `approved` still stands for the head once the pushes policy says to ignore are
 * left out: every PR commit after it (reachable from the head, not from it, by parent links) is by a login in
 * `approvals.ignoreCommitsBy`, or — with `approvals.ignoreUpdateMerges` — merges the base branch in (a parent
 * outside the PR) and is the clean merge of its parents. Unknown parents (a provider that does not report them) ignore nothing.
 */
function onHeadIgnoring(approved: string | null, pull: PullFact, policy: Policy, cleanMerges: ReadonlySet<string> = new Set()): boolean {
  const { ignoreCommitsBy, ignoreUpdateMerges } = policy.approvals;
  if (!approved || (ignoreCommitsBy.length === 0 && !ignoreUpdateMerges)) return false;
  const bySha = new Map(pull.commits.map((c) => [c.sha, c]));
  if (!bySha.has(approved) || pull.commits.some((c) => c.parents === undefined)) return false;
  const reachable = (from: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length > 0) {
      const sha = stack.pop()!;
      if (seen.has(sha) || !bySha.has(sha)) continue;
      seen.add(sha);
      stack.push(...(bySha.get(sha)?.parents ?? []));
    }
    return seen;
  };
  const before = reachable(approved);
  const after = [...reachable(pull.headSha)].filter((sha) => !before.has(sha)).map((sha) => bySha.get(sha)!);
  return after.every((c) => {
    const byIgnored = ignoreCommitsBy.length > 0 && isBotCommit(c, ignoreCommitsBy);
    // A merge that adds changes of its own (an "evil merge") is new code however it is titled.
    const updateMerge =
      ignoreUpdateMerges && (c.parents?.length ?? 0) > 1 && (c.parents ?? []).some((p) => !bySha.has(p)) && cleanMerges.has(c.sha);
    return byIgnored || updateMerge;
  });
}

/**
 * Whether a PR commit is provably by one of `bots`: author(s) and committer are that bot (or the committer is
 * GitHub, as for a bot's commit made through the API), and GitHub verified its signature. Author and committer
 * e-mails are free text anyone can set (git config user.email), so they alone prove nothing; a bot's commits
 * are signed (GitHub signs those made through its API with its own key; GitActor.user is null for a bot).
 */
function isBotCommit(commit: PullCommitFact, bots: readonly string[]): boolean {
  const names = new Set(bots.map(bareLogin));
  const account = (p: Person) => bareLogin(accountOf(p) ?? "\0");
  if (commit.verified !== true || commit.authors.length === 0) return false;
  const committer = commit.committer;
  const byPlatform =
    (committer.login !== undefined && PLATFORM_LOGINS.has(committer.login)) || PLATFORM_EMAILS.has(committer.email?.toLowerCase() ?? "");
  return commit.authors.every((a) => names.has(account(a))) && (byPlatform || names.has(account(committer)));
}

function bareLogin(login: string): string {
  return login.toLowerCase().replace(/\[bot\]$/, "");
}

/**
 * The account of a commit author: the linked login, or the one in a GitHub no-reply address — the only way to
 * know a bot, whose e-mail GitHub never links to a User (`GitActor.user` is null for it).
 */
function accountOf(person: Person): string | undefined {
  if (person.login) return person.login.toLowerCase();
  return /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/i.exec(person.email ?? "")?.[1]?.toLowerCase();
}

/** Logins and e-mails that may not approve: the PR author, every commit author/co-author and committer. */
function conflictedIdentities(pull: PullFact, policy: Policy): Set<string> {
  const people: Person[] = pull.commits.flatMap((c) => [...c.authors, c.committer]);
  const logins = new Set<string>();
  if (pull.author) logins.add(pull.author.toLowerCase());
  const emails = new Set<string>();
  for (const person of people) {
    if (person.login && !PLATFORM_LOGINS.has(person.login)) logins.add(person.login.toLowerCase());
    if (person.email && !PLATFORM_EMAILS.has(person.email.toLowerCase())) emails.add(person.email.toLowerCase());
  }
  for (const email of emails) {
    const login = loginOfGitHubNoreply(email);
    if (login) logins.add(login);
  }
  for (const [login, addresses] of Object.entries(policy.identities)) {
    if (addresses.some((a) => emails.has(a.toLowerCase()))) logins.add(login.toLowerCase());
  }
  return logins;
}

/**
 * GitHub's required-check rules: a required name is met by check runs and commit statuses of that name, and
 * when both exist both are required ("If there is a check and a status with the same name ... both the check
 * and the status are required"); skipped and neutral count as passing ("required status checks must have a
 * successful, skipped, or neutral status") —
 * docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-status-checks-before-merging
 * With an `app`, only that app's check runs (or statuses its bot posted) count, so another account cannot stand in.
 */
function passes(c: CheckFact, policy: Policy): boolean {
  return c.state === "success" || (skippedOrNeutral(c.state) && notPassingWhy(policy, c.kind) === undefined);
}

const skippedOrNeutral = (state: string) => state === "skipped" || state === "neutral";

/**
 * Why a skipped (or neutral) result is no pass, or undefined where it is one. On GitLab a job is `skipped` when it
 * never ran: `when: on_success`, the default, runs a job "only when all jobs in earlier stages succeed", so one after
 * a failed stage is skipped, as is a `when: on_failure` job in a passing pipeline
 * (docs.gitlab.com/ci/yaml/#when). It proves nothing about the head, and GitLab's own "Pipelines must succeed" does
 * not take a skipped pipeline for a successful one unless the project opts in ("Skipped pipelines are considered
 * successful", a merge check beside "Pipelines must succeed":
 * docs.gitlab.com/ee/user/project/merge_requests/merge_when_pipeline_succeeds.html). GitHub's rule that skipped and neutral pass
 * (checks.skippedOrNeutral: pass) is GitHub's branch protection, so on GitLab a skipped required job always blocks.
 */
function notPassingWhy(policy: Policy, kind: CheckFact["kind"]): string | undefined {
  // An external commit status is posted by another service (docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit,
  // state `skipped`): no stage or when: of GitLab's was involved, so the job's explanation would mislead (T65).
  if (policy.provider === "gitlab" && kind === "status")
    return "a commit status posted as skipped says its check did not run, so it passed nothing";
  if (policy.provider === "gitlab") return "GitLab skips a job that never ran: an earlier stage failed or its when: was not met";
  return policy.checks.skippedOrNeutral === "fail" ? "checks.skippedOrNeutral is fail" : undefined;
}

function sameApp(actual: string | null, wanted: string): boolean {
  const bare = (login: string) => login.toLowerCase().replace(/\[bot\]$/, "");
  return actual !== null && bare(actual) === bare(wanted);
}

/** Why a merge commit does not stand for the PR the provider names it the merge commit of (CommitFact.foreignMerge). */
function foreignMergeReason(p: NonNullable<CommitFact["foreignMerge"]>[number], terms: ChangeTerms): string {
  const of = `it is the merge commit of ${terms.list([p.number])}`;
  if (p.squashUnreported) {
    return `${of}, which GitLab says was squashed but without naming its squash commit (no squash_commit_sha in its answer), so what it merges, ${p.merged.map((m) => m.slice(0, 7)).join(", ")}, cannot be taken for that squash commit: it is not the ${terms.kind}'s head ${p.head.slice(0, 7)}`;
  }
  if (p.squash !== undefined) {
    return `${of}, but the squash commit it merges, ${p.squash.slice(0, 7)}, does not hold the ${terms.kind}'s content: its tree is not the ${terms.kind}'s head ${p.head.slice(0, 7)} merged onto its parent`;
  }
  return `${of}, but it merges ${p.merged.map((m) => m.slice(0, 7)).join(", ")}, not the ${terms.kind}'s head ${p.head.slice(0, 7)}: what it brings in is not what was reviewed`;
}

/** Why no squashed MR stands for a commit when GitLab names no squash commit (CommitFact.squashUnreported). */
function squashUnreportedReason(unreported: NonNullable<CommitFact["squashUnreported"]>, terms: ChangeTerms): string {
  const named = (numbers: readonly number[]) =>
    numbers.length > 5 ? `${terms.list(numbers.slice(0, 5))} and ${numbers.length - 5} more` : terms.list(numbers);
  if (unreported.holds.length > 0) {
    return `it has the tree of the head of ${named(unreported.holds)}, as the squash commit of a squashed ${terms.kind} does, but GitLab did not name that squash commit (no squash_commit_sha in its answer), so nothing ties this commit to the ${terms.kind}`;
  }
  return `GitLab did not name the squash commit of squashed ${named(unreported.uncomparable)} (no squash_commit_sha in its answer), and the ${terms.kind} heads are not in this checkout to tell whether this is one: git fetch origin '+refs/merge-requests/*/head:refs/remotes/origin/merge-requests/*'`;
}

/** Why a PR's own commit on the deploy line is not the PR's to vouch for (CommitFact.mergesOffLine). */
function mergesOffLineReason(off: NonNullable<CommitFact["mergesOffLine"]>, terms: ChangeTerms): string {
  const shown = off.commits.slice(0, 5).map((sha) => sha.slice(0, 7));
  const more = off.commits.length > shown.length ? ", …" : "";
  return `it is a commit of ${terms.list(off.pulls)} that merges ${off.commits.length} commit(s) off the deploy line (${shown.join(", ")}${more}), which first-parent mode does not check one by one (the base branch merged into the ${terms.kind}, which then landed as a fast-forward): set commits: all in the policy to check them`;
}

/**
 * Whether a result comes from the app `wanted`: a check run by its app (`checkSuite.app.slug`), a status by the
 * app's own bot (GraphQL `Bot`, login = slug). A status by a `User` of that login, or whose creator is untyped,
 * does not: anyone can register a user account named like an app. (A workflow's GITHUB_TOKEN posts as
 * github-actions' bot, so it matches only a pin on github-actions, as its check runs do.)
 */
function fromApp(c: CheckFact, wanted: string): boolean {
  return sameApp(c.app, wanted) && (c.kind === "check_run" || c.creatorType === "Bot");
}

/**
 * The results that stand for a required check: every one GitHub's branch protection could count, so that none is
 * outvoted by the order the provider lists them in. GitHub documents only that a check run and a commit status of
 * one name are both required (docs.github.com/pull-requests/collaborating-with-pull-requests/collaborating-on-repositories-with-code-quality-features/troubleshooting-required-status-checks),
 * not which of two check runs of one name in different check suites (two workflows with a job of that name) it
 * takes, so both stand. Within one suite a re-run supersedes the earlier run ("Rerequest a check suite … its status
 * is reset to queued", docs.github.com/rest/checks/suites#rerequest-a-check-suite; the REST list's default
 * `filter=latest` is "the most recent check runs" by completed_at): the newest by completion time stands, and a run
 * that has not completed (or says no completion time) cannot be ordered before anything, so it stands too; runs
 * completed at one time all stand; a check run without its suite stands alone. A commit status (no suite): the
 * newest per creator, as GitHub keeps the newest per context.
 */
function standingResults(pull: PullFact, name: string, app: string | undefined): CheckFact[] {
  const groups = new Map<string | symbol, CheckFact[]>();
  for (const c of pull.checks.filter((c) => c.name === name && (!app || fromApp(c, app)))) {
    // A check run whose suite the answer leaves out (GitHub's schema always gives one) cannot be placed beside any
    // other run: it stands on its own, so a later success never hides an earlier failure.
    const key = c.kind === "check_run" && !c.suite ? Symbol() : `${c.kind}:${c.app ?? ""}:${c.suite ?? ""}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].flatMap((results) => {
    // No completion time (null, left out by a provider's answer, or unreadable) cannot be ordered: it stands, and
    // blocks (checkViolations). The others by instant: written with an offset or milliseconds a time is the same one.
    const unordered = results.filter((c) => instant(c.at) === undefined);
    const newest = Math.max(...results.map((c) => instant(c.at) ?? Number.NEGATIVE_INFINITY));
    return [...unordered, ...results.filter((c) => instant(c.at) === newest)];
  });
}

function checkRecords(pull: PullFact, policy: Policy): CheckRecord[] {
  const required = requiredChecks(policy);
  return pull.checks.map((c) => {
    const named = required.filter((r) => r.name === c.name);
    const counts = named.some((r) => !r.app || fromApp(c, r.app));
    // A result named like a required check that does not count for it says why: every report shows its state, and a
    // green "build" posted by another account must not read as the pinned app's build.
    const pinnedTo = named.flatMap((r) => (r.app ? [r.app] : []));
    // A skipped job that never ran gets no tick either, required or not: it passed nothing; nor does a pass without a
    // completion time, which blocks (checkViolations).
    const note =
      named.length > 0 && !counts
        ? notTheApp(c, pinnedTo)
        : skippedOrNeutral(c.state) && !passes(c, policy)
          ? notPassingWhy(policy, c.kind)
          : passes(c, policy) && instant(c.at) === undefined
            ? "no readable completion time"
            : undefined;
    return {
      name: c.name,
      app: c.app,
      kind: c.kind,
      state: c.state,
      sha: c.sha ?? pull.headSha,
      completed_at: c.at,
      required: counts,
      ...(note ? { note } : {}),
    };
  });
}

/** Why a result does not stand for the app(s) its name is pinned to (see fromApp). */
function notTheApp(c: CheckFact, apps: readonly string[]): string {
  const wanted = apps.join(" or ");
  if (c.kind === "check_run") return `a check run of the app ${c.app ?? "?"}, not of ${wanted}`;
  if (c.kind === "job") return `a GitLab CI job, which no app posts, not ${wanted}'s`;
  const account = c.creatorType ? `a ${c.creatorType} account` : "an account of unknown type";
  return `a commit status by ${c.app ?? "?"}, ${account}, not by the app ${wanted}`;
}

/** What posted a result, as a verdict names it: "check run by github-actions", "job of pipeline 9". */
function sourceOf(c: CheckFact): string {
  if (c.kind === "job") return c.suite ? `job of ${c.suite}` : "CI job, its pipeline not named";
  return `${c.kind === "status" ? "commit status" : "check run"} by ${c.app ?? "?"}`;
}

function checkViolations(pull: PullFact, policy: Policy): Violation[] {
  const violations: Violation[] = [];
  const head = pull.headSha.slice(0, 7);
  for (const { name, app } of requiredChecks(policy)) {
    const label = app ? `${name} (${app})` : name;
    const results = standingResults(pull, name, app);
    if (results.length === 0) {
      // Say why a status of that name by an account named like the app is not taken: it looks like the app's.
      const impostor = app ? pull.checks.find((c) => c.name === name && sameApp(c.app, app) && !fromApp(c, app)) : undefined;
      const note = impostor
        ? ` (a commit status of that name by ${impostor.app}, ${impostor.creatorType ? `a ${impostor.creatorType} account` : "an account of unknown type"}, is not the app's)`
        : "";
      violations.push({ rule: "check-missing", message: `required check ${label} did not run on head ${head}${note}` });
      continue;
    }
    for (const c of results) {
      const source = sourceOf(c);
      if (!passes(c, policy)) {
        const why = skippedOrNeutral(c.state) ? `: ${notPassingWhy(policy, c.kind)}` : "";
        violations.push({ rule: "check-failed", message: `required check ${label} is ${c.state} on head ${head} (${source})${why}` });
      } else if (instant(c.at) === undefined) {
        // A result without a readable time cannot be ordered against a re-run, so its pass is no pass (T53 F2): the
        // README has it block, whether or not another run of the name is there to compete.
        violations.push({
          rule: "check-failed",
          message: `required check ${label} is ${c.state} on head ${head} (${source}) but has no readable completion time (${c.at === null ? "none given" : `"${c.at}"`}), so which run stands cannot be told`,
        });
      }
    }
  }
  return violations;
}

function pathViolations(commit: LocalCommit, pull: PullFact, verdict: PullVerdict, input: EvaluateInput, terms: ChangeTerms): Violation[] {
  const paths = input.changedPaths.get(commit.sha) ?? [];
  const violations: Violation[] = [];
  for (const rule of input.policy.pathRules) {
    const matches = pathMatcher(rule.paths);
    const touched = paths.filter((p) => matches(p));
    if (touched.length === 0) continue;
    const allowed = new Set([...rule.reviewers, ...rule.teams.flatMap((t) => input.facts.teams.get(t) ?? [])].map((l) => l.toLowerCase()));
    if (verdict.currentApprovers.some((a) => allowed.has(a.toLowerCase()))) continue;
    const who = [...rule.reviewers, ...rule.teams.map((t) => `@${t}`)].join(", ");
    const unread = rule.teams.flatMap((t) => input.facts.unreadTeams.get(t) ?? []);
    if (unread.length > 0 && verdict.currentApprovers.length > 0) {
      // An approver may be in a group that could not be read: neither a pass nor a failure can be shown.
      violations.push({
        rule: "unverified",
        message: `changes ${shownName(touched[0]!)}${touched.length > 1 ? ` and ${touched.length - 1} more` : ""} in ${terms.list([pull.number])} need an approval from ${who}; cannot tell whether ${verdict.currentApprovers.join(", ")} ${verdict.currentApprovers.length === 1 ? "is a member" : "are members"}: ${unread.join("; ")}`,
      });
      continue;
    }
    const stale = verdict.eligibleApprovers.filter((a) => allowed.has(a.toLowerCase()));
    // Name the path that is matched for certain first; one matched only because its name is not UTF-8 says so.
    const shown = touched.find((p) => !p.includes(UNREADABLE_NAME)) ?? touched[0]!;
    const unreadable = shown.includes(UNREADABLE_NAME) ? " (a file name that is not UTF-8, which every path rule covers)" : "";
    violations.push({
      rule: "path-rule",
      message: `changes ${shownName(shown)}${unreadable}${touched.length > 1 ? ` and ${touched.length - 1} more` : ""} in ${terms.list([pull.number])} need an approval from ${who}${stale.length > 0 ? ` on the head (${stale.join(", ")} approved an earlier commit)` : ""}`,
    });
  }
  return violations;
}

/**
 * policy-bot-style approval rules for one commit of a PR. A rule applies when all its conditions hold (the
 * commit's changed paths, the PR author, labels, target branch); it is met by `count` independent approvals
 * from its users, team members and organisation members (anyone, without a list). `approvalPolicy` combines rules
 * with and/or; a rule that does not apply is met. Without it, every rule must be met. A rule whose outcome hangs
 * on memberships the token cannot see yields "unverified" violations (see ruleOutcome), not approval-rule ones.
 */
function approvalRuleViolations(commit: LocalCommit, pull: PullFact, verdict: PullVerdict, input: EvaluateInput): Violation[] {
  const rules = input.policy.approvalRules;
  if (rules.length === 0) return [];
  const paths = input.changedPaths.get(commit.sha) ?? [];
  const approvers = verdict.currentApprovers.map((a) => a.toLowerCase());
  const outcome = new Map<string, Outcome>();
  for (const rule of rules) {
    const when = rule.if;
    const applies =
      (!when.changedPaths || paths.some(pathMatcher(when.changedPaths))) &&
      (!when.authors || (pull.author !== null && when.authors.some((a) => a.toLowerCase() === pull.author!.toLowerCase()))) &&
      (!when.labels || when.labels.some((l) => pull.labels.includes(l))) &&
      (!when.targetBranches || when.targetBranches.some((b) => branchMatcher(b)(pull.baseRef)));
    outcome.set(rule.name, applies ? ruleOutcome(rule, approvers, input) : { state: "met" });
  }
  const expression: ApprovalExpression = input.policy.approvalPolicy ?? { and: rules.map((r) => r.name) };
  const result = combine(expression, outcome);
  if (result.state === "failed") return result.why.map((message) => ({ rule: "approval-rule" as const, message }));
  if (result.state === "unknown") return result.why.map((message) => ({ rule: "unverified" as const, message }));
  return [];
}

/** A rule's state: met, failed (why), or unknown — met or not depends on memberships the token cannot see. */
type Outcome = { state: "met" } | { state: "failed" | "unknown"; why: string[] };

/**
 * Whether one applicable rule is met: `count` independent approvals from its users, team members and organisation
 * members (anyone, with none listed). An approver missing from an organisation list that is incomplete (the
 * token sees only public members, or the organisation could not be read) may be a member: when counting them
 * would meet the rule, the outcome is unknown — the change is unverified, never a silent pass or a silent fail.
 */
function ruleOutcome(rule: Policy["approvalRules"][number], approvers: readonly string[], input: EvaluateInput): Outcome {
  const { count, users, teams, organizations } = rule.requires;
  const anyone = users.length + teams.length + organizations.length === 0;
  const orgMembers = organizations.flatMap((o) => input.facts.orgs.get(o)?.members ?? []);
  const allowed = new Set([...users, ...teams.flatMap((t) => input.facts.teams.get(t) ?? []), ...orgMembers].map((l) => l.toLowerCase()));
  const from = anyone ? approvers : approvers.filter((a) => allowed.has(a));
  if (from.length >= count) return { state: "met" };
  const unseen = [
    ...organizations.map((o) => ({
      org: o,
      why: input.facts.orgs.get(o)?.incomplete ?? (input.facts.orgs.has(o) ? null : `organisation ${o} was not read`),
    })),
    // A GitLab group that could not be read may hold any approver, as an unreadable organisation may.
    ...teams.map((t) => ({ org: t, why: input.facts.unreadTeams.get(t) ?? null })),
  ].filter((o): o is { org: string; why: string } => o.why !== null);
  const maybe = unseen.length > 0 ? approvers.filter((a) => !allowed.has(a)) : [];
  const who = anyone ? "" : ` from ${[...users, ...teams.map((t) => `@${t}`), ...organizations.map((o) => `members of ${o}`)].join(", ")}`;
  const asks = `approval rule "${rule.name}" needs ${count} independent approval${count === 1 ? "" : "s"}${who}`;
  const needs = `${asks}, has ${from.length}`;
  if (from.length + maybe.length >= count) {
    // never "has 0" while the approver may count (the README's promise, T65): only the approvals known to count are told
    const known = from.length > 0 ? `, ${from.length} shown to count` : "";
    return {
      state: "unknown",
      why: [
        `${asks}${known}; cannot tell whether ${maybe.join(", ")} ${maybe.length === 1 ? "is a member" : "are members"}: ${unseen.map((u) => u.why).join("; ")} (${organizations.some((o) => unseen.some((u) => u.org === o)) ? "use a token of an organisation member with read:org, or Members: read for a fine-grained token" : "check the group's full path and that the token can read it"})`,
      ],
    };
  }
  return { state: "failed", why: [needs] };
}

/** and: failed if any part failed, else unknown if any is; or: met if any part is met, else unknown if any is. */
function combine(expression: ApprovalExpression, outcome: ReadonlyMap<string, Outcome>): Outcome {
  if (typeof expression === "string") return outcome.get(expression) ?? { state: "met" };
  const parts = ("and" in expression ? expression.and : expression.or).map((e) => combine(e, outcome));
  const failed = parts.filter((p) => p.state === "failed");
  const unknown = parts.filter((p) => p.state === "unknown");
  const whys = (list: Outcome[]) => list.flatMap((p) => (p.state === "met" ? [] : p.why));
  if ("and" in expression) {
    if (failed.length > 0) return { state: "failed", why: whys(failed) };
    return unknown.length > 0 ? { state: "unknown", why: whys(unknown) } : { state: "met" };
  }
  if (parts.some((p) => p.state === "met")) return { state: "met" };
  if (unknown.length > 0) return { state: "unknown", why: whys(unknown) };
  return { state: "failed", why: [`none of these is met: ${failed.map((p) => whys([p]).join(" and ")).join("; or ")}`] };
}

/** The ticket references in a text: non-empty matches only, since a reference is text (`\b` matches empty in any). */
export function ticketsIn(text: string, policy: Policy): string[] {
  return [...text.matchAll(new RegExp(policy.ticket.pattern, "g"))].map((m) => m[0]).filter((ticket) => ticket !== "");
}

function withLogin(person: Person, login: string | null | undefined): Person {
  return login ? { ...person, login } : person;
}

/** Logins once each, compared as GitHub and GitLab compare them: case-insensitively. */
function uniqLogins(logins: readonly string[]): string[] {
  const seen = new Set<string>();
  return logins.filter((login) => !seen.has(login.toLowerCase()) && seen.add(login.toLowerCase()));
}

function uniq<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
