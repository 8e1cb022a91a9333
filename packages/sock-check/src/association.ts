import type { GitRepo } from "./git";
import type { CommitFact, PartialPull, ProviderFacts, PullFact } from "./model";

/** How a provider names its change requests, their landing commits and refs, in what sock-check tells the user. */
export interface ChangeTerms {
  provider: "GitHub" | "GitLab";
  kind: "PR" | "MR";
  /** "pull request" or "merge request". */
  noun: string;
  /** One PR or MR by its number alone, as its provider writes it: "#1" or "!1". */
  number: (n: number) => string;
  /** "PR #1, #2" or "MR !1, !2". */
  list: (numbers: readonly number[]) => string;
  /** The commits a merge writes that the provider names: GitLab names a squash commit beside the merge commit. */
  landing: string;
  /** The ref a PR's or MR's own commits can be fetched from. */
  ref: (number: number) => string;
}

export function changeTerms(provider: "github" | "gitlab"): ChangeTerms {
  return provider === "gitlab"
    ? {
        provider: "GitLab",
        kind: "MR",
        noun: "merge request",
        number: (n) => `!${n}`,
        list: (numbers) => `MR !${numbers.join(", !")}`,
        landing: "its merge or squash commit",
        // https://docs.gitlab.com/user/project/merge_requests/merge_request_troubleshooting/#check-out-merge-requests-locally-through-the-head-ref
        ref: (n) => `refs/merge-requests/${n}/head`,
      }
    : {
        provider: "GitHub",
        kind: "PR",
        noun: "pull request",
        number: (n) => `#${n}`,
        list: (numbers) => `PR #${numbers.join(", #")}`,
        landing: "its merge commit",
        ref: (n) => `refs/pull/${n}/head`,
      };
}

/** Why a merged PR the provider listed does not vouch for a commit (`CommitFact.disowned`), for the report. */
export function disownedReason(numbers: readonly number[], terms: ChangeTerms): string {
  return `${terms.provider} lists it under ${terms.list(numbers)}, but it is none of that ${terms.kind}'s commits, ${terms.landing} or a rebased copy of one`;
}

/**
 * Which merged PR really brought a commit. GitHub's `associatedPullRequests` is a lookup, not proof: it has
 * listed a commit under a merged PR that the commit is no part of (tester finding 14), and a PR's review
 * then vouched for code nobody reviewed. A merged PR brought commit C only when
 * - C is one of the PR's commits (a merge commit brings them, and `commits: all` lists them), or
 * - C is the PR's merge commit (GitHub's `mergeCommit`: the merge, the squash commit, or for a rebase merge
 *   "the commit that the base branch was updated to"), or
 * - C is patch-identical to one of the PR's commits: the other copies a rebase merge writes, which GitHub
 *   also associates with the PR (same change on a moved base; `git patch-id` as `git cherry` uses it).
 * GitLab's commit → MR lookup (`/repository/commits/:sha/merge_requests`) is checked the same way, against the MR's
 * commits (local history or `/merge_requests/:iid/commits`), its `merge_commit_sha` and `squash_commit_sha`.
 * Anything else is not vouched for by that PR. When the PR's commits are not in this checkout (a deleted
 * branch), the patches cannot be compared: the commit is unverified, with how to fetch them.
 * A merge commit vouches only for the merge itself: one whose tree is not git's clean merge of its two parents
 * holds changes nobody reviewed (an "evil merge" made by hand and pushed, which GitHub then names the PR's
 * merge commit: T31 #4), and is not vouched for either.
 */
