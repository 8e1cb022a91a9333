import { constants } from "node:fs";
import { type FileHandle, open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { escapeLine, formatIssues, JsonStateFile, type Logger, removeOrphanedTemps, withLock, writeFileAtomic } from "@opsguard/core";
import { z } from "zod";
import { markSeen, type UserHistory } from "./places";
import {
  historyWhileMarksUnreadable,
  type MarkPick,
  type Marks,
  MarksInHistoryError,
  MarksUnreadableError,
  marksPlaceProblem,
  markUserProblem,
  type PlaceStore,
  withoutMarks,
} from "./store";

const placeSchema = z.object({
  firstSeen: z.number(),
  lastSeen: z.number(),
  lastNotified: z.number().optional(),
  pendingUntil: z.number().optional(),
});
/** A login as the history and a spooled alert's decision both keep it (UserHistory.last / located, Decision.previous). */
export const lastLoginSchema = z.object({
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
  const { disowned, marksUnreadable: _, ...rest } = history;
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
 * The largest marks file read. It holds only the users' "No" answers: two marks each (the address and its network),
 * at most maxPlacesPerUser per user, each under 160 bytes of JSON ("net:" and an IPv6 /64, three epoch-ms times).
 * 2 MiB is some 13,000 marks: 6,500 "No" answers, or 65 users each at the default 200 marks; it is read, parsed and
 * checked in about a tenth of the hook's 2000 ms deadline (8 MiB took 400–500 ms under load on 2 cores). A larger
 * file is no file vpnnotify wrote: it counts as unreadable (left as it is, every login told to the security channel)
 * instead of holding a login for seconds (T66 P3).
 */
export const MAX_MARKS_FILE_BYTES = 2 * 1024 * 1024;

/**
 * Makes room in a marks file that would cross MAX_MARKS_FILE_BYTES: drops the marks answered or seen longest ago, of
 * other users than `keep` (whose "No" is being recorded), down to 90 % of the cap, so the next few answers do not
 * each drop one more. Writing it over the cap would make the next read refuse it, and every login of every user reach
 * the security channel (T68 #1); the oldest marks are those nearest to expiring anyway. Returns how many were dropped.
 */
function dropOldestMarks(marks: MarksState, keep: string): number {
  const entries = Object.entries(marks.users)
    .filter(([user]) => user !== keep)
    .flatMap(([user, byKey]) =>
      Object.entries(byKey).map(([key, mark]) => ({
        user,
        key,
        at: markSeen(mark),
        bytes: Buffer.byteLength(JSON.stringify({ [key]: mark })),
      })),
    )
    .sort((a, b) => a.at - b.at);
  let over = Buffer.byteLength(JSON.stringify(marks)) + 1 - Math.floor(MAX_MARKS_FILE_BYTES * 0.9);
  let dropped = 0;
  for (const entry of entries) {
    if (over <= 0) break;
    const byKey = marks.users[entry.user]!;
    delete byKey[entry.key];
    over -= entry.bytes;
    if (Object.keys(byKey).length === 0) {
      delete marks.users[entry.user];
      over -= Buffer.byteLength(JSON.stringify(entry.user)) + 3;
    }
    dropped++;
  }
  return dropped;
}

/**
 * The marks file as read: its marks (none when it does not exist yet), or why it cannot be used, for every user
 * ("all": `marks`, `status`, `--remove`) or for one user's login (see the keys' check below).
 */
async function readMarksFile(path: string, scope: "all" | { user: string }): Promise<MarksState | MarksUnreadableError> {
  const keep = "vpnnotify leaves it as it is and never starts an empty one over it";
  const corrupt = (what: string) =>
    new MarksUnreadableError(
      `${path} ${what}`,
      `restore it from a backup (${keep}); to drop every "No" on purpose, move it away: the next login starts an empty one`,
    );
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: a symbolic link planted at its name is refused, never followed; O_NONBLOCK: a FIFO does not hang the open.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // No such file (ENOTDIR: a part of its path is a file, so there is none either): no "No" was recorded yet. The
    // state file's own use of that directory fails with its own message.
    if (code === "ENOENT" || code === "ENOTDIR") return { version: 1, users: {} };
    if (code === "ELOOP") return corrupt("is a symbolic link (refused, not followed)");
    if (code === "EACCES" || code === "EPERM") {
      const uid = process.getuid?.();
      return new MarksUnreadableError(
        `${path} cannot be read by ${uid === undefined ? "this user" : `uid ${uid}`}, the user vpnnotify runs as (permission denied)`,
        `give the file to that user, mode 600: chown ${uid ?? "<user>"} ${path} && chmod 600 ${path}`,
      );
    }
    return corrupt(`cannot be opened (${code ?? String(error)})`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return corrupt("is not a regular file");
    // Checked before reading: a huge file costs an fstat, not seconds of the login's deadline.
    if (stat.size > MAX_MARKS_FILE_BYTES) return corrupt(`is ${stat.size} bytes, over the ${MAX_MARKS_FILE_BYTES} a marks file may have`);
    const data = await handle.readFile();
    // It may have grown since the fstat (written through a hard link or by hand): the cap holds for what was read.
    if (data.length > MAX_MARKS_FILE_BYTES) return corrupt(`is over the ${MAX_MARKS_FILE_BYTES} bytes a marks file may have`);
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString("utf8"));
    } catch (error) {
      return corrupt(`is not valid JSON (${(error as Error).message})`);
    }
    const parsed = marksStateSchema.safeParse(raw);
    if (!parsed.success) return corrupt(`is not a marks file (${formatIssues(parsed.error)})`);
    // Keys no login, `marks USER` or `--remove` can reach: no vpnnotify wrote them, and read as they are they would be
    // listed but never count for anyone; refused as any other file that is not marks (T71 N2). For one user's login
    // (decide) only what could be theirs is checked, and fails closed for them: a user key that would be theirs in its
    // normal form ("Dave" for dave), and the places of their own marks. Another user's place matches no login of this
    // one, and checking every place of a file near the cap cost each hook 150–250 ms (13,000 keys, a cold process on
    // a loaded 2-core host); `marks` and `status` check them all.
    for (const [user, marks] of Object.entries(parsed.data.users)) {
      const name = markUserProblem(user);
      if (scope !== "all" && user !== scope.user && name?.normal !== scope.user) continue;
      const place = name ? undefined : marksPlaceProblem(marks);
      if (!name && !place) continue;
      const edit = `edit ${path} (vpnnotify leaves it as it is)`;
      return new MarksUnreadableError(
        `${path} is not a marks file (${name?.problem ?? place})`,
        name
          ? `${edit}: ${name.normal === undefined ? "remove that user's marks" : `move its marks under ${escapeLine(JSON.stringify(name.normal))} (beside that user's own, if any)`}, or restore it from a backup`
          : `${edit}: correct that place to the address or network it was meant to be, or remove its mark; or restore it from a backup`,
      );
    }
    return parsed.data;
  } catch (error) {
    return corrupt(`cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  } finally {
    await handle.close();
  }
}

/**
 * Every user's history in one JSON file, written atomically under core's file lock, one update at a time per process;
 * the users' "disowned" marks in a second file beside it (marksFileOf), written under the first file's lock too. A
 * build from before the marks rewrites the first file without knowing them, and never touches the second (T64 N2).
 * A marks file that cannot be read is never set aside or replaced (readMarksFile): the histories still work, and each
 * user's comes with `marksUnreadable` (T66 P1).
 */
export class FilePlaceStore implements PlaceStore {
  readonly name: string;
  readonly #file: JsonStateFile<State>;
  readonly #marksPath: string;
  readonly #lockTimeoutMs: number;
  readonly #log: Logger | undefined;
  readonly #path: string;
  #tempsSwept = false;
  readonly #said = new Set<string>();

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
    this.#marksPath = marksFileOf(path);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 1_500;
    this.#log = options.log;
  }

  async update(user: string, change: (history: UserHistory | undefined) => UserHistory | undefined): Promise<UserHistory | undefined> {
    let result: UserHistory | undefined;
    await inTurn(this.#path, () =>
      this.#file.update(async (state) => {
        // The marks are written first: a crash between the two writes leaves a mark without its history's change,
        // never a history without its mark. Their lock is taken only while the state file's is held (every writer
        // takes the two in that order), and is the one earlier builds of this session take (JsonStateFile's).
        await withLock(
          this.#marksPath,
          async () => {
            if (!this.#tempsSwept) {
              await removeOrphanedTemps(this.#marksPath);
              this.#tempsSwept = true;
            }
            const marks = await readMarksFile(this.#marksPath, { user });
            if (marks instanceof MarksUnreadableError) {
              this.#unreadable(marks);
              const history = state.users[user];
              result = change({ ...(history ?? { places: {} }), marksUnreadable: marks.problem });
              if (result) state.users[user] = historyWhileMarksUnreadable(history?.disowned, result, marks);
              return;
            }
            result = change(withMarks(state.users[user], marks.users[user]));
            if (!result) return;
            const before = JSON.stringify(marks);
            const split = splitMarks(result);
            state.users[user] = split.history;
            if (split.marks) marks.users[user] = split.marks;
            else delete marks.users[user];
            let text = JSON.stringify(marks);
            if (Buffer.byteLength(text) + 1 > MAX_MARKS_FILE_BYTES) {
              const dropped = dropOldestMarks(marks, user);
              text = JSON.stringify(marks);
              this.#log?.warn('the "not me" marks file is full: its oldest marks were dropped to keep it readable', {
                file: this.#marksPath,
                dropped,
                fix: "lower policy.forgetAfterDays or policy.maxPlacesPerUser, so marks expire before the file fills",
              });
            }
            if (text !== before) await writeFileAtomic(this.#marksPath, `${text}\n`);
          },
          { timeoutMs: this.#lockTimeoutMs },
        );
        return state;
      }),
    );
    return result;
  }

  async get(user: string): Promise<UserHistory | undefined> {
    const [state, marks] = await Promise.all([this.#file.load(), readMarksFile(this.#marksPath, { user })]);
    if (!(marks instanceof MarksUnreadableError)) return withMarks(state.users[user], marks.users[user]);
    this.#unreadable(marks);
    return { ...(state.users[user] ?? { places: {} }), marksUnreadable: marks.problem };
  }

  /** What `vpnnotify status` reports: the marks file's problem, if it has one. */
  async check(): Promise<MarksUnreadableError | undefined> {
    const marks = await readMarksFile(this.#marksPath, "all");
    return marks instanceof MarksUnreadableError ? marks : undefined;
  }

  async listMarks(user?: string): Promise<Map<string, Marks>> {
    const [marks, histories] = await Promise.all([readMarksFile(this.#marksPath, "all"), this.#historiesAsTheyAre()]);
    if (marks instanceof MarksUnreadableError) throw marks;
    const result = new Map<string, Marks>();
    for (const name of new Set([...Object.keys(marks.users), ...Object.keys(histories?.users ?? {})])) {
      if (user !== undefined && name !== user) continue;
      const merged = withMarks(histories?.users[name], marks.users[name])?.disowned;
      if (merged && Object.keys(merged).length > 0) result.set(name, merged);
    }
    return result;
  }

  /**
   * The histories file as it is, for the marks an earlier build kept inside a history: read only, never set aside as
   * JsonStateFile.load does with a corrupt one. One that cannot be read or parsed holds none that count (a writer
   * starts from an empty state then).
   */
  async #historiesAsTheyAre(): Promise<State | undefined> {
    try {
      const parsed = stateSchema.safeParse(JSON.parse(await readFile(this.#path, "utf8")));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** The picked marks an earlier build kept inside the user's history: they cannot be removed without writing it. */
  async #refuseMarksInHistory(user: string, which: MarkPick): Promise<void> {
    const inside = withoutMarks((await this.#historiesAsTheyAre())?.users[user]?.disowned ?? {}, which).removed;
    if (Object.keys(inside).length > 0) throw new MarksInHistoryError(user, Object.keys(inside));
  }

  async removeMarks(user: string, which: MarkPick): Promise<{ removed: Marks; left: Marks }> {
    // Looked at first without a lock: a mark that is not there (or a file that cannot be read) takes no lock and
    // creates no lock file beside a state that may not exist.
    const first = await readMarksFile(this.#marksPath, "all");
    if (first instanceof MarksUnreadableError) throw first;
    await this.#refuseMarksInHistory(user, which);
    const unlocked = withoutMarks(first.users[user] ?? {}, which);
    if (Object.keys(unlocked.removed).length === 0) return { removed: {}, left: unlocked.kept };
    let split = unlocked;
    // The writers' locks, in their order: this process's turn, the state file's lock, then the marks file's (update
    // above). The state file is only locked, never written: a "No" being recorded by a worker or serve waits, or is
    // waited for, and neither change is lost. Both are waited for within the one lock timeout, not each for all of it:
    // the operator is told how long the wait is (15 s, marks' MARKS_LOCK_WAIT_MS), and waited 30 s (T70 N5).
    const waitUntil = Date.now() + this.#lockTimeoutMs;
    await inTurn(this.#path, () =>
      withLock(
        this.#path,
        () =>
          withLock(
            this.#marksPath,
            async () => {
              const marks = await readMarksFile(this.#marksPath, "all");
              if (marks instanceof MarksUnreadableError) throw marks;
              // Again under the locks: a build of session 38 (a host rolled back) may have written some meanwhile.
              await this.#refuseMarksInHistory(user, which);
              split = withoutMarks(marks.users[user] ?? {}, which);
              if (Object.keys(split.removed).length === 0) return;
              if (Object.keys(split.kept).length > 0) marks.users[user] = split.kept;
              else delete marks.users[user];
              // Only smaller than the file just read, which was within MAX_MARKS_FILE_BYTES.
              await writeFileAtomic(this.#marksPath, `${JSON.stringify(marks)}\n`);
            },
            { timeoutMs: Math.max(1, waitUntil - Date.now()) },
          ),
        { timeoutMs: this.#lockTimeoutMs },
      ),
    );
    return { removed: split.removed, left: split.kept };
  }

  /** Logged once a process for each problem: every login's security post names it already (T68 #3: twice a login). */
  #unreadable(error: MarksUnreadableError): void {
    if (this.#said.has(error.message)) return;
    this.#said.add(error.message);
    this.#log?.error(error.message, { fix: error.hint });
  }

  async close(): Promise<void> {}
}
