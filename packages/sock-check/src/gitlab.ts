import { collect, gitlabUserByEmail, type HttpClient, HttpError, type Logger, paginateLink } from "@opsguard/core";
import { emptyFacts, failClosed, repositoryNotVisible } from "./facts";
import type { GitPerson, GitRepo, LocalCommit } from "./git";
import { coAuthorsOf } from "./git";
import type { CheckFact, Person, ProviderFacts, PullCommitFact, PullFact, ReviewFact } from "./model";
import { CursorTrail } from "./next-page";
import { instant } from "./time";
import { unlinkedApprovalReason } from "./unlinked";

/**
 * Collects merge requests, approvals, commits and CI jobs from GitLab with a fixed number of requests
 * per release rather than several per commit and per MR:
 * - merged MRs are listed per time window (one page per 100 MRs) and tied to the range's commits by
 *   their merge/squash/head SHAs and the local history (a merge commit's second parent is the MR head);
 * - who approves an MR now comes from GraphQL's `approvedBy` (100 MRs a query), when each approval was
 *   given from the project's `approved` events, and which head it was given on from its `pushed` events
 *   (GitLab records no event when an approval is withdrawn, hence GraphQL for the standing set);
 * - CI results from the project's job list, with a commit's statuses asked only when a required check
 *   is not among the jobs (an external status is not a job).
 * Anything not explained this way (a commit no listed MR covers, a squashed MR's commits) is asked
 * per commit or per MR, as before. Every failure leaves the changes it covers unverified.
 */

interface GlUser {
  username: string;
}
interface GlMergeRequest {
  iid: number;
  title: string;
  description: string | null;
  state: string;
  created_at: string;
  merged_at: string | null;
  merge_user?: GlUser | null;
  merged_by?: GlUser | null;
  author: GlUser | null;
  source_branch: string;
  target_branch: string;
  labels: string[];
  sha: string;
  merge_commit_sha: string | null;
  /** Absent where GitLab does not report it; then only `squash` says the MR was squashed (squashUnreported). */
  squash_commit_sha?: string | null;
  squash?: boolean;
  squash_on_merge?: boolean;
  web_url: string;
  /** Differ for an MR from a fork, whose pushes GitLab records as the fork's events. */
  source_project_id?: number;
  target_project_id?: number;
}
interface GlCommit {
  id: string;
  message: string;
  author_name: string;
  author_email: string;
  committer_name: string;
  committer_email: string;
}
interface GlEvent {
  /** Event ids grow with creation (docs.gitlab.com/api/events/): they order events that share a created_at. */
  id?: number;
  action_name: string;
  author_username: string;
  created_at: string;
  target_iid?: number | null;
  push_data?: { ref: string; ref_type: string; commit_to: string | null } | null;
}
interface GlJob {
  id?: number;
  name: string;
  status: string;
  created_at: string;
  finished_at: string | null;
  commit?: { id: string } | null;
  /** The job's pipeline (PipelineBasic, docs.gitlab.com/api/jobs/#list-project-jobs); `source` is how it was started. */
  pipeline?: { id: number; source?: string } | null;
}
/**
 * An approver as GraphQL's `approvedBy` gives them: `UserCore.bot` ("Indicates if the user is a bot",
 * docs.gitlab.com/api/graphql/reference/#usercore) is true for the bot user behind a project or group access token
 * (`project_{id}_bot_{random}`, docs.gitlab.com/user/project/settings/project_access_tokens/#bot-users-for-projects)
 * and for service accounts. GitLab's Ghost User, who takes over a deleted account's records
 * (docs.gitlab.com/user/profile/account/delete_account/#associated-records), is no bot: GitLab names it `ghost`, or
 * `ghost1`, `ghost2`… when that username is taken, so every such username is taken for it (a person by that name
 * cannot approve: failing closed).
 */
interface GlApprover {
  username: string;
  bot?: boolean;
}
const GHOST = /^ghost\d*$/i;
interface GlReviewer {
  username: string;
  mergeRequestInteraction: { reviewState: string | null } | null;
}
/**
 * An MR's standing approvers, and who has a "Request changes" standing on it: `undefined` when GitLab did not say
 * where some reviewer's review stands (the MR cannot be cleared), `null` when this GitLab has no reviewState at all.
 */
interface MrReviewers {
  approvers: GlApprover[];
  requestedChanges: string[] | null | undefined;
}
interface GlSignature {
  verification_status: string;
}
interface GlStatus {
  name: string;
  status: string;
  created_at: string;
  finished_at: string | null;
  /** Who posted it (docs.gitlab.com/api/commits/#list-the-statuses-of-a-commit). */
  author?: { username?: string } | null;
}
interface ApprovedByPage {
  data?: {
    project: {
      mergeRequests: {
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        nodes: Array<{
          iid: string;
          approvedBy: { pageInfo: { hasNextPage: boolean }; nodes: Array<GlApprover | null> } | null;
          reviewers?: { pageInfo: { hasNextPage: boolean }; nodes: Array<GlReviewer | null> } | null;
        } | null> | null;
      } | null;
    } | null;
  };
  errors?: Array<{ message: string }>;
}

export interface GitLabCollectOptions {
  project: string;
  teams: string[];
  signed: boolean;
  /** Names of the required checks: when one is not among the CI jobs, the head's commit statuses are asked. */
  requiredChecks: string[];
  /** The policy's `identities`: login → e-mail addresses, for people GitLab cannot name. */
  identities: Record<string, string[]>;
  /** approvals.requireOnHead: which head an approval was given on matters. */
  requireOnHead: boolean;
  log?: Logger | undefined;
}

const PAGE = { per_page: 100 };
const DAY = 86_400_000;
/** MRs per GraphQL query: GitLab's largest page (https://docs.gitlab.com/api/graphql/#max-page-size). */
const GRAPHQL_BATCH = 100;

/**
 * The standing approvers of each MR, and (`withReviewers`) where each requested review stands now:
 * `MergeRequestReviewer.mergeRequestInteraction.reviewState` REQUESTED_CHANGES is a "Request changes" that still
 * stands (docs.gitlab.com/api/graphql/reference/#mergerequestreviewstate, docs.gitlab.com/user/project/merge_requests/reviews/#request-changes).
 */
