import { linkPage, type SimRequest, type SimResponse, SimServer } from "./server";

/** GitLab's documented access levels (REST API "Roles"). */
export const GitLabAccess = { GUEST: 10, REPORTER: 20, DEVELOPER: 30, MAINTAINER: 40, OWNER: 50 } as const;

export interface GitLabUser {
  id: number;
  username: string;
  name: string;
  email: string;
  state?: "active" | "blocked";
}

export interface GitLabGroup {
  id: number;
  /** "platform/approvers" */
  fullPath: string;
  name: string;
}

/** Everything the simulator serves; tests seed it and inspect it, and other route files (merge requests) add to it. */
export interface GitLabState {
  users: GitLabUser[];
  groups: GitLabGroup[];
  /** group id → user id → access level */
  members: Map<number, Map<number, number>>;
}

export const GITLAB_API_PREFIX = "/api/v4";

/**
 * A GitLab REST v4 simulator: users, groups and group members, `PRIVATE-TOKEN` or
 * `Authorization: Bearer` auth, GitLab's paging headers (x-page, x-per-page, x-total, x-total-pages,
 * x-next-page, x-prev-page, Link), `{"message": …}` error bodies. More routes (merge requests) are
 * added by other files through `route()` and `state`.
 */
export class GitLabSim extends SimServer {
  readonly state: GitLabState = { users: [], groups: [], members: new Map() };
  readonly token: string;

  constructor(options: { token?: string } = {}) {
    super("GitLab");
    this.token = options.token ?? "glpat-lab-token-0123456789";
    this.authenticate((req) => {
      const given = req.headers["private-token"] ?? bearer(req.headers.authorization);
      return given === this.token ? undefined : { status: 401, body: { message: "401 Unauthorized" } };
    });
    this.route("GET", `${GITLAB_API_PREFIX}/users`, (req) => this.#listUsers(req));
    this.route("GET", `${GITLAB_API_PREFIX}/users/:id`, (req) => {
      const user = this.state.users.find((u) => String(u.id) === req.params.id);
      return user ? { body: userJson(user) } : gitlabNotFound("User");
    });
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group`, (req) => {
      const group = this.findGroup(req.params.group ?? "");
      return group ? { body: groupJson(group) } : gitlabNotFound("Group");
    });
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group/members`, (req) => this.#listMembers(req));
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => {
      const group = this.findGroup(req.params.group ?? "");
      if (!group) return gitlabNotFound("Group");
      const level = this.state.members.get(group.id)?.get(Number(req.params.user));
      const user = this.state.users.find((u) => u.id === Number(req.params.user));
      return level !== undefined && user ? { body: memberJson(user, level) } : gitlabNotFound("Member");
    });
    this.route("POST", `${GITLAB_API_PREFIX}/groups/:group/members`, (req) => this.#addMember(req));
    this.route("PUT", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => this.#editMember(req));
    this.route("DELETE", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => this.#removeMember(req));
  }

  addUser(user: Omit<GitLabUser, "id"> & { id?: number }): GitLabUser {
    const full: GitLabUser = { state: "active", ...user, id: user.id ?? this.state.users.length + 1 };
    this.state.users.push(full);
    return full;
  }

  addGroup(fullPath: string, members: Record<string, number> = {}): GitLabGroup {
    const group: GitLabGroup = { id: 100 + this.state.groups.length, fullPath, name: fullPath.split("/").pop() ?? fullPath };
    this.state.groups.push(group);
    const map = new Map<number, number>();
    for (const [username, level] of Object.entries(members)) {
      const user = this.state.users.find((u) => u.username === username);
      if (!user) throw new Error(`GitLab sim: no user ${username}`);
      map.set(user.id, level);
    }
    this.state.members.set(group.id, map);
    return group;
  }

  /** username → access level, for tests to assert on. */
  membersOf(fullPath: string): Record<string, number> {
    const group = this.findGroup(fullPath);
    const out: Record<string, number> = {};
    for (const [userId, level] of this.state.members.get(group?.id ?? -1) ?? []) {
      const user = this.state.users.find((u) => u.id === userId);
      if (user) out[user.username] = level;
    }
    return out;
  }

  /** By numeric id or URL-encoded full path, as the API accepts both. */
  findGroup(idOrPath: string): GitLabGroup | undefined {
    return this.state.groups.find((g) => String(g.id) === idOrPath || g.fullPath === idOrPath);
  }

  #listUsers(req: SimRequest): SimResponse {
    const username = req.query.get("username");
    const search = req.query.get("search")?.toLowerCase();
    const users = this.state.users.filter(
      (u) =>
        (username === null || u.username.toLowerCase() === username.toLowerCase()) &&
        (search === undefined ||
          u.email.toLowerCase() === search ||
          u.username.toLowerCase().includes(search) ||
          u.name.toLowerCase().includes(search)),
    );
    return gitlabPage(users.map(userJson), req, this.url);
  }

  #listMembers(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const members = [...(this.state.members.get(group.id) ?? [])].flatMap(([userId, level]) => {
      const user = this.state.users.find((u) => u.id === userId);
      return user ? [memberJson(user, level)] : [];
    });
    return gitlabPage(members, req, this.url);
  }

  #addMember(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const body = (req.body ?? {}) as { user_id?: unknown; access_level?: unknown };
    const user = this.state.users.find((u) => u.id === Number(body.user_id));
    const level = Number(body.access_level);
    if (!user) return gitlabNotFound("User");
    if (!Object.values(GitLabAccess).includes(level as never))
      return { status: 400, body: { message: { access_level: ["is not included in the list"] } } };
    const members = this.state.members.get(group.id) ?? new Map<number, number>();
    if (members.has(user.id)) return { status: 409, body: { message: "Member already exists" } };
    members.set(user.id, level);
    this.state.members.set(group.id, members);
    return { status: 201, body: memberJson(user, level) };
  }

  #editMember(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const members = this.state.members.get(group.id);
    const user = this.state.users.find((u) => u.id === Number(req.params.user));
    if (!user || !members?.has(user.id)) return gitlabNotFound("Member");
    const level = Number((req.body as { access_level?: unknown } | undefined)?.access_level);
    members.set(user.id, level);
    return { body: memberJson(user, level) };
  }

  #removeMember(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const members = this.state.members.get(group.id);
    const userId = Number(req.params.user);
    if (!members?.has(userId)) return gitlabNotFound("Member");
    const owners = [...members.values()].filter((l) => l === GitLabAccess.OWNER).length;
    if (members.get(userId) === GitLabAccess.OWNER && owners === 1) {
      return { status: 403, body: { message: "403 Forbidden - A group must have at least one owner" } };
    }
    members.delete(userId);
    return { status: 204 };
  }
}

