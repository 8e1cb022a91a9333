import { type Logger, UnavailableError } from "@opsguard/core";
import { emptyFacts, failClosed, repositoryNotVisible } from "./facts";
import type { LocalCommit } from "./git";
import type { GitHubApi, GraphQLError, GraphQLResult } from "./github-api";
import type { CheckFact, Person, ProviderFacts, PullCommitFact, PullFact, ReviewFact, ReviewState } from "./model";
import { CursorTrail, UnreadablePage } from "./next-page";
import { namesGitHubAccount, unlinkedApprovalReason } from "./unlinked";

/**
 * Collects PRs, reviews, commits and check results for a release range with batched GraphQL:
 * one query per 100 commits finds their PRs and head commits, one query per 25 PRs fetches everything
 * about them together with the checks on exactly each PR's head (`headRefOid`), and only connections
 * longer than a page cost extra queries. A failed batch, or an answer with errors touching a commit or
 * PR, leaves those commits unverified (never assumed compliant); a failed request stops further ones.
 */

export const COMMITS_PER_QUERY = 100;
export const PULLS_PER_QUERY = 25;
const PAGE = 100;
const MAX_EXTRA_PAGES = 50;

export interface CollectOptions {
  owner: string;
  name: string;
  teams: string[];
  /** Organisations approval rules name (`requires.organizations`). */
  organizations?: string[];
  /** The policy's `identities`: login → e-mail addresses, for people GitHub cannot link to an account. */
  identities: Record<string, string[]>;
  log?: Logger | undefined;
}

interface Connection<T> {
  totalCount?: number;
  nodes: Array<T | null> | null;
  pageInfo?: { hasNextPage: boolean; endCursor: string | null };
}

interface GqlActor {
  /** "Bot" for a GitHub App (login without "[bot]"), "User", "Organization", "Mannequin", ... */
  __typename?: string;
  login: string;
}
interface GqlGitActor {
  name: string | null;
  email: string | null;
  user: GqlActor | null;
}
interface GqlPullCommit {
  oid: string;
  message: string;
  parents: Connection<{ oid: string }> | null;
  signature: { isValid: boolean } | null;
  authors: Connection<GqlGitActor>;
  committer: GqlGitActor | null;
}
interface GqlContext {
  __typename: "CheckRun" | "StatusContext";
  name?: string;
  conclusion?: string | null;
  status?: string;
  completedAt?: string | null;
  checkSuite?: { id?: string; app: { slug: string } | null };
  context?: string;
  state?: string;
  createdAt?: string;
  creator?: GqlActor | null;
}
interface GqlReview {
  author: (GqlActor & { databaseId?: number | null }) | null;
  state: ReviewState;
  submittedAt: string | null;
  commit: { oid: string } | null;
}
interface GqlPull {
  number: number;
  title: string;
  body: string;
  url: string;
  merged: boolean;
  mergedAt: string | null;
  headRefName: string;
  headRefOid: string;
  baseRefName: string;
  author: GqlActor | null;
  mergedBy: GqlActor | null;
  mergeCommit: { oid: string } | null;
  labels: Connection<{ name: string }> | null;
  reviews: Connection<GqlReview> | null;
  commits: Connection<{ commit: GqlPullCommit }> | null;
}
interface GqlHead {
  oid: string;
  statusCheckRollup: { contexts: Connection<GqlContext> | null } | null;
}

const PULL_COMMIT_FIELDS = `oid message signature { isValid } parents(first: 2) { nodes { oid } }
  authors(first: 10) { totalCount nodes { name email user { login } } }
  committer { name email user { login } }`;

const CONTEXT_FIELDS = `pageInfo { hasNextPage endCursor }
  nodes { __typename
    ... on CheckRun { name status conclusion completedAt checkSuite { id app { slug } } }
    ... on StatusContext { context state createdAt creator { __typename login } } }`;

const LABEL_FIELDS = "pageInfo { hasNextPage endCursor } nodes { name }";