const APPROVED_BY = (withReviewers: boolean) => `query($path: ID!, $iids: [String!], $after: String) {
  project(fullPath: $path) {
    mergeRequests(iids: $iids, first: ${GRAPHQL_BATCH}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        iid
        approvedBy(first: 100) { pageInfo { hasNextPage } nodes { username bot } }
        ${withReviewers ? "reviewers(first: 100) { pageInfo { hasNextPage } nodes { username mergeRequestInteraction { reviewState } } }" : ""}
      }
    }
  }
}`;

export async function collectGitLabFacts(
  http: HttpClient,
  git: GitRepo,
  commits: readonly LocalCommit[],
  options: GitLabCollectOptions,
): Promise<ProviderFacts> {
  const facts = emptyFacts();
  const project = `/projects/${encodeURIComponent(options.project)}`;
  const attempt = failClosed(facts, "GitLab API", options.log);
  const allShas = commits.map((c) => c.sha);

  const signatures = new Map<string, boolean>();
  /** GitLab answers 404 for an unsigned commit; only asked when the policy wants signed commits. */
  const verified = async (sha: string): Promise<boolean | null> => {
    if (!options.signed) return null;
    if (!signatures.has(sha)) {
      try {
        const { body } = await http.get<GlSignature>(`${project}/repository/commits/${sha}/signature`);
        signatures.set(sha, VERIFIED.has(body.verification_status));
      } catch (error) {
        if (!(error instanceof HttpError && error.status === 404)) throw error;
        signatures.set(sha, false);
      }
    }
    return signatures.get(sha) ?? false;
  };

  const projectInfo = await attempt(allShas, async () => {
    try {
      return (await http.get<{ id: number; default_branch: string | null; path_with_namespace: string }>(project)).body;
    } catch (error) {
      // GitLab answers 404 for a project that is not there and for one the token may not see alike
      // (https://docs.gitlab.com/api/rest/troubleshooting/#status-codes).
      if (!(error instanceof HttpError && error.status === 404)) throw error;
      throw repositoryNotVisible(
        `GitLab project ${options.project} was not found, or this token cannot see it (${error.message})`,
        "check gitlab.project (or --repo) and that the token can read it",
      );
    }
  });
  if (!projectInfo) return facts;
  facts.defaultBranch = projectInfo.default_branch ?? null;

  // An MR that brought a commit in was merged after the commit was written: list those updated since the
  // oldest commit (a day earlier, for clocks that disagree). updated_at is never before merged_at.
  const oldest = earliest(commits.map((c) => c.authoredAt));
  const since = new Date((Number.isFinite(oldest) ? oldest : Date.now()) - DAY).toISOString();
  const listed = await attempt(allShas, () =>
    collect(
      paginateLink<GlMergeRequest>(http, {
        url: `${project}/merge_requests`,
        query: { state: "merged", updated_after: since, order_by: "updated_at", sort: "desc", ...PAGE },
      }),
    ),
  );
  if (!listed) return facts;

  const inRange = new Map(commits.map((c) => [c.sha, c]));
  const mergeRequests = new Map<number, GlMergeRequest>();
  /** iid → the MR's commits, oldest first, from the local history when it has them. */
  const mrCommits = new Map<number, PullCommitSource[]>();
  const pullsOf = new Map<string, Set<number>>();
  const tie = (sha: string, iid: number) => {
    if (!inRange.has(sha)) return;
    const set = pullsOf.get(sha) ?? new Set<number>();
    set.add(iid);
    pullsOf.set(sha, set);
  };
  for (const mr of listed) {
    if (!intoThisProject(mr, projectInfo.id)) continue;
    const landed = [mr.merge_commit_sha, mr.squash_commit_sha, mr.sha].filter((s): s is string => !!s && inRange.has(s));
    if (landed.length === 0) continue;
    mergeRequests.set(mr.iid, mr);
    for (const sha of landed) tie(sha, mr.iid);
    const merge = mr.merge_commit_sha ? inRange.get(mr.merge_commit_sha) : undefined;
    // A merge commit's second parent is the MR's head: its commits are the ones the first parent lacks.
    if (merge && merge.parents.length === 2 && merge.parents[1] === mr.sha && merge.parents[0]) {
      const local = await git.commits(merge.parents[0], mr.sha, false).catch(() => undefined);
      if (local && local.length > 0) {
        mrCommits.set(mr.iid, local.map(fromLocal));
        for (const c of local) tie(c.sha, mr.iid);
      }
    }
  }

  // Commits no listed MR explains (direct pushes, MRs merged elsewhere or before the window): asked one by one.
  for (const commit of commits) {
    if (pullsOf.has(commit.sha)) continue;
    const found = await attempt([commit.sha], async () => {
      try {
        return await collect(
          paginateLink<GlMergeRequest>(http, { url: `${project}/repository/commits/${commit.sha}/merge_requests`, query: PAGE }),
        );
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) return null;
        throw error;
      }
    });
    if (found === undefined) continue;
    if (found === null) {
      facts.unverified.set(commit.sha, "GitLab does not know this commit (was it pushed?)");
      continue;
    }
    pullsOf.set(commit.sha, new Set());
    for (const mr of found.filter((m) => intoThisProject(m, projectInfo.id))) {
      if (!mergeRequests.has(mr.iid)) mergeRequests.set(mr.iid, mr);
      tie(commit.sha, mr.iid);
    }
  }
  for (const commit of commits) {
    if (facts.unverified.has(commit.sha) || !pullsOf.has(commit.sha)) continue;
    const verifiedCommit = await attempt([commit.sha], () => verified(commit.sha));
    if (verifiedCommit === undefined) continue;
    facts.commits.set(commit.sha, {
      sha: commit.sha,
      verified: verifiedCommit,
      authorLogin: null,
      committerLogin: null,
      pulls: [...(pullsOf.get(commit.sha) ?? [])],
    });
  }
  await noteUnreportedSquashes(facts, commits, [...listed, ...mergeRequests.values()], git);
  const shasOf = (iid: number) => [...facts.commits.values()].filter((c) => c.pulls.includes(iid)).map((c) => c.sha);
  const merged = [...mergeRequests.values()];
  if (merged.length === 0) return withTeams(facts, http, options, attempt);

  // The MR-level facts for every MR at once: standing approvers, approval and push events, CI jobs.
  const relevantShas = merged.flatMap((mr) => shasOf(mr.iid));
  // Events from before the oldest MR or commit: the push an approval was given on may predate the MR.
  const eventsSince = dayBefore(earliest([since, ...merged.map((mr) => mr.created_at)]));
  const shared = await attempt(relevantShas, async () => ({
    approvers: await standingApprovers(http, projectInfo.path_with_namespace, merged),
    approvals: await collect(
      paginateLink<GlEvent>(http, {
        url: `${project}/events`,
        query: { action: "approved", target_type: "merge_request", after: eventsSince, sort: "asc", ...PAGE },
      }),
    ),
    pushes: await collect(
      paginateLink<GlEvent>(http, { url: `${project}/events`, query: { action: "pushed", after: eventsSince, sort: "asc", ...PAGE } }),
    ),
    jobs: await jobsSince(http, project, Date.parse(`${eventsSince}T00:00:00Z`)),
  }));
  if (!shared) return withTeams(facts, http, options, attempt);
  if ([...shared.approvers.values()].some((r) => r.requestedChanges === null))
    // A GitLab without reviewState predates "Request changes" (MergeRequestReviewState gained REQUESTED_CHANGES
    // later), so no such request can stand there; said once, so that a newer GitLab's missing field is not taken
    // silently for that.
    options.log?.warn(
      'this GitLab does not report reviewer states (reviewState): a standing "Request changes" is not checked (GitLab versions without the field do not have it)',
    );

  for (const mr of merged) {
    if (mrCommits.has(mr.iid)) continue;
    // A squashed (or fast-forwarded) MR's own commits are not in the local history: GitLab lists them.
    const listedCommits = await attempt(shasOf(mr.iid), async () =>
      (await collect(paginateLink<GlCommit>(http, { url: `${project}/merge_requests/${mr.iid}/commits`, query: PAGE })))
        .reverse()
        .map(fromGitLab),
    );
    if (listedCommits) mrCommits.set(mr.iid, listedCommits);
  }

  const people = await resolvePeople(http, merged, mrCommits, { ...options, path: projectInfo.path_with_namespace }, attempt, relevantShas);
  if (!people) return withTeams(facts, http, options, attempt);

  for (const mr of merged) {
    const shas = shasOf(mr.iid);
    const sources = mrCommits.get(mr.iid);
    const reviewed = shared.approvers.get(mr.iid);
    if (!sources || !reviewed) {
      for (const sha of shas) facts.unverified.set(sha, `GitLab did not answer for the commits or approvals of MR !${mr.iid}`);
      continue;
    }
    const { approvers, requestedChanges } = reviewed;
    if (requestedChanges === undefined) {
      for (const sha of shas)
        facts.unverified.set(
          sha,
          `GitLab did not say where every review asked of MR !${mr.iid} stands (reviewState): a standing "Request changes" cannot be ruled out`,
        );
      continue;
    }
    const fork = mr.source_project_id !== undefined && mr.source_project_id !== mr.target_project_id;
    if (fork && options.requireOnHead && approvers.length > 0) {
      // The head an approval was given on comes from the source branch's pushes, which are the fork's events: this
      // project's have none, so "approved before later pushes" would be a guess.
      const who = approvers.map((a) => a.username).join(", ");
      for (const sha of shas)
        facts.unverified.set(
          sha,
          `MR !${mr.iid} comes from a fork (project ${mr.source_project_id}), whose pushes GitLab records there, not in ${options.project}: which head ${who} approved cannot be told`,
        );
      continue;
    }
    const pull = await attempt(shas, async (): Promise<PullFact> => {
      let checks = latestPipelineJobs(shared.jobs.filter((j) => j.commit?.id === mr.sha)).map(jobCheck);
      if (options.requiredChecks.some((name) => !checks.some((c) => c.name === name))) {
        // An external commit status is not a CI job: ask the head's statuses before calling a check missing.
        const statuses = await collect(
          paginateLink<GlStatus>(http, { url: `${project}/repository/commits/${mr.sha}/statuses`, query: PAGE }),
        );
        checks = statuses.map(statusCheck);
      }
      const pullCommits: PullCommitFact[] = [];
      for (const c of sources) {
        pullCommits.push({
          sha: c.sha,
          message: c.message,
          authors: [people.person(c.author), ...coAuthorsOf(c.message).map(people.person)],
          committer: people.person(c.committer),
          verified: await verified(c.sha),
        });
      }
      return {
        number: mr.iid,
        url: mr.web_url,
        title: mr.title,
        body: mr.description ?? "",
        author: mr.author?.username ?? null,
        headRef: mr.source_branch,
        headSha: mr.sha,
        baseRef: mr.target_branch,
        merged: mr.state === "merged",
        mergedAt: mr.merged_at,
        mergedBy: mr.merge_user?.username ?? mr.merged_by?.username ?? null,
        mergeCommit: mr.merge_commit_sha ?? mr.squash_commit_sha ?? null,
        squashCommit: mr.squash_commit_sha ?? null,
        ...(squashUnreported(mr) ? { squashUnreported: true } : {}),
        labels: mr.labels,
        reviews: [...reviewsOf(mr, approvers, shared.approvals, shared.pushes), ...requestsForChanges(requestedChanges ?? [])],
        commits: pullCommits,
        checks,
      };
    });
    if (!pull) continue;
    const untimed = pull.reviews.filter((r) => r.state === "APPROVED" && r.submittedAt === null).map((r) => r.reviewer ?? "?");
    if (untimed.length > 0) {
      // Without its time an approval can be neither placed before the merge nor tied to a head.
      for (const sha of shas) {
        facts.unverified.set(
          sha,
          `MR !${mr.iid}: GitLab's events do not say when ${untimed.join(", ")} approved (older than the events GitLab keeps?)`,
        );
      }
      facts.pulls.set(mr.iid, pull);
      continue;
    }
    const unlinked = unlinkedApprovalReason(pull, options.identities, {
      change: `MR !${mr.iid}`,
      account: "GitLab",
      hint: "this token can see (an ordinary token finds public e-mails only)",
    });
    if (unlinked !== undefined) for (const sha of shas) facts.unverified.set(sha, unlinked);
    facts.pulls.set(mr.iid, pull);
  }
  return withTeams(facts, http, options, attempt);
}

