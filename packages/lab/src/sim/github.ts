import {
  buildSchema,
  type DocumentNode,
  execute,
  type GraphQLError,
  OverlappingFieldsCanBeMergedRule,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import { coAuthorTrailers, readGitHistory } from "./git-history";
import { linkPage, type SimHandler, type SimRequest, type SimResponse, SimServer } from "./server";

/**
 * GitHub REST v3 and GraphQL v4 as documented for the parts the change-management tools read:
 * compare, PRs of a commit, PR reviews and commits, statuses, check runs, team members, and the
 * GraphQL objects behind them. Auth, primary and secondary rate limits and error bodies behave as
 * GitHub's docs describe, so clients are tested against the real shapes.
 */

const DOCS = "https://docs.github.com/rest";
const RULES = specifiedRules.filter((rule) => rule !== OverlappingFieldsCanBeMergedRule);

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
  /** The PR's commits, oldest first. */
  commits: string[];
  createdAt: string;
  merged: boolean;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
  labels: string[];
  reviews: GitHubReview[];
}

export interface GitHubCheckRun {
  id: number;
  headSha: string;
  name: string;
  status: "queued" | "in_progress" | "completed";
  conclusion: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required" | null;
  app: string;
  startedAt: string;
  completedAt: string | null;
}

export interface GitHubStatus {
  sha: string;
  context: string;
  state: "success" | "failure" | "error" | "pending";
  creator: string;
  createdAt: string;
}

export interface GitHubSimOptions {
  owner: string;
  repo: string;
  /** Tokens that authenticate; each maps to the login it acts as. */
  tokens: Record<string, string>;
  /** Primary rate limit per token and window (GitHub: 5,000 an hour for REST, points for GraphQL). */
  rateLimit?: number;
}

export type PullRequestInput = Omit<GitHubPullRequest, "reviews" | "labels" | "body" | "createdAt" | "mergedBy" | "mergedAt"> &
  Partial<Pick<GitHubPullRequest, "labels" | "body" | "createdAt" | "mergedBy" | "mergedAt">>;

interface Window {
  remaining: number;
  resetAt: number;
}

export class GitHubSim extends SimServer {
  readonly owner: string;
  readonly repo: string;
  readonly commits = new Map<string, GitHubCommit>();
  readonly pulls = new Map<number, GitHubPullRequest>();
  readonly checkRuns: GitHubCheckRun[] = [];
  readonly statuses: GitHubStatus[] = [];
  readonly teams = new Map<string, string[]>();
  /** Verified e-mail → login, as GitHub links commits to accounts. */
  readonly emails = new Map<string, string>();
  readonly bots = new Set<string>();
  /** Branch and tag names → commit, as pushed. */
  readonly refs = new Map<string, string>();
  readonly #tokens: Record<string, string>;
  readonly #limit: number;
  readonly #windows = new Map<string, Window>();
  #secondary: { remaining: number; retryAfterSeconds: number; status: 403 | 429 } | undefined;
  #nextId = 1;
  #pullIndex: Map<string, GitHubPullRequest[]> | undefined;
  readonly #schema = buildSchema(SCHEMA);

