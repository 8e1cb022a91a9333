import { zoneOffsetMs } from "@opsguard/core/iso-time";
import { type GitLabGraphQLData, gitlabGraphQL } from "./gitlab-graphql";
import { linkPage, type SimHandler, type SimRequest, type SimResponse, SimServer } from "./server";

/**
 * A GitLab REST v4 simulator: users, groups and group members. Every shape, header and error here
 * follows docs.gitlab.com (cited beside each); a contract test (packages/lab/test/gitlab-contract.test.ts)
 * checks the answers against @gitbeaker/core's response types. Merge-request routes are added by
 * gitlab-merge-requests.ts through `route()` and `state`.
 */

/** GitLab's documented access levels (https://docs.gitlab.com/api/access_requests/#valid-access-levels). */
export const GitLabAccess = { MINIMAL_ACCESS: 5, GUEST: 10, REPORTER: 20, DEVELOPER: 30, MAINTAINER: 40, OWNER: 50 } as const;

export interface GitLabUser {
  id: number;
  username: string;
  name: string;
  /** The primary e-mail: private, seen only by administrators (https://docs.gitlab.com/user/profile/#set-your-public-email). */
  email: string;
  /** The e-mail the user chose to show on their profile; null when they show none. */
  publicEmail: string | null;
  state?: "active" | "blocked";
  bot?: boolean;
}

export interface GitLabGroup {
  id: number;
  /** "platform/approvers" */
  fullPath: string;
  name: string;
}

/** What a token may see and do. */
export interface GitLabToken {
  /** An administrator's token sees private e-mails and every user field (https://docs.gitlab.com/api/users/#list-users). */
  admin: boolean;
  /** Personal access token scopes (https://docs.gitlab.com/user/profile/personal_access_tokens/#personal-access-token-scopes). */
  scopes: string[];
}

/** Everything the simulator serves; tests seed it and inspect it, and other route files (merge requests) add to it. */
export interface GitLabState {
  users: GitLabUser[];
  groups: GitLabGroup[];
  /** group id → user id → access level */
  members: Map<number, Map<number, number>>;
  /**
   * "groupId:userId" of memberships in `membership_state: awaiting` — an invitation not yet accepted, or a member held
   * back by the user cap until an owner approves them (docs.gitlab.com/api/members/#approve-a-member-for-a-group,
   * docs.gitlab.com/administration/settings/sign_up_restrictions/#user-cap); every other membership is `active`.
   */
  awaiting?: Set<string>;
}

/** The documented behaviours a scenario may switch; defaults are GitLab's. */
export interface GitLabQuirks {
  /**
   * Above this many rows GitLab leaves out x-total, x-total-pages and the rel="last" link
   * (https://docs.gitlab.com/api/rest/#other-pagination-headers). Lower it to see that without 10,000 rows.
   */
  totalHeadersLimit: number;
  /**
   * The instance's time zone (`gitlab_rails['time_zone']`, UTC by default:
   * https://docs.gitlab.com/administration/timezone/), an IANA name. The REST API writes its times in it, as Rails
   * encodes them (`2026-10-25T02:40:00.000+02:00`), not in UTC (https://gitlab.com/gitlab-org/gitlab/-/issues/233259
   * reports an `Asia/Kolkata` instance's API answering in IST): the same zone's offset changes at daylight saving time.
   */
  timeZone?: string;
}

export const GITLAB_API_PREFIX = "/api/v4";
const DAY = 86_400_000;

export class GitLabSim extends SimServer {
  readonly state: GitLabState = { users: [], groups: [], members: new Map() };
  /** The default token; an administrator's unless `admin: false` is given. */
  readonly token: string;
  readonly tokens = new Map<string, GitLabToken>();
  readonly quirks: GitLabQuirks = { totalHeadersLimit: 10_000 };
  /** Projects the GraphQL endpoint answers for (merge-request files register theirs). */
  readonly graphqlProjects: GitLabGraphQLData[] = [];
  /** false: a GitLab from before UserMergeRequestInteraction.reviewState, whose schema has no such field. */
  reportsReviewState = true;
  #throttle: { remaining: number; retryAfterSec: number; limit: number } | undefined;