const REVIEW_FIELDS = `pageInfo { hasNextPage endCursor }
  nodes { author { __typename login ... on User { databaseId } } state submittedAt commit { oid } }`;

// No `commits(last: 1)` for the head: GitHub lists a PR's commits by date, not push order, so the last one need
// not be the head. Checks are read from the commit `headRefOid` names (fetched alongside, see HEAD_FIELDS).
const PULL_FIELDS = `number title body url merged mergedAt headRefName headRefOid baseRefName
  author { __typename login } mergedBy { login } mergeCommit { oid }
  labels(first: ${PAGE}) { ${LABEL_FIELDS} }
  reviews(first: ${PAGE}) { ${REVIEW_FIELDS} }
  commits(first: ${PAGE}) { totalCount pageInfo { hasNextPage endCursor } nodes { commit { ${PULL_COMMIT_FIELDS} } } }`;

const HEAD_FIELDS = `... on Commit { oid statusCheckRollup { contexts(first: ${PAGE}) { ${CONTEXT_FIELDS} } } }`;

export async function collectGitHubFacts(api: GitHubApi, commits: readonly LocalCommit[], options: CollectOptions): Promise<ProviderFacts> {
  const facts = emptyFacts();
  const repo = { owner: options.owner, name: options.name };

  const attempt = failClosed(facts, "GitHub API", options.log);
  /** PR number → headRefOid, from the commit lookups: the PR query reads that commit's checks in the same request. */
  const heads = new Map<number, string>();

  for (const batch of chunks(commits, COMMITS_PER_QUERY)) {
    const variables: Record<string, unknown> = { ...repo };
    const fields = batch.map((c, i) => {
      variables[`c${i}`] = c.sha;
      return `c${i}: object(oid: $c${i}) { ... on Commit { oid signature { isValid } author { user { login } } committer { user { login } }
        associatedPullRequests(first: 10) { nodes { number merged headRefOid mergeCommit { oid } } } } }`;
    });
    const query = `query(${["$owner: String!", "$name: String!", ...batch.map((_, i) => `$c${i}: GitObjectID!`)].join(", ")}) {
      repository(owner: $owner, name: $name) { defaultBranchRef { name } ${fields.join("\n")} } }`;
    const shas = batch.map((c) => c.sha);
    const result = await attempt(shas, () => api.graphql<{ repository: Record<string, unknown> | null }>(query, variables));
    if (!result) continue;
    if (!result.data?.repository) {
      const error = errorFor(result.errors, "repository");
      // GitHub answers NOT_FOUND for a repository that is not there and for a private one the token cannot see alike.
      // A null repository with no error at all (a proxy or front end that drops `errors`, T32) says the same: the
      // schema's `repository` is null only when there is none to show; anything else would let --allow-unverified pass it.
      const hidden =
        (result.data?.repository === null && result.errors.length === 0) ||
        result.errors.some((e) => e.type === "NOT_FOUND" && (!e.path || e.path[0] === "repository"));
      const slug = `${options.owner}/${options.name}`;
      const reason = hidden
        ? `repository ${slug} was not found, or this token cannot see it: ${error ?? "GitHub answered repository: null"}`
        : `repository ${slug}: ${error ?? "not visible to this token"}`;
      for (const sha of shas) facts.unverified.set(sha, reason);
      facts.failure ??= hidden
        ? repositoryNotVisible(reason, "check github.repository (or --repo) and that the token can read it")
        : new UnavailableError(reason);
      continue;
    }
    facts.defaultBranch ??= (result.data?.repository?.defaultBranchRef as { name: string } | null | undefined)?.name ?? null;
    batch.forEach((c, i) => {
      const node = result.data?.repository?.[`c${i}`] as
        | {
            oid: string;
            signature: { isValid: boolean } | null;
            author: { user: GqlActor | null } | null;
            committer: { user: GqlActor | null } | null;
            associatedPullRequests: Connection<{
              number: number;
              merged: boolean;
              headRefOid: string;
              mergeCommit: { oid: string } | null;
            }> | null;
          }
        | null
        | undefined;
      // A partial answer (data with errors[] on this commit's path, or on no path at all) is not a complete one.
      const error = errorFor(result.errors, `c${i}`);
      if (!node || error !== undefined) {
        facts.unverified.set(c.sha, error ?? "GitHub does not know this commit (was it pushed?)");
        return;
      }
      for (const p of node.associatedPullRequests?.nodes ?? []) if (p) heads.set(p.number, p.headRefOid);
      facts.commits.set(c.sha, {
        sha: c.sha,
        verified: node.signature?.isValid ?? false,
        authorLogin: node.author?.user?.login ?? null,
        committerLogin: node.committer?.user?.login ?? null,
        pulls: (node.associatedPullRequests?.nodes ?? []).filter((p) => p !== null).map((p) => p.number),
      });
    });
  }

  const wanted = [...new Set([...facts.commits.values()].flatMap((c) => c.pulls))].sort((a, b) => a - b);
  const shasOfPull = (n: number) => [...facts.commits.values()].filter((c) => c.pulls.includes(n)).map((c) => c.sha);
  for (const batch of chunks(wanted, PULLS_PER_QUERY)) {
    const variables: Record<string, unknown> = { ...repo };
    const fields = batch.map((n, i) => {
      variables[`p${i}`] = n;
      variables[`h${i}`] = heads.get(n);
      return `p${i}: pullRequest(number: $p${i}) { ${PULL_FIELDS} }\n h${i}: object(oid: $h${i}) { ${HEAD_FIELDS} }`;
    });
    const query = `query(${["$owner: String!", "$name: String!", ...batch.flatMap((_, i) => [`$p${i}: Int!`, `$h${i}: GitObjectID!`])].join(", ")}) {
      repository(owner: $owner, name: $name) { ${fields.join("\n")} } }`;
    const shas = batch.flatMap(shasOfPull);
    const result = await attempt(shas, () =>
      api.graphql<{ repository: Record<string, GqlPull | GqlHead | null> | null }>(query, variables),
    );
    if (!result) continue;
    for (const [i, n] of batch.entries()) {
      const node = result.data?.repository?.[`p${i}`] as GqlPull | null | undefined;
      const head = result.data?.repository?.[`h${i}`] as GqlHead | null | undefined;
      // Any error touching this PR or its head commit leaves the PR unverified: a partial answer is never a pass.
      const error = errorFor(result.errors, `p${i}`) ?? errorFor(result.errors, `h${i}`);
      const problem =
        error ??
        (!node
          ? "missing from GitHub's answer"
          : node.headRefOid !== heads.get(n)
            ? `its head changed while sock-check read it (${heads.get(n)?.slice(0, 7)} then ${node.headRefOid.slice(0, 7)}); re-run`
            : !head
              ? `GitHub does not know its head commit ${node.headRefOid.slice(0, 7)}`
              : !node.commits
                ? "GitHub returned no commit list for it"
                : undefined);
      if (problem !== undefined || !node || !head) {
        const reason = `PR #${n}: ${problem}`;
        for (const sha of shasOfPull(n)) facts.unverified.set(sha, reason);
        continue;
      }
      const complete = await attempt(shasOfPull(n), () =>
        completePull(api, repo, node, head).catch((error: unknown) =>
          error instanceof IncompletePull || error instanceof UnreadablePage ? error : Promise.reject(error),
        ),
      );
      if (complete instanceof IncompletePull || complete instanceof UnreadablePage) {
        for (const sha of shasOfPull(n)) facts.unverified.set(sha, complete.message);
      } else if (complete) {
        const pull = toPullFact(complete.pull, complete.head);
        // GitHub links a commit's address to an account only when the address is verified on it (GitActor.user)
        const unlinked = unlinkedApprovalReason(pull, options.identities, {
          change: `PR #${n}`,
          account: "GitHub",
          hint: "(GitHub links an address only when it is verified on the account)",
          namesAccount: namesGitHubAccount,
        });
        if (unlinked !== undefined) for (const sha of shasOfPull(n)) facts.unverified.set(sha, unlinked);
        facts.pulls.set(n, pull);
      }
    }
  }

  if (options.teams.length + (options.organizations ?? []).length > 0) {
    await attempt([], () => collectMembership(api, facts, options.teams, options.organizations ?? []));
  }
  return facts;
}

