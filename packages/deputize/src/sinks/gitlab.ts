import { collect, exitCodeOf, gitlabPages, type HttpClient, HttpError, OpsguardError } from "@opsguard/core";
import type { Person } from "../people";
import { type GitLabUser, GitLabUsers } from "./gitlab-users";
import type { PartOutcome, Sink, SinkPlan } from "./sink";

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
  readonly #users: GitLabUsers;

  constructor(options: GitLabSinkOptions) {
    this.#o = options;
    this.#users = new GitLabUsers(options.http, options.usernameDomains);
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
    const add: GitLabUser[] = [];
    const kept = new Set<number>();
    const seen = new Set<string>();
    let placed = 0;
    for (const p of people) {
      const id = this.#users.identity(p);
      if (seen.has(id)) continue;
      seen.add(id);
      // Looked up only for people who are not members by that name: the cost follows the change, not the team size.
      const user = await this.#users.find(p, byName);
      if (!user) {
        unresolved.push(this.#users.notFound(p));
        continue;
      }
      const member = byId.get(user.id);
      if (member && member.access_level < accessLevel) {
        unresolved.push(`${member.username}: already a member at level ${member.access_level}; left as it is`);
        continue;
      }
      // Placed: to be added, or a member at this level or above (an owner on call has the access already).
      placed++;
      if (!member) add.push(user);
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
      placed,
      // One request per member: each is reported on its own ("+ alice" applied, "- dave" failed), so a
      // half-applied change says what is in place.
      apply: async (beforeWrite = async () => {}) => {
        const outcomes: PartOutcome[] = [];
        const step = async (part: string, write: () => Promise<void>) => {
          try {
            // Fenced (lease.redis): a run that lost its lease writes nothing more (each later step fails the same way).
            await beforeWrite();
            await write();
            outcomes.push({ part });
          } catch (error) {
            outcomes.push({ part, error });
          }
        };
        // Add before removing, so the group never has fewer approvers than it needs mid-run.
        for (const user of add) {
          await step(`+ ${user.username}`, () =>
            ignoreStatus(409, () =>
              http.request({ method: "POST", url: groupPath, body: { user_id: user.id, access_level: accessLevel } }),
            ),
          );
        }
        // An addition that failed keeps every removal back: the people going off call stay until their successor is in.
        const addFailed = outcomes.find((o) => o.error !== undefined)?.error;
        for (const member of remove) {
          const part = `- ${member.username}`;
          if (addFailed !== undefined)
            outcomes.push({ part, error: new OpsguardError("not tried: an addition failed", exitCodeOf(addFailed)) });
          else await step(part, () => ignoreStatus(404, () => http.request({ method: "DELETE", url: `${groupPath}/${member.id}` })));
        }
        return outcomes;
      },
    };
  }
}

/** Another run (or a person) already did it: "Member already exists", or gone already. */
async function ignoreStatus(status: number, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof HttpError && error.status === status)) throw error;
  }
}
