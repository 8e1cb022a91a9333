import { ConfigError, collect, type HttpClient, paginateOffset } from "@opsguard/core";
import { mergePeople, person, type ScheduleOnCall } from "../people";
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

/**
 * PagerDuty REST v2: schedule names resolved with `GET /schedules?query=` and matched exactly on
 * the client (the API filter is a substring match), then one paged `GET /oncalls` for all of them.
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
    return schedules.map((schedule) => {
      const people = rows
        .filter((r) => r.schedule?.id === schedule.id && (!this.#levels || this.#levels.includes(r.escalation_level)))
        .flatMap((r) => (r.user.email ? [person({ email: r.user.email, name: r.user.name ?? r.user.summary })] : []));
      return { source: this.name, schedule: schedule.name, people: mergePeople([people]) };
    });
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
