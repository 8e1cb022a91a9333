import { ConfigError, DataError, type HttpClient, HttpError } from "@opsguard/core";
import { z } from "zod";
import { mergePeople, person, type ScheduleOnCall } from "../people";
import type { Window } from "../window";
import { byStart, type ScheduleShifts, type Shift, type Source } from "./source";

const recipient = z.object({ type: z.string().optional(), name: z.string().optional() });
// What deputize relies on in a timeline; anything else is an error, never "nobody on call".
const timelineReply = z.object({
  data: z.object({
    finalTimeline: z.object({
      rotations: z.array(
        z.object({
          name: z.string().optional(),
          periods: z
            .array(
              z.object({
                startDate: z.string(),
                endDate: z.string(),
                recipient: recipient.optional(),
                flattenedRecipients: z.array(recipient).optional(),
              }),
            )
            .optional(),
        }),
      ),
    }),
  }),
});

const DAY_MS = 86_400_000;

/**
 * Opsgenie `GET /v2/schedules/{id}/timeline`: the final timeline (rotations with overrides and
 * forwardings applied) from the window's start, one request per schedule. Everyone with a period
 * overlapping the window is on call, so a short shift entirely inside a long look-ahead or grace
 * window is seen too (the on-calls API answers for one instant only).
 */
export class OpsgenieSource implements Source {
  readonly name: string;
  readonly #http: HttpClient;
  readonly #schedules: readonly string[];
  readonly #identifierType: "id" | "name";

  constructor(options: { name: string; http: HttpClient; schedules: readonly string[]; identifierType: "id" | "name" }) {
    this.name = options.name;
    this.#http = options.http;
    this.#schedules = options.schedules;
    this.#identifierType = options.identifierType;
  }

  async onCall(window: Window): Promise<ScheduleOnCall[]> {
    return (await this.shifts(window)).map(({ source, schedule, shifts }) => ({
      source,
      schedule,
      people: mergePeople([shifts.map((s) => s.person)]),
    }));
  }

  /** Each period of the final timeline that overlaps the window, with its user. */
  async shifts(window: Window): Promise<ScheduleShifts[]> {
    const since = window.since.getTime();
    const until = window.until.getTime();
    // One day more than the window: the timeline may begin at the start of `date`'s day, not at `date`.
    const days = Math.ceil((until - since) / DAY_MS) + 1;
    return Promise.all(
      this.#schedules.map(async (schedule) => {
        const reply = await this.#http
          .get(`/v2/schedules/${encodeURIComponent(schedule)}/timeline`, {
            identifierType: this.#identifierType,
            date: window.since.toISOString(),
            interval: days,
            intervalUnit: "days",
          })
          .catch((error: unknown) => {
            throw unknownSchedule(this.name, schedule, this.#identifierType, error);
          });
        const parsed = timelineReply.safeParse(reply.body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new DataError(
            `Opsgenie answered the timeline of ${schedule} in an unexpected shape (${issue?.path.join(".") || "body"}: ${issue?.message})`,
            { hint: "check baseUrl points at the Opsgenie API" },
          );
        }
        const shifts: Shift[] = [];
        for (const rotation of parsed.data.data.finalTimeline.rotations) {
          for (const period of rotation.periods ?? []) {
            const start = Date.parse(period.startDate);
            const end = Date.parse(period.endDate);
            if (Number.isNaN(start) || Number.isNaN(end)) {
              throw new DataError(`Opsgenie answered a period of ${schedule} without valid dates`, {
                hint: "check baseUrl points at the Opsgenie API",
              });
            }
            // An instant window (no look-ahead, no grace) is covered by the period holding it.
            if (!(start <= until && end > since && (start < until || since === until))) continue;
            const recipients = period.recipient?.type === "user" ? [period.recipient] : (period.flattenedRecipients ?? []);
            // A team, escalation or schedule on call (Opsgenie allows them as rotation participants) is no person
            // deputize can give access to: dropped, its people got none and nothing said so (T41 F4). The source
            // fails instead, as for any identity it cannot use (65): no sink is changed on part of the list.
            const other = recipients.length === 0 ? (period.recipient ?? {}) : recipients.find((r) => r.type !== "user" || !r.name);
            if (other) {
              throw new DataError(
                `Opsgenie schedule ${schedule} has ${other.type ?? "an unnamed"} recipient ${JSON.stringify(other.name ?? "")} on call in rotation ${JSON.stringify(rotation.name ?? "")}, not a user deputize can give access to`,
                { hint: "make the rotation's participants users, not a team, escalation or schedule" },
              );
            }
            for (const r of recipients) shifts.push({ person: person({ email: r.name }), start: new Date(start), end: new Date(end) });
          }
        }
        // Named as configured, so a sink's `schedules` list matches whether it says an id or a name.
        return { source: this.name, schedule, shifts: shifts.sort(byStart) };
      }),
    );
  }
}

/**
 * Opsgenie's 404 for a schedule deleted or renamed (or a wrong identifierType) is the config's to fix, as
 * PagerDuty's unknown schedule name is (78, T41 F5); any other failure is passed on as it is.
 */
function unknownSchedule(source: string, schedule: string, identifierType: "id" | "name", error: unknown): unknown {
  if (!(error instanceof HttpError && error.status === 404)) return error;
  const what = identifierType === "name" ? `is named ${JSON.stringify(schedule)}` : `has the id ${JSON.stringify(schedule)}`;
  return new ConfigError(`${source}: no Opsgenie schedule ${what} (${error.message})`, {
    hint: `check the schedule's ${identifierType} in the config${identifierType === "name" ? ", or use its id with identifierType: id" : ""}`,
  });
}
