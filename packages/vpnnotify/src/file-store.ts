import { JsonStateFile, type Logger } from "@opsguard/core";
import { z } from "zod";
import type { UserHistory } from "./places";
import type { PlaceStore } from "./store";

const placeSchema = z.object({
  firstSeen: z.number(),
  lastSeen: z.number(),
  lastNotified: z.number().optional(),
  pendingUntil: z.number().optional(),
});
const historySchema = z.object({
  places: z.record(z.string(), placeSchema),
  last: z
    .object({
      time: z.number(),
      ip: z.string(),
      place: z.string(),
      countryCode: z.string().optional(),
      latitude: z.number().optional(),
      longitude: z.number().optional(),
      endedAt: z.number().optional(),
    })
    .optional(),
});
export const stateSchema = z.object({ version: z.literal(1), users: z.record(z.string(), historySchema) });
type State = z.output<typeof stateSchema>;

/** Every user's history in one JSON file, written atomically under core's file lock. */
export class FilePlaceStore implements PlaceStore {
  readonly name: string;
  readonly #file: JsonStateFile<State>;

  constructor(path: string, options: { log?: Logger; lockTimeoutMs?: number } = {}) {
    this.name = `state file ${path}`;
    this.#file = new JsonStateFile<State>({
      path,
      validate: stateSchema,
      empty: () => ({ version: 1, users: {} }),
      ...(options.log ? { log: options.log } : {}),
      lock: { timeoutMs: options.lockTimeoutMs ?? 1_500 },
    });
  }

  async update(user: string, change: (history: UserHistory | undefined) => UserHistory | undefined): Promise<UserHistory | undefined> {
    let result: UserHistory | undefined;
    await this.#file.update((state) => {
      result = change(state.users[user]);
      if (result) state.users[user] = result;
      return state;
    });
    return result;
  }

  async get(user: string): Promise<UserHistory | undefined> {
    return (await this.#file.load()).users[user];
  }

  async close(): Promise<void> {}
}
