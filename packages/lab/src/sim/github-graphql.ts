import type {
  CheckConclusionState,
  CheckStatusState,
  GitSignatureState,
  OrganizationTeamArgs,
  PullRequestReviewState,
  PullRequestReviewsArgs,
  PullRequestState,
  QueryOrganizationArgs,
  QueryRepositoryArgs,
  RateLimit,
  RepositoryObjectArgs,
  RepositoryPullRequestArgs,
  StatusState,
} from "@octokit/graphql-schema";
import {
  buildClientSchema,
  type DocumentNode,
  defaultFieldResolver,
  execute,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  type IntrospectionQuery,
  isInterfaceType,
  isObjectType,
  Kind,
  OverlappingFieldsCanBeMergedRule,
  parse,
  type SelectionSetNode,
  specifiedRules,
  validate,
} from "graphql";
import { coAuthorTrailers } from "./git-history";
import type { GitHubActor, GitHubCheckRun, GitHubData, GitHubPullRequest, GitHubStatus } from "./github-data";

/**
 * GitHub GraphQL v4 over the simulator's data. Queries are parsed, validated and executed against
 * GitHub's own published schema (npm `@octokit/graphql-schema`, the introspection GitHub serves), so
 * every type, nullability and enum value is GitHub's: a resolver here that returns null for a non-null
 * field, or a value outside an enum, fails exactly as a client would see GitHub fail — and a query that
 * GitHub would reject is rejected. Resolvers supply only the data; graphql-js does the rest.
 */

const GRAPHQL_DOCS = "https://docs.github.com/graphql";
// OverlappingFieldsCanBeMerged is quadratic in the number of aliases; batched queries carry hundreds of them.
const RULES = specifiedRules.filter((rule) => rule !== OverlappingFieldsCanBeMergedRule);

let schemaPromise: Promise<GraphQLSchema> | undefined;

/**
 * GitHub's schema, built once from the package's introspection JSON (its IDL file defines two
 * EnterpriseOwnerInfo fields twice, which graphql-js's SDL validation refuses). Loaded on first use.
 */
export function githubSchema(): Promise<GraphQLSchema> {
  schemaPromise ??= import("@octokit/graphql-schema").then(({ schema }) =>
    buildClientSchema(schema.json as unknown as IntrospectionQuery, { assumeValid: true }),
  );
  return schemaPromise;
}

/** An error as GitHub reports it in `errors[]`: `type` names the class (NOT_FOUND, FORBIDDEN, ...). */
export class GitHubGraphQLError extends Error {
  readonly type: string | undefined;
  constructor(message: string, type?: string) {
    super(message);
    this.type = type;
  }
}

/**
 * An injected field failure: GitHub answers HTTP 200 with partial `data` and an `errors[]` entry whose path
 * names the field ("Partial data is returned for fields that resolved" — https://spec.graphql.org/October2021/#sec-Errors,
 * and GitHub e.g. for a co-author it cannot resolve or a resource the token may not read). The field becomes
 * null; for a non-null field, null propagates to the nearest nullable parent as the schema dictates.
 */
export interface GraphQLFault {
  /** Schema type name, e.g. "GitActor". */
  typeName: string;
  /** Field of that type, e.g. "user". */
  fieldName: string;
  /** Only for sources this accepts (the simulator's object for that type); all when absent. */
  when?: (source: Record<string, unknown>) => boolean;
  message?: string;
  /** GitHub's error type; FORBIDDEN by default. */
  type?: string;
}

export interface RateWindow {
  limit: number;
  remaining: number;
  resetAt: number;
}

interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