/** GitHub answered, but the PR cannot be judged on what it gave: this PR is unverified, later requests still go out. */
class IncompletePull extends Error {}

/** A connection's pages as GitHub hands them out: at most MAX_EXTRA_PAGES after the first, no cursor twice (T65 N1). */
function boundedTrail(what: string, maxPages = MAX_EXTRA_PAGES + 1): CursorTrail {
  return new CursorTrail(what, "GitHub", maxPages, `more than sock-check reads (${maxPages * PAGE})`);
}

/** Fetches the rest of any connection longer than one page: reviews, commits, the head's check contexts. */
async function completePull(
  api: GitHubApi,
  repo: { owner: string; name: string },
  pull: GqlPull,
  head: GqlHead,
): Promise<{ pull: GqlPull & { commits: Connection<{ commit: GqlPullCommit }> }; head: GqlHead }> {
  const pageOf = async <T>(field: string, selection: string, after: string): Promise<Connection<T>> => {
    const query = `query($owner: String!, $name: String!, $n: Int!, $after: String) {
      repository(owner: $owner, name: $name) { pullRequest(number: $n) { ${field}(first: ${PAGE}, after: $after) { ${selection} } } } }`;
    const result = await api.graphql<{ repository: { pullRequest: Record<string, Connection<T>> | null } | null }>(query, {
      ...repo,
      n: pull.number,
      after,
    });
    const connection = result.data?.repository?.pullRequest?.[field];
    if (!connection || result.errors.length > 0) {
      throw new Error(`PR #${pull.number}: GitHub did not return all its ${field} (${result.errors[0]?.message ?? "no data"})`);
    }
    return connection;
  };
  const drain = async <T>(first: Connection<T>, field: string, selection: string): Promise<Connection<T>> => {
    const nodes = [...(first.nodes ?? [])];
    const pages = boundedTrail(`PR #${pull.number}'s ${field}`);
    let after = pages.next(first.pageInfo);
    while (after !== null) {
      const next = await pageOf<T>(field, selection, after);
      nodes.push(...(next.nodes ?? []));
      after = pages.next(next.pageInfo);
    }
    return { ...first, nodes, pageInfo: { hasNextPage: false, endCursor: null } };
  };
  const reviews = pull.reviews ? await drain(pull.reviews, "reviews", REVIEW_FIELDS) : null;
  // every label: an approval rule keyed on the 51st applied to nothing when only the first 50 were read (T31 #18)
  const labels = pull.labels ? await drain(pull.labels, "labels", LABEL_FIELDS) : null;
  if (!pull.commits) throw new Error(`PR #${pull.number}: GitHub returned no commit list for it`);
  const commits = await drain(
    pull.commits,
    "commits",
    `totalCount pageInfo { hasNextPage endCursor } nodes { commit { ${PULL_COMMIT_FIELDS} } }`,
  );
  // The self-approval rule reads the authors of every commit of the PR: with some left out (a null node, a count
  // above what was listed, or no count to tell) an approver may have written one of them. This PR is unverified,
  // the rest of the run goes on (T53 F6).
  const listed = (commits.nodes ?? []).filter((n) => n !== null).length;
  if (typeof commits.totalCount !== "number" || listed < commits.totalCount) {
    const of =
      typeof commits.totalCount === "number"
        ? `${listed} of its ${commits.totalCount} commits`
        : `${listed} of its commits without saying how many it has`;
    throw new IncompletePull(`PR #${pull.number}: GitHub listed ${of}, so whether an approver wrote one of the others cannot be told`);
  }
  // Co-authors past the first page would be invisible to the self-approval rule: a commit with more is not judged.
  const crowded = (commits.nodes ?? []).find((n) => n && (n.commit.authors.nodes ?? []).length < (n.commit.authors.totalCount ?? 0));
  if (crowded) {
    throw new IncompletePull(
      `PR #${pull.number}: commit ${crowded.commit.oid.slice(0, 7)} has ${crowded.commit.authors.totalCount} authors and co-authors; sock-check reads 10, so it cannot rule out self-approval`,
    );
  }
  const contexts = head.statusCheckRollup?.contexts;
  if (head.statusCheckRollup && !contexts)
    throw new Error(`PR #${pull.number}: GitHub returned no checks for head ${head.oid.slice(0, 7)}`);
  const pages = boundedTrail(`the checks of PR #${pull.number}'s head`);
  let after = contexts ? pages.next(contexts.pageInfo) : null;
  if (!contexts || after === null) return { pull: { ...pull, labels, reviews, commits }, head };
  const nodes = [...(contexts.nodes ?? [])];
  while (after !== null) {
    const query = `query($owner: String!, $name: String!, $oid: GitObjectID!, $after: String) {
      repository(owner: $owner, name: $name) { object(oid: $oid) { ... on Commit { statusCheckRollup { contexts(first: ${PAGE}, after: $after) { ${CONTEXT_FIELDS} } } } } } }`;
    const result: GraphQLResult<{
      repository: { object: { statusCheckRollup: { contexts: Connection<GqlContext> } | null } | null } | null;
    }> = await api.graphql(query, { ...repo, oid: head.oid, after });
    const next: Connection<GqlContext> | undefined = result.data?.repository?.object?.statusCheckRollup?.contexts;
    if (!next || result.errors.length > 0) {
      throw new Error(`PR #${pull.number}: GitHub did not return all checks (${result.errors[0]?.message ?? "no data"})`);
    }
    nodes.push(...(next.nodes ?? []));
    after = pages.next(next.pageInfo);
  }
  return { pull: { ...pull, labels, reviews, commits }, head: { ...head, statusCheckRollup: { contexts: { nodes } } } };
}

