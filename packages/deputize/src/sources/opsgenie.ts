import type { HttpClient } from "@opsguard/core";
import { mergePeople, person, type ScheduleOnCall } from "../people";
import type { Window } from "../window";
import type { Source } from "./source";

interface OnCallsReply {
  data?: { onCallRecipients?: string[] };
}

/**
 * Opsgenie `GET /v2/schedules/{id}/on-calls?flat=true`. The API answers for one instant, so a
 * look-ahead or grace window asks for its start, now and its end: people whose whole shift falls
 * strictly inside a longer window are not seen.
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
    const instants = [...new Set([window.since, window.now, window.until].map((d) => d.toISOString()))];
    return Promise.all(
      this.#schedules.map(async (schedule) => {
        const replies = await Promise.all(
          instants.map((date) =>
            this.#http.get<OnCallsReply>(`/v2/schedules/${encodeURIComponent(schedule)}/on-calls`, {
              scheduleIdentifierType: this.#identifierType,
              flat: true,
              date,
            }),
          ),
        );
        const people = replies.map((r) =>
          (r.body.data?.onCallRecipients ?? []).filter((e) => e.includes("@")).map((email) => person({ email })),
        );
        // Named as configured, so a sink's `schedules` list matches whether it says an id or a name.
        return { source: this.name, schedule, people: mergePeople(people) };
      }),
    );
  }
}