export async function checkAssociations(
  facts: ProviderFacts,
  git: GitRepo,
  parentsOf: ReadonlyMap<string, readonly string[]>,
  terms: ChangeTerms,
): Promise<void> {
  const patchIds = new Map<string, Promise<string | null | "missing">>();
  const patchId = (sha: string) => {
    let id = patchIds.get(sha);
    if (!id) {
      id = git.patchId(sha);
      patchIds.set(sha, id);
    }
    return id;
  };
  for (const commit of facts.commits.values()) {
    if (facts.unverified.has(commit.sha)) continue;
    const merged = commit.pulls.map((n) => facts.pulls.get(n)).filter((p): p is PullFact => p?.merged === true);
    const ownChanges = await mergesWithOwnChanges(commit.sha, merged, git, parentsOf);
    const listed = merged.filter(
      (p) =>
        ((p.mergeCommit === commit.sha || p.squashCommit === commit.sha) && !ownChanges.includes(p.number)) ||
        p.commits.some((c) => c.sha === commit.sha),
    );
    if (listed.length === 0 && ownChanges.length > 0) {
      commit.ownChanges = ownChanges;
      commit.pulls = commit.pulls.filter((n) => !merged.some((p) => p.number === n));
      continue;
    }
    if (listed.length > 0 || merged.length === 0) {
      commit.pulls = commit.pulls.filter((n) => !merged.some((p) => p.number === n) || listed.some((p) => p.number === n));
      continue;
    }
    const own = await patchId(commit.sha);
    const copies: PullFact[] = [];
    const uncomparable: PullFact[] = [];
    for (const pull of merged) {
      const ids = await Promise.all(pull.commits.map((c) => patchId(c.sha)));
      if (own !== null && own !== "missing" && ids.includes(own)) copies.push(pull);
      else if (ids.includes("missing")) uncomparable.push(pull);
    }
    if (copies.length > 0) {
      commit.pulls = commit.pulls.filter((n) => !merged.some((p) => p.number === n) || copies.some((p) => p.number === n));
    } else if (uncomparable.length > 0) {
      const numbers = uncomparable.map((p) => p.number);
      facts.unverified.set(
        commit.sha,
        `${terms.provider} lists it under ${terms.list(numbers)}, but it is neither one of the ${terms.kind}'s commits nor ${terms.landing}, and the ${terms.kind}'s commits are not in this checkout to tell a rebased copy (run git fetch origin ${numbers.map(terms.ref).join(" ")})`,
      );
    } else {
      commit.disowned = merged.map((p) => p.number);
      commit.pulls = commit.pulls.filter((n) => !merged.some((p) => p.number === n));
    }
  }
}

/** The PRs of `merged` whose merge commit `sha` is (and not one of their commits), when its tree is not git's clean merge. */
async function mergesWithOwnChanges(
  sha: string,
  merged: readonly PullFact[],
  git: GitRepo,
  parentsOf: ReadonlyMap<string, readonly string[]>,
): Promise<number[]> {
  const mergeOf = merged.filter((p) => p.mergeCommit === sha && !p.commits.some((c) => c.sha === sha));
  const parents = parentsOf.get(sha) ?? [];
  if (mergeOf.length === 0 || parents.length !== 2 || (await git.isCleanMerge(sha, parents))) return [];
  return mergeOf.map((p) => p.number);
}

/**
 * A single-parent commit the provider names as a merged PR's merge commit (GitHub's `mergeCommit` of a squash or
 * rebase merge; GitLab's `squash_commit_sha`, or `merge_commit_sha` when it is no merge) is no commit of the PR:
 * the PR vouches for it only when it holds the PR's content and nothing else (see GitRepo.holdsPullContent). A push
 * with push rights can put any content under that name (T31), so one that differs is not vouched for by the PR
 * (`foreignContent`, judged a direct push), and one that cannot be compared, its head not in this checkout or git
 * failing, is unverified: never a pass on the provider's word. The PR's head itself (a fast-forward) is one of its
 * commits and needs no comparison. A two-parent merge commit is checkAssociations' (git's clean merge of its parents).
 */
export async function checkMergeContents(
  facts: ProviderFacts,
  git: GitRepo,
  parentsOf: ReadonlyMap<string, readonly string[]>,
  terms: ChangeTerms,
): Promise<void> {
  for (const commit of facts.commits.values()) {
    const parents = parentsOf.get(commit.sha) ?? [];
    if (facts.unverified.has(commit.sha)) continue;
    if (parents.length > 1) {
      await mergesOfOtherCommits(commit, parents, facts, git, terms);
      continue;
    }
    if (parents.length !== 1) continue;
    const standsFor = commit.pulls
      .map((n) => facts.pulls.get(n))
      .filter(
        (p): p is PullFact =>
          p?.merged === true &&
          (p.mergeCommit === commit.sha || p.squashCommit === commit.sha) &&
          p.headSha !== commit.sha &&
          !p.commits.some((c) => c.sha === commit.sha),
      );
    const foreign: PullFact[] = [];
    for (const pull of standsFor) {
      const content = await comparedWithPull(facts, terms, commit.sha, pull, {
        subject: "its content",
        landing: " (a squash or the last rebased copy)",
        compare: () => git.holdsPullContent(commit.sha, parents[0]!, pull.headSha),
      });
      if (content === undefined) break;
      if (content === "differs") foreign.push(pull);
    }
    if (facts.unverified.has(commit.sha) || foreign.length === 0) continue;
    commit.foreignContent = foreign.map((p) => ({ number: p.number, head: p.headSha }));
    commit.pulls = commit.pulls.filter((n) => !foreign.some((p) => p.number === n));
  }
}