/** One membership list being read: a team's members or an organisation's, with where its next page starts. */
interface MemberList {
  alias: string;
  kind: "team" | "org";
  org: string;
  slug?: string;
  members: string[];
  after: string | null;
  /** Its pages read so far (bounded; no cursor twice). */
  trail?: CursorTrail;
  viewerIsAMember?: boolean;
  error?: string;
}

const TEAM_SELECTION = `pageInfo { hasNextPage endCursor } nodes { login }`;

/**
 * Team and organisation members for every team and organisation the policy names, batched: one query reads the
 * first page of all of them, and each further query the next page of those that have more. Organisations are
 * read with `organization { viewerIsAMember membersWithRole }`: GitHub shows a token that is not a member of the
 * organisation only its public members (REST orgs/list-members: "If the authenticated user is also a member of
 * this organization then both concealed and public members will be returned"), so such a list is recorded as
 * incomplete and a missing approver stays "unknown", never "not a member" (see evaluate's approval rules).
 */
async function collectMembership(api: GitHubApi, facts: ProviderFacts, teams: readonly string[], orgs: readonly string[]): Promise<void> {
  const lists: MemberList[] = [
    ...teams.map((team, i): MemberList => {
      const [org, slug] = team.split("/") as [string, string];
      return { alias: `t${i}`, kind: "team", org, slug, members: [], after: null };
    }),
    ...orgs.map((org, i): MemberList => ({ alias: `o${i}`, kind: "org", org, members: [], after: null })),
  ];
  let pending = lists;
  while (pending.length > 0) {
    const variables: Record<string, unknown> = {};
    const declared: string[] = [];
    const fields = pending.map((list) => {
      variables[`${list.alias}o`] = list.org;
      variables[`${list.alias}a`] = list.after;
      declared.push(`$${list.alias}o: String!`, `$${list.alias}a: String`);
      if (list.kind === "team") {
        variables[`${list.alias}s`] = list.slug;
        declared.push(`$${list.alias}s: String!`);
        return `${list.alias}: organization(login: $${list.alias}o) { team(slug: $${list.alias}s) { members(first: ${PAGE}, after: $${list.alias}a) { ${TEAM_SELECTION} } } }`;
      }
      return `${list.alias}: organization(login: $${list.alias}o) { viewerIsAMember membersWithRole(first: ${PAGE}, after: $${list.alias}a) { ${TEAM_SELECTION} } }`;
    });
    const result = await api.graphql<
      Record<
        string,
        { viewerIsAMember?: boolean; team?: { members: Connection<GqlActor> } | null; membersWithRole?: Connection<GqlActor> } | null
      >
    >(`query(${declared.join(", ")}) { ${fields.join("\n")} }`, variables);
    const next: MemberList[] = [];
    for (const list of pending) {
      const node = result.data?.[list.alias];
      const connection = list.kind === "team" ? node?.team?.members : node?.membersWithRole;
      const error = errorFor(result.errors, list.alias);
      const name = list.kind === "team" ? `team ${list.org}/${list.slug}` : `organisation ${list.org}`;
      if (!connection || error !== undefined) {
        // A member list with errors may be missing members: nothing is judged on part of one.
        list.error = connection
          ? `${name}: GitHub answered in part (${error})`
          : `${name} is not visible to this token (${error ?? "not found"})`;
        continue;
      }
      if (list.kind === "org") list.viewerIsAMember = node?.viewerIsAMember === true;
      list.members.push(...(connection.nodes ?? []).filter((m) => m !== null).map((m) => m.login));
      let after: string | null;
      try {
        list.trail ??= boundedTrail(`the members of ${name}`, MAX_EXTRA_PAGES);
        after = list.trail.next(connection.pageInfo);
      } catch (unreadable) {
        list.error = (unreadable as Error).message;
        continue;
      }
      if (after === null) continue;
      list.after = after;
      next.push(list);
    }
    pending = next;
  }
  for (const list of lists.filter((l) => l.kind === "org")) {
    const incomplete =
      list.error ??
      (list.viewerIsAMember ? null : `the token is not a member of organisation ${list.org}, so GitHub shows it only the public members`);
    facts.orgs.set(list.org, { members: list.error === undefined ? list.members : [], incomplete });
  }
  const teamLists = lists.filter((l) => l.kind === "team");
  for (const list of teamLists) if (list.error === undefined) facts.teams.set(`${list.org}/${list.slug}`, list.members);
  // A team that cannot be read is left out, so rules naming it are not met; the failure is the run's, as before.
  const unreadable = teamLists.find((l) => l.error !== undefined);
  if (unreadable) throw new Error(unreadable.error);
}

