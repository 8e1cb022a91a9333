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
  escalationLevel?: number;
}

export interface PagerDutySchedule {
  id: string;
  name: string;
  timeZone?: string;
  shifts: PagerDutyShift[];
}

/**
 * PagerDuty REST API v2 simulator: users, schedules and on-calls, `Authorization: Token token=…`
 * or an OAuth bearer token, classic offset/limit/more paging (default limit 25, at most 100),
 * `{"error": {"message", "code"}}` error bodies.
 */
export class PagerDutySim extends SimServer {
  readonly users: PagerDutyUser[] = [];
  readonly schedules: PagerDutySchedule[] = [];
  readonly token: string;

  constructor(options: { token?: string } = {}) {
    super("PagerDuty");
    this.token = options.token ?? "u+lab-pagerduty-token";
    this.authenticate((req) => {
      const auth = req.headers.authorization ?? "";
      const given = auth.startsWith("Token token=") ? auth.slice(12) : auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
      return given === this.token ? undefined : { status: 401, body: { error: { message: "Unauthorized", code: 2006 } } };
    });
    this.route("GET", "/schedules", (req) => this.#listSchedules(req));
    this.route("GET", "/schedules/:id", (req) => {
      const schedule = this.schedules.find((s) => s.id === req.params.id);
      return schedule ? { body: { schedule: scheduleJson(schedule) } } : notFound();
    });
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

  #listSchedules(req: SimRequest): SimResponse {
    const query = req.query.get("query")?.toLowerCase() ?? "";
    // The documented filter is a case-insensitive substring match, so exact matching is the client's job.
    const matching = this.schedules.filter((s) => s.name.toLowerCase().includes(query));
    const { page, offset, limit, more } = offsetPage(matching, req.query, 25);
    if (limit > 100) return invalid("limit must be at most 100");
    return { body: { schedules: page.map(scheduleJson), offset, limit, more, total: null } };
  }

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
    const includeUsers = req.query.getAll("include[]").includes("users");
    const rows = this.schedules
      .filter((s) => scheduleIds.length === 0 || scheduleIds.includes(s.id))
      .flatMap((schedule) =>
        schedule.shifts
          .filter((shift) => overlaps(shift, window))
          .flatMap((shift) => {
            const user = this.users.find((u) => u.id === shift.userId);
            if (!user) return [];
            return [
              {
                escalation_policy: { id: `EP${schedule.id}`, type: "escalation_policy_reference", summary: `${schedule.name} policy` },
                escalation_level: shift.escalationLevel ?? 1,
                schedule: { id: schedule.id, type: "schedule_reference", summary: schedule.name },
                user: userJson(user, includeUsers),
                start: shift.start.toISOString(),
                end: shift.end.toISOString(),
              },
            ];
          }),
      );
    const { page, offset, limit, more } = offsetPage(rows, req.query, 25);
    if (limit > 100) return invalid("limit must be at most 100");
    return { body: { oncalls: page, offset, limit, more, total: null } };
  }
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
  const ref = {
    id: user.id,
    type: full ? "user" : "user_reference",
    summary: user.name,
    self: `https://api.pagerduty.com/users/${user.id}`,
  };
  return full ? { ...ref, name: user.name, email: user.email, time_zone: "UTC" } : ref;
}

function scheduleJson(schedule: PagerDutySchedule) {
  return {
    id: schedule.id,
    type: "schedule",
    summary: schedule.name,
    name: schedule.name,
    time_zone: schedule.timeZone ?? "UTC",
    self: `https://api.pagerduty.com/schedules/${schedule.id}`,
  };
}

function notFound(): SimResponse {
  return { status: 404, body: { error: { message: "Not Found", code: 2100 } } };
}

function invalid(reason: string): SimResponse {
  return { status: 400, body: { error: { message: "Invalid Input Provided", code: 2001, errors: [reason] } } };
}
