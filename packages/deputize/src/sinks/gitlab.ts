import { collect, gitlabPages, type HttpClient, HttpError } from "@opsguard/core";
import { handleOf, type Person } from "../people";
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
 * level are never removed or demoted. GitLab usernames are the people's uids (or email local parts).
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
    const managed = members.filter((m) => m.access_level === accessLevel);
    const wanted = [...new Set(people.map((p) => handleOf(p)))];
    const wantedLower = new Set(wanted.map((w) => w.toLowerCase()));
    const unresolved: string[] = [];
    const add: Array<{ id: number; username: string }> = [];
    for (const username of wanted) {
      const member = byName.get(username.toLowerCase());
      if (member) {
        if (member.access_level < accessLevel)
          unresolved.push(`${username}: already a member at level ${member.access_level}; left as it is`);
        continue;
      }
      // Looked up only for people to add: the cost follows the change, not the team size.
      const users = (await http.get<Array<{ id: number; username: string }>>("/users", { username })).body;
      const user = users.find((u) => u.username.toLowerCase() === username.toLowerCase());
      if (user) add.push(user);
      else unresolved.push(`${username}: no GitLab user with this username`);
    }
    const remove = managed.filter((m) => !wantedLower.has(m.username.toLowerCase()));

    return {
      current: managed.map((m) => m.username),
      desired: wanted.filter((w) => byName.has(w.toLowerCase()) || add.some((a) => a.username === w)),
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
}

/** Another run (or a person) already did it: "Member already exists", or gone already. */
async function ignoreStatus(status: number, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (!(error instanceof HttpError && error.status === status)) throw error;
  }
}