interface Connection<T> {
  totalCount: number;
  nodes: T[];
  edges: Array<{ node: T; cursor: string }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

type Resolved<T> = (args: PageArgs & Record<string, unknown>) => T;

/** Source objects per GitHub type: field names and scalar/enum types as the schema declares them. */
interface ActorSource {
  __typename: "User" | "Bot";
  id: string;
  databaseId: number;
  login: string;
  url: string;
  resourcePath: string;
  avatarUrl: string;
  name?: string | null;
}

interface GitActorSource {
  name: string | null;
  email: string | null;
  date: string | null;
  avatarUrl: string;
  user: ActorSource | null;
}

interface SignatureSource {
  __typename: "GpgSignature";
  isValid: boolean;
  state: GitSignatureState;
  email: string;
  payload: string;
  signature: string;
  signer: ActorSource | null;
  wasSignedByGitHub: boolean;
  verifiedAt: string | null;
}

interface CommitSource {
  __typename: "Commit";
  id: string;
  oid: string;
  abbreviatedOid: string;
  message: string;
  messageHeadline: string;
  committedDate: string;
  authoredDate: string;
  url: string;
  author: GitActorSource;
  committer: GitActorSource;
  authors: Resolved<Connection<GitActorSource>>;
  parents: Resolved<Connection<CommitSource>>;
  signature: SignatureSource | null;
  associatedPullRequests: Resolved<Connection<PullRequestSource>>;
  statusCheckRollup: () => RollupSource | null;
}

interface CheckRunSource {
  __typename: "CheckRun";
  id: string;
  databaseId: number;
  name: string;
  status: CheckStatusState;
  conclusion: CheckConclusionState | null;
  startedAt: string | null;
  completedAt: string | null;
  url: string;
  detailsUrl: string | null;
  checkSuite: { id: string; app: { id: string; slug: string; name: string } | null };
}

interface StatusContextSource {
  __typename: "StatusContext";
  id: string;
  context: string;
  state: StatusState;
  createdAt: string;
  creator: ActorSource | null;
  targetUrl: string | null;
  description: string | null;
}

interface RollupSource {
  id: string;
  state: StatusState;
  commit: () => CommitSource;
  contexts: Resolved<Connection<CheckRunSource | StatusContextSource>>;
}

interface ReviewSource {
  id: string;
  author: ActorSource | null;
  state: PullRequestReviewState;
  submittedAt: string | null;
  commit: CommitSource | null;
}

interface PullRequestSource {
  __typename: "PullRequest";
  id: string;
  number: number;
  title: string;
  body: string;
  url: string;
  state: PullRequestState;
  closed: boolean;
  merged: boolean;
  mergedAt: string | null;
  createdAt: string;
  headRefName: string;
  headRefOid: string;
  baseRefName: string;
  author: ActorSource | null;
  mergedBy: ActorSource | null;
  mergeCommit: () => CommitSource | null;
  labels: Resolved<Connection<{ name: string }>>;
  reviews: Resolved<Connection<ReviewSource>>;
  commits: Resolved<Connection<{ id: string; commit: CommitSource }>>;
  statusCheckRollup: () => RollupSource | null;
}

interface RepositorySource {
  id: string;
  name: string;
  nameWithOwner: string;
  isPrivate: boolean;
  defaultBranchRef: { id: string; name: string; prefix: string };
  object: (args: RepositoryObjectArgs) => CommitSource | null;
  pullRequest: (args: RepositoryPullRequestArgs) => PullRequestSource;
}

interface TeamSource {
  id: string;
  slug: string;
  members: Resolved<Connection<ActorSource | null>>;
}

interface OrganizationSource {
  id: string;
  login: string;
  viewerIsAMember: boolean;
  team: (args: OrganizationTeamArgs) => TeamSource | null;
  membersWithRole: Resolved<Connection<ActorSource | null>>;
}

interface RootSource {
  repository: (args: QueryRepositoryArgs) => RepositorySource;
  organization: (args: QueryOrganizationArgs) => OrganizationSource;
  rateLimit: () => Omit<RateLimit, "__typename">;
}

export class GitHubGraphQL {
  readonly #data: GitHubData;
  readonly faults: GraphQLFault[] = [];

  constructor(data: GitHubData) {
    this.#data = data;
  }

