import {
  ExitCode,
  HttpClient,
  type HttpClientOptions,
  HttpError,
  type Logger,
  OpsguardError,
  parseRetryAfter,
  type Secret,
  sleep,
  TempFailError,
  UnavailableError,
} from "@opsguard/core";

export interface GitHubApiOptions {
  apiUrl: string;
  /** Derived from apiUrl when absent: api.github.com/graphql, or <host>/api/graphql for Enterprise Server. */
  graphqlUrl?: string | undefined;
  token: Secret;
  timeoutMs: number;
  /** All of a run's requests together (HttpClientOptions.deadline). */
  deadline?: HttpClientOptions["deadline"];
  /** Longest wait for a rate-limit reset or a secondary-limit back-off; longer fails as a temporary failure. */
  maxRateLimitWaitMs: number;
  log?: Logger | undefined;
  onAttempt?: HttpClientOptions["onAttempt"];
}

export interface GraphQLError {
  message: string;
  type?: string;
  path?: Array<string | number>;
  /** GitHub's extras, e.g. `saml_failure: true` on a FORBIDDEN answer for an organisation enforcing SAML SSO. */
  extensions?: Record<string, unknown>;
}

export interface GraphQLResult<T> {
  data: T | null;
  errors: GraphQLError[];
}

const SECONDARY_RETRIES = 3;

/**
 * GitHub's REST and GraphQL endpoints on core's HttpClient, with GitHub's rate-limit rules:
 * wait for x-ratelimit-reset when the window is spent, and for retry-after (or a minute) on a
 * secondary limit — each wait bounded, so a CI step fails instead of hanging for an hour.
 */
export class GitHubApi {
  readonly #http: HttpClient;
  readonly #graphqlUrl: string;
  readonly #options: GitHubApiOptions;
  #remaining: number | undefined;
  #resetAt: number | undefined;
  #waited = 0;