/**
 * A merge commit the provider names as a PR's merge commit stands for the PR only when what it merges is the PR's
 * head: two parents, the second the head (GitHub's merge button and GitLab's merge write it so), or on GitLab the
 * MR's squash commit (its "merge commit with squash"), which must then hold the MR's content as a squash commit
 * does (GitRepo.holdsPullContent; in first-parent mode it is never a record of its own, T33). Its tree being git's
 * clean merge of its parents (checkAssociations) says nothing of what the second parent holds: a branch of the
 * head plus a commit of its own, merged with --no-ff and pushed, was taken as the PR's, and in first-parent mode
 * the extra commit is never listed (T32). An octopus is no PR's merge.
 */
async function mergesOfOtherCommits(
  commit: CommitFact,
  parents: readonly string[],
  facts: ProviderFacts,
  git: GitRepo,
  terms: ChangeTerms,
): Promise<void> {
  const foreign: NonNullable<CommitFact["foreignMerge"]> = [];
  for (const n of commit.pulls) {
    const pull = facts.pulls.get(n);
    if (pull?.merged !== true || pull.mergeCommit !== commit.sha || pull.commits.some((c) => c.sha === commit.sha)) continue;
    const merges = parents.slice(1);
    if (merges.length === 1 && merges[0] === pull.headSha) continue;
    const squash = pull.squashCommit;
    if (merges.length !== 1 || squash == null || merges[0] !== squash) {
      // A GitLab that does not report squash_commit_sha leaves the squash commit this merges unnamed: say so.
      foreign.push({ number: n, head: pull.headSha, merged: merges, ...(pull.squashUnreported ? { squashUnreported: true } : {}) });
      continue;
    }
    const content = await comparedWithPull(facts, terms, commit.sha, pull, {
      subject: `its squash commit ${squash.slice(0, 7)}`,
      landing: "",
      compare: async () => {
        const squashParents = await git.parents(squash);
        if (squashParents === undefined) return "missing";
        return squashParents.length !== 1 ? "differs" : git.holdsPullContent(squash, squashParents[0]!, pull.headSha);
      },
    });
    if (content === undefined) return;
    if (content === "differs") foreign.push({ number: n, head: pull.headSha, merged: merges, squash });
  }
  if (foreign.length === 0) return;
  commit.foreignMerge = foreign;
  commit.pulls = commit.pulls.filter((n) => !foreign.some((p) => p.number === n));
}

/**
 * What `compare` says of a commit the provider names as `pull`'s (GitRepo.holdsPullContent: "same" or "differs"), or
 * undefined once `sha` is left unverified with why: git failed, or the PR's head is not in this checkout ("missing").
 * `subject` names what was compared in that reason ("its content"); `landing`, what kind of merge commit, follows
 * "merge commit" in the reason for a missing head.
 */
async function comparedWithPull(
  facts: ProviderFacts,
  terms: ChangeTerms,
  sha: string,
  pull: PullFact,
  what: { subject: string; landing: string; compare: () => Promise<"same" | "differs" | "missing"> },
): Promise<"same" | "differs" | undefined> {
  const of = `it is ${terms.list([pull.number])}'s merge commit`;
  const head = pull.headSha.slice(0, 7);
  let content: "same" | "differs" | "missing";
  try {
    content = await what.compare();
  } catch (error) {
    facts.unverified.set(sha, `${of}, but git could not compare ${what.subject} with the head ${head} (${(error as Error).message})`);
    return undefined;
  }
  if (content === "missing") {
    facts.unverified.set(
      sha,
      `${of}${what.landing}, but the head ${head} is not in this checkout to compare ${what.subject} with (run git fetch origin ${terms.ref(pull.number)})`,
    );
    return undefined;
  }
  return content;
}

/**
 * First-parent mode checks the deploy line's commits and takes what a PR's merge commit merges as the PR's. A merge
 * on the line that is one of a PR's own commits — the base branch merged into the PR ("update branch"), then the PR
 * landed as a fast-forward (GitLab's fast-forward merge, a push of the branch) — brings in the
 * base branch's commits of that time off the line: a direct push among them was never listed, let alone checked
 * (T33). Such a merge is not vouched for by the PR (judged a direct push), naming what it brings in and that
 * `commits: all` checks those commits one by one; `--allow-unverified`, for a provider that cannot answer, does not
 * cover it.
 */
