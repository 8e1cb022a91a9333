import type {
  CheckConclusionState,
  CheckStatusState,
  OrganizationTeamArgs,
  PullRequestReviewsArgs,
  QueryOrganizationArgs,
  QueryRepositoryArgs,
  RepositoryObjectArgs,
  RepositoryPullRequestArgs,
  StatusState,
} from "@octokit/graphql-schema";
import { coAuthorTrailers } from "./git-history";
import type { GitHubActor, GitHubCheckRun, GitHubData, GitHubPullRequest, GitHubStatus } from "./github-data";
import { GitHubGraphQLError } from "./github-graphql-errors";
import { connection, type PageArgs } from "./github-graphql-paging";
import type {
  ActorSource,
  CheckRunSource,
  CommitSource,
  GitActorSource,
  OrganizationSource,
  PullRequestSource,
  RepositorySource,
  RollupSource,
  RootSource,
  StatusContextSource,
  UserSource,
} from "./github-graphql-source";
import type { RateWindow } from "./github-limits";

/**
 * The simulator's data as GitHub GraphQL objects: each method returns a source typed from GitHub's schema
 * (github-graphql-source.ts); graphql-js's default resolver reads fields off it and calls the functions.
 */

export class GitHubResolvers {
  readonly #data: GitHubData;

  constructor(data: GitHubData) {
    this.#data = data;
  }

  /** The query root as `viewer` sees it, with the primary-limit window the request was metered against. */
  root(window: RateWindow, viewer: string | undefined): RootSource {
    const data = this.#data;
    return {
      repository: ({ owner, name }: QueryRepositoryArgs) => {
        if (owner !== data.owner || name !== data.repo) {
          throw new GitHubGraphQLError(`Could not resolve to a Repository with the name '${owner}/${name}'.`, "NOT_FOUND");
        }
        return this.#repository();
      },
      organization: ({ login }: QueryOrganizationArgs) => {
        // GitHub's answer for an unknown login: data.organization null and a NOT_FOUND error on that path.
        if (!data.hasOrg(login)) {
          throw new GitHubGraphQLError(`Could not resolve to an Organization with the login of '${login}'.`, "NOT_FOUND");
        }
        return this.#organization(login, viewer);
      },
      // "The currently authenticated user." (schema: Query.viewer, User!) — the login the request's token acts as.
      viewer: () => {
        if (!viewer) throw new GitHubGraphQLError("This endpoint requires you to be authenticated.");
        return this.#user(viewer);
      },
      rateLimit: () => ({
        limit: window.limit,
        remaining: window.remaining,
        used: window.limit - window.remaining,
        cost: 1,
        nodeCount: 0,
        resetAt: new Date(window.resetAt * 1000).toISOString(),
      }),
    };
  }

  /**
   * An organisation as `viewer` sees it: `viewerIsAMember` ("Viewer is an active member of this organization") and
   * `membersWithRole` with the members that viewer may see — all of them for a member, the public ones otherwise
   * (GitHubData.visibleMembers cites GitHub's rule).
   */
  #organization(login: string, viewer: string | undefined): OrganizationSource {
    const data = this.#data;
    return {
      id: nodeId("Organization", login),
      login,
      viewerIsAMember: viewer !== undefined && (data.orgs.get(login) ?? []).some((m) => m.login === viewer),
      team: ({ slug }: OrganizationTeamArgs) => {
        const members = data.teams.get(`${login}/${slug}`);
        return members
          ? {
              id: nodeId("Team", `${login}/${slug}`),
              slug,
              members: (args: PageArgs) =>
                connection(
                  members.map((m) => this.#user(m)),
                  args,
                  "members",
                ),
            }
          : null;
      },
      membersWithRole: (args: PageArgs) =>
        connection(
          data.visibleMembers(login, viewer).map((m) => this.#user(m)),
          args,
          "membersWithRole",
        ),
    };
  }

  #repository(): RepositorySource {
    const data = this.#data;
    return {
      id: nodeId("Repository", `${data.owner}/${data.repo}`),
      name: data.repo,
      nameWithOwner: `${data.owner}/${data.repo}`,
      isPrivate: true,
      defaultBranchRef: { id: nodeId("Ref", "main"), name: "main", prefix: "refs/heads/" },
      object: ({ oid, expression }: RepositoryObjectArgs) => {
        const sha = data.resolve(oid ?? expression ?? "");
        return sha ? this.commit(sha) : null;
      },
      pullRequest: ({ number }: RepositoryPullRequestArgs) => {
        const pull = data.pulls.get(number);
        if (!pull) throw new GitHubGraphQLError(`Could not resolve to a PullRequest with the number of ${number}.`, "NOT_FOUND");
        return this.pull(pull);
      },
    };
  }

