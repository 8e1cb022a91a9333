import { offsetPage, type SimRequest, type SimResponse, SimServer } from "./server";

export interface PagerDutyUser {
  id: string;
  name: string;
  email: string;
}

/** One on-call period of one user on one schedule. */
export interface PagerDutyShift {
  userId: string;
  start: Date;
  end: Date;
}

export interface PagerDutySchedule {
  id: string;
  name: string;
  timeZone?: string;
  shifts: PagerDutyShift[];
}

/** An escalation policy: rule n (from 1) is escalation level n, targeting schedules and users directly. */
export interface PagerDutyEscalationPolicy {
  id: string;
  name: string;
  rules: { schedules?: string[]; users?: string[] }[];
}

/**
 * PagerDuty behaviour a client must cope with; on by default, as the service behaves.
 */
export interface PagerDutyQuirks {
  /**
   * `GET /oncalls` is built from escalation policies: "An on-call represents a contiguous unit of
   * time for which a User will be on call for a given Escalation Policy and Escalation Rules"
   * (https://developer.pagerduty.com/api-reference/3a6b910f11050-list-all-of-the-on-calls, and the
   * contract's /oncalls description). So a schedule in no escalation policy never appears there
   * (read it with /schedules/{id}/users or its final_schedule, as users found:
   * https://github.com/sergiitk/pagerbeauty/issues/103), and one in several policies or levels
   * appears once per policy and level. Off: every schedule gets a policy of its own at level 1, as a lenient lab did.
   */
  oncallsFromPoliciesOnly: boolean;
}

export const PAGERDUTY_DEFAULT_QUIRKS: Readonly<PagerDutyQuirks> = { oncallsFromPoliciesOnly: true };

/**
 * PagerDuty REST API v2 simulator: users, schedules, escalation policies and on-calls,
 * `Authorization: Token token=…` or an OAuth bearer token, classic offset/limit/more paging (default
 * limit 25, at most 100; `total` null unless total=true —
 * https://developer.pagerduty.com/docs/pagination), `{"error": {"message", "code"}}` error bodies
 * (https://developer.pagerduty.com/docs/errors).
 */
export class PagerDutySim extends SimServer {
  readonly users: PagerDutyUser[] = [];
  readonly schedules: PagerDutySchedule[] = [];
  readonly escalationPolicies: PagerDutyEscalationPolicy[] = [];
  readonly token: string;
  #quirks: PagerDutyQuirks;