function toPullFact(pull: GqlPull & { commits: Connection<{ commit: GqlPullCommit }> }, head: GqlHead): PullFact {
  const contexts = head.statusCheckRollup?.contexts?.nodes ?? [];
  return {
    number: pull.number,
    url: pull.url,
    title: pull.title,
    body: pull.body ?? "",
    author: pull.author?.login ?? null,
    authorType: pull.author?.__typename ?? null,
    headRef: pull.headRefName,
    headSha: pull.headRefOid,
    baseRef: pull.baseRefName,
    merged: pull.merged,
    mergedAt: pull.mergedAt,
    mergedBy: pull.mergedBy?.login ?? null,
    mergeCommit: pull.mergeCommit?.oid ?? null,
    labels: (pull.labels?.nodes ?? []).filter((l) => l !== null).map((l) => l.name),
    reviews: (pull.reviews?.nodes ?? []).filter((r) => r !== null).map(toReview),
    commits: (pull.commits.nodes ?? []).filter((c) => c !== null).map((c) => toPullCommit(c.commit)),
    checks: contexts.filter((c) => c !== null).map((c) => toCheck(c, head.oid)),
  };
}

/**
 * GitHub's placeholder for deleted accounts: the user `ghost`, id 10137 (what a deleted account wrote "is associated
 * with our Ghost user", docs.github.com/account-and-profile/setting-up-and-managing-your-personal-account-on-github/managing-personal-account-settings/deleting-your-personal-account;
 * api.github.com/users/ghost). GraphQL gives such a review's author as null; an answer that names the ghost instead
 * (REST's shape, a proxy, GitHub Enterprise Server) is the same deleted account, and its approval never counts (T53 F3).
 * GitHub has only the one, and logins are case-insensitive (github.com/Ghost is the same user), so `GHOST` or `Ghost`
 * names it too, with or without an id: GitHub reserves the login, another account cannot have it (T55 N3).
 * `ghost1` with another id is somebody's real account.
 */
