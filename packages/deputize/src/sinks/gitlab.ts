import { collect, gitlabPages, type HttpClient, HttpError } from "@opsguard/core";
import type { Person } from "../people";
import type { Sink, SinkPlan } from "./sink";

export interface GitLabSinkOptions {
  name: string;
  /** From core's createGitLabClient. */
  http: HttpClient;
  /** Numeric id or full path ("platform/approvers"). */
  group: string;
  /** The access level deputize grants and removes; members at any other level are never touched. */
  accessLevel: number;
  /** Members per page (GitLab allows up to 100). */
  pageSize?: number;
  /**
   * E-mail domains whose local part is the GitLab username (lower case). A person known only by an
   * e-mail outside these is matched by that exact e-mail, never by its local part.
   */
  usernameDomains?: readonly string[];
  schedules?: readonly string[] | undefined;
}

interface Member {
  id: number;
  username: string;
  access_level: number;
}

interface User {
  id: number;
  username: string;
  /** Only in an administrator's view. */
  email?: string;
  public_email?: string;
}

/**
 * A GitLab approver group: on-call people become members at one access level. Only members at
 * exactly that level are managed, so owners, maintainers and anyone added by hand at another
 * level are never removed or demoted. People are matched by username (their uid, or their email's
 * local part when its domain is one of `usernameDomains`), else by their exact email.
 */
export class GitLabGroupSink implements Sink {
  readonly kind = "gitlab-group";
  readonly name: string;
  readonly schedules: readonly string[] | undefined;
  readonly #o: GitLabSinkOptions;

  constructor(options: GitLabSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.schedules = options.schedules;
  }

  async plan(people: readonly Person[]): Promise<SinkPlan> {
    const { http, accessLevel } = this.#o;
    const groupPath = `/groups/${encodeURIComponent(this.#o.group)}/members`;
    const members = await collect(gitlabPages<Member>(http, groupPath, {}, this.#o.pageSize));
    const byName = new Map(members.map((m) => [m.username.toLowerCase(), m]));
    const byId = new Map(members.map((m) => [m.id, m]));
    const unresolved: string[] = [];
    const add: User[] = [];
    const kept = new Set<number>();
    const seen = new Set<string>();
    for (const p of people) {
      const username = this.#usernameOf(p);
      const id = (username ?? p.email ?? p.key).toLowerCase();
      if (seen.has(id)) continue;
      seen.add(id);
      // Looked up only for people who are not members by that name: the cost follows the change, not the team size.
      // Someone known only by an e-mail in a foreign domain is always looked up by that exact e-mail:
      // alice@evil.example must never be given the account of GitLab's "alice".
      const user = (username && byName.get(username.toLowerCase())) || (await this.#findUser(username, p.email));
      if (!user) {
        const what = [username ? "username" : "", p.email ? "email" : ""].filter(Boolean).join(" or ");
        unresolved.push(`${username ?? p.email ?? p.key}: no GitLab user with this ${what}`);
        continue;
      }
      const member = byId.get(user.id);
      if (!member) add.push(user);
      else if (member.access_level < accessLevel)
        unresolved.push(`${member.username}: already a member at level ${member.access_level}; left as it is`);
      else kept.add(member.id);
    }
    const managed = members.filter((m) => m.access_level === accessLevel);
    const remove = managed.filter((m) => !kept.has(m.id));

    return {
      current: managed.map((m) => m.username),
      desired: [...managed.filter((m) => kept.has(m.id)).map((m) => m.username), ...add.map((u) => u.username)].sort(),
      add: add.map((u) => u.username),
      remove: remove.map((m) => m.username),
      updates: [],
      unresolved,
      apply: async () => {
        // Add before removing, so the group never has fewer approvers than it needs mid-run.
        for (const user of add) {
          await ignoreStatus(409, () =>
            http.request({ method: "POST", url: groupPath, body: { user_id: user.id, access_level: accessLevel } }),
          );
        }
        for (const member of remove) {
          await ignoreStatus(404, () => http.request({ method: "DELETE", url: `${groupPath}/${member.id}` }));
        }
      },
    };
  }

  #usernameOf(p: Person): string | undefined {
    return usernameOf(
      p,
      (this.#o.usernameDomains ?? []).map((d) => d.toLowerCase()),
    );
  }

  /**
   * The GitLab account for a username, else for an email: `?search=` matches any email of a user
   * for an administrator's token, only public emails otherwise, and is a substring search, so only an
   * exact email match counts.
   */
  async #findUser(username: string | undefined, email: string | undefined): Promise<User | undefined> {
    const { http } = this.#o;
    if (username) {
      const named = (await http.get<User[]>("/users", { username })).body;
      const user = named.find((u) => u.username.toLowerCase() === username.toLowerCase());
      if (user) return user;
    }
    if (!email) return undefined;
    const found = (await http.get<User[]>("/users", { search: email })).body;
    const wanted = email.toLowerCase();
    return found.find((u) => u.email?.toLowerCase() === wanted || u.public_email?.toLowerCase() === wanted);
  }
}

/** The username a person may be matched by: their uid, else a trusted domain's email local part. */
function usernameOf(p: Person, domains: readonly string[]): string | undefined {
  if (p.uid) return p.uid;
  const at = p.email?.lastIndexOf("@") ?? -1;
  if (!p.email || at < 1) return undefined;
  return domains.includes(p.email.slice(at + 1).toLowerCase()) ? p.email.slice(0, at) : undefined;
}

/** Another run (or a person) already did it: "Member already exists", or gone already. */
async function ignoreStatus(status: number, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof HttpError && error.status === status)) throw error;
  }
}