/**
 * Only an MR merged into this project vouches for its commits: one whose `target_project_id` is another project (a
 * fork the pusher owns, where they approve their own MR) reviewed a change for that project, and its commits reached
 * this one some other way — a direct push, as an MR into another branch is. GitLab gives every MR its
 * `target_project_id` (docs.gitlab.com/api/merge_requests/#get-single-mr); an answer without it, or a project without
 * its `id`, cannot show the MR was this project's, so it vouches for nothing (fail closed).
 */
function intoThisProject(mr: GlMergeRequest, projectId: number | undefined): boolean {
  return projectId !== undefined && mr.target_project_id === projectId;
}

/** A commit of an MR as the collector needs it, from local git or from GitLab. */
interface PullCommitSource {
  sha: string;
  message: string;
  author: GitPerson;
  committer: GitPerson;
}

/** GitLab says the MR was squashed on merge but does not name its squash commit (no `squash_commit_sha`). */
function squashUnreported(mr: GlMergeRequest): boolean {
  return mr.state === "merged" && (mr.squash === true || mr.squash_on_merge === true) && !mr.squash_commit_sha;
}

/**
 * Nothing ties the squash commit of an MR in `candidates` that squashUnreported to its MR: GitLab names it nowhere
 * (not in the MR, nor in its commit → MR lookup), so it is judged a direct push. A single-parent commit no MR
 * explains is compared with those MRs' heads by tree — GitLab squashes an MR into one commit with its head's tree (on
 * the merge base, or on the target branch it was rebased onto) — so its reason can say why (T33). The verdict stays.
 */