function isGhost(author: GqlReview["author"]): boolean {
  return author !== null && (author.login.toLowerCase() === "ghost" || author.databaseId === 10137);
}

function toReview(review: GqlReview): ReviewFact {
  return {
    // A deleted account's review is nobody's (evaluate: it does not count, and it is no self-approval either).
    reviewer: isGhost(review.author) ? null : (review.author?.login ?? null),
    reviewerType: review.author?.__typename ?? null,
    state: review.state,
    submittedAt: review.submittedAt,
    commit: review.commit?.oid ?? null,
  };
}

function toPerson(actor: GqlGitActor | null): Person {
  return {
    ...(actor?.name ? { name: actor.name } : {}),
    ...(actor?.email ? { email: actor.email } : {}),
    ...(actor?.user?.login ? { login: actor.user.login } : {}),
  };
}

function toPullCommit(commit: GqlPullCommit): PullCommitFact {
  return {
    sha: commit.oid,
    message: commit.message,
    authors: (commit.authors.nodes ?? []).filter((a) => a !== null).map(toPerson),
    committer: toPerson(commit.committer),
    verified: commit.signature?.isValid ?? false,
    parents: (commit.parents?.nodes ?? []).filter((p) => p !== null).map((p) => p.oid),
  };
}

function toCheck(context: GqlContext, sha: string): CheckFact {
  if (context.__typename === "CheckRun") {
    return {
      name: context.name ?? "",
      app: context.checkSuite?.app?.slug ?? null,
      kind: "check_run",
      // A check run still running has no conclusion yet.
      state: (context.conclusion ?? "pending").toLowerCase(),
      at: context.completedAt ?? null,
      sha,
      suite: context.checkSuite?.id ?? null,
    };
  }
  return {
    name: context.context ?? "",
    app: context.creator?.login ?? null,
    // A status names no app, only its creator (an `Actor`): a GitHub App's own statuses are created by its `Bot`.
    creatorType: context.creator?.__typename ?? null,
    kind: "status",
    state: (context.state ?? "pending").toLowerCase(),
    at: context.createdAt ?? null,
    sha,
  };
}