  /** Runs one POST /graphql body; returns GitHub's `{data, errors}` (HTTP 200 unless the body is not a query). */
  async run(body: unknown, window: RateWindow, viewer?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const request = body as { query?: unknown; variables?: unknown } | undefined;
    if (!request || typeof request.query !== "string") {
      return { status: 400, body: { message: "Problems parsing JSON", documentation_url: GRAPHQL_DOCS } };
    }
    const schema = await githubSchema();
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      return { status: 200, body: { errors: [formatError(error as GraphQLError)] } };
    }
    const invalid = validate(schema, document, RULES);
    if (invalid.length > 0) return { status: 200, body: { errors: invalid.map(formatError) } };
    const variables = (request.variables ?? {}) as Record<string, unknown>;
    const overLimit = nodeLimitError(schema, document, variables);
    if (overLimit) return { status: 200, body: { errors: [{ type: "MAX_NODE_LIMIT_EXCEEDED", message: overLimit }] } };
    const result = await execute({
      schema,
      document,
      rootValue: this.#root(window, viewer),
      variableValues: variables,
      fieldResolver: this.#fieldResolver,
    });
    const errors = (result.errors ?? []).map(formatError);
    return {
      status: 200,
      body: { ...(result.data === undefined ? {} : { data: result.data }), ...(errors.length > 0 ? { errors } : {}) },
    };
  }

  readonly #fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, context, info) => {
    const fault = this.faults.find(
      (f) =>
        f.typeName === info.parentType.name &&
        f.fieldName === info.fieldName &&
        (!f.when || f.when((source ?? {}) as Record<string, unknown>)),
    );
    if (fault) {
      throw new GitHubGraphQLError(
        fault.message ?? `Resource not accessible by integration (${info.parentType.name}.${info.fieldName})`,
        fault.type ?? "FORBIDDEN",
      );
    }
    return defaultFieldResolver(source, args, context, info);
  };

  #root(window: RateWindow, viewer: string | undefined): RootSource {
    const data = this.#data;
    return {
      repository: ({ owner, name }) => {
        if (owner !== data.owner || name !== data.repo) {
          throw new GitHubGraphQLError(`Could not resolve to a Repository with the name '${owner}/${name}'.`, "NOT_FOUND");
        }
        return this.#repository();
      },
      organization: ({ login }) => {
        // GitHub's answer for an unknown login: data.organization null and a NOT_FOUND error on that path.
        if (!data.hasOrg(login)) {
          throw new GitHubGraphQLError(`Could not resolve to an Organization with the login of '${login}'.`, "NOT_FOUND");
        }
        return this.#organization(login, viewer);
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
      team: ({ slug }) => {
        const members = data.teams.get(`${login}/${slug}`);
        return members
          ? {
              id: nodeId("Team", `${login}/${slug}`),
              slug,
              members: (args) =>
                connection(
                  members.map((m) => this.actor(m)),
                  args,
                  "members",
                ),
            }
          : null;
      },
      membersWithRole: (args) =>
        connection(
          data.visibleMembers(login, viewer).map((m) => this.actor(m)),
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
      object: ({ oid, expression }) => {
        const sha = data.resolve(oid ?? expression ?? "");
        return sha ? this.commit(sha) : null;
      },
      pullRequest: ({ number }) => {
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
    const bot = this.#data.isBot(login);
    const shown = bot ? login.replace(/\[bot\]$/, "") : login;
    const id = this.#data.accountId(login);
    return {
      __typename: bot ? "Bot" : "User",
      id: nodeId(bot ? "Bot" : "User", String(id)),
      databaseId: id,
      login: shown,
      url: bot ? `https://github.com/apps/${shown}` : `https://github.com/${shown}`,
      resourcePath: bot ? `/apps/${shown}` : `/${shown}`,
      avatarUrl: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    };
  }

  /**
   * `GitActor.user` is typed `User` ("The GitHub user corresponding to the email field. Null if no such user
   * exists." — schema): an e-mail that belongs to a bot gives null, though REST's commit `author` shows the bot.
   */
  #gitActor(actor: { name: string; email: string; date?: string }): GitActorSource {
    const login = this.#data.accountOf(actor.email);
    const user = login && !this.#data.isBot(login) ? this.actor(login) : null;
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
      authors: (args) =>
        connection(
          [c.author as GitHubActor | { name: string; email: string }, ...coAuthors].map((a) => this.#gitActor(a)),
          args,
          "authors",
        ),
      parents: (args) =>
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
            verifiedAt: c.committer.date,
          }
        : null,
      associatedPullRequests: (args) =>
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
      checkSuite: { id: nodeId("CheckSuite", String(r.id)), app: { id: nodeId("App", r.app), slug: r.app, name: r.app } },
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
      contexts: (args) => connection(contexts, args, "contexts"),
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
      labels: (args) =>
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
      commits: (args) =>
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

/**
 * GitHub's node limit: "Individual calls cannot request more than 500,000 total nodes", counted as the
 * product of `first`/`last` down each chain of connections and summed over the query —
 * https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#node-limit
 */
const NODE_LIMIT = 500_000;

function nodeLimitError(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let total = 0;
  let error: string | undefined;
  const size = (field: FieldNode): number | undefined => {
    for (const arg of field.arguments ?? []) {
      if (arg.name.value !== "first" && arg.name.value !== "last") continue;
      const value =
        arg.value.kind === Kind.INT
          ? Number(arg.value.value)
          : arg.value.kind === Kind.VARIABLE
            ? variables[arg.value.name.value]
            : undefined;
      if (typeof value === "number") return value;
    }
    return undefined;
  };
  const walk = (selections: SelectionSetNode | undefined, type: GraphQLNamedType, multiplier: number): void => {
    for (const selection of selections?.selections ?? []) {
      if (error) return;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        walk(selection.selectionSet, on ?? type, multiplier);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const on = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && on) walk(fragment.selectionSet, on, multiplier);
      } else {
        const fields = isObjectType(type) || isInterfaceType(type) ? type.getFields() : {};
        const definition = fields[selection.name.value];
        if (!definition) continue;
        const n = size(selection);
        const next = n === undefined ? multiplier : multiplier * n;
        if (n !== undefined) {
          total += next;
          if (total > NODE_LIMIT) {
            error = `By the time this query traverses to the ${selection.name.value} connection, it is requesting up to ${total.toLocaleString("en-US")} possible nodes which exceeds the maximum limit of ${NODE_LIMIT.toLocaleString("en-US")}.`;
            return;
          }
        }
        walk(selection.selectionSet, getNamedType(definition.type), next);
      }
    }
  };
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) {
      const root = d.operation === "query" ? schema.getQueryType() : d.operation === "mutation" ? schema.getMutationType() : null;
      if (root) walk(d.selectionSet, root, 1);
    }
  }
  return error;
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

