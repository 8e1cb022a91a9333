import type { HttpClient } from "@opsguard/core";
import type { Person } from "../people";

/** A GitLab account as the users API lists it. */
export interface GitLabUser {
  id: number;
  username: string;
  /** Only in an administrator's view. */
  email?: string;
  public_email?: string;
}

/**
 * Finds the GitLab account of a person on call, for every GitLab sink (group members, approval rule
 * users). People are matched by username (their uid, or their email's local part when its domain is
 * one of `usernameDomains`), else by their exact email: alice@evil.example must never be given the
 * account of GitLab's "alice".
 */
export class GitLabUsers {
  readonly #http: HttpClient;
  readonly #domains: readonly string[];

  constructor(http: HttpClient, usernameDomains: readonly string[] = []) {
    this.#http = http;
    this.#domains = usernameDomains.map((d) => d.toLowerCase());
  }

  /** The username a person may be matched by: their uid, else a trusted domain's email local part. */
  usernameOf(p: Person): string | undefined {
    if (p.uid) return p.uid;
    const at = p.email?.lastIndexOf("@") ?? -1;
    if (!p.email || at < 1) return undefined;
    return this.#domains.includes(p.email.slice(at + 1).toLowerCase()) ? p.email.slice(0, at) : undefined;
  }

  /**
   * The account for a person: among `known` (already read, so no request) by username, else asked
   * by username, else by email. `?search=` matches any email of a user for an administrator's token,
   * only public emails otherwise, and is a substring search, so only an exact email match counts.
   */
  async find<T extends { username: string }>(p: Person, known: ReadonlyMap<string, T>): Promise<T | GitLabUser | undefined> {
    const username = this.usernameOf(p);
    const hit = username ? known.get(username.toLowerCase()) : undefined;
    if (hit) return hit;
    if (username) {
      const named = (await this.#http.get<GitLabUser[]>("/users", { username })).body;
      const user = named.find((u) => u.username.toLowerCase() === username.toLowerCase());
      if (user) return user;
    }
    if (!p.email) return undefined;
    const found = (await this.#http.get<GitLabUser[]>("/users", { search: p.email })).body;
    const wanted = p.email.toLowerCase();
    return found.find((u) => u.email?.toLowerCase() === wanted || u.public_email?.toLowerCase() === wanted);
  }

  /** The line naming a person with no account, for a sink's `unresolved`. */
  notFound(p: Person): string {
    const username = this.usernameOf(p);
    const what = [username ? "username" : "", p.email ? "email" : ""].filter(Boolean).join(" or ");
    return `${username ?? p.email ?? p.key}: no GitLab user with this ${what}`;
  }

  /** One id per person: two entries for one person (uid and email) are looked up once. */
  identity(p: Person): string {
    return (this.usernameOf(p) ?? p.email ?? p.key).toLowerCase();
  }
}