  constructor(options: GitHubSimOptions) {
    super("GitHub");
    this.owner = options.owner;
    this.repo = options.repo;
    this.#tokens = options.tokens;
    this.#limit = options.rateLimit ?? 5000;
    this.authenticate((req) => this.#authenticate(req));
    const repoPath = `/repos/${options.owner}/${options.repo}`;
    this.route(
      "GET",
      `${repoPath}/compare/:basehead`,
      this.#metered((req) => this.#compare(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:sha/pulls`,
      this.#metered((req) => this.#pullsOfCommit(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number`,
      this.#metered((req) => this.#pull(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number/reviews`,
      this.#metered((req) => this.#reviews(req)),
    );
    this.route(
      "GET",
      `${repoPath}/pulls/:number/commits`,
      this.#metered((req) => this.#pullCommits(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:ref/status`,
      this.#metered((req) => this.#combinedStatus(req)),
    );
    this.route(
      "GET",
      `${repoPath}/commits/:ref/check-runs`,
      this.#metered((req) => this.#checkRuns(req)),
    );
    this.route(
      "GET",
      "/orgs/:org/teams/:slug/members",
      this.#metered((req) => this.#teamMembers(req)),
    );
    this.route("GET", "/rate_limit", (req) => this.#rateLimit(req));
    this.route(
      "POST",
      "/graphql",
      this.#metered((req) => this.#graphql(req)),
    );
  }

  addUser(login: string, emails: readonly string[] = [], options: { bot?: boolean } = {}): this {
    for (const email of [...emails, `${login}@users.noreply.github.com`]) this.emails.set(email.toLowerCase(), login);
    if (options.bot) this.bots.add(login);
    return this;
  }

  /** Every commit of a local repository, as `git push --all` would make them known to GitHub. */
  pushGitRepository(dir: string): this {
    const { commits, refs } = readGitHistory(dir);
    for (const commit of commits) if (!this.commits.has(commit.sha)) this.commits.set(commit.sha, { ...commit, verified: false });
    for (const [name, sha] of refs) this.refs.set(name, sha);
    return this;
  }

  setVerified(sha: string, verified = true): this {
    const commit = this.commits.get(sha);
    if (!commit) throw new Error(`GitHub simulator: unknown commit ${sha}`);
    commit.verified = verified;
    return this;
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

  addReview(number: number, review: Omit<GitHubReview, "id">): this {
    const pull = this.pulls.get(number);
    if (!pull) throw new Error(`GitHub simulator: unknown pull request #${number}`);
    pull.reviews.push({ id: this.#nextId++, ...review });
    return this;
  }

  addCheckRun(run: Omit<GitHubCheckRun, "id" | "status" | "startedAt"> & Partial<Pick<GitHubCheckRun, "status" | "startedAt">>): this {
    this.checkRuns.push({ id: this.#nextId++, status: "completed", startedAt: run.completedAt ?? new Date(0).toISOString(), ...run });
    return this;
  }

  addStatus(status: GitHubStatus): this {
    this.statuses.push(status);
    return this;
  }

  setTeam(org: string, slug: string, members: readonly string[]): this {
    this.teams.set(`${org}/${slug}`, [...members]);
    return this;
  }

  /** The next `times` requests get GitHub's secondary rate limit answer (403 or 429 with retry-after). */
  secondaryRateLimit(times: number, retryAfterSeconds = 1, status: 403 | 429 = 403): this {
    this.#secondary = { remaining: times, retryAfterSeconds, status };
    return this;
  }

  /** Sets what is left of the primary limit for a token, and when the window resets. */
  setRateLimitRemaining(token: string, remaining: number, resetInSeconds = 3600): this {
    this.#windows.set(token, { remaining, resetAt: Math.floor(Date.now() / 1000) + resetInSeconds });
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
      window = { remaining: this.#limit, resetAt: now + 3600 };
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
          headers: { ...this.#limitHeaders(window, resource), "retry-after": String(secondary.retryAfterSeconds) },
          body: {
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            status: String(secondary.status),
          },
        };
      }
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
    return { body: { resources: { core: rate, graphql: rate }, rate } };
  }

  // --- REST ------------------------------------------------------------------------------------

  #notFound(): SimResponse {
    return { status: 404, body: { message: "Not Found", documentation_url: DOCS, status: "404" } };
  }

  /** Commits reachable from head and not from base, oldest first, as `git log --reverse base..head`. */
  reachableRange(base: string, head: string): string[] {
    const excluded = this.#ancestors(base);
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

  #ancestors(sha: string): Set<string> {
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

  #resolve(ref: string): string | undefined {
    if (this.commits.has(ref)) return ref;
    const named = this.refs.get(ref);
    if (named) return named;
    const matches = [...this.commits.keys()].filter((sha) => ref.length >= 7 && sha.startsWith(ref));
    return matches.length === 1 ? matches[0] : undefined;
  }

  #compare(req: SimRequest): SimResponse {
    const [baseRef, headRef] = req.params.basehead?.split("...") ?? [];
    const base = baseRef ? this.#resolve(baseRef) : undefined;
    const head = headRef ? this.#resolve(headRef) : undefined;
    if (!base || !head) return this.#notFound();
    const all = this.reachableRange(base, head);
    const body = {
      url: `${this.url}${req.path}`,
      status: all.length === 0 ? "identical" : this.#ancestors(head).has(base) ? "ahead" : "diverged",
      ahead_by: all.length,
      behind_by: 0,
      total_commits: all.length,
      base_commit: this.#restCommit(base),
      merge_base_commit: this.#restCommit(base),
    };
    // Documented: without paging parameters at most 250 commits, ending with the newest;
    // with them, ordinary pages of up to 100.
    if (!req.query.has("page") && !req.query.has("per_page")) {
      return { body: { ...body, commits: all.slice(-250).map((sha) => this.#restCommit(sha)) } };
    }
    const { page, headers } = linkPage(all, req, this.url, 30, 100);
    return { headers, body: { ...body, commits: page.map((sha) => this.#restCommit(sha)) } };
  }

  #restUser(login: string | null | undefined): Record<string, unknown> | null {
    if (!login) return null;
    return { login, type: this.bots.has(login) ? "Bot" : "User", html_url: `https://github.com/${login}` };
  }

  #restCommit(sha: string): Record<string, unknown> {
    const c = this.commits.get(sha)!;
    return {
      sha,
      commit: {
        message: c.message,
        author: c.author,
        committer: c.committer,
        verification: { verified: c.verified, reason: c.verified ? "valid" : "unsigned" },
      },
      author: this.#restUser(this.emails.get(c.author.email.toLowerCase())),
      committer: this.#restUser(this.emails.get(c.committer.email.toLowerCase())),
      parents: c.parents.map((p) => ({ sha: p })),
    };
  }

  #restPull(pull: GitHubPullRequest): Record<string, unknown> {
    return {
      number: pull.number,
      html_url: `https://github.com/${this.owner}/${this.repo}/pull/${pull.number}`,
      state: pull.merged || pull.mergedAt ? "closed" : "open",
      title: pull.title,
      body: pull.body,
      user: this.#restUser(pull.user),
      labels: pull.labels.map((name) => ({ name })),
      created_at: pull.createdAt,
      merged_at: pull.mergedAt,
      merge_commit_sha: pull.mergeCommitSha,
      merged: pull.merged,
      merged_by: this.#restUser(pull.mergedBy),
      head: { ref: pull.headRef, sha: pull.headSha },
      base: { ref: pull.baseRef },
    };
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

  #pullsOfCommit(req: SimRequest): SimResponse {
    const sha = this.#resolve(req.params.sha ?? "");
    if (!sha)
      return { status: 422, body: { message: `No commit found for SHA: ${req.params.sha}`, documentation_url: DOCS, status: "422" } };
    const { page, headers } = linkPage(this.pullsOfCommit(sha), req, this.url);
    return { headers, body: page.map((p) => this.#restPull(p)) };
  }

  #pullOf(req: SimRequest): GitHubPullRequest | undefined {
    return this.pulls.get(Number(req.params.number));
  }

  #pull(req: SimRequest): SimResponse {
    const pull = this.#pullOf(req);
    return pull ? { body: this.#restPull(pull) } : this.#notFound();
  }

  #reviews(req: SimRequest): SimResponse {
    const pull = this.#pullOf(req);
    if (!pull) return this.#notFound();
    const { page, headers } = linkPage(pull.reviews, req, this.url, 30, 100);
    return {
      headers,
      body: page.map((r) => ({
        id: r.id,
        user: this.#restUser(r.user),
        state: r.state,
        commit_id: r.commitId,
        submitted_at: r.submittedAt,
      })),
    };
  }

  #pullCommits(req: SimRequest): SimResponse {
    const pull = this.#pullOf(req);
    if (!pull) return this.#notFound();
    // Documented: lists at most 250 commits.
    const { page, headers } = linkPage(pull.commits.slice(0, 250), req, this.url, 30, 100);
    return { headers, body: page.map((sha) => this.#restCommit(sha)) };
  }

  #combinedStatus(req: SimRequest): SimResponse {
    const sha = this.#resolve(req.params.ref ?? "");
    if (!sha)
      return { status: 422, body: { message: `No commit found for SHA: ${req.params.ref}`, documentation_url: DOCS, status: "422" } };
    const statuses = this.#latestStatuses(sha);
    const state = statuses.some((s) => s.state === "failure" || s.state === "error")
      ? "failure"
      : statuses.length > 0 && statuses.every((s) => s.state === "success")
        ? "success"
        : "pending";
    return {
      body: {
        state,
        sha,
        total_count: statuses.length,
        statuses: statuses.map((s) => ({
          context: s.context,
          state: s.state,
          created_at: s.createdAt,
          creator: this.#restUser(s.creator),
        })),
      },
    };
  }

  /** The newest status per context, as GitHub's combined status reports them. */
  #latestStatuses(sha: string): GitHubStatus[] {
    const byContext = new Map<string, GitHubStatus>();
    for (const s of this.statuses.filter((x) => x.sha === sha).sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      byContext.set(s.context, s);
    }
    return [...byContext.values()];
  }

  #checkRuns(req: SimRequest): SimResponse {
    const sha = this.#resolve(req.params.ref ?? "");
    if (!sha)
      return { status: 422, body: { message: `No commit found for SHA: ${req.params.ref}`, documentation_url: DOCS, status: "422" } };
    const runs = this.checkRuns.filter((r) => r.headSha === sha);
    const { page, headers } = linkPage(runs, req, this.url, 30, 100);
    return {
      headers,
      body: {
        total_count: runs.length,
        check_runs: page.map((r) => ({
          id: r.id,
          name: r.name,
          head_sha: r.headSha,
          status: r.status,
          conclusion: r.conclusion,
          started_at: r.startedAt,
          completed_at: r.completedAt,
          app: { slug: r.app, name: r.app },
        })),
      },
    };
  }

  #teamMembers(req: SimRequest): SimResponse {
    const members = this.teams.get(`${req.params.org}/${req.params.slug}`);
    if (!members) return this.#notFound();
    const { page, headers } = linkPage(members, req, this.url, 30, 100);
    return { headers, body: page.map((login) => this.#restUser(login)) };
  }

  // --- GraphQL ---------------------------------------------------------------------------------

  async #graphql(req: SimRequest): Promise<SimResponse> {
    const body = req.body as { query?: unknown; variables?: Record<string, unknown> } | undefined;
    if (!body || typeof body.query !== "string") {
      return { status: 400, body: { message: "Problems parsing JSON", documentation_url: "https://docs.github.com/graphql" } };
    }
    const errors: Array<Record<string, unknown>> = [];
    let document: DocumentNode;
    try {
      document = parse(body.query);
    } catch (error) {
      return { body: { errors: [formatError(error as GraphQLError)] } };
    }
    // OverlappingFieldsCanBeMerged is quadratic in the number of aliases; batched queries have hundreds.
    const invalid = validate(this.#schema, document, RULES);
    if (invalid.length > 0) return { body: { errors: invalid.map(formatError) } };
    const result = await execute({
      schema: this.#schema,
      document,
      rootValue: this.#root(errors, this.#window(this.#tokenOf(req) ?? "")),
      variableValues: body.variables ?? {},
    });
    const allErrors = [...(result.errors ?? []).map((e) => formatError(e)), ...errors];
    return {
      body: { ...(result.data === undefined ? {} : { data: result.data }), ...(allErrors.length > 0 ? { errors: allErrors } : {}) },
    };
  }

  #root(errors: Array<Record<string, unknown>>, window: Window): Record<string, unknown> {
    return {
      repository: ({ owner, name }: { owner: string; name: string }) => {
        if (owner !== this.owner || name !== this.repo) {
          errors.push({
            type: "NOT_FOUND",
            path: ["repository"],
            message: `Could not resolve to a Repository with the name '${owner}/${name}'.`,
          });
          return null;
        }
        return this.#gqlRepository(errors);
      },
      organization: ({ login }: { login: string }) => ({
        team: ({ slug }: { slug: string }) => {
          const members = this.teams.get(`${login}/${slug}`);
          return members
            ? {
                members: (args: PageArgs) =>
                  connection(
                    members.map((m) => this.#gqlActor(m)),
                    args,
                    "members",
                  ),
              }
            : null;
        },
      }),
      rateLimit: () => ({
        limit: this.#limit,
        remaining: window.remaining,
        used: this.#limit - window.remaining,
        cost: 1,
        resetAt: new Date(window.resetAt * 1000).toISOString(),
      }),
    };
  }

  #gqlRepository(errors: Array<Record<string, unknown>>): Record<string, unknown> {
    return {
      nameWithOwner: `${this.owner}/${this.repo}`,
      defaultBranchRef: { name: "main" },
      object: ({ oid, expression }: { oid?: string; expression?: string }) => {
        const sha = this.#resolve(oid ?? expression ?? "");
        return sha ? this.#gqlCommit(sha) : null;
      },
      pullRequest: ({ number }: { number: number }, _ctx: unknown, info: { path: { key: string | number } }) => {
        const pull = this.pulls.get(number);
        if (!pull) {
          errors.push({
            type: "NOT_FOUND",
            path: ["repository", info.path.key],
            message: `Could not resolve to a PullRequest with the number of ${number}.`,
          });
          return null;
        }
        return this.#gqlPull(pull);
      },
    };
  }

  #gqlActor(login: string | null | undefined): Record<string, unknown> | null {
    if (!login) return null;
    return { __typename: this.bots.has(login) ? "Bot" : "User", login, url: `https://github.com/${login}` };
  }

  #gqlGitActor(actor: { name: string; email: string; date?: string }): Record<string, unknown> {
    return {
      name: actor.name,
      email: actor.email,
      date: actor.date ?? null,
      user: this.#gqlActor(this.emails.get(actor.email.toLowerCase())),
    };
  }

  #gqlCommit(sha: string): Record<string, unknown> {
    const c = this.commits.get(sha)!;
    const coAuthors = coAuthorTrailers(c.message);
    return {
      __typename: "Commit",
      oid: sha,
      message: c.message,
      committedDate: c.committer.date,
      author: this.#gqlGitActor(c.author),
      committer: this.#gqlGitActor(c.committer),
      authors: (args: PageArgs) =>
        connection(
          [c.author, ...coAuthors].map((a) => this.#gqlGitActor(a)),
          args,
          "authors",
        ),
      signature: c.verified ? { isValid: true, state: "VALID" } : null,
      associatedPullRequests: (args: PageArgs) =>
        connection(
          this.pullsOfCommit(sha).map((p) => this.#gqlPull(p)),
          args,
          "associatedPullRequests",
        ),
      statusCheckRollup: () => this.#gqlRollup(sha),
    };
  }

  #gqlRollup(sha: string): Record<string, unknown> | null {
    const runs = this.checkRuns.filter((r) => r.headSha === sha);
    const statuses = this.#latestStatuses(sha);
    if (runs.length === 0 && statuses.length === 0) return null;
    const contexts = [
      ...runs.map((r) => ({
        __typename: "CheckRun",
        name: r.name,
        status: r.status.toUpperCase(),
        conclusion: r.conclusion?.toUpperCase() ?? null,
        startedAt: r.startedAt,
        completedAt: r.completedAt,
        checkSuite: { app: { slug: r.app, name: r.app } },
      })),
      ...statuses.map((s) => ({
        __typename: "StatusContext",
        context: s.context,
        state: s.state.toUpperCase(),
        createdAt: s.createdAt,
        creator: this.#gqlActor(s.creator),
      })),
    ];
    const failed =
      runs.some((r) => r.conclusion !== null && ["failure", "timed_out", "cancelled"].includes(r.conclusion)) ||
      statuses.some((st) => st.state === "failure" || st.state === "error");
    return { state: failed ? "FAILURE" : "SUCCESS", contexts: (args: PageArgs) => connection(contexts, args, "contexts") };
  }

  #gqlPull(pull: GitHubPullRequest): Record<string, unknown> {
    return {
      number: pull.number,
      title: pull.title,
      body: pull.body,
      url: `https://github.com/${this.owner}/${this.repo}/pull/${pull.number}`,
      state: pull.merged ? "MERGED" : pull.mergedAt ? "CLOSED" : "OPEN",
      merged: pull.merged,
      mergedAt: pull.mergedAt,
      createdAt: pull.createdAt,
      headRefName: pull.headRef,
      headRefOid: pull.headSha,
      baseRefName: pull.baseRef,
      author: this.#gqlActor(pull.user),
      mergedBy: this.#gqlActor(pull.mergedBy),
      mergeCommit: () => (pull.mergeCommitSha && this.commits.has(pull.mergeCommitSha) ? this.#gqlCommit(pull.mergeCommitSha) : null),
      labels: (args: PageArgs) =>
        connection(
          pull.labels.map((name) => ({ name })),
          args,
          "labels",
        ),
      reviews: (args: PageArgs & { states?: string[] }) =>
        connection(
          pull.reviews
            .filter((r) => !args.states || args.states.includes(r.state))
            .map((r) => ({
              author: this.#gqlActor(r.user),
              state: r.state,
              submittedAt: r.submittedAt,
              commit: this.commits.has(r.commitId) ? this.#gqlCommit(r.commitId) : null,
            })),
          args,
          "reviews",
        ),
      commits: (args: PageArgs) =>
        connection(
          pull.commits.filter((sha) => this.commits.has(sha)).map((sha) => ({ commit: this.#gqlCommit(sha) })),
          args,
          "commits",
        ),
    };
  }
}

interface PageArgs {
  first?: number;
  last?: number;
  after?: string;
  before?: string;
}

/** A GraphQL connection with GitHub's rules: first or last is required and at most 100. */
function connection<T>(items: readonly T[], args: PageArgs, name: string): Record<string, unknown> {
  if (args.first === undefined && args.last === undefined) {
    throw new Error(`You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.`);
  }
  for (const key of ["first", "last"] as const) {
    const n = args[key];
    if (n !== undefined && (n < 0 || n > 100)) {
      throw new Error(`Requesting ${n} records on the \`${name}\` connection exceeds the \`${key}\` limit of 100 records.`);
    }
  }
  let start = args.after ? decodeCursor(args.after) + 1 : 0;
  let end = args.before ? decodeCursor(args.before) : items.length;
  if (args.first !== undefined) end = Math.min(end, start + args.first);
  if (args.last !== undefined) start = Math.max(start, end - args.last);
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

function encodeCursor(index: number): string {
  return Buffer.from(`cursor:v2:${index}`).toString("base64");
}

function decodeCursor(cursor: string): number {
  const match = /^cursor:v2:(\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
  if (!match) throw new Error(`\`${cursor}\` does not appear to be a valid cursor.`);
  return Number(match[1]);
}

function formatError(error: GraphQLError): Record<string, unknown> {
  return {
    message: error.message,
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
  };
}

/** The part of GitHub's public schema the simulator serves; names and types as GitHub documents them. */
const SCHEMA = /* GraphQL */ `
  scalar DateTime
  scalar GitObjectID
  scalar GitTimestamp
  scalar URI

  type Query {
    repository(owner: String!, name: String!): Repository
    organization(login: String!): Organization
    rateLimit: RateLimit
  }

  type RateLimit {
    limit: Int!
    remaining: Int!
    used: Int!
    cost: Int!
    resetAt: DateTime!
  }

  type PageInfo {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  interface Actor {
    login: String!
    url: URI!
  }
  type User implements Actor {
    login: String!
    url: URI!
  }
  type Bot implements Actor {
    login: String!
    url: URI!
  }

  type Ref {
    name: String!
  }

  type Repository {
    nameWithOwner: String!
    defaultBranchRef: Ref
    object(oid: GitObjectID, expression: String): GitObject
    pullRequest(number: Int!): PullRequest
  }

  interface GitObject {
    oid: GitObjectID!
  }

  type GitActor {
    name: String
    email: String
    date: GitTimestamp
    user: User
  }
  type GitActorEdge {
    node: GitActor
    cursor: String!
  }
  type GitActorConnection {
    totalCount: Int!
    nodes: [GitActor]
    edges: [GitActorEdge]
    pageInfo: PageInfo!
  }

  type GitSignature {
    isValid: Boolean!
    state: String!
  }

  type Commit implements GitObject {
    oid: GitObjectID!
    message: String!
    committedDate: DateTime!
    author: GitActor
    committer: GitActor
    authors(first: Int, after: String, last: Int, before: String): GitActorConnection!
    signature: GitSignature
    associatedPullRequests(first: Int, after: String, last: Int, before: String): PullRequestConnection
    statusCheckRollup: StatusCheckRollup
  }

  enum PullRequestState {
    OPEN
    CLOSED
    MERGED
  }
  enum PullRequestReviewState {
    PENDING
    COMMENTED
    APPROVED
    CHANGES_REQUESTED
    DISMISSED
  }

  type Label {
    name: String!
  }
  type LabelEdge {
    node: Label
    cursor: String!
  }
  type LabelConnection {
    totalCount: Int!
    nodes: [Label]
    edges: [LabelEdge]
    pageInfo: PageInfo!
  }

  type PullRequestReview {
    author: Actor
    state: PullRequestReviewState!
    submittedAt: DateTime
    commit: Commit
  }
  type PullRequestReviewEdge {
    node: PullRequestReview
    cursor: String!
  }
  type PullRequestReviewConnection {
    totalCount: Int!
    nodes: [PullRequestReview]
    edges: [PullRequestReviewEdge]
    pageInfo: PageInfo!
  }

  type PullRequestCommit {
    commit: Commit!
  }
  type PullRequestCommitEdge {
    node: PullRequestCommit
    cursor: String!
  }
  type PullRequestCommitConnection {
    totalCount: Int!
    nodes: [PullRequestCommit]
    edges: [PullRequestCommitEdge]
    pageInfo: PageInfo!
  }

  type PullRequest {
    number: Int!
    title: String!
    body: String!
    url: URI!
    state: PullRequestState!
    merged: Boolean!
    mergedAt: DateTime
    createdAt: DateTime!
    headRefName: String!
    headRefOid: GitObjectID!
    baseRefName: String!
    author: Actor
    mergedBy: Actor
    mergeCommit: Commit
    labels(first: Int, after: String, last: Int, before: String): LabelConnection
    reviews(first: Int, after: String, last: Int, before: String, states: [PullRequestReviewState!]): PullRequestReviewConnection
    commits(first: Int, after: String, last: Int, before: String): PullRequestCommitConnection!
  }
  type PullRequestEdge {
    node: PullRequest
    cursor: String!
  }
  type PullRequestConnection {
    totalCount: Int!
    nodes: [PullRequest]
    edges: [PullRequestEdge]
    pageInfo: PageInfo!
  }

  type App {
    slug: String!
    name: String!
  }
  type CheckSuite {
    app: App
  }
  enum CheckStatusState {
    QUEUED
    IN_PROGRESS
    COMPLETED
    WAITING
    PENDING
    REQUESTED
  }
  enum CheckConclusionState {
    ACTION_REQUIRED
    TIMED_OUT
    CANCELLED
    FAILURE
    SUCCESS
    NEUTRAL
    SKIPPED
    STARTUP_FAILURE
    STALE
  }
  enum StatusState {
    EXPECTED
    ERROR
    FAILURE
    PENDING
    SUCCESS
  }
  type CheckRun {
    name: String!
    status: CheckStatusState!
    conclusion: CheckConclusionState
    startedAt: DateTime
    completedAt: DateTime
    checkSuite: CheckSuite!
  }
  type StatusContext {
    context: String!
    state: StatusState!
    createdAt: DateTime!
    creator: Actor
  }
  union StatusCheckRollupContext = CheckRun | StatusContext
  type StatusCheckRollupContextEdge {
    node: StatusCheckRollupContext
    cursor: String!
  }
  type StatusCheckRollupContextConnection {
    totalCount: Int!
    nodes: [StatusCheckRollupContext]
    edges: [StatusCheckRollupContextEdge]
    pageInfo: PageInfo!
  }
  type StatusCheckRollup {
    state: StatusState!
    contexts(first: Int, after: String, last: Int, before: String): StatusCheckRollupContextConnection!
  }

  type TeamMemberConnection {
    totalCount: Int!
    nodes: [User]
    pageInfo: PageInfo!
  }
  type Team {
    members(first: Int, after: String, last: Int, before: String): TeamMemberConnection!
  }
  type Organization {
    team(slug: String!): Team
  }
`;
