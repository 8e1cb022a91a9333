import { ConfigError, collect, type HttpClient, paginateOffset } from "@opsguard/core";
import { mergePeople, type Person, person, type ScheduleOnCall } from "../people";
import type { Window } from "../window";
import type { Source } from "./source";

/** A configured schedule: an ID ("PABC123"), a name, or explicitly one of them. */
export type ScheduleRef = string | { id: string } | { name: string };

interface PdSchedule {
  id: string;
  name: string;
}

interface PdOnCall {
  escalation_level: number;
  schedule: { id: string } | null;
  user: { id: string; summary?: string; name?: string; email?: string };
}

interface PdUser {
  name?: string;
  email?: string;
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
        { limit: this.#pageSize, itemsOf: (body) => (body as { oncalls?: PdOnCall[] }).oncalls ?? [] },
      ),
    );
    return Promise.all(
      schedules.map(async (schedule) => {
        const mine = rows.filter((r) => r.schedule?.id === schedule.id);
        const people =
          mine.length === 0
            ? await this.#outsidePolicies(schedule, window)
            : mine
                .filter((r) => !this.#levels || this.#levels.includes(r.escalation_level))
                .flatMap((r) => (r.user.email ? [person({ email: r.user.email, name: r.user.name ?? r.user.summary })] : []));
        return { source: this.name, schedule: schedule.name, people: mergePeople([people]) };
      }),
    );
  }

  /** Who is on a schedule that /oncalls did not list: in no escalation policy, or nobody on it now. */
  async #outsidePolicies(schedule: PdSchedule, window: Window): Promise<Person[]> {
    const path = `/schedules/${encodeURIComponent(schedule.id)}`;
    if (this.#levels) {
      // Levels belong to escalation policies: a schedule in none has no level to filter on.
      const { body } = await this.#http.request<{ schedule?: { escalation_policies?: unknown[] } }>({ url: path });
      if ((body.schedule?.escalation_policies ?? []).length > 0) return [];
      throw new ConfigError(
        `${this.name}: PagerDuty schedule "${schedule.name}" is in no escalation policy, so escalationLevels cannot apply to it`,
        {
          hint: "drop escalationLevels from this source, or add the schedule to an escalation policy",
        },
      );
    }
    const { body } = await this.#http.request<{ users?: PdUser[] }>({
      url: `${path}/users`,
      query: { since: window.since.toISOString(), until: window.until.toISOString() },
    });
    return (body.users ?? []).flatMap((u) => (u.email ? [person({ email: u.email, name: u.name })] : []));
  }

  async #resolve(ref: ScheduleRef): Promise<PdSchedule> {
    const spec = typeof ref === "string" ? (/^P[A-Z0-9]{6}$/.test(ref) ? { id: ref } : { name: ref }) : ref;
    if ("id" in spec) return { id: spec.id, name: spec.id };
    const found = await collect(
      paginateOffset<PdSchedule>(
        this.#http,
        { url: "/schedules", query: { query: spec.name } },
        { limit: this.#pageSize, itemsOf: (body) => (body as { schedules?: PdSchedule[] }).schedules ?? [] },
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