  /**
   * An account as GraphQL shows it. A GitHub App's bot is a `Bot` whose login has no "[bot]" suffix —
   * REST's `dependabot[bot]` is GraphQL's `dependabot` (schema: `Bot.login` "The username of the actor";
   * reported e.g. in https://github.com/lhpaul/ai-dev-framework-template/pull/1237 "reviewThreads author.login
   * values omit that suffix").
   */
  actor(login: string | null | undefined): ActorSource | null {
    if (!login) return null;
    if (!this.#data.isBot(login)) return this.#user(login);
    const shown = login.replace(/\[bot\]$/, "");
    const id = this.#data.accountId(login);
    return {
      __typename: "Bot",
      id: nodeId("Bot", String(id)),
      databaseId: id,
      login: shown,
      url: `https://github.com/apps/${shown}`,
      resourcePath: `/apps/${shown}`,
      avatarUrl: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    };
  }

  /** A person's account. Team and organisation members and `GitActor.user` are typed `User` in GitHub's schema. */
  #user(login: string): UserSource {
    const id = this.#data.accountId(login);
    return {
      __typename: "User",
      id: nodeId("User", String(id)),
      databaseId: id,
      login,
      url: `https://github.com/${login}`,
      resourcePath: `/${login}`,
      avatarUrl: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    };
  }

