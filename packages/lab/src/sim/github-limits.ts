import type { SimHandler, SimRequest, SimResponse } from "./server";

/**
 * GitHub's primary and secondary rate limits, per token, as GitHub's docs describe them: the x-ratelimit-*
 * headers on every metered answer, GET /rate_limit, and the answers once a limit is spent.
 */

/** A token's primary rate-limit window: `remaining` of `limit` requests (or GraphQL points) until `resetAt` (epoch s). */
export interface RateWindow {
  limit: number;
  remaining: number;
  resetAt: number;
}

/** The token a request carries ("Authorization: Bearer …" or the older "token …"). */
export function tokenOf(req: SimRequest): string | undefined {
  const header = req.headers.authorization ?? "";
  const match = /^(?:Bearer|token)\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export class GitHubLimits {
  readonly #limit: number;
  readonly #windows = new Map<string, RateWindow>();
  #secondary: { remaining: number; retryAfterSeconds: number | null; status: 403 | 429 } | undefined;

  /** `limit` per token and window (GitHub: 5,000 an hour for REST, points for GraphQL). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The token's current window; a new one of `limit` requests once the last has reset. */
  window(token: string): RateWindow {
    const now = Math.floor(Date.now() / 1000);
    let window = this.#windows.get(token);
    if (!window || window.resetAt <= now) {
      window = { limit: this.#limit, remaining: this.#limit, resetAt: now + 3600 };
      this.#windows.set(token, window);
    }
    return window;
  }

  /** Sets what is left of the primary limit for a token, and when the window resets. */
  setRemaining(token: string, remaining: number, resetInSeconds: number): void {
    this.#windows.set(token, { limit: this.#limit, remaining, resetAt: Math.floor(Date.now() / 1000) + resetInSeconds });
  }

  /** The next `times` metered requests get the secondary limit's answer (see GitHubSim.secondaryRateLimit). */
  secondary(times: number, retryAfterSeconds: number | null, status: 403 | 429): void {
    this.#secondary = { remaining: times, retryAfterSeconds, status };
  }

  #headers(window: RateWindow, resource: string): Record<string, string> {
    return {
      "x-ratelimit-limit": String(this.#limit),
      "x-ratelimit-remaining": String(window.remaining),
      "x-ratelimit-used": String(this.#limit - window.remaining),
      "x-ratelimit-reset": String(window.resetAt),
      "x-ratelimit-resource": resource,
    };
  }

  /** `handler` counted against its token's window, answered as GitHub does once a limit is spent. */
  metered(handler: SimHandler): SimHandler {
    return async (req) => {
      const resource = req.path === "/graphql" ? "graphql" : "core";
      const window = this.window(tokenOf(req) ?? "");
      const secondary = this.#secondary;
      if (secondary && secondary.remaining > 0) {
        secondary.remaining--;
        return {
          status: secondary.status,
          headers: {
            ...this.#headers(window, resource),
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
          return { status: 200, headers: this.#headers(window, resource), body: { errors: [{ type: "RATE_LIMITED", message }] } };
        }
        return {
          status: 403,
          headers: this.#headers(window, resource),
          body: { message, documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", status: "403" },
        };
      }
      window.remaining--;
      const response = await handler(req);
      return { ...response, headers: { ...this.#headers(window, resource), ...response.headers } };
    };
  }

  /** GET /rate_limit — docs.github.com/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user */
  rateLimit(req: SimRequest): SimResponse {
    const window = this.window(tokenOf(req) ?? "");
    const rate = { limit: this.#limit, remaining: window.remaining, reset: window.resetAt, used: this.#limit - window.remaining };
    const search = { limit: 30, remaining: 30, reset: window.resetAt, used: 0 };
    return { body: { resources: { core: rate, graphql: rate, search }, rate } };
  }
}
