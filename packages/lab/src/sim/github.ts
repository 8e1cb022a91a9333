import {
  type GitHubCheckRun,
  GitHubData,
  type GitHubPullRequest,
  type GitHubReview,
  type GitHubStatus,
  type PullRequestInput,
} from "./github-data";
import { GitHubGraphQL, type GraphQLFault, githubSchema } from "./github-graphql";
import { GitHubLimits, tokenOf } from "./github-limits";
import { DOCS, GitHubRest } from "./github-rest";
import { type SimHandler, type SimRequest, type SimResponse, SimServer } from "./server";

export * from "./github-data";
export type { GraphQLFault } from "./github-graphql";

/**
 * GitHub's REST v3 and GraphQL v4 endpoints for the parts the change-management tools read. This file is
 * the HTTP side: routes and authentication; github-limits.ts meters them (primary and secondary rate limits,
 * as GitHub's docs describe them). The data lives in github-data.ts; github-rest.ts (typed from GitHub's
 * OpenAPI description) and github-graphql*.ts (executed against, and typed from, GitHub's published schema)
 * render it in each API's shapes.
 */

export interface GitHubSimOptions {
  owner: string;
  repo: string;
  /** Tokens that authenticate; each maps to the login it acts as. */
  tokens: Record<string, string>;
  /** Primary rate limit per token and window (GitHub: 5,000 an hour for REST, points for GraphQL). */
  rateLimit?: number;
}

export class GitHubSim extends SimServer {
  readonly owner: string;
  readonly repo: string;
  readonly data: GitHubData;
  readonly #rest: GitHubRest;
  readonly #graphql: GitHubGraphQL;
  readonly #tokens: Record<string, string>;
  readonly #limits: GitHubLimits;

