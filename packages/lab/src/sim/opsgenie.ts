import { randomUUID } from "node:crypto";
import { type SimRequest, type SimResponse, SimServer } from "./server";

export interface OpsgenieShift {
  email: string;
  start: Date;
  end: Date;
}

export interface OpsgenieSchedule {
  id: string;
  name: string;
  enabled?: boolean;
  shifts: OpsgenieShift[];
}

/**
 * Opsgenie Schedule API v2 simulator: `GET /v2/schedules/{identifier}/on-calls` by id or name
 * (`scheduleIdentifierType`), `flat=true` for recipient emails, `date` for another instant,
 * `Authorization: GenieKey …`, and Opsgenie's `{message, took, requestId}` bodies.
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
  }

  addSchedule(schedule: OpsgenieSchedule): OpsgenieSchedule {
    this.schedules.push(schedule);
    return schedule;
  }

  #onCalls(req: SimRequest): SimResponse {
    const identifier = req.params.identifier ?? "";
    const type = req.query.get("scheduleIdentifierType") ?? "id";
    if (type !== "id" && type !== "name") return reply(422, { message: "scheduleIdentifierType should be one of: id, name" });
    const schedule = this.schedules.find((s) => (type === "id" ? s.id : s.name) === identifier);
    if (!schedule) return reply(404, { message: `Schedule with identifier [${identifier}] doesn't exist` });
    const dateParam = req.query.get("date");
    const at = dateParam ? Date.parse(dateParam) : Date.now();
    if (Number.isNaN(at)) return reply(422, { message: "date is not a valid ISO 8601 date" });
    const emails = [...new Set(schedule.shifts.filter((s) => s.start.getTime() <= at && s.end.getTime() > at).map((s) => s.email))];
    const parent = { id: schedule.id, name: schedule.name, enabled: schedule.enabled ?? true };
    const data =
      req.query.get("flat") === "true"
        ? { _parent: parent, onCallRecipients: emails }
        : { _parent: parent, onCallParticipants: emails.map((e) => ({ id: randomUUID(), name: e, type: "user" })) };
    return reply(200, { data });
  }
}

function reply(status: number, body: Record<string, unknown>): SimResponse {
  return { status, body: { ...body, took: 0.004, requestId: randomUUID() } };
}
