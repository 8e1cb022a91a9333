import { HttpClient, type HttpClientOptions } from "./http";
import type { Logger } from "./log";
import { paginateLink } from "./paginate";
import type { Secret } from "./secret";

export interface GitLabClientOptions {
  /** The instance, e.g. https://gitlab.com or https://gitlab.example.com; /api/v4 is added. */
  baseUrl: string;
  token: Secret;
  /** PRIVATE-TOKEN for personal, group and project access tokens (default); Bearer for OAuth tokens. */
  auth?: "private-token" | "bearer";
  timeoutMs?: number;
  retries?: number;
  log?: Logger;
  onAttempt?: HttpClientOptions["onAttempt"];
}

/** An HttpClient for GitLab REST v4: the token in the header GitLab expects, paths relative to /api/v4. */
export function createGitLabClient(options: GitLabClientOptions): HttpClient {
  const token = options.token.reveal();
  return new HttpClient({
    service: "GitLab API",
    baseUrl: `${options.baseUrl.replace(/\/+$/, "")}/api/v4`,
    headers: options.auth === "bearer" ? { authorization: `Bearer ${token}` } : { "private-token": token },
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
    ...(options.log ? { log: options.log } : {}),
    ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
  });
}

/** Every item of a GitLab collection, following its Link / x-next-page headers (per_page up to 100). */
export function gitlabPages<T>(
  client: HttpClient,
  path: string,
  query: Record<string, string | number | undefined> = {},
  perPage = 100,
): AsyncGenerator<T> {
  return paginateLink<T>(client, { url: path, query: { ...query, per_page: perPage } });
}
