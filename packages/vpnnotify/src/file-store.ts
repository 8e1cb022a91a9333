import { resolve } from "node:path";
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
const lastLoginSchema = z.object({
  time: z.number(),
  ip: z.string(),
  place: z.string(),
  countryCode: z.string().optional(),
  latitude: z.number().optional(),
  longitude: z.number().optional(),
  endedAt: z.number().optional(),
});
const historySchema = z.object({
  places: z.record(z.string(), placeSchema),
  last: lastLoginSchema.optional(),
  located: lastLoginSchema.optional(),
  disowned: z.record(z.string(), z.object({ login: z.number(), answeredAt: z.number(), lastSeen: z.number().optional() })).optional(),
});
export const stateSchema = z.object({ version: z.literal(1), users: z.record(z.string(), historySchema) });
type State = z.output<typeof stateSchema>;

/**
 * The updates of each state file under way in this process, chained. The file lock is for other processes: the
 * worker's concurrent alerts taking it against each other waited on their own pid and, past the lock's timeout,
 * decided "state unavailable" — a new country not escalated, a login not remembered (a storm, finding 1 of r18).
 * So one update at a time per file within the process, each taking the file lock only when its turn comes.
 */
const pending = new Map<string, Promise<unknown>>();

function inTurn<T>(path: string, run: () => Promise<T>): Promise<T> {
  const turn = (pending.get(path) ?? Promise.resolve()).then(run);
  const settled = turn.then(
    () => {},
    () => {},
  );
  pending.set(path, settled);
  // The last in line leaves an empty map behind: no growth over a long-lived worker's many files.
  void settled.then(() => {
    if (pending.get(path) === settled) pending.delete(path);
  });
  return turn;
}

/** Every user's history in one JSON file, written atomically under core's file lock, one update at a time per process. */
export class FilePlaceStore implements PlaceStore {
  readonly name: string;
  readonly #file: JsonStateFile<State>;
  readonly #path: string;

  constructor(path: string, options: { log?: Logger; lockTimeoutMs?: number } = {}) {
    this.name = `state file ${path}`;
    this.#path = resolve(path);
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
    await inTurn(this.#path, () =>
      this.#file.update((state) => {
        result = change(state.users[user]);
        if (result) state.users[user] = result;
        return state;
      }),
    );
    return result;
  }

  async get(user: string): Promise<UserHistory | undefined> {
    return (await this.#file.load()).users[user];
  }

  async close(): Promise<void> {}
}