  /**
   * `GitActor.user` is typed `User` ("The GitHub user corresponding to the email field. Null if no such user
   * exists." — schema): an e-mail that belongs to a bot gives null, though REST's commit `author` shows the bot.
   */
  #gitActor(actor: { name: string; email: string; date?: string }): GitActorSource {
    const login = this.#data.accountOf(actor.email);
    const user = login && !this.#data.isBot(login) ? this.#user(login) : null;
    return {
      name: actor.name,
      email: actor.email,
      date: actor.date ?? null,
      avatarUrl: "https://avatars.githubusercontent.com/u/0?v=4",
      user,
    };
  }

  commit(sha: string): CommitSource {
    const c = this.#data.commit(sha);
    const coAuthors: Array<{ name: string; email: string; date?: string }> = coAuthorTrailers(c.message);
    return {
      __typename: "Commit",
      id: nodeId("Commit", sha),
      oid: sha,
      abbreviatedOid: sha.slice(0, 7),
      message: c.message,
      messageHeadline: c.message.split("\n")[0] ?? "",
      committedDate: c.committer.date,
      authoredDate: c.author.date,
      url: `https://github.com/${this.#data.owner}/${this.#data.repo}/commit/${sha}`,
      author: this.#gitActor(c.author),
      committer: this.#gitActor(c.committer),
      authors: (args: PageArgs) =>
        connection(
          [c.author as GitHubActor | { name: string; email: string }, ...coAuthors].map((a) => this.#gitActor(a)),
          args,
          "authors",
        ),
      parents: (args: PageArgs) =>
        connection(
          c.parents.filter((p) => this.#data.commits.has(p)).map((p) => this.commit(p)),
          args,
          "parents",
        ),
      signature: c.verified
        ? {
            __typename: "GpgSignature",
            isValid: true,
            state: "VALID",
            email: c.committer.email,
            payload: "",
            signature: "",
            signer: this.#gitActor(c.committer).user,
            wasSignedByGitHub: c.committer.email === "noreply@github.com",
          }
        : null,
      associatedPullRequests: (args: PageArgs) =>
        connection(
          this.#data.pullsOfCommit(sha).map((p) => this.pull(p)),
          args,
          "associatedPullRequests",
        ),
      statusCheckRollup: () => this.#rollup(sha),
    };
  }

  #checkRun(r: GitHubCheckRun): CheckRunSource {
    return {
      __typename: "CheckRun",
      id: nodeId("CheckRun", String(r.id)),
      databaseId: r.id,
      name: r.name,
      status: r.status.toUpperCase() as CheckStatusState,
      conclusion: (r.conclusion?.toUpperCase() ?? null) as CheckConclusionState | null,
      startedAt: r.startedAt,
      completedAt: r.completedAt,
      url: `https://github.com/${this.#data.owner}/${this.#data.repo}/runs/${r.id}`,
      detailsUrl: null,
      checkSuite: { id: nodeId("CheckSuite", String(r.suiteId ?? r.id)), app: { id: nodeId("App", r.app), slug: r.app, name: r.app } },
    };
  }

  #statusContext(s: GitHubStatus): StatusContextSource {
    return {
      __typename: "StatusContext",
      id: nodeId("StatusContext", String(s.id)),
      context: s.context,
      state: s.state.toUpperCase() as StatusState,
      createdAt: s.createdAt,
      creator: this.actor(s.creator),
      targetUrl: null,
      description: null,
    };
  }

  /**
   * Check runs and the latest status per context on one commit. Both kinds are listed even when they share a
   * name: "If there is a check and a status with the same name, and you select that name as a required status
   * check, both the check and the status are required" — docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-status-checks-before-merging
   */
  #rollup(sha: string): RollupSource | null {
    const runs = this.#data.checkRunsOf(sha);
    const statuses = this.#data.latestStatuses(sha);
    if (runs.length === 0 && statuses.length === 0) return null;
    const contexts = [...runs.map((r) => this.#checkRun(r)), ...statuses.map((s) => this.#statusContext(s))];
    return {
      id: nodeId("StatusCheckRollup", sha),
      state: rollupState(runs, statuses),
      commit: () => this.commit(sha),
      contexts: (args: PageArgs) => connection(contexts, args, "contexts"),
    };
  }

  pull(pull: GitHubPullRequest): PullRequestSource {
    const data = this.#data;
    return {
      __typename: "PullRequest",
      id: nodeId("PullRequest", String(pull.number)),
      number: pull.number,
      title: pull.title,
      body: pull.body,
      url: `https://github.com/${data.owner}/${data.repo}/pull/${pull.number}`,
      state: pull.merged ? "MERGED" : pull.mergedAt ? "CLOSED" : "OPEN",
      closed: pull.merged || pull.mergedAt !== null,
      merged: pull.merged,
      mergedAt: pull.mergedAt,
      createdAt: pull.createdAt,
      headRefName: pull.headRef,
      headRefOid: pull.headSha,
      baseRefName: pull.baseRef,
      author: this.actor(pull.user),
      mergedBy: this.actor(pull.mergedBy),
      mergeCommit: () => (pull.mergeCommitSha && data.commits.has(pull.mergeCommitSha) ? this.commit(pull.mergeCommitSha) : null),
      labels: (args: PageArgs) =>
        connection(
          pull.labels.map((name) => ({ name })),
          args,
          "labels",
        ),
      reviews: (args: PageArgs & Pick<PullRequestReviewsArgs, "states">) => {
        const states = args.states;
        return connection(
          pull.reviews
            .filter((r) => !states || states.includes(r.state))
            .map((r) => ({
              id: nodeId("PullRequestReview", String(r.id)),
              author: this.actor(r.user),
              state: r.state,
              submittedAt: r.submittedAt,
              commit: data.commits.has(r.commitId) ? this.commit(r.commitId) : null,
            })),
          args,
          "reviews",
        );
      },
      // Listed by author date, not push order: the last node need not be the head (see GitHubData.listedPullCommits).
      commits: (args: PageArgs) =>
        connection(
          data
            .listedPullCommits(pull)
            .map((sha) => ({ id: nodeId("PullRequestCommit", `${pull.number}:${sha}`), commit: this.commit(sha) })),
          args,
          "commits",
        ),
      statusCheckRollup: () => this.#rollup(pull.headSha),
    };
  }
}

/** GitHub's rollup: failing if any context failed, pending while any runs, success otherwise (neutral and skipped pass). */
function rollupState(runs: readonly GitHubCheckRun[], statuses: readonly GitHubStatus[]): StatusState {
  const failed = ["failure", "timed_out", "cancelled", "action_required"];
  if (
    runs.some((r) => r.conclusion !== null && failed.includes(r.conclusion)) ||
    statuses.some((s) => s.state === "failure" || s.state === "error")
  ) {
    return "FAILURE";
  }
  if (runs.some((r) => r.status !== "completed") || statuses.some((s) => s.state === "pending")) return "PENDING";
  return "SUCCESS";
}

function nodeId(type: string, key: string): string {
  return Buffer.from(`${type}:${key}`).toString("base64");
}