export async function checkMergedInOffLine(
  facts: ProviderFacts,
  git: GitRepo,
  parentsOf: ReadonlyMap<string, readonly string[]>,
  from: string,
): Promise<void> {
  for (const commit of facts.commits.values()) {
    const parents = parentsOf.get(commit.sha) ?? [];
    if (parents.length < 2 || facts.unverified.has(commit.sha)) continue;
    const ownCommitOf = commit.pulls
      .map((n) => facts.pulls.get(n))
      .filter((p): p is PullFact => p?.merged === true && p.commits.some((c) => c.sha === commit.sha));
    if (ownCommitOf.length === 0) continue;
    const mergedIn = await git.mergedIn(parents, from);
    if (mergedIn.length === 0) continue;
    commit.mergesOffLine = { pulls: ownCommitOf.map((p) => p.number), commits: mergedIn };
    commit.pulls = commit.pulls.filter((n) => !ownCommitOf.some((p) => p.number === n));
  }
}

/**
 * A PR vouches for its commits only as a whole: its review and checks were of its final state, not of each
 * step on the way. A commit of a PR (say one that adds a backdoor a later commit of the same PR removes)
 * pushed onto the deploy branch by itself would otherwise ship as "reviewed". So a merged PR counts for a
 * commit only when the PR's final state is part of `to`: its merge commit (the merge, the squash commit, or
 * the last copy of a rebase merge), or — where the provider names none, a fast-forward — its head.
 * Anything else is recorded as `partial` and judged as a direct push, saying why.
 */
export async function checkPullsShipWhole(facts: ProviderFacts, git: GitRepo, to: string): Promise<void> {
  const shipped = new Map<number, Promise<boolean>>();
  const ships = (pull: PullFact) => {
    let answer = shipped.get(pull.number);
    if (!answer) {
      answer = git.isAncestor(pull.mergeCommit ?? pull.headSha, to);
      shipped.set(pull.number, answer);
    }
    return answer;
  };
  for (const commit of facts.commits.values()) {
    if (facts.unverified.has(commit.sha)) continue;
    const partial: PartialPull[] = [];
    for (const number of commit.pulls) {
      const pull = facts.pulls.get(number);
      if (pull?.merged !== true || (await ships(pull))) continue;
      partial.push({ number, final: pull.mergeCommit ?? pull.headSha });
    }
    if (partial.length === 0) continue;
    commit.partial = partial;
    commit.pulls = commit.pulls.filter((n) => !partial.some((p) => p.number === n));
  }
}

/**
 * A PR's commits as the provider lists them are all the self-approval rule sees of who wrote it: a list that leaves
 * some out (GitHub's REST list of a PR's commits stops at 250, "Lists a maximum of 250 commits for a pull request",
 * docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request) hides an approver's own commit (T53 F6). Where the
 * checkout shows what the PR brought — its merge commit in the range merges the PR's head as its second parent —
 * every commit of `merge^1..head` must be in the list; one that is not leaves the PR's commits unverified.
 */
export async function checkPullsListedWhole(
  facts: ProviderFacts,
  git: GitRepo,
  parentsOf: ReadonlyMap<string, readonly string[]>,
  terms: ChangeTerms,
): Promise<void> {
  for (const pull of facts.pulls.values()) {
    const parents = pull.mergeCommit ? parentsOf.get(pull.mergeCommit) : undefined;
    if (!pull.merged || parents?.length !== 2 || parents[1] !== pull.headSha) continue;
    const listed = new Set(pull.commits.map((c) => c.sha));
    const unlisted = (await git.commits(parents[0]!, pull.headSha, false)).filter((c) => !listed.has(c.sha));
    if (unlisted.length === 0) continue;
    const shown = unlisted.slice(0, 5).map((c) => c.sha.slice(0, 7));
    const reason = `${terms.list([pull.number])}: ${terms.provider} lists ${pull.commits.length} of its commits, but its merge ${pull.mergeCommit!.slice(0, 7)} in this checkout brings ${unlisted.length} more (${shown.join(", ")}${unlisted.length > shown.length ? ", …" : ""}), so whether an approver wrote one of them cannot be told`;
    for (const commit of facts.commits.values()) {
      if (commit.pulls.includes(pull.number) && !facts.unverified.has(commit.sha)) facts.unverified.set(commit.sha, reason);
    }
  }
}