/**
 * A GraphQL connection with GitHub's paging rules: `first` or `last` is required and at most 100
 * (https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#node-limit).
 */
function connection<T>(items: readonly T[], args: PageArgs, name: string): Connection<T> {
  const first = args.first ?? undefined;
  const last = args.last ?? undefined;
  if (first === undefined && last === undefined) {
    throw new GitHubGraphQLError(`You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.`);
  }
  for (const [key, n] of [
    ["first", first],
    ["last", last],
  ] as const) {
    if (n !== undefined && (n < 0 || n > 100)) {
      throw new GitHubGraphQLError(`Requesting ${n} records on the \`${name}\` connection exceeds the \`${key}\` limit of 100 records.`);
    }
  }
  let start = args.after ? decodeCursor(args.after) + 1 : 0;
  let end = args.before ? decodeCursor(args.before) : items.length;
  if (first !== undefined) end = Math.min(end, start + first);
  if (last !== undefined) start = Math.max(start, end - last);
  const nodes = items.slice(start, end);
  return {
    totalCount: items.length,
    nodes,
    edges: nodes.map((node, i) => ({ node, cursor: encodeCursor(start + i) })),
    pageInfo: {
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
      startCursor: nodes.length > 0 ? encodeCursor(start) : null,
      endCursor: nodes.length > 0 ? encodeCursor(end - 1) : null,
    },
  };
}

function nodeId(type: string, key: string): string {
  return Buffer.from(`${type}:${key}`).toString("base64");
}

function encodeCursor(index: number): string {
  return Buffer.from(`cursor:v2:${index}`).toString("base64");
}

function decodeCursor(cursor: string): number {
  const match = /^cursor:v2:(\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
  if (!match) throw new GitHubGraphQLError(`\`${cursor}\` does not appear to be a valid cursor.`);
  return Number(match[1]);
}

/** GitHub's error entries: message, locations, path, and `type` where GitHub classifies the error. */
function formatError(error: GraphQLError): Record<string, unknown> {
  const type = error.originalError instanceof GitHubGraphQLError ? error.originalError.type : undefined;
  return {
    ...(type ? { type } : {}),
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    message: error.message,
  };
}
