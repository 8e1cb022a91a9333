import { ConfigError, collect, DataError, type HttpClient, HttpError, paginateOffset } from "@opsguard/core";
import { z } from "zod";
import { mergePeople, person, type ScheduleOnCall } from "../people";
import type { Window } from "../window";
import { byStart, type ScheduleShifts, type Shift, type Source } from "./source";

/** A configured schedule: an ID ("PABC123"), a name, or explicitly one of them. */
export type ScheduleRef = string | { id: string } | { name: string };

interface PdSchedule {
  id: string;
  name: string;
}

// What deputize relies on in PagerDuty's answers. A page that does not match is an error, never
// "nobody on call": an empty group built from a broken answer would revoke everyone's access.
const userSchema = z.object({ email: z.string().min(1), name: z.string().optional(), summary: z.string().nullish() });
const onCallPage = z.object({
  oncalls: z.array(
    z.object({
      escalation_level: z.number().int(),
      schedule: z.object({ id: z.string() }).nullable(),
      // include[]=users: the full user, with the email people are matched by.
      user: userSchema,
      // "If null, the on-call is a permanent user on-call" (Oncall.start/end in the OpenAPI description).
      start: z.string().nullish(),
      end: z.string().nullish(),
    }),
  ),
});
const schedulePage = z.object({ schedules: z.array(z.object({ id: z.string(), name: z.string() })) });
const scheduleUsers = z.object({ users: z.array(userSchema.extend({ id: z.string() })) });
// GET /schedules/{id}?since&until: final_schedule.rendered_schedule_entries (ScheduleLayerEntry: a
// UserReference, start, and an end that "if null, the entry does not end").
const renderedSchedule = z.object({
  schedule: z.object({
    final_schedule: z.object({
      rendered_schedule_entries: z
        .array(z.object({ user: z.object({ id: z.string() }), start: z.string(), end: z.string().nullable() }))
        .default([]),
    }),
  }),
});
type PdOnCall = z.output<typeof onCallPage>["oncalls"][number];

/** The answer as `schema` describes it, or a DataError naming the request. */
function expectShape<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new DataError(`PagerDuty answered ${what} in an unexpected shape (${issue?.path.join(".") || "body"}: ${issue?.message})`, {
    hint: "check baseUrl points at the PagerDuty REST API",
  });
}

/**
 * PagerDuty REST v2: schedule names resolved with `GET /schedules?query=` and matched exactly on
 * the client (the API filter is a substring match), then one paged `GET /oncalls` for all of them.
 * /oncalls lists only schedules an escalation policy uses, so a schedule with no row there is read
 * with `GET /schedules/{id}/users` (everyone on it in the window), as the original tool did.
 */
export class PagerDutySource implements Source {
  readonly name: string;
  readonly #http: HttpClient;
  readonly #schedules: readonly ScheduleRef[];
  readonly #levels: readonly number[] | undefined;
  readonly #pageSize: number;

  constructor(options: {
    name: string;
    http: HttpClient;
    schedules: readonly ScheduleRef[];
    escalationLevels?: readonly number[] | undefined;
    /** Items per page; the API allows up to 100. */
    pageSize?: number;
  }) {
    this.name = options.name;
    this.#http = options.http;
    this.#schedules = options.schedules;
    this.#levels = options.escalationLevels;
    this.#pageSize = options.pageSize ?? 100;
  }