  /** Every REST answer's UTC times written in `quirks.timeZone` when one is set (see GitLabQuirks.timeZone). */
  override route(method: string, path: string, handler: SimHandler): this {
    return super.route(method, path, async (req) => {
      const response = await handler(req);
      const zone = this.quirks.timeZone;
      return zone === undefined || !path.startsWith(GITLAB_API_PREFIX) ? response : { ...response, body: inZone(response.body, zone) };
    });
  }

  constructor(options: { token?: string; admin?: boolean } = {}) {
    super("GitLab");
    this.token = options.token ?? "glpat-lab-token-0123456789";
    this.addToken(this.token, { admin: options.admin ?? true });
    this.authenticate((req) => this.#authenticate(req));
    this.route("POST", "/api/graphql", (req) => gitlabGraphQL(req, this.graphqlProjects, { reviewState: this.reportsReviewState }));
    this.route("GET", `${GITLAB_API_PREFIX}/users`, (req) => this.#listUsers(req));
    this.route("GET", `${GITLAB_API_PREFIX}/users/:id`, (req) => {
      const user = this.state.users.find((u) => String(u.id) === req.params.id);
      return user ? { body: this.isAdmin(req) ? adminUserJson(user) : publicUserJson(user) } : gitlabNotFound("User");
    });
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group`, (req) => {
      const group = this.findGroup(req.params.group ?? "");
      if (!group) return gitlabNotFound("Group");
      const parent = group.fullPath.includes("/") ? this.findGroup(group.fullPath.slice(0, group.fullPath.lastIndexOf("/"))) : undefined;
      return { body: groupJson(group, parent?.id ?? null) };
    });
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group/members`, (req) => this.#listMembers(req));
    this.route("GET", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => {
      const group = this.findGroup(req.params.group ?? "");
      if (!group) return gitlabNotFound("Group");
      const level = this.state.members.get(group.id)?.get(Number(req.params.user));
      const user = this.state.users.find((u) => u.id === Number(req.params.user));
      return level !== undefined && user ? { body: memberJson(user, level, this.isAdmin(req)) } : gitlabNotFound("Member");
    });
    this.route("POST", `${GITLAB_API_PREFIX}/groups/:group/members`, (req) => this.#addMember(req));
    this.route("PUT", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => this.#editMember(req));
    this.route("DELETE", `${GITLAB_API_PREFIX}/groups/:group/members/:user`, (req) => this.#removeMember(req));
  }

  /** Another token, e.g. an ordinary user's (`admin: false`) or one without the `api` scope. */
  addToken(token: string, options: Partial<GitLabToken> = {}): this {
    this.tokens.set(token, { admin: options.admin ?? false, scopes: options.scopes ?? ["api"] });
    return this;
  }

  /** The token of a request, or undefined when it has none GitLab would accept. */
  tokenOf(req: SimRequest): GitLabToken | undefined {
    const given = req.headers["private-token"] ?? bearer(req.headers.authorization);
    return typeof given === "string" ? this.tokens.get(given) : undefined;
  }

  isAdmin(req: SimRequest): boolean {
    return this.tokenOf(req)?.admin === true;
  }

  /**
   * The next `times` requests are throttled as GitLab's rate limiter answers: 429, a plain-text
   * "Retry later", Retry-After and the RateLimit-* headers
   * (https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers).
   */
  rateLimit(times: number, options: { retryAfterSec?: number; limit?: number } = {}): this {
    this.#throttle = { remaining: times, retryAfterSec: options.retryAfterSec ?? 1, limit: options.limit ?? 2000 };
    return this;
  }

  addUser(user: Omit<GitLabUser, "id" | "publicEmail"> & { id?: number; publicEmail?: string | null }): GitLabUser {
    // The lab's people show their e-mail on their profile unless a test says otherwise (publicEmail: null),
    // so lookups by e-mail work for ordinary tokens the way they do for people who publish it.
    const full: GitLabUser = { state: "active", publicEmail: user.email, ...user, id: user.id ?? this.state.users.length + 1 };
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

  /** The user as GitLab embeds one in other resources (author, merged_by, approved_by…). */
  userRef(username: string): Record<string, unknown> {
    return basicUserJson(this.#userOrStub(username));
  }

  /** Whether GitLab calls the user a bot (REST `bot`, GraphQL `UserCore.bot`): an access token's bot user, a service account. */
  isBot(username: string): boolean {
    return this.#userOrStub(username).bot ?? false;
  }

  /** The group as GitLab embeds one in other resources (an approval rule's `groups`). */
  groupRef(group: GitLabGroup): Record<string, unknown> {
    const parent = group.fullPath.includes("/") ? this.findGroup(group.fullPath.slice(0, group.fullPath.lastIndexOf("/"))) : undefined;
    return groupJson(group, parent?.id ?? null);
  }

  /** The public profile, as GitLab embeds it in a job (https://docs.gitlab.com/api/jobs/#list-project-jobs). */
  userProfile(username: string): Record<string, unknown> {
    return publicUserJson(this.#userOrStub(username));
  }

  #userOrStub(username: string): GitLabUser {
    return this.state.users.find((u) => u.username === username) ?? { id: 0, username, name: username, email: "", publicEmail: null };
  }

  #authenticate(req: SimRequest): SimResponse | undefined {
    if (this.#throttle && this.#throttle.remaining > 0) {
      this.#throttle.remaining--;
      const { retryAfterSec, limit } = this.#throttle;
      const reset = Math.ceil(Date.now() / 1000) + retryAfterSec;
      return {
        status: 429,
        headers: {
          "retry-after": String(retryAfterSec),
          "ratelimit-name": "throttle_authenticated_api",
          "ratelimit-limit": String(limit),
          "ratelimit-observed": String(limit + 1),
          "ratelimit-remaining": "0",
          "ratelimit-reset": String(reset),
          "ratelimit-resettime": new Date(reset * 1000).toUTCString(),
        },
        body: "Retry later\n",
      };
    }
    const token = this.tokenOf(req);
    // https://docs.gitlab.com/api/rest/troubleshooting/#status-codes: a missing or unknown token is 401 with this body.
    if (!token) return { status: 401, body: { message: "401 Unauthorized" } };
    // A token without an API scope: 403 insufficient_scope, as GitLab's OAuth layer answers
    // (https://docs.gitlab.com/api/rest/authentication/#personalprojectgroup-access-tokens).
    // A GraphQL query is a read (read_api may send it); the simulator serves no mutations.
    const write = req.method !== "GET" && req.method !== "HEAD" && req.path !== "/api/graphql";
    if (!token.scopes.includes("api") && (write || !token.scopes.includes("read_api"))) {
      return {
        status: 403,
        body: {
          error: "insufficient_scope",
          error_description: "The request requires higher privileges than provided by the access token.",
          scope: write ? "api" : "api read_api",
        },
      };
    }
    return undefined;
  }

  /**
   * https://docs.gitlab.com/api/users/#list-users: `search` matches name and username partly and an
   * e-mail exactly; ordinary tokens match public e-mails only and get the basic fields, administrators
   * match every e-mail and see them.
   */
  #listUsers(req: SimRequest): SimResponse {
    const admin = this.isAdmin(req);
    const username = req.query.get("username");
    const search = req.query.get("search")?.toLowerCase();
    const users = this.state.users.filter((u) => {
      if (username !== null && u.username.toLowerCase() !== username.toLowerCase()) return false;
      if (search === undefined) return true;
      const emails = admin ? [u.email, u.publicEmail] : [u.publicEmail];
      return (
        emails.some((e) => e?.toLowerCase() === search) ||
        u.username.toLowerCase().includes(search) ||
        u.name.toLowerCase().includes(search)
      );
    });
    return gitlabPage(users.map(admin ? adminUserJson : basicUserJson), req, this.url, this.quirks);
  }

  #listMembers(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const admin = this.isAdmin(req);
    const members = [...(this.state.members.get(group.id) ?? [])].flatMap(([userId, level]) => {
      const user = this.state.users.find((u) => u.id === userId);
      return user ? [memberJson(user, level, admin, this.state.awaiting?.has(`${group.id}:${userId}`) ? "awaiting" : "active")] : [];
    });
    return gitlabPage(members, req, this.url, this.quirks);
  }

  #addMember(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const body = (req.body ?? {}) as { user_id?: unknown; access_level?: unknown };
    const user = this.state.users.find((u) => u.id === Number(body.user_id));
    const level = Number(body.access_level);
    if (!user) return gitlabNotFound("User");
    // https://docs.gitlab.com/api/rest/troubleshooting/#status-codes: validation errors are 400 with the field's messages.
    if (!Object.values(GitLabAccess).includes(level as never))
      return { status: 400, body: { message: { access_level: ["is not included in the list"] } } };
    const members = this.state.members.get(group.id) ?? new Map<number, number>();
    if (members.has(user.id)) return { status: 409, body: { message: "Member already exists" } };
    members.set(user.id, level);
    this.state.members.set(group.id, members);
    return { status: 201, body: memberJson(user, level, this.isAdmin(req)) };
  }

  #editMember(req: SimRequest): SimResponse {
    const group = this.findGroup(req.params.group ?? "");
    if (!group) return gitlabNotFound("Group");
    const members = this.state.members.get(group.id);
    const user = this.state.users.find((u) => u.id === Number(req.params.user));
    if (!user || !members?.has(user.id)) return gitlabNotFound("Member");
    const level = Number((req.body as { access_level?: unknown } | undefined)?.access_level);
    members.set(user.id, level);
    return { body: memberJson(user, level, this.isAdmin(req)) };
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
 * One page of a GitLab collection with the documented headers (https://docs.gitlab.com/api/rest/#pagination):
 * `page`, `per_page` (default 20, at most 100), x-page, x-per-page, x-next-page and x-prev-page (empty when
 * there is none), x-total and x-total-pages, and a Link header with prev/next/first/last. Above
 * `quirks.totalHeadersLimit` rows the totals and rel="last" are left out, as GitLab does above 10,000.
 */
export function gitlabPage<T>(
  items: readonly T[],
  req: SimRequest,
  baseUrl: string,
  quirks: Pick<GitLabQuirks, "totalHeadersLimit"> = { totalHeadersLimit: 10_000 },
): SimResponse {
  const { page, headers, pageNo, perPage, lastPage } = linkPage(items, req, baseUrl, 20, 100, "gitlab");
  const counted = items.length <= quirks.totalHeadersLimit;
  const link = counted
    ? headers.link
    : headers.link
        ?.split(", ")
        .filter((l) => !l.endsWith('rel="last"'))
        .join(", ");
  return {
    headers: {
      "x-page": String(pageNo),
      "x-per-page": String(perPage),
      ...(counted ? { "x-total": String(items.length), "x-total-pages": String(lastPage) } : {}),
      "x-next-page": pageNo < lastPage ? String(pageNo + 1) : "",
      "x-prev-page": pageNo > 1 ? String(pageNo - 1) : "",
      ...(link ? { link } : {}),
    },
    body: page,
  };
}

/** https://docs.gitlab.com/api/rest/troubleshooting/#status-codes: "404 <Resource> Not Found". */
export function gitlabNotFound(what: string): SimResponse {
  return { status: 404, body: { message: `404 ${what} Not Found` } };
}

function bearer(header: string | undefined): string | undefined {
  return header?.startsWith("Bearer ") ? header.slice(7) : undefined;
}

/** A fixed creation time: the lab's accounts exist from before any history a test builds. */
const CREATED = new Date(Date.UTC(2020, 0, 1)).toISOString();

function avatar(user: GitLabUser): string {
  return `https://secure.gravatar.com/avatar/${user.id}?s=80&d=identicon`;
}

/** Entities::UserBasic: what ordinary tokens get in lists and embedded in other resources. */
function basicUserJson(user: GitLabUser) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state ?? "active",
    locked: false,
    avatar_url: avatar(user),
    web_url: `https://gitlab.example/${user.username}`,
  };
}

/** GET /users/:id for an ordinary token: the public profile (https://docs.gitlab.com/api/users/#get-a-single-user). */
function publicUserJson(user: GitLabUser) {
  return {
    ...basicUserJson(user),
    created_at: CREATED,
    bio: "",
    bot: user.bot ?? false,
    location: "",
    public_email: user.publicEmail ?? "",
    skype: "",
    linkedin: "",
    twitter: "",
    discord: "",
    website_url: "",
    organization: "",
    job_title: "",
    pronouns: null,
    work_information: null,
    followers: 0,
    following: 0,
    local_time: null,
    is_followed: false,
  };
}

/** What an administrator sees (https://docs.gitlab.com/api/users/#for-administrators): every e-mail. */
function adminUserJson(user: GitLabUser) {
  return {
    ...publicUserJson(user),
    is_admin: false,
    note: null,
    last_sign_in_at: CREATED,
    confirmed_at: CREATED,
    last_activity_on: CREATED.slice(0, 10),
    email: user.email,
    theme_id: 1,
    color_scheme_id: 1,
    projects_limit: 100000,
    current_sign_in_at: CREATED,
    identities: [],
    can_create_group: true,
    can_create_project: true,
    two_factor_enabled: false,
    external: false,
    private_profile: null,
    namespace_id: user.id,
    created_by: null,
    current_sign_in_ip: "127.0.0.1",
    last_sign_in_ip: "127.0.0.1",
    using_license_seat: true,
    email_reset_offered_at: null,
  };
}

/**
 * https://docs.gitlab.com/api/members/#list-all-members-of-a-group-or-project; `email` only for administrators;
 * `membership_state` ("active" or "awaiting": GitLab's API::Entities::Member exposes the membership's `human_state_name`
 * as it, and the docs' example responses show it).
 */
function memberJson(user: GitLabUser, level: number, admin: boolean, membershipState: "active" | "awaiting" = "active") {
  return {
    ...basicUserJson(user),
    created_at: CREATED,
    access_level: level,
    expires_at: null,
    membership_state: membershipState,
    ...(admin ? { email: user.email } : {}),
  };
}

/** https://docs.gitlab.com/api/groups/#get-a-single-group */
function groupJson(group: GitLabGroup, parentId: number | null) {
  return {
    id: group.id,
    name: group.name,
    path: group.fullPath.split("/").pop(),
    full_name: group.fullPath.split("/").join(" / "),
    full_path: group.fullPath,
    description: "",
    visibility: "private",
    avatar_url: null,
    web_url: `https://gitlab.example/groups/${group.fullPath}`,
    share_with_group_lock: false,
    require_two_factor_authentication: false,
    two_factor_grace_period: 48,
    project_creation_level: "developer",
    subgroup_creation_level: "maintainer",
    lfs_enabled: true,
    default_branch_protection: 2,
    request_access_enabled: true,
    created_at: new Date(Date.parse(CREATED) + group.id * DAY).toISOString(),
    parent_id: parentId,
  };
}

const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

/** A JSON body with each UTC date-time string in it written as Rails writes a time in `zone` (milliseconds, offset). */
function inZone(body: unknown, zone: string): unknown {
  if (typeof body === "string") return UTC_TIME.test(body) ? zonedTime(Date.parse(body), zone) : body;
  if (Array.isArray(body)) return body.map((item) => inZone(item, zone));
  if (body === null || typeof body !== "object") return body;
  return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, inZone(value, zone)]));
}

function zonedTime(ms: number, zone: string): string {
  const offsetMinutes = Math.round(zoneOffsetMs(zone, ms) / 60_000);
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  const abs = Math.abs(offsetMinutes);
  return `${local}${offsetMinutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}