  constructor(options: GitHubApiOptions) {
    this.#options = options;
    this.#graphqlUrl = options.graphqlUrl ?? graphqlUrlFor(options.apiUrl);
    // No retries inside the client: it would wait out a 429 on its own, past this class's wait budget (three
    // waits inside each of four waits here: 12 where maxRateLimitWaitMs allowed 3). #send retries everything,
    // rate limits against the one budget.
    this.#http = new HttpClient({
      service: "GitHub API",
      baseUrl: options.apiUrl,
      timeoutMs: options.timeoutMs,
      ...(options.deadline ? { deadline: options.deadline } : {}),
      retries: 0,
      maxRetryAfterMs: options.maxRateLimitWaitMs,
      headers: {
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "opsguard-sock-check",
      },
      ...(options.log ? { log: options.log } : {}),
      ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
    });
  }

  /** A query; data and per-field errors are returned, request-level failures thrown. */
  async graphql<T>(query: string, variables: Record<string, unknown>): Promise<GraphQLResult<T>> {
    for (let attempt = 0; ; attempt++) {
      const body = await this.#send<{ data?: T | null; errors?: GraphQLError[] }>({
        method: "POST",
        url: this.#graphqlUrl,
        body: { query, variables },
        retryUnsafe: true,
      }).catch((error: unknown) => {
        // No GraphQL endpoint there (a wrong apiUrl/graphqlUrl, a proxy's page): GitHub is not reachable, not bad data.
        if (error instanceof HttpError && error.status === 404) {
          throw new UnavailableError(`GitHub GraphQL endpoint ${this.#graphqlUrl} answered 404`, {
            hint: "check github.apiUrl (and github.graphqlUrl for GitHub Enterprise Server)",
          });
        }
        throw error;
      });
      const errors = Array.isArray(body?.errors) ? body.errors : [];
      if (errors.some((e) => e.type === "RATE_LIMITED") && attempt < SECONDARY_RETRIES) {
        await this.#waitForReset("GraphQL rate limit exceeded");
        continue;
      }
      if (errors.some((e) => e.type === "RATE_LIMITED"))
        throw new TempFailError("GitHub GraphQL rate limit exceeded", { hint: "retry later" });
      if (!body || typeof body !== "object")
        throw new UnavailableError(`GitHub GraphQL answered without a JSON body at ${this.#graphqlUrl}`, {
          hint: "check github.apiUrl (and github.graphqlUrl for GitHub Enterprise Server), and any proxy in between",
        });
      // FORBIDDEN is GitHub's refusal of this token (SAML SSO enforcement, with `extensions.saml_failure`, or a token
      // without access) wherever it appears: on `repository`, on a nested field (`[repository, pullRequest]`, the
      // shape in fwouts/prmonitor#1042 and jasperapp/jasper#187), on no path, with `data: null`, in any request of
      // the run. Like REST's 403 it is exit 77, which --allow-unverified never covers: taken for a partial answer
      // (69) it let runs through (T53 F8, T55 N1). This is the one place GraphQL errors are classified, so the rule
      // holds for every query. GitHub documents no list of error types (github/docs#11071); the ones it sends
      // include FORBIDDEN, NOT_FOUND (handled by the caller: a repository not there or not visible), RATE_LIMITED
      // (above), and none at all for an internal error ("Something went wrong while executing your query").
      const refused = errors.find((e) => e.type === "FORBIDDEN");
      if (refused) throw tokenRefused(refused, variables);
      // No data at all is a failed query (an outage or a rejected query), not "nothing found".
      if ((body.data ?? null) === null)
        throw new UnavailableError(`GitHub GraphQL failed: ${errors[0]?.message ?? "an answer without data"}`);
      return { data: body.data ?? null, errors };
    }
  }

  async #send<T>(req: { method: "GET" | "POST"; url: string; body?: unknown; retryUnsafe?: boolean }): Promise<T> {
    let failures = 0;
    for (let attempt = 0; ; attempt++) {
      if (this.#remaining === 0) await this.#waitForReset("rate limit spent");
      try {
        const response = await this.#http.request<T>({
          ...req,
          headers: { authorization: `Bearer ${this.#options.token.reveal()}` },
        });
        this.#track(response.headers);
        return response.body;
      } catch (error) {
        if (transient(error, req) && failures < TRANSIENT_RETRIES) {
          // A 5xx or a dropped connection, as core's client retries them: full-jitter backoff, not a rate-limit wait.
          await sleep(Math.round(Math.random() * Math.min(8_000, 250 * 2 ** failures)));
          failures++;
          attempt--; // not a rate-limit attempt

          continue;
        }
        if (!(error instanceof HttpError) || (error.status !== 403 && error.status !== 429) || !error.headers) throw error;
        this.#track(error.headers);
        const retryAfter = parseRetryAfter(error.headers.get("retry-after"));
        const limited = retryAfter !== undefined || isSecondaryLimit(error.body) || this.#remaining === 0;
        if (limited && attempt >= SECONDARY_RETRIES) {
          // Still limited after every bounded retry: a temporary failure (75), not a permission problem.
          throw new TempFailError(`GitHub API rate limit still exceeded after ${SECONDARY_RETRIES} waits`, { hint: "retry later" });
        }
        if (attempt >= SECONDARY_RETRIES) throw error;
        if (retryAfter !== undefined || isSecondaryLimit(error.body)) {
          // GitHub: on a secondary limit without retry-after, wait at least a minute.
          await this.#wait(retryAfter ?? 60_000, "secondary rate limit");
        } else if (this.#remaining === 0) {
          await this.#waitForReset("rate limit spent");
        } else {
          throw error;
        }
      }
    }
  }

  #track(headers: Headers): void {
    const remaining = headers.get("x-ratelimit-remaining");
    const reset = headers.get("x-ratelimit-reset");
    if (remaining !== null && /^\d+$/.test(remaining)) this.#remaining = Number(remaining);
    if (reset !== null && /^\d+$/.test(reset)) this.#resetAt = Number(reset) * 1000;
  }

  async #waitForReset(reason: string): Promise<void> {
    const wait = Math.max(0, (this.#resetAt ?? Date.now()) - Date.now()) + 1000;
    await this.#wait(wait, reason);
    this.#remaining = undefined;
  }

  /** maxRateLimitWaitMs bounds the run's waits together, not each one: three long waits would triple it. */
  async #wait(ms: number, reason: string): Promise<void> {
    if (this.#waited + ms > this.#options.maxRateLimitWaitMs) {
      const already = this.#waited > 0 ? ` after waiting ${Math.ceil(this.#waited / 1000)} s` : "";
      throw new TempFailError(`GitHub API ${reason}: it asks to wait ${Math.ceil(ms / 1000)} s${already}`, {
        hint: "retry later, or raise github.maxRateLimitWaitMs",
      });
    }
    this.#waited += ms;
    this.#options.log?.info(`GitHub API ${reason}; waiting`, { waitMs: ms });
    await sleep(ms);
  }
}

/** A refused token (exit 77), saying what to fix: its SAML SSO authorisation, or its access to the repository. */
function tokenRefused(error: GraphQLError, variables: Record<string, unknown>): OpsguardError {
  // Every repository query names it as $owner/$name; the member-list queries name only organisations.
  const repository =
    typeof variables.owner === "string" && typeof variables.name === "string" ? ` for repository ${variables.owner}/${variables.name}` : "";
  const where = error.path && error.path.length > 1 ? ` (at ${error.path.join(".")})` : "";
  const hint =
    error.extensions?.saml_failure === true
      ? "the organisation enforces SAML single sign-on: authorise the token for it (GitHub: Settings → Developer settings → the token → Configure SSO)"
      : "give the token read access to the repository's contents, pull requests, checks and statuses";
  return new OpsguardError(`GitHub refuses this token${repository}: ${error.message || "FORBIDDEN"}${where}`, ExitCode.NO_PERM, { hint });
}

export function graphqlUrlFor(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.pathname.replace(/\/+$/, "").endsWith("/api/v3")) {
    url.pathname = url.pathname.replace(/\/api\/v3\/*$/, "/api/graphql");
    return url.toString();
  }
  return `${apiUrl.replace(/\/+$/, "")}/graphql`;
}

const TRANSIENT_RETRIES = 3;

/** What core's HttpClient would retry: a network failure or 5xx, on a request safe to repeat (GraphQL reads are). */
function transient(error: unknown, req: { method: string; retryUnsafe?: boolean }): boolean {
  if (!(error instanceof HttpError)) return false;
  if (req.method !== "GET" && req.retryUnsafe !== true) return false;
  return error.status === undefined || [500, 502, 503, 504].includes(error.status);
}

function isSecondaryLimit(body: unknown): boolean {
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === "string" && /secondary rate limit|abuse/i.test(message);
}