  async onCall(window: Window): Promise<ScheduleOnCall[]> {
    const { schedules, rows } = await this.#onCallRows(window);
    return Promise.all(
      schedules.map(async (schedule) => {
        const mine = this.#rowsOf(schedule, rows);
        const people = !mine
          ? (await this.#outsidePolicyUsers(schedule, window)).map((u) => person({ email: u.email, name: u.name }))
          : mine.map((r) => person({ email: r.user.email, name: r.user.name ?? r.user.summary ?? undefined }));
        return { source: this.name, schedule: schedule.name, people: mergePeople([people]) };
      }),
    );
  }

  /**
   * Who is on call when: the start and end of each /oncalls row; a schedule with no row there is read
   * rendered (`GET /schedules/{id}?since&until`, whose entries name users by id) and its users'
   * e-mails from `GET /schedules/{id}/users` over the same window: two reads for such a schedule.
   */
  async shifts(window: Window): Promise<ScheduleShifts[]> {
    const { schedules, rows } = await this.#onCallRows(window);
    return Promise.all(
      schedules.map(async (schedule) => {
        const mine = this.#rowsOf(schedule, rows);
        const shifts: Shift[] = !mine
          ? await this.#renderedShifts(schedule, window)
          : mine.map((r) => ({
              person: person({ email: r.user.email, name: r.user.name ?? r.user.summary ?? undefined }),
              start: date(r.start),
              end: date(r.end),
            }));
        return { source: this.name, schedule: schedule.name, shifts: shifts.sort(byStart) };
      }),
    );
  }

  /** The configured schedules and one paged `GET /oncalls` for all of them, filtered to the configured levels. */
  async #onCallRows(window: Window): Promise<{ schedules: PdSchedule[]; rows: PdOnCall[] }> {
    const schedules = await Promise.all(this.#schedules.map((ref) => this.#resolve(ref)));
    const rows = await collect(
      paginateOffset<PdOnCall>(
        this.#http,
        {
          url: "/oncalls",
          query: {
            "schedule_ids[]": schedules.map((s) => s.id),
            "include[]": ["users"],
            since: window.since.toISOString(),
            until: window.until.toISOString(),
          },
        },
        { limit: this.#pageSize, itemsOf: (body) => expectShape(onCallPage, body, "GET /oncalls").oncalls },
      ),
    );
    return { schedules, rows };
  }

  /** A schedule's rows at the configured levels; undefined when /oncalls listed none (outside every policy, or nobody on it). */
  #rowsOf(schedule: PdSchedule, rows: readonly PdOnCall[]): PdOnCall[] | undefined {
    const mine = rows.filter((r) => r.schedule?.id === schedule.id);
    return mine.length === 0 ? undefined : mine.filter((r) => !this.#levels || this.#levels.includes(r.escalation_level));
  }

  async #renderedShifts(schedule: PdSchedule, window: Window): Promise<Shift[]> {
    const users = await this.#outsidePolicyUsers(schedule, window);
    if (users.length === 0) return [];
    const path = `/schedules/${encodeURIComponent(schedule.id)}`;
    const { body } = await this.#http
      .request({
        url: path,
        query: { since: window.since.toISOString(), until: window.until.toISOString() },
      })
      .catch((error: unknown) => Promise.reject(this.#unknownSchedule(schedule, error)));
    const byId = new Map(users.map((u) => [u.id, u]));
    return expectShape(renderedSchedule, body, `GET ${path}`).schedule.final_schedule.rendered_schedule_entries.flatMap((e) => {
      const u = byId.get(e.user.id);
      return u ? [{ person: person({ email: u.email, name: u.name }), start: date(e.start), end: date(e.end) }] : [];
    });
  }

  /** Who is on a schedule that /oncalls did not list: in no escalation policy, or nobody on it now. */
  async #outsidePolicyUsers(schedule: PdSchedule, window: Window): Promise<z.output<typeof scheduleUsers>["users"]> {
    const path = `/schedules/${encodeURIComponent(schedule.id)}`;
    if (this.#levels) {
      // Levels belong to escalation policies: a schedule in none has no level to filter on.
      const { body } = await this.#http
        .request<{ schedule?: { escalation_policies?: unknown[] } }>({ url: path })
        .catch((error: unknown) => Promise.reject(this.#unknownSchedule(schedule, error)));
      if ((body.schedule?.escalation_policies ?? []).length > 0) return [];
      throw new ConfigError(
        `${this.name}: PagerDuty schedule "${schedule.name}" is in no escalation policy, so escalationLevels cannot apply to it`,
        {
          hint: "drop escalationLevels from this source, or add the schedule to an escalation policy",
        },
      );
    }
    const { body } = await this.#http
      .request({
        url: `${path}/users`,
        query: { since: window.since.toISOString(), until: window.until.toISOString() },
      })
      .catch((error: unknown) => Promise.reject(this.#unknownSchedule(schedule, error)));
    return expectShape(scheduleUsers, body, `GET ${path}/users`).users;
  }

  /**
   * PagerDuty's 404 on /schedules/{id} (its contract's "Not Found", code 2100) is a schedule ID that
   * was deleted or mistyped: the config's to fix (78), as an unknown name and Opsgenie's 404 are.
   */
  #unknownSchedule(schedule: PdSchedule, error: unknown): unknown {
    if (!(error instanceof HttpError && error.status === 404)) return error;
    const what = schedule.name === schedule.id ? "" : ` (it was "${schedule.name}")`;
    return new ConfigError(`${this.name}: no PagerDuty schedule has ID ${schedule.id}${what}; PagerDuty answered 404 Not Found`, {
      hint: "deleted? check the schedule in sources[].schedules",
      cause: error,
    });
  }

  async #resolve(ref: ScheduleRef): Promise<PdSchedule> {
    const spec = typeof ref === "string" ? (/^P[A-Z0-9]{6}$/.test(ref) ? { id: ref } : { name: ref }) : ref;
    if ("id" in spec) return { id: spec.id, name: spec.id };
    const found = await collect(
      paginateOffset<PdSchedule>(
        this.#http,
        { url: "/schedules", query: { query: spec.name } },
        // An answer not in this shape (a proxy's HTML page) is unusable (65), not "no schedule is named" (78, T41 F8).
        { limit: this.#pageSize, itemsOf: (body) => expectShape(schedulePage, body, "GET /schedules").schedules },
      ),
    );
    const exact = found.filter((s) => s.name === spec.name);
    if (exact.length === 0) {
      const near = found.map((s) => `"${s.name}"`).slice(0, 3);
      throw new ConfigError(`${this.name}: no PagerDuty schedule is named "${spec.name}"`, {
        hint: near.length > 0 ? `did you mean ${near.join(", ")}?` : "check the name, or use the schedule ID",
      });
    }
    if (exact.length > 1) {
      throw new ConfigError(`${this.name}: ${exact.length} PagerDuty schedules are named "${spec.name}"`, {
        hint: `use the ID instead: ${exact.map((s) => s.id).join(", ")}`,
      });
    }
    return exact[0] as PdSchedule;
  }
}

function date(text: string | null | undefined): Date | null {
  if (!text) return null;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new DataError(`PagerDuty answered an on-call time that is not a date: ${JSON.stringify(text)}`);
  return new Date(t);
}
