import type { HttpClient } from "@opsguard/core";
import { mergePeople, person, type ScheduleOnCall } from "../people";
import type { Window } from "../window";
import type { Source } from "./source";

interface Recipient {
  type?: string;
  name?: string;
}

interface TimelineReply {
  data?: {
    finalTimeline?: {
      rotations?: Array<{
        periods?: Array<{ startDate?: string; endDate?: string; recipient?: Recipient; flattenedRecipients?: Recipient[] }>;
      }>;
    };
  };
}

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
    const since = window.since.getTime();
    const until = window.until.getTime();
    // One day more than the window: the timeline may begin at the start of `date`'s day, not at `date`.
    const days = Math.ceil((until - since) / DAY_MS) + 1;
    return Promise.all(
      this.#schedules.map(async (schedule) => {
        const reply = await this.#http.get<TimelineReply>(`/v2/schedules/${encodeURIComponent(schedule)}/timeline`, {
          identifierType: this.#identifierType,
          date: window.since.toISOString(),
          interval: days,
          intervalUnit: "days",
        });
        const emails: string[] = [];
        for (const rotation of reply.body.data?.finalTimeline?.rotations ?? []) {
          for (const period of rotation.periods ?? []) {
            const start = Date.parse(period.startDate ?? "");
            const end = Date.parse(period.endDate ?? "");
            // An instant window (no look-ahead, no grace) is covered by the period holding it.
            if (!(start <= until && end > since && (start < until || since === until))) continue;
            const recipients = period.recipient?.type === "user" ? [period.recipient] : (period.flattenedRecipients ?? []);
            for (const r of recipients) if (r.type === "user" && r.name?.includes("@")) emails.push(r.name);
          }
        }
        // Named as configured, so a sink's `schedules` list matches whether it says an id or a name.
        return { source: this.name, schedule, people: mergePeople([emails.map((email) => person({ email }))]) };
      }),
    );
  }
}