/**
 * One page of a GitLab collection with the documented headers. Offset paging: `page`, `per_page`
 * (default 20, at most 100).
 */
export function gitlabPage<T>(items: readonly T[], req: SimRequest, baseUrl: string): SimResponse {
  const { page, headers, pageNo, perPage, lastPage } = linkPage(items, req, baseUrl, 20, 100, "gitlab");
  return {
    headers: {
      "x-page": String(pageNo),
      "x-per-page": String(perPage),
      "x-total": String(items.length),
      "x-total-pages": String(lastPage),
      "x-next-page": pageNo < lastPage ? String(pageNo + 1) : "",
      "x-prev-page": pageNo > 1 ? String(pageNo - 1) : "",
      ...headers,
    },
    body: page,
  };
}

export function gitlabNotFound(what: string): SimResponse {
  return { status: 404, body: { message: `404 ${what} Not Found` } };
}

function bearer(header: string | undefined): string | undefined {
  return header?.startsWith("Bearer ") ? header.slice(7) : undefined;
}

function userJson(user: GitLabUser) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state ?? "active",
    avatar_url: null,
    web_url: `https://gitlab.example/${user.username}`,
    email: user.email,
  };
}

function memberJson(user: GitLabUser, level: number) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state ?? "active",
    web_url: `https://gitlab.example/${user.username}`,
    access_level: level,
    expires_at: null,
  };
}

function groupJson(group: GitLabGroup) {
  return {
    id: group.id,
    name: group.name,
    path: group.fullPath.split("/").pop(),
    full_path: group.fullPath,
    web_url: `https://gitlab.example/groups/${group.fullPath}`,
  };
}
