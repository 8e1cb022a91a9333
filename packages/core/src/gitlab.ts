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

interface GitLabUserHit {
  id?: number;
  username: string;
  email?: string;
  public_email?: string | null;
}

/**
 * The username of the one GitLab user whose e-mail is exactly `email`, as far as this token can see;
 * null when there is none or GitLab's answer cannot show it is that address.
 * `GET /users?search=` (https://docs.gitlab.com/api/users/#list-users) matches names and usernames in
 * part and an e-mail whole; for an administrator's token any of the user's e-mails, shown in the list;
 * for an ordinary token only public e-mails, and the list shows none, so each hit's profile
 * (`/users/:id`, public_email) is asked to confirm. A hit by name alone (someone calling themselves
 * "alice@example.com") is never taken.
 */
export async function gitlabUserByEmail(client: HttpClient, email: string, maxCandidates = 3): Promise<string | null> {
  const wanted = email.toLowerCase();
  const found = (await client.get<GitLabUserHit[]>("/users", { search: email, per_page: 100 })).body;
  const shown = found.filter((u) => u.email?.toLowerCase() === wanted || u.public_email?.toLowerCase() === wanted);
  if (shown.length === 1) return shown[0]?.username ?? null;
  // An administrator's list shows addresses: none of them is this one. Too many hits: a name search, not an address.
  if (shown.length > 1 || found.some((u) => u.email !== undefined) || found.length === 0 || found.length > maxCandidates) return null;
  const confirmed: string[] = [];
  for (const u of found) {
    if (u.id === undefined) continue;
    const profile = (await client.get<GitLabUserHit>(`/users/${u.id}`)).body;
    if (profile.public_email?.toLowerCase() === wanted) confirmed.push(profile.username);
  }
  return confirmed.length === 1 ? (confirmed[0] ?? null) : null;
}