async function noteUnreportedSquashes(
  facts: ProviderFacts,
  commits: readonly LocalCommit[],
  candidates: readonly GlMergeRequest[],
  git: GitRepo,
): Promise<void> {
  const squashed = new Map(candidates.filter(squashUnreported).map((mr) => [mr.iid, mr.sha]));
  if (squashed.size === 0) return;
  const heads = await Promise.all(
    [...squashed].sort(([a], [b]) => a - b).map(async ([iid, head]) => ({ iid, tree: await git.treeOf(head) })),
  );
  for (const commit of commits) {
    const fact = facts.commits.get(commit.sha);
    if (!fact || fact.pulls.length > 0 || commit.parents.length !== 1) continue;
    const tree = await git.treeOf(commit.sha);
    const holds = heads.filter((h) => h.tree !== undefined && h.tree === tree).map((h) => h.iid);
    const uncomparable = holds.length > 0 ? [] : heads.filter((h) => h.tree === undefined).map((h) => h.iid);
    if (holds.length > 0 || uncomparable.length > 0) fact.squashUnreported = { holds, uncomparable };
  }
}

function fromLocal(c: LocalCommit): PullCommitSource {
  return { sha: c.sha, message: c.message, author: c.author, committer: c.committer };
}

function fromGitLab(c: GlCommit): PullCommitSource {
  return {
    sha: c.id,
    message: c.message,
    author: { name: c.author_name, email: c.author_email },
    committer: { name: c.committer_name, email: c.committer_email },
  };
}

/**
 * iid → usernames whose approval stands now, from GraphQL (the REST events feed never says when one is withdrawn),
 * and whose "Request changes" stands. A GitLab from before `reviewState` answers that the field does not exist: it is
 * asked again without, and `requestedChanges` is null for every MR (the caller says so once).
 */
async function standingApprovers(http: HttpClient, path: string, mrs: readonly GlMergeRequest[]): Promise<Map<number, MrReviewers>> {
  const out = new Map<number, MrReviewers>();
  const graphqlUrl = `${(http.options.baseUrl ?? "").replace(/\/api\/v4\/?$/, "")}/api/graphql`;
  let withReviewers = true;
  for (let i = 0; i < mrs.length; i += GRAPHQL_BATCH) {
    const iids = mrs.slice(i, i + GRAPHQL_BATCH).map((mr) => String(mr.iid));
    const pages = mrTrail(`the merge requests of ${path} (approvers query)`, iids);
    let after: string | null = null;
    for (;;) {
      const { body }: { body: ApprovedByPage } = await http.request<ApprovedByPage>({
        method: "POST",
        url: graphqlUrl,
        body: { query: APPROVED_BY(withReviewers), variables: { path, iids, after } },
      });
      graphqlAnswer(http, graphqlUrl, body);
      if (withReviewers && body.errors?.length && body.errors.every((e) => /\breviewState\b/.test(e.message))) {
        // Asked again, same page, without the field.
        withReviewers = false;
        continue;
      }
      if (body.errors?.length) throw graphqlErrors(body.errors, path);
      if (body.data?.project === null) throw graphqlProjectNotVisible(path);
      const connection: NonNullable<NonNullable<ApprovedByPage["data"]>["project"]>["mergeRequests"] | undefined =
        body.data?.project?.mergeRequests;
      if (!connection) throw new Error(`GitLab GraphQL does not show the merge requests of ${path} to this token`);
      for (const node of connection.nodes ?? []) {
        if (!node?.approvedBy) continue;
        if (node.approvedBy.pageInfo.hasNextPage) throw new Error(`MR !${node.iid} has more than 100 approvers; not read in full`);
        if (node.reviewers?.pageInfo.hasNextPage) throw new Error(`MR !${node.iid} has more than 100 reviewers; not read in full`);
        out.set(Number(node.iid), {
          approvers: node.approvedBy.nodes.flatMap((u) => (u ? [u] : [])),
          requestedChanges: withReviewers ? requestedChangesOf(node.reviewers) : null,
        });
      }
      after = pages.next(connection.pageInfo);
      if (!after) break;
    }
  }
  return out;
}