  constructor(options: GitHubSimOptions) {
    super("GitHub");
    this.owner = options.owner;
    this.repo = options.repo;
    this.data = new GitHubData(options.owner, options.repo);
    this.#rest = new GitHubRest(this.data, () => this.url);
    this.#graphql = new GitHubGraphQL(this.data);
    this.#tokens = options.tokens;
    this.#limits = new GitHubLimits(options.rateLimit ?? 5000);
    this.authenticate((req) => this.#authenticate(req));
    const repoPath = `/repos/${options.owner}/${options.repo}`;
    const rest = this.#rest;
    // The REST routes the tools call, each metered against the token's primary limit (GitHub's "core" resource).
    const restRoutes: Array<[string, SimHandler]> = [
      [`${repoPath}/compare/:basehead`, (req) => rest.compare(req)],
      [`${repoPath}/commits/:sha/pulls`, (req) => rest.pullsOfCommit(req)],
      [`${repoPath}/pulls/:number`, (req) => rest.pull(req)],
      [`${repoPath}/pulls/:number/reviews`, (req) => rest.reviews(req)],
      [`${repoPath}/pulls/:number/commits`, (req) => rest.pullCommits(req)],
      [`${repoPath}/commits/:ref/status`, (req) => rest.combinedStatus(req)],
      [`${repoPath}/commits/:ref/check-runs`, (req) => rest.checkRuns(req)],
      ["/orgs/:org/teams/:slug/members", (req) => rest.teamMembers(req)],
    ];
    for (const [path, handler] of restRoutes) this.route("GET", path, this.#limits.metered(handler));
    this.route("GET", "/rate_limit", (req) => this.#limits.rateLimit(req));
    this.route(
      "POST",
      "/graphql",
      this.#limits.metered(async (req) => {
        const token = tokenOf(req) ?? "";
        const answer = await this.#graphql.run(req.body, this.#limits.window(token), this.#tokens[token]);
        if (this.graphqlLog) {
          const { query, variables } = (req.body ?? {}) as { query?: unknown; variables?: unknown };
          this.graphqlLog.push({ query: String(query), variables: (variables ?? {}) as Record<string, unknown>, answer: answer.body });
        }
        return answer;
      }),
    );
  }

  /** Every GraphQL exchange, for checking a client's queries and the answers against GitHub's contract; off unless set to []. */
  graphqlLog: Array<{ query: string; variables: Record<string, unknown>; answer: unknown }> | undefined;

  /** Listens once GitHub's schema is built, so the first query is not slower than GitHub answers. */
  override async start(): Promise<string> {
    await githubSchema();
    return super.start();
  }

  // --- the data, for tests and scenarios -------------------------------------------------------

  get commits() {
    return this.data.commits;
  }
  get pulls() {
    return this.data.pulls;
  }
  get checkRuns() {
    return this.data.checkRuns;
  }
  get statuses() {
    return this.data.statuses;
  }

  /** An account and its verified e-mails; a bot is a GitHub App's bot, shown as "name[bot]" in REST and "name" in GraphQL. */
  addUser(login: string, emails: readonly string[] = [], options: { bot?: boolean } = {}): this {
    this.data.addUser(login, emails, options);
    return this;
  }

  /** Every commit of a local repository, as `git push --all` would make them known to GitHub. */
  pushGitRepository(dir: string): this {
    this.data.pushGitRepository(dir);
    return this;
  }

  setVerified(sha: string, verified = true): this {
    this.data.commit(sha).verified = verified;
    return this;
  }

  addPullRequest(input: PullRequestInput): GitHubPullRequest {
    return this.data.addPullRequest(input);
  }

  addReview(number: number, review: Omit<GitHubReview, "id">): this {
    this.data.pull(number).reviews.push({ id: this.data.nextId(), ...review });
    return this;
  }

  addCheckRun(run: Omit<GitHubCheckRun, "id" | "status" | "startedAt"> & Partial<Pick<GitHubCheckRun, "status" | "startedAt">>): this {
    this.data.checkRuns.push({
      id: this.data.nextId(),
      status: "completed",
      startedAt: run.completedAt ?? new Date(0).toISOString(),
      ...run,
    });
    return this;
  }

  addStatus(status: Omit<GitHubStatus, "id">): this {
    this.data.statuses.push({ id: this.data.nextId(), ...status });
    return this;
  }

  setTeam(org: string, slug: string, members: readonly string[]): this {
    this.data.teams.set(`${org}/${slug}`, [...members]);
    return this;
  }

  /** An organisation's members; `publicMembers` made their membership public, the rest kept it private (GitHub's default). */
  setOrg(org: string, members: readonly string[], publicMembers: readonly string[] = []): this {
    this.data.orgs.set(
      org,
      members.map((login) => ({ login, public: publicMembers.includes(login) })),
    );
    return this;
  }

  /** Another token that authenticates, acting as `login` (e.g. an organisation member's, which sees private members). */
  addToken(token: string, login: string): this {
    this.#tokens[token] = login;
    return this;
  }

  /** GitHub lists `sha` under PR `number` although it is not one of the PR's commits (see GitHubData.extraAssociations). */
  associate(sha: string, number: number): this {
    this.data.associate(sha, number);
    return this;
  }

  /**
   * GraphQL answers for this field fail: HTTP 200, the field null (or its nearest nullable parent, as the schema
   * requires) and an `errors[]` entry naming its path — GitHub's partial answer. Returns a function that lifts it.
   */
  failGraphQLField(fault: GraphQLFault): () => void {
    this.#graphql.faults.push(fault);
    return () => {
      const i = this.#graphql.faults.indexOf(fault);
      if (i >= 0) this.#graphql.faults.splice(i, 1);
    };
  }

  /**
   * The next `times` requests get GitHub's secondary rate limit answer: "you will receive a 403 or 429 response
   * ... If the retry-after response header is present, you should not retry your request until after that many
   * seconds has elapsed" — docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
   * `retryAfterSeconds: null` sends no retry-after, which GitHub also does ("Otherwise, wait for at least one minute").
   */
  secondaryRateLimit(times: number, retryAfterSeconds: number | null = 1, status: 403 | 429 = 403): this {
    this.#limits.secondary(times, retryAfterSeconds, status);
    return this;
  }

  /** Sets what is left of the primary limit for a token, and when the window resets. */
  setRateLimitRemaining(token: string, remaining: number, resetInSeconds = 3600): this {
    this.#limits.setRemaining(token, remaining, resetInSeconds);
    return this;
  }

  /** Requests an API client made, by kind: "graphql" or the REST path. */
  countRequests(): { total: number; graphql: number; rest: number } {
    const graphqlCount = this.requests.filter((r) => r.path === "/graphql").length;
    return { total: this.requests.length, graphql: graphqlCount, rest: this.requests.length - graphqlCount };
  }

  // --- auth and limits -------------------------------------------------------------------------

  #authenticate(req: SimRequest): SimResponse | undefined {
    const token = tokenOf(req);
    if (token !== undefined && this.#tokens[token] !== undefined) return undefined;
    if (req.path === "/graphql" || token !== undefined) {
      return { status: 401, body: { message: "Bad credentials", documentation_url: DOCS, status: "401" } };
    }
    // Anonymous REST calls see public data only; this repository is private.
    return { status: 404, body: { message: "Not Found", documentation_url: DOCS, status: "404" } };
  }
}
