import type { HttpClient } from "@opsguard/core";
import type { Person } from "../people";
import type { DeputizeState } from "../state";
import type { PlanContext, Sink, SinkPlan } from "./sink";

export interface WebhookSinkOptions {
  name: string;
  http: HttpClient;
  url: string;
  state: DeputizeState;
  schedules?: readonly string[] | undefined;
}

/**
 * A generic webhook: a JSON POST of the previous and the new on-call set, sent only when the set
 * changed since the last delivery (remembered in the state file, and in Redis for a lease.redis
 * pair, as a webhook cannot be read back).
 */
export class WebhookSink implements Sink {
  readonly kind = "webhook";
  readonly name: string;
  readonly schedules: readonly string[] | undefined;
  readonly #o: WebhookSinkOptions;

  constructor(options: WebhookSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.schedules = options.schedules;
  }

  async plan(people: readonly Person[], context: PlanContext = {}): Promise<SinkPlan> {
    const keys = people.map((p) => p.key).sort();
    const shared = context.announced;
    // With lease.redis the pair's record comes first: this host's own file does not know what the
    // other host delivered (T56 F14). No shared record yet (the first run with it): this host's file.
    const announced = (await shared?.announced(this.name)) ?? (await this.#o.state.announced(this.name));
    const previous = announced ?? [];
    const add = keys.filter((k) => !previous.includes(k));
    const remove = previous.filter((k) => !keys.includes(k));
    const first = announced === undefined;
    const changed = first || add.length > 0 || remove.length > 0;
    return {
      current: previous,
      desired: keys,
      add,
      remove,
      updates: changed && add.length === 0 && remove.length === 0 ? ["first delivery of the on-call set"] : [],
      unresolved: [],
      // A webhook announces the set as it is; it has nobody to look up.
      placed: people.length,
      apply: async () => {
        if (!changed) return;
        await this.#o.http.request({
          method: "POST",
          url: this.#o.url,
          body: {
            sink: this.name,
            at: new Date().toISOString(),
            previous,
            current: people.map((p) => ({ key: p.key, email: p.email, uid: p.uid, name: p.name })),
            added: add,
            removed: remove,
          },
        });
        // Recorded only now that the receiver took it: a failed POST is delivered again by the next run.
        await shared?.record(this.name, keys);
        await this.#o.state.recordAnnounced(this.name, keys);
      },
    };
  }
}