/**
 * The pages of one `mergeRequests(iids:)` query: each must bring at least one of the MRs asked for (GitLab puts
 * up to GRAPHQL_BATCH on a page, so all of them come on the first), so more pages than MRs asked, or a cursor
 * given twice, is GitLab never ending the list (T65 N1).
 */
function mrTrail(what: string, iids: readonly string[]): CursorTrail {
  return new CursorTrail(
    what,
    "GitLab GraphQL",
    iids.length,
    `more than the ${iids.length} merge request${iids.length === 1 ? "" : "s"} asked for can fill`,
  );
}

/** Reviewers whose "Request changes" stands; undefined when GitLab left out where some review stands. */
function requestedChangesOf(reviewers: { nodes: Array<GlReviewer | null> } | null | undefined): string[] | undefined {
  if (!reviewers) return undefined;
  const nodes = reviewers.nodes.flatMap((r) => (r ? [r] : []));
  if (nodes.some((r) => typeof r.mergeRequestInteraction?.reviewState !== "string")) return undefined;
  return nodes.filter((r) => r.mergeRequestInteraction?.reviewState === "REQUESTED_CHANGES").map((r) => r.username);
}

interface GlCommitAuthor {
  authorEmail: string | null;
  author: { username: string } | null;
}
interface CommitAuthorsPage {
  data?: {
    project: {
      mergeRequests: {
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        nodes: Array<{
          iid: string;
          commits: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: Array<GlCommitAuthor | null> } | null;
        } | null> | null;
      } | null;
    } | null;
  };
  errors?: Array<{ message: string }>;
}

/**
 * Who GitLab says wrote the commits of `mrs`: MergeRequest.commits' `authorEmail` and `author` (UserCore, null when
 * GitLab links the address to no account: docs.gitlab.com/api/graphql/reference/#commit). An answer GitLab did not
 * give in full (errors, a missing MR or commit list, commits past MR_COMMIT_PAGES pages) fails: what it leaves out stays unlinked
 * only if the run says so, so the whole lookup fails closed.
 */
async function commitAuthors(http: HttpClient, path: string, mrs: readonly GlMergeRequest[]): Promise<GlCommitAuthor[]> {
  const graphqlUrl = `${(http.options.baseUrl ?? "").replace(/\/api\/v4\/?$/, "")}/api/graphql`;
  const out: GlCommitAuthor[] = [];
  for (let i = 0; i < mrs.length; i += GRAPHQL_BATCH) {
    const iids = mrs.slice(i, i + GRAPHQL_BATCH).map((mr) => String(mr.iid));
    const pages = mrTrail(`the merge requests of ${path} (commit authors query)`, iids);
    let after: string | null = null;
    for (;;) {
      const { body }: { body: CommitAuthorsPage } = await http.request<CommitAuthorsPage>({
        method: "POST",
        url: graphqlUrl,
        body: { query: COMMIT_AUTHORS, variables: { path, iids, after } },
      });
      graphqlAnswer(http, graphqlUrl, body);
      if (body.errors?.length) throw graphqlErrors(body.errors, path);
      if (body.data?.project === null) throw graphqlProjectNotVisible(path);
      const connection = body.data?.project?.mergeRequests;
      if (!connection) throw new Error(`GitLab GraphQL does not show the merge requests of ${path} to this token`);
      for (const node of connection.nodes ?? []) {
        if (!node?.commits) throw new Error(`GitLab GraphQL did not list the commits of MR !${node?.iid ?? "?"}`);
        for (const c of node.commits.nodes) if (c) out.push(c);
        if (node.commits.pageInfo.hasNextPage)
          out.push(...(await moreCommitAuthors(http, graphqlUrl, path, node.iid, node.commits.pageInfo)));
      }
      after = pages.next(connection.pageInfo);
      if (!after) break;
    }
  }
  return out;
}

/**
 * Query.project is null for a project that is not there and for one the token may not read alike
 * (docs.gitlab.com/api/graphql/reference/#queryproject): the same as REST's 404 for the project, so the same exit
 * (77), which --allow-unverified does not cover (facts.ts repositoryNotVisible).
 */
function graphqlProjectNotVisible(path: string): Error {
  return repositoryNotVisible(
    `GitLab project ${path} was not found, or this token cannot see it (GitLab GraphQL answered project: null)`,
    "check gitlab.project (or --repo) and that the token can read it with GraphQL (/api/graphql)",
  );
}

/**
 * A GraphQL answer is a JSON object with `data` or `errors` (docs.gitlab.com/api/graphql/, the GraphQL spec's
 * response format). Anything else on a 200 (a proxy's HTML sign-in page, an empty body, other JSON) is the API
 * failing, said with what came back and from where (T65 N5: it read as the token not seeing the MRs, or as a
 * JavaScript TypeError).
 */
function graphqlAnswer(http: HttpClient, url: string, body: unknown): void {
  if (typeof body === "object" && body !== null && !Array.isArray(body) && ("data" in body || "errors" in body)) return;
  const what =
    typeof body === "string"
      ? /^\s*</.test(body)
        ? "a web page"
        : body.trim() === ""
          ? "an empty body"
          : "text"
      : body === undefined || body === null
        ? body === null
          ? "JSON null"
          : "an empty body"
        : `a JSON ${Array.isArray(body) ? "array" : typeof body === "object" ? "object" : typeof body} without data or errors`;
  throw new Error(
    `GitLab GraphQL answered ${http.describe({ method: "POST", url })} with ${what}, not a GraphQL answer (HTTP 200); a proxy or sign-in page in front of the API?`,
  );
}

/**
 * GitLab's GraphQL refusal of something the token may not read (Gitlab::Graphql::Errors::ResourceNotAvailable,
 * whose text GitLab's own specs expect: "The resource that you are attempting to access does not exist or you don't
 * have permission to perform this action", gitlab.com/gitlab-org/gitlab/-/issues/456992) is the token not seeing the
 * project, as `project: null` is (77, not covered by --allow-unverified: T65 N4). GitLab gives these errors no type
 * to test, so the text is matched, on every query sent.
 */
