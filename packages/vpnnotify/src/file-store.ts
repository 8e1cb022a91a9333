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
export const marksSchema = z.record(z.string(), z.object({ login: z.number(), answeredAt: z.number(), lastSeen: z.number().optional() }));
const historySchema = z.object({
  places: z.record(z.string(), placeSchema),
  last: lastLoginSchema.optional(),
  located: lastLoginSchema.optional(),
  // Written here only by the builds of session 38 before the marks moved to their own file: read, and moved out on the next write.
  disowned: marksSchema.optional(),
});
/**
 * Version 1, as every build writes it: a build from before the "disowned" marks reads it too. A higher version is no
 * way to keep such a build off it: it sets the file aside as corrupt and starts again from empty (tried with main
 * f6302b5), so the marks went with it. They live in a file of their own (marksFileOf) that such a build never opens.
 */
export const stateSchema = z.object({ version: z.literal(1), users: z.record(z.string(), historySchema) });
type State = z.output<typeof stateSchema>;
const marksStateSchema = z.object({ version: z.literal(1), users: z.record(z.string(), marksSchema) });
type MarksState = z.output<typeof marksStateSchema>;

/** The file beside the state file that holds the "disowned" marks: state.json -> state.disowned.json. */
export function marksFileOf(stateFile: string): string {
  return stateFile.endsWith(".json") ? `${stateFile.slice(0, -".json".length)}.disowned.json` : `${stateFile}.disowned.json`;
}

/**
 * A history with its marks from wherever they are kept: the separate store's (`kept`), and those a build of this
 * session wrote into the history itself. The same place in both: the later answer stands.
 */
export function withMarks(history: UserHistory | undefined, kept: UserHistory["disowned"]): UserHistory | undefined {
  const inline = history?.disowned ?? {};
  const marks = { ...inline };
  for (const [key, mark] of Object.entries(kept ?? {})) {
    const before = marks[key];
    if (!before || before.answeredAt <= mark.answeredAt) marks[key] = mark;
  }
  if (Object.keys(marks).length === 0) return history;
  return { ...(history ?? { places: {} }), disowned: marks };
}

/** A history split for writing: the history as every build reads it, and its marks for their own store. */
export function splitMarks(history: UserHistory): { history: UserHistory; marks: UserHistory["disowned"] } {
  const { disowned, ...rest } = history;
  return { history: rest, marks: disowned };
}

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

/**
 * Every user's history in one JSON file, written atomically under core's file lock, one update at a time per process;
 * the users' "disowned" marks in a second file beside it (marksFileOf), written under the first file's lock too. A
 * build from before the marks rewrites the first file without knowing them, and never touches the second (T64 N2).
 */
export class FilePlaceStore implements PlaceStore {
  readonly name: string;
  readonly #file: JsonStateFile<State>;
  readonly #marks: JsonStateFile<MarksState>;
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
    this.#marks = new JsonStateFile<MarksState>({
      path: marksFileOf(path),
      validate: marksStateSchema,
      empty: () => ({ version: 1, users: {} }),
      ...(options.log ? { log: options.log } : {}),
      // Taken only while the state file's lock is held: every writer takes the two in that order.
      lock: { timeoutMs: options.lockTimeoutMs ?? 1_500 },
    });
  }

  async update(user: string, change: (history: UserHistory | undefined) => UserHistory | undefined): Promise<UserHistory | undefined> {
    let result: UserHistory | undefined;
    await inTurn(this.#path, () =>
      this.#file.update(async (state) => {
        // The marks are written first: a crash between the two writes leaves a mark without its history's change,
        // never a history without its mark.
        await this.#marks.update((marks) => {
          result = change(withMarks(state.users[user], marks.users[user]));
          if (!result) return marks;
          const split = splitMarks(result);
          state.users[user] = split.history;
          if (split.marks) marks.users[user] = split.marks;
          else delete marks.users[user];
          return marks;
        });
        return state;
      }),
    );
    return result;
  }

  async get(user: string): Promise<UserHistory | undefined> {
    const [state, marks] = await Promise.all([this.#file.load(), this.#marks.load()]);
    return withMarks(state.users[user], marks.users[user]);
  }

  async close(): Promise<void> {}
}