  constructor(options: { token?: string; quirks?: Partial<PagerDutyQuirks> } = {}) {
    super("PagerDuty");
    this.token = options.token ?? "u+lab-pagerduty-token";
    this.#quirks = { ...PAGERDUTY_DEFAULT_QUIRKS, ...options.quirks };
    this.authenticate((req) => {
      const auth = req.headers.authorization ?? "";
      const given = auth.startsWith("Token token=") ? auth.slice(12) : auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
      return given === this.token ? undefined : { status: 401, body: { error: { message: "Unauthorized", code: 2006 } } };
    });
    this.route("GET", "/schedules", (req) => this.#listSchedules(req));
    this.route("GET", "/schedules/:id", (req) => this.#schedule(req));
    this.route("GET", "/schedules/:id/users", (req) => this.#scheduleUsers(req));
    this.route("GET", "/oncalls", (req) => this.#oncalls(req));
  }

  addUser(user: PagerDutyUser): PagerDutyUser {
    this.users.push(user);
    return user;
  }

  addSchedule(schedule: PagerDutySchedule): PagerDutySchedule {
    this.schedules.push(schedule);
    return schedule;
  }

  addEscalationPolicy(policy: PagerDutyEscalationPolicy): PagerDutyEscalationPolicy {
    this.escalationPolicies.push(policy);
    return policy;
  }

  /** Switch documented PagerDuty behaviours on or off (see PagerDutyQuirks); returns those in force. */
  quirks(change: Partial<PagerDutyQuirks> = {}): Readonly<PagerDutyQuirks> {
    this.#quirks = { ...this.#quirks, ...change };
    return { ...this.#quirks };
  }

  /** The policies on-calls are computed from: the real ones, or one per schedule with the quirk off. */
  #policies(): PagerDutyEscalationPolicy[] {
    if (this.#quirks.oncallsFromPoliciesOnly) return this.escalationPolicies;
    return this.schedules.map((s) => ({ id: `EP${s.id}`, name: `${s.name} policy`, rules: [{ schedules: [s.id] }] }));
  }

  #policiesOf(scheduleId: string): PagerDutyEscalationPolicy[] {
    return this.#policies().filter((p) => p.rules.some((r) => r.schedules?.includes(scheduleId)));
  }

  #listSchedules(req: SimRequest): SimResponse {
    const query = req.query.get("query")?.toLowerCase() ?? "";
    // The documented filter is a case-insensitive substring match, so exact matching is the client's job.
    const matching = this.schedules.filter((s) => s.name.toLowerCase().includes(query));
    const paged = page(matching, req);
    if (typeof paged === "string") return invalid(paged);
    return { body: { schedules: paged.items.map((s) => this.#scheduleJson(s)), ...paged.meta } };
  }

  /**
   * One schedule, with the escalation policies that use it and, when since/until are given, its
   * rendered final schedule (https://developer.pagerduty.com/api-reference/3f03afb2c84a4-get-a-schedule:
   * "rendered_schedule_entries … Since or until must be set in order for this field to be populated").
   */
  #schedule(req: SimRequest): SimResponse {
    const schedule = this.schedules.find((s) => s.id === req.params.id);
    if (!schedule) return notFound();
    const rendered = req.query.has("since") || req.query.has("until");
    const window = timeWindow(req);
    if (typeof window === "string") return invalid(window);
    const entries = schedule.shifts
      .filter((shift) => overlaps(shift, window))
      .flatMap((shift) => {
        const user = this.users.find((u) => u.id === shift.userId);
        return user ? [{ start: shift.start.toISOString(), end: shift.end.toISOString(), user: userJson(user, false) }] : [];
      });
    return {
      body: {
        schedule: {
          ...this.#scheduleJson(schedule),
          schedule_layers: [],
          final_schedule: { name: "Final Schedule", ...(rendered ? { rendered_schedule_entries: entries } : {}) },
        },
      },
    };
  }

  /** "List all of the users on call in a given schedule for a given time range" (not paginated). */
  #scheduleUsers(req: SimRequest): SimResponse {
    const schedule = this.schedules.find((s) => s.id === req.params.id);
    if (!schedule) return notFound();
    const window = timeWindow(req);
    if (typeof window === "string") return invalid(window);
    const ids = new Set(schedule.shifts.filter((s) => overlaps(s, window)).map((s) => s.userId));
    return { body: { users: this.users.filter((u) => ids.has(u.id)).map((u) => userJson(u, true)) } };
  }

  #oncalls(req: SimRequest): SimResponse {
    const window = timeWindow(req);
    if (typeof window === "string") return invalid(window);
    const scheduleIds = req.query.getAll("schedule_ids[]");
    const policyIds = req.query.getAll("escalation_policy_ids[]");
    const userIds = req.query.getAll("user_ids[]");
    const includeUsers = req.query.getAll("include[]").includes("users");
    const rows = this.#policies()
      .filter((policy) => policyIds.length === 0 || policyIds.includes(policy.id))
      .flatMap((policy) =>
        policy.rules.flatMap((rule, index) => {
          const base = { escalation_policy: ref("escalation_policy", policy.id, policy.name), escalation_level: index + 1 };
          const fromSchedules = (rule.schedules ?? [])
            .filter((id) => scheduleIds.length === 0 || scheduleIds.includes(id))
            .flatMap((id) => {
              const schedule = this.schedules.find((s) => s.id === id);
              if (!schedule) return [];
              return schedule.shifts
                .filter((shift) => overlaps(shift, window))
                .map((shift) => ({
                  ...base,
                  schedule: ref("schedule", schedule.id, schedule.name),
                  userId: shift.userId,
                  start: shift.start.toISOString(),
                  end: shift.end.toISOString(),
                }));
            });
          // A user targeted directly is on call for good: null schedule, start and end ("If null, the on-call
          // is a permanent user on-call", Oncall.start in the contract; a real answer in
          // https://github.com/incidentbot/incidentbot/issues/328). Filtering by schedule leaves them out.
          const direct =
            scheduleIds.length > 0 ? [] : (rule.users ?? []).map((userId) => ({ ...base, schedule: null, userId, start: null, end: null }));
          return [...fromSchedules, ...direct];
        }),
      )
      .filter((row) => userIds.length === 0 || userIds.includes(row.userId))
      .flatMap(({ userId, ...row }) => {
        const user = this.users.find((u) => u.id === userId);
        return user ? [{ ...row, user: userJson(user, includeUsers) }] : [];
      });
    const paged = page(rows, req);
    if (typeof paged === "string") return invalid(paged);
    return { body: { oncalls: paged.items, ...paged.meta } };
  }

  #scheduleJson(schedule: PagerDutySchedule) {
    const users = [...new Set(schedule.shifts.map((s) => s.userId))].flatMap((id) => {
      const user = this.users.find((u) => u.id === id);
      return user ? [userJson(user, false)] : [];
    });
    return {
      id: schedule.id,
      type: "schedule",
      summary: schedule.name,
      name: schedule.name,
      time_zone: schedule.timeZone ?? "UTC",
      self: `https://api.pagerduty.com/schedules/${schedule.id}`,
      html_url: `https://lab.pagerduty.com/schedules/${schedule.id}`,
      escalation_policies: this.#policiesOf(schedule.id).map((p) => ref("escalation_policy", p.id, p.name)),
      users,
    };
  }
}

/** Classic offset paging; a limit over 100 is refused rather than capped. */
function page<T>(items: readonly T[], req: SimRequest): { items: T[]; meta: Record<string, unknown> } | string {
  const { page: slice, offset, limit, more, total } = offsetPage(items, req.query, 25);
  if (limit > 100) return "limit must be at most 100";
  return { items: slice, meta: { offset, limit, more, total: req.query.get("total") === "true" ? total : null } };
}

function ref(kind: "schedule" | "escalation_policy", id: string, name: string) {
  const plural = kind === "schedule" ? "schedules" : "escalation_policies";
  return {
    id,
    type: `${kind}_reference`,
    summary: name,
    self: `https://api.pagerduty.com/${plural}/${id}`,
    html_url: `https://lab.pagerduty.com/${plural}/${id}`,
  };
}

/** since/until as the API takes them; both default to now, a window of one instant. */
function timeWindow(req: SimRequest): { since: number; until: number } | string {
  const since = req.query.get("since");
  const until = req.query.get("until");
  const s = since ? Date.parse(since) : Date.now();
  const u = until ? Date.parse(until) : since ? s : Date.now();
  if (Number.isNaN(s) || Number.isNaN(u)) return "since and until must be ISO 8601 dates";
  if (u < s) return "until must be after since";
  return { since: s, until: u };
}

function overlaps(shift: PagerDutyShift, window: { since: number; until: number }): boolean {
  return shift.start.getTime() <= window.until && shift.end.getTime() > window.since;
}

function userJson(user: PagerDutyUser, full: boolean) {
  const reference = {
    id: user.id,
    type: full ? "user" : "user_reference",
    summary: user.name,
    self: `https://api.pagerduty.com/users/${user.id}`,
    html_url: `https://lab.pagerduty.com/users/${user.id}`,
  };
  return full ? { ...reference, name: user.name, email: user.email, time_zone: "UTC" } : reference;
}

function notFound(): SimResponse {
  return { status: 404, body: { error: { message: "Not Found", code: 2100 } } };
}

function invalid(reason: string): SimResponse {
  return { status: 400, body: { error: { message: "Invalid Input Provided", code: 2001, errors: [reason] } } };
}