function graphqlErrors(errors: ReadonlyArray<{ message: string }>, path: string): Error {
  const text = errors
    .map((e) => e.message)
    .join("; ")
    .slice(0, 300);
  if (errors.some((e) => /you don't have permission to perform this action/i.test(String(e.message))))
    return repositoryNotVisible(
      `GitLab GraphQL refused this token access to part of project ${path} (${text})`,
      "check that the token's user can read the project's merge requests and their commits (Reporter or above)",
    );
  return new Error(`GitLab GraphQL answered with errors: ${text}`);
}

/**
 * The most pages of one MR's commits read (100 each): a long-lived branch's MR runs past the first page (T67 F3: one of
 * 120 commits was unverified on every run), but pages past this bound are GitLab never ending the list, as the
 * cursors of CursorTrail are.
 */
const MR_COMMIT_PAGES = 50;

/**
 * The commits after the first page of MR `iid` (MergeRequest.commits is a CommitConnection paged with `first` and
 * `after`: docs.gitlab.com/api/graphql/reference/#mergerequestcommits, "Connection pagination"), asked for that MR
 * alone through the same `mergeRequests(iids:)` field.
 */
async function moreCommitAuthors(
  http: HttpClient,
  graphqlUrl: string,
  path: string,
  iid: string,
  firstPage: { hasNextPage: boolean; endCursor: string | null },
): Promise<GlCommitAuthor[]> {
  const pages = new CursorTrail(
    `the commits of MR !${iid}`,
    "GitLab GraphQL",
    MR_COMMIT_PAGES,
    `more than sock-check reads for one MR (${MR_COMMIT_PAGES * 100} commits)`,
  );
  const out: GlCommitAuthor[] = [];
  let after = pages.next(firstPage);
  while (after) {
    const { body }: { body: CommitAuthorsPage } = await http.request<CommitAuthorsPage>({
      method: "POST",
      url: graphqlUrl,
      body: { query: MR_COMMIT_AUTHORS, variables: { path, iids: [iid], after } },
    });
    graphqlAnswer(http, graphqlUrl, body);
    if (body.errors?.length) throw graphqlErrors(body.errors, path);
    if (body.data?.project === null) throw graphqlProjectNotVisible(path);
    const node = body.data?.project?.mergeRequests?.nodes?.find((n) => n?.iid === iid);
    if (!node?.commits) throw new Error(`GitLab GraphQL did not list the commits of MR !${iid} after the first 100`);
    for (const c of node.commits.nodes) if (c) out.push(c);
    after = pages.next(node.commits.pageInfo);
  }
  return out;
}

const MR_COMMIT_AUTHORS = `query($path: ID!, $iids: [String!], $after: String) {
  project(fullPath: $path) {
    mergeRequests(iids: $iids, first: 1) {
      nodes { iid commits(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { authorEmail author { username } } } }
    }
  }
}`;

const COMMIT_AUTHORS = `query($path: ID!, $iids: [String!], $after: String) {
  project(fullPath: $path) {
    mergeRequests(iids: $iids, first: ${GRAPHQL_BATCH}, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { iid commits(first: 100) { pageInfo { hasNextPage endCursor } nodes { authorEmail author { username } } } }
    }
  }
}`;

/** The project's CI jobs, newest first, down to the first older than `since`. */
async function jobsSince(http: HttpClient, project: string, since: number): Promise<GlJob[]> {
  const jobs: GlJob[] = [];
  for await (const job of paginateLink<GlJob>(http, { url: `${project}/jobs`, query: PAGE })) {
    if (Date.parse(job.created_at) < since) break;
    jobs.push(job);
  }
  return jobs;
}

/**
 * One review per standing approver: given at their latest `approved` event on the MR, on the head the
 * MR's source branch had then (its latest push before the approval). An approval with no event left
 * (events older than GitLab keeps) has no time and no head, so it cannot count as on the head.
 */
function reviewsOf(
  mr: GlMergeRequest,
  approvers: readonly GlApprover[],
  approvals: readonly GlEvent[],
  pushes: readonly GlEvent[],
): ReviewFact[] {
  // Compared as instants (time.ts): an instance in a time zone writes its times with that zone's offset, which
  // changes at daylight saving time, so as text a push half an hour after an approval could sort before it.
  const branchPushes = pushes
    .filter((p) => p.push_data?.ref_type === "branch" && p.push_data.ref === mr.source_branch && p.push_data.commit_to)
    .map((p) => ({ push: p, ms: instant(p.created_at), id: p.id }));
  // A push whose time cannot be read could be the one after the approval: no approval can be placed on a head.
  const pushesReadable = branchPushes.every((p) => p.ms !== undefined);
  branchPushes.sort((a, b) => (a.ms ?? 0) - (b.ms ?? 0) || (a.id ?? 0) - (b.id ?? 0));
  return approvers.map(({ username, bot }) => {
    const latest = approvals
      .filter((e) => e.target_iid === mr.iid && e.author_username === username)
      .map((e) => ({ text: e.created_at, ms: instant(e.created_at), id: e.id }))
      .filter((e): e is { text: string; ms: number; id: number | undefined } => e.ms !== undefined)
      .sort((a, b) => a.ms - b.ms || (a.id ?? 0) - (b.id ?? 0))
      .at(-1);
    const at = latest?.text ?? null;
    // A push at the approval's very time came before it only when the event ids say so (ids grow with creation);
    // without both ids the tie is taken as the push coming after, which never helps a change pass.
    const before = (p: { ms: number | undefined; id: number | undefined }) =>
      latest !== undefined &&
      ((p.ms as number) < latest.ms ||
        ((p.ms as number) === latest.ms && p.id !== undefined && latest.id !== undefined && p.id < latest.id));
    const head = latest === undefined || !pushesReadable ? undefined : branchPushes.filter(before).at(-1)?.push;
    return {
      // GitLab's Ghost User holds a deleted account's records: whose approval it was cannot be told (see GlApprover).
      reviewer: GHOST.test(username) ? null : username,
      // A bot (a project or group access token's, a service account) approves whatever its automation says; an
      // answer without `bot` (non-null in GitLab's schema) cannot tell, so that approval does not count either.
      reviewerType: bot === true ? "Bot" : bot === false ? "User" : null,
      state: "APPROVED",
      submittedAt: at,
      commit: head?.push_data?.commit_to ?? null,
    };
  });
}

/**
 * A "Request changes" standing now. GitLab says neither when it was given nor on which head, so it has no time: it
 * stands whenever the MR is judged (before its merge, and for an emergency's retro review after it). Requesting
 * changes withdraws that reviewer's own approval, so it never sits beside one of theirs in approvedBy.
 */
function requestsForChanges(usernames: readonly string[]): ReviewFact[] {
  return usernames.map((username) => ({
    reviewer: GHOST.test(username) ? null : username,
    reviewerType: null,
    state: "CHANGES_REQUESTED",
    submittedAt: null,
    commit: null,
  }));
}

interface People {
  person: (p: GitPerson) => Person;
}

/**
 * Links each commit author, co-author and committer of the MRs to a GitLab username, strongest evidence
 * first: the policy's `identities`; GitLab's private commit address (`id-username@users.noreply.<host>`);
 * a user search that shows the address (an administrator's token matches private e-mails, an ordinary one
 * only public e-mails, checked on the user's profile); and last, the account GitLab links a commit author's
 * address to (GraphQL Commit.author). Someone none of these names stays unlinked, and the caller says so.
 */
async function resolvePeople(
  http: HttpClient,
  mrs: readonly GlMergeRequest[],
  mrCommits: ReadonlyMap<number, readonly PullCommitSource[]>,
  options: GitLabCollectOptions & { path: string },
  attempt: ReturnType<typeof failClosed>,
  shas: readonly string[],
): Promise<People | undefined> {
  const logins = new Map<string, string | null>();
  for (const [login, addresses] of Object.entries(options.identities)) for (const a of addresses) logins.set(a.toLowerCase(), login);
  const emails = new Set<string>();
  for (const commits of mrCommits.values()) {
    for (const c of commits)
      for (const p of [c.author, c.committer, ...coAuthorsOf(c.message)]) if (p.email) emails.add(p.email.toLowerCase());
  }
  const searched = await attempt(shas, async () => {
    for (const email of emails) {
      if (logins.has(email)) continue;
      const id = noreplyUserId(email, http.options.baseUrl);
      if (id !== undefined) {
        logins.set(email, await gitlabUserById(http, id));
        continue;
      }
      logins.set(email, await gitlabUserByEmail(http, email));
    }
    return true;
  });
  if (!searched) return undefined;
  // An address still unlinked is never taken for the MR author's: it may be anyone's, the approver's too (T63 E1).
  // GitLab itself links a commit to the account one of whose e-mails its author address is, private ones included,
  // and shows any token that may read the MR which account that is (GraphQL Commit.author): asked for the MRs that
  // have such an author.
  const unlinked = (email: string) => !logins.get(email.toLowerCase());
  const asked = mrs.filter((mr) => (mrCommits.get(mr.iid) ?? []).some((c) => c.author.email && unlinked(c.author.email)));
  if (asked.length > 0) {
    const linked = await attempt(shas, () => commitAuthors(http, options.path, asked));
    if (!linked) return undefined;
    // GitLab links an address to one account, so every node naming it must name the same one: an answer linking it
    // to alice in one node and to bob (or to no one) in another cannot tell whether the approver wrote the commit,
    // and the address stays unlinked (T65 N6: the first link was taken and bob's approval counted).
    // (Usernames compared in any letter case, as GitLab's are.)
    const accounts = new Map<string, Map<string | null, string | null>>();
    for (const { authorEmail, author } of linked) {
      if (!authorEmail || !unlinked(authorEmail)) continue;
      const email = authorEmail.toLowerCase();
      const names = accounts.get(email) ?? new Map<string | null, string | null>();
      const username = author?.username ?? null;
      if (!names.has(username?.toLowerCase() ?? null)) names.set(username?.toLowerCase() ?? null, username);
      accounts.set(email, names);
    }
    for (const [email, names] of accounts) {
      const [only] = [...names.values()];
      if (names.size === 1 && only) logins.set(email, only);
    }
  }
  return {
    person: (p) => {
      const login = p.email ? logins.get(p.email.toLowerCase()) : undefined;
      return { name: p.name, email: p.email, ...(login ? { login } : {}) };
    },
  };
}

/**
 * The user id in GitLab's private commit address, `{id}-{username}@users.noreply.{host}` on the instance's own host
 * (docs.gitlab.com/user/profile/#use-an-automatically-generated-private-commit-email): GitLab links such a commit by
 * the id — the username part is the one the user had when the address was made, and a renamed user's old address
 * still names them — so the username part says nothing. The same form on another host is an ordinary address.
 */
function noreplyUserId(email: string, apiUrl: string | undefined): number | undefined {
  const host = apiUrl ? URL.parse(apiUrl)?.hostname.toLowerCase() : undefined;
  if (!host) return undefined;
  const match = /^(\d+)-[^@]+@users\.noreply\.(.+)$/.exec(email);
  return match?.[1] && match[2] === host ? Number(match[1]) : undefined;
}

/** GET /users/:id (docs.gitlab.com/api/users/#get-a-single-user): the username, or null when there is no such user. */
async function gitlabUserById(http: HttpClient, id: number): Promise<string | null> {
  try {
    return (await http.get<GlUser>(`/users/${id}`)).body.username ?? null;
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return null;
    throw error;
  }
}

async function withTeams(
  facts: ProviderFacts,
  http: HttpClient,
  options: GitLabCollectOptions,
  attempt: ReturnType<typeof failClosed>,
): Promise<ProviderFacts> {
  for (const group of options.teams) {
    // A group that cannot be read (a typo, or one the token may not see: GitLab answers 404 for both) says nothing
    // about who is in it: the rules naming it are unverified, with the answer GitLab gave. That is the group's own
    // answer, so the other groups are still read; any other failure is the run's (failClosed).
    let notFound: string | undefined;
    const members = await attempt([], async () => {
      try {
        return await collect(paginateLink<GlMember>(http, { url: `/groups/${encodeURIComponent(group)}/members`, query: PAGE }));
      } catch (error) {
        if (!(error instanceof HttpError && error.status === 404)) throw error;
        notFound = error.message;
        return undefined;
      }
    });
    if (members)
      facts.teams.set(
        group,
        members.filter(mayApprove).map((m) => m.username),
      );
    else {
      const why = notFound ?? facts.failure?.message ?? "no answer";
      facts.unreadTeams.set(group, `GitLab group ${group} could not be read (${why})`);
      if (notFound) options.log?.warn(`GitLab group ${group} could not be read: the rules naming it are unverified`, { error: notFound });
    }
  }
  return facts;
}

/**
 * A direct member as GET /groups/:id/members lists them (docs.gitlab.com/api/members/#list-all-members-of-a-group-or-project):
 * `state` is the user's (a blocked user cannot sign in, so cannot approve), `membership_state` the membership's
 * (`awaiting`: an invitation or a membership held back by the user cap, not yet a member), `access_level` the role.
 */
interface GlMember extends GlUser {
  state?: string;
  membership_state?: string;
  access_level?: number;
}

/**
 * Members GitLab would let approve as a group approver: an active user with an active membership and at least the
 * Reporter role — Reporter is the least that may approve (only as a member of a group added as approvers,
 * docs.gitlab.com/user/project/merge_requests/approvals/rules/#eligible-approvers); Minimal Access (5) and Guest (10)
 * cannot (docs.gitlab.com/user/permissions/). A member without a readable role or user state is not counted (fail
 * closed); a GitLab that does not report `membership_state` (older than the field) has no awaiting memberships.
 */
function mayApprove(m: GlMember): boolean {
  return (
    m.state === "active" &&
    (m.membership_state === undefined || m.membership_state === "active") &&
    typeof m.access_level === "number" &&
    m.access_level >= REPORTER
  );
}
const REPORTER = 20;

/** The earliest of some timestamps (a loop: a spread of a huge range would overflow the call stack). */
function earliest(times: readonly string[]): number {
  let min = Number.POSITIVE_INFINITY;
  for (const t of times) {
    const ms = Date.parse(t);
    if (ms < min) min = ms;
  }
  return min;
}

function dayBefore(time: number): string {
  return new Date((Number.isFinite(time) ? time : Date.now()) - DAY).toISOString().slice(0, 10);
}

/** Signature states GitLab shows as "Verified": a known key of the committer, GitLab's own web commits, a trusted CA. */
const VERIFIED = new Set(["verified", "verified_system", "verified_ca"]);

const STATES: Record<string, string> = {
  success: "success",
  failed: "failure",
  canceled: "cancelled",
  skipped: "skipped",
  manual: "pending",
  running: "pending",
  pending: "pending",
  created: "pending",
};

/**
 * The jobs GitLab judges an MR's head by: "Pipelines must succeed" blocks a merge request "if their pipeline did not
 * succeed", the MR's latest pipeline, and a retried job that succeeds "on the second try" lets it merge
 * (docs.gitlab.com/ee/user/project/merge_requests/merge_when_pipeline_succeeds.html). So the jobs of the newest
 * pipeline on the head (pipeline IDs grow), and of those the newest job (job IDs grow) per name. An older pipeline's
 * success never stands in for a newer one still running or failed.
 *
 * A child pipeline (`trigger: include`) runs "under the same project, ref, and commit SHA as the parent pipeline" and
 * its jobs carry the source `parent_pipeline` (docs.gitlab.com/ci/pipelines/downstream_pipelines/): it is newer than
 * its parent but is not the MR's pipeline, so it never becomes the head pipeline. Its results reach the parent's
 * status only with `strategy: depend`, which the job list does not show, and the list does not say whose child it
 * is: every child pipeline newer than the head pipeline (a child is created after its parent) is counted beside it,
 * each on its own (fail closed: a failed `build` in either blocks, and a child without `build` leaves the parent's).
 *
 * A job without its job ID, pipeline ID or pipeline source cannot be placed: then every job is kept, and each
 * pipeline's stands on its own (see CheckFact.suite).
 */
function latestPipelineJobs(jobs: readonly GlJob[]): GlJob[] {
  if (jobs.some((j) => typeof j.id !== "number" || typeof j.pipeline?.id !== "number" || typeof j.pipeline.source !== "string"))
    return [...jobs];
  const isChild = (j: GlJob) => j.pipeline!.source === CHILD_PIPELINE;
  const parents = jobs.filter((j) => !isChild(j)).map((j) => j.pipeline!.id);
  // Only children listed (the head pipeline's own jobs are all trigger jobs, which /jobs leaves out): all of them count.
  const head = parents.length > 0 ? Math.max(...parents) : Number.NEGATIVE_INFINITY;
  const newest = new Map<string, GlJob>();
  for (const job of jobs.filter((j) => j.pipeline!.id === head || (isChild(j) && j.pipeline!.id > head))) {
    const key = `${job.pipeline!.id}:${job.name}`;
    const seen = newest.get(key);
    if (!seen || job.id! > seen.id!) newest.set(key, job);
  }
  return [...newest.values()];
}

/** The pipeline source of a child pipeline (docs.gitlab.com/ci/jobs/job_rules/#ci_pipeline_source-predefined-variable). */
const CHILD_PIPELINE = "parent_pipeline";

/**
 * A CI job as a check result, named as a job of its pipeline. Its time is `finished_at` alone, which GitLab sets when
 * a job finishes: a `success` without one is a pass without a completion time, which blocks (T63 B2), never dated by
 * its creation instead.
 */
function jobCheck(job: GlJob): CheckFact {
  return {
    name: job.name,
    app: null,
    kind: "job",
    state: STATES[job.status] ?? job.status,
    at: job.finished_at ?? null,
    // A pipeline is GitLab's check suite: jobs of different pipelines never outvote one another.
    ...(typeof job.pipeline?.id === "number" ? { suite: `pipeline ${job.pipeline.id}` } : {}),
  };
}

/** A commit status (an external service's, or a job as the statuses list shows it), by who posted it; timed as jobCheck. */
function statusCheck(status: GlStatus): CheckFact {
  return {
    name: status.name,
    app: status.author?.username ?? null,
    kind: "status",
    state: STATES[status.status] ?? status.status,
    at: status.finished_at ?? null,
  };
}