/** The message of an error on this alias's path, or of one on no path at all (it may concern anything in the answer). */
function errorFor(errors: readonly GraphQLError[], alias: string): string | undefined {
  const error = errors.find((e) => !e.path || e.path.length === 0 || e.path.includes(alias));
  if (!error) return undefined;
  // Deeper than the alias itself, say where: "at repository.p0.commits.nodes.3.commit.authors.nodes.1.user".
  const where = error.path && error.path.length > 2 ? ` (at ${error.path.join(".")})` : "";
  return `${error.message || "GitHub reported an error"}${where}`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * What the same facts would cost with one REST call per object, as a tool without GraphQL makes
 * them: compare pages, a PR lookup per commit, and per PR the PR, its reviews, commits, combined
 * status and check runs, each paged at GitHub's maximum of 100.
 */
export function naiveRestRequests(commitCount: number, pulls: Iterable<PullFact>): number {
  let total = Math.max(1, Math.ceil(commitCount / 100)) + commitCount;
  for (const pull of pulls) {
    const pages = (n: number) => Math.max(1, Math.ceil(n / 100));
    total +=
      1 + pages(pull.reviews.length) + pages(pull.commits.length) + 1 + pages(pull.checks.filter((c) => c.kind === "check_run").length);
  }
  return total;
}
