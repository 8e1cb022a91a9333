import { randomUUID } from "node:crypto";
import { type SimRequest, type SimResponse, SimServer } from "./server";

export interface OpsgenieShift {
  /** The user's e-mail (Opsgenie's username), or the name of the team, escalation or schedule on call. */
  email: string;
  /**
   * Who is on call: a user by default. A rotation's participants may also be teams, escalations and schedules
   * (TimelineRecipient.type in the contract's swagger.json; Recipient.type's enum: user, escalation, schedule, team…),
   * and the final timeline names them as they are, not their users.
   */
  recipientType?: "user" | "team" | "escalation" | "schedule";
  start: Date;
  end: Date;
}

export interface OpsgenieSchedule {
  id: string;
  name: string;
  enabled?: boolean;
  shifts: OpsgenieShift[];
}

const INTERVAL_UNITS: Record<string, number> = { days: 86_400_000, weeks: 7 * 86_400_000, months: 31 * 86_400_000 };

/**
 * Opsgenie Schedule API v2 simulator: `GET /v2/schedules/{identifier}/on-calls` by id or name
 * (`scheduleIdentifierType`), `flat=true` for recipient emails, `date` for another instant;
 * `GET /v2/schedules/{identifier}/timeline` (`identifierType`, `date`, `interval`, `intervalUnit`)
 * with the final timeline's periods clipped to the interval; `Authorization: GenieKey …`, and
 * Opsgenie's `{message, took, requestId}` bodies. Each shift is its own rotation.
 */
export class OpsgenieSim extends SimServer {
  readonly schedules: OpsgenieSchedule[] = [];
  readonly apiKey: string;

  constructor(options: { apiKey?: string } = {}) {
    super("Opsgenie");
    this.apiKey = options.apiKey ?? "00000000-lab0-4000-8000-opsgeniekey0";
    this.authenticate((req) =>
      req.headers.authorization === `GenieKey ${this.apiKey}` ? undefined : reply(401, { message: "Could not authenticate" }),
    );
    this.route("GET", "/v2/schedules/:identifier/on-calls", (req) => this.#onCalls(req));
    this.route("GET", "/v2/schedules/:identifier/timeline", (req) => this.#timeline(req));
  }

  addSchedule(schedule: OpsgenieSchedule): OpsgenieSchedule {
    this.schedules.push(schedule);
    return schedule;
  }

  #find(req: SimRequest, typeParam: string): OpsgenieSchedule | SimResponse {
    const identifier = req.params.identifier ?? "";
    const type = req.query.get(typeParam) ?? "id";
    if (type !== "id" && type !== "name") return reply(422, { message: `${typeParam} should be one of: id, name` });
    const schedule = this.schedules.find((s) => (type === "id" ? s.id : s.name) === identifier);
    return schedule ?? reply(404, { message: `Schedule with identifier [${identifier}] doesn't exist` });
  }

  #timeline(req: SimRequest): SimResponse {
    const schedule = this.#find(req, "identifierType");
    if (!("shifts" in schedule)) return schedule;
    const dateParam = req.query.get("date");
    const start = dateParam ? Date.parse(dateParam) : Date.now();
    if (Number.isNaN(start)) return reply(422, { message: "date is not a valid ISO 8601 date" });
    const interval = Number(req.query.get("interval") ?? "1");
    const unit = INTERVAL_UNITS[req.query.get("intervalUnit") ?? "weeks"];
    if (!Number.isInteger(interval) || interval < 1 || unit === undefined) {
      return reply(422, { message: "interval should be a positive integer and intervalUnit one of: days, weeks, months" });
    }
    const end = start + interval * unit;
    const iso = (ms: number) => new Date(ms).toISOString();
    const rotations = schedule.shifts
      .filter((s) => s.start.getTime() < end && s.end.getTime() > start)
      .map((s, i) => ({
        id: randomUUID(),
        name: `rot${i + 1}`,
        order: i + 1,
        periods: [
          {
            startDate: iso(Math.max(s.start.getTime(), start)),
            endDate: iso(Math.min(s.end.getTime(), end)),
            type: "default",
            recipient: { id: randomUUID(), type: s.recipientType ?? "user", name: s.email },
          },
        ],
      }));
    const parent = { id: schedule.id, name: schedule.name, enabled: schedule.enabled ?? true };
    // `expandable` names the timelines `expand=` could add; the contract requires it (BaseResponseWithExpandable)
    // and https://docs.opsgenie.com/docs/schedule-api#get-schedule-timeline shows it.
    const data = { _parent: parent, startDate: iso(start), endDate: iso(end), finalTimeline: { rotations } };
    return reply(200, { data, expandable: ["base", "forwarding", "override"] });
  }

  #onCalls(req: SimRequest): SimResponse {
    const schedule = this.#find(req, "scheduleIdentifierType");
    if (!("shifts" in schedule)) return schedule;
    const dateParam = req.query.get("date");
    const at = dateParam ? Date.parse(dateParam) : Date.now();
    if (Number.isNaN(at)) return reply(422, { message: "date is not a valid ISO 8601 date" });
    const now = schedule.shifts.filter((s) => s.start.getTime() <= at && s.end.getTime() > at);
    const emails = [...new Set(now.map((s) => s.email))];
    const typeOf = (name: string) => now.find((s) => s.email === name)?.recipientType ?? "user";
    const parent = { id: schedule.id, name: schedule.name, enabled: schedule.enabled ?? true };
    const data =
      req.query.get("flat") === "true"
        ? { _parent: parent, onCallRecipients: emails }
        : { _parent: parent, onCallParticipants: emails.map((e) => ({ id: randomUUID(), name: e, type: typeOf(e) })) };
    return reply(200, { data });
  }
}

function reply(status: number, body: Record<string, unknown>): SimResponse {
  return { status, body: { ...body, took: 0.004, requestId: randomUUID() } };
}
