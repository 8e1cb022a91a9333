import {
  type GitHubCheckRun,
  GitHubData,
  type GitHubPullRequest,
  type GitHubReview,
  type GitHubStatus,
  type PullRequestInput,
} from "./github-data";
import { GitHubGraphQL, type GraphQLFault, githubSchema } from "./github-graphql";
import { DOCS, GitHubRest } from "./github-rest";
import { type SimHandler, type SimRequest, type SimResponse, SimServer } from "./server";

export * from "./github-data";
export type { GraphQLFault } from "./github-graphql";

/**
 * GitHub's REST v3 and GraphQL v4 endpoints for the parts the change-management tools read. This file is
 * the HTTP side: routes, authentication, primary and secondary rate limits, as GitHub's docs describe
 * them. The data lives in github-data.ts; github-rest.ts and github-graphql.ts render it in each API's
 * shapes (GraphQL executed against GitHub's published schema).
 */

export interface GitHubSimOptions {
  owner: string;
  repo: string;
  /** Tokens that authenticate; each maps to the login it acts as. */
  tokens: Record<string, string>;
  /** Primary rate limit per token and window (GitHub: 5,000 an hour for REST, points for GraphQL). */
  rateLimit?: number;
}

interface Window {
  limit: number;
  remaining: number;
  resetAt: number;
}

export class GitHubSim extends SimServer {
  readonly owner: string;
  readonly repo: string;
  readonly data: GitHubData;
  readonly #rest: GitHubRest;
  readonly #graphql: GitHubGraphQL;
  readonly #tokens: Record<string, string>;
  readonly #limit: number;
  readonly #windows = new Map<string, Window>();
  #secondary: { remaining: number; retryAfterSeconds: number | null; status: 403 | 429 } | undefined;

  constructor(options: GitHubSimOptions) {
    super("GitHub");
    this.owner = options.owner;
    this.repo = options.repo;
    this.data = new GitHubData(options.owner, options.repo);
    this.#rest = new GitHubRest(this.data, () => this.url);
    this.#graphql = new GitHubGraphQL(this.data);
    this.#tokens = options.tokens;
    this.#limit = options.rateLimit ?? 5000;
    this.authenticate((req) => this.#authenticate(req));
    const repoPath = `/repos/${options.owner}/${options.repo}`;
    const rest = this.#rest;
    this.route(
      "GET",
      `${repoPath}/compare/:basehead`,
      this.#metered((req) => rest.compare(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:sha/pulls`,
      this.#metered((req) => rest.pullsOfCommit(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number`,
      this.#metered((req) => rest.pull(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number/reviews`,
      this.#metered((req) => rest.reviews(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number/commits`,
      this.#metered((req) => rest.pullCommits(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:ref/status`,
      this.#metered((req) => rest.combinedStatus(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:ref/check-runs`,
      this.#metered((req) => rest.checkRuns(req)),
    );
    this.route(
      "GET",
      "/orgs/:org/teams/:slug/members",
      this.#metered((req) => rest.teamMembers(req)),
    );
    this.route("GET", "/rate_limit", (req) => this.#rateLimit(req));
    this.route(
      "POST",
      "/graphql",
      this.#metered(async (req) => {
        const token = this.#tokenOf(req) ?? "";
        const answer = await this.#graphql.run(req.body, this.#window(token), this.#tokens[token]);
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
    this.#secondary = { remaining: times, retryAfterSeconds, status };
    return this;
  }

  /** Sets what is left of the primary limit for a token, and when the window resets. */
  setRateLimitRemaining(token: string, remaining: number, resetInSeconds = 3600): this {
    this.#windows.set(token, { limit: this.#limit, remaining, resetAt: Math.floor(Date.now() / 1000) + resetInSeconds });
    return this;
  }

  /** Requests an API client made, by kind: "graphql" or the REST path. */
  countRequests(): { total: number; graphql: number; rest: number } {
    const graphqlCount = this.requests.filter((r) => r.path === "/graphql").length;
    return { total: this.requests.length, graphql: graphqlCount, rest: this.requests.length - graphqlCount };
  }

  // --- auth and limits -------------------------------------------------------------------------

  #tokenOf(req: SimRequest): string | undefined {
    const header = req.headers.authorization ?? "";
    const match = /^(?:Bearer|token)\s+(\S+)$/i.exec(header);
    return match?.[1];
  }

  #authenticate(req: SimRequest): SimResponse | undefined {
    const token = this.#tokenOf(req);
    if (token !== undefined && this.#tokens[token] !== undefined) return undefined;
    if (req.path === "/graphql" || token !== undefined) {
      return { status: 401, body: { message: "Bad credentials", documentation_url: DOCS, status: "401" } };
    }
    // Anonymous REST calls see public data only; this repository is private.
    return { status: 404, body: { message: "Not Found", documentation_url: DOCS, status: "404" } };
  }

  #window(token: string): Window {
    const now = Math.floor(Date.now() / 1000);
    let window = this.#windows.get(token);
    if (!window || window.resetAt <= now) {
      window = { limit: this.#limit, remaining: this.#limit, resetAt: now + 3600 };
      this.#windows.set(token, window);
    }
    return window;
  }

  #limitHeaders(window: Window, resource: string): Record<string, string> {
    return {
      "x-ratelimit-limit": String(this.#limit),
      "x-ratelimit-remaining": String(window.remaining),
      "x-ratelimit-used": String(this.#limit - window.remaining),
      "x-ratelimit-reset": String(window.resetAt),
      "x-ratelimit-resource": resource,
    };
  }

  #metered(handler: SimHandler): SimHandler {
    return async (req) => {
      const resource = req.path === "/graphql" ? "graphql" : "core";
      const window = this.#window(this.#tokenOf(req) ?? "");
      const secondary = this.#secondary;
      if (secondary && secondary.remaining > 0) {
        secondary.remaining--;
        return {
          status: secondary.status,
          headers: {
            ...this.#limitHeaders(window, resource),
            ...(secondary.retryAfterSeconds === null ? {} : { "retry-after": String(secondary.retryAfterSeconds) }),
          },
          body: {
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            status: String(secondary.status),
          },
        };
      }
      // Primary limit spent: REST "you will receive a 403 or 429 response, and the x-ratelimit-remaining header will
      // be 0" (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-primary-rate-limit);
      // GraphQL "the response status will still be 200, but you will receive an error message, and the value of the
      // x-ratelimit-remaining header will be 0" (docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api).
      if (window.remaining <= 0) {
        const message = "API rate limit exceeded for user ID 1.";
        if (resource === "graphql") {
          return { status: 200, headers: this.#limitHeaders(window, resource), body: { errors: [{ type: "RATE_LIMITED", message }] } };
        }
        return {
          status: 403,
          headers: this.#limitHeaders(window, resource),
          body: { message, documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", status: "403" },
        };
      }
      window.remaining--;
      const response = await handler(req);
      return { ...response, headers: { ...this.#limitHeaders(window, resource), ...response.headers } };
    };
  }

  #rateLimit(req: SimRequest): SimResponse {
    const window = this.#window(this.#tokenOf(req) ?? "");
    const rate = { limit: this.#limit, remaining: window.remaining, reset: window.resetAt, used: this.#limit - window.remaining };
    const search = { limit: 30, remaining: 30, reset: window.resetAt, used: 0 };
    return { body: { resources: { core: rate, graphql: rate, search }, rate } };
  }
}
