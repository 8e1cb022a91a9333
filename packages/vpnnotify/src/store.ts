import { ConfigError, escapeLine, TempFailError } from "@opsguard/core";
import type { UserHistory } from "./places";

/**
 * Where the memory of known places lives: a local state file (one VPN server) or Redis (several
 * servers sharing it). update() is an atomic read-modify-write of one user's history: `change`
 * may run more than once when another writer got in between, so it must be pure.
 */
export interface PlaceStore {
  /** "state file /var/lib/…", "redis 10.0.0.5:6379": for log lines. */
  readonly name: string;
  /**
   * `asGiven`: the login's user name as the VPN server gave it, before its normal form (`user`); a store seeding a new
   * user's history from the original vpnnotify's keys looks it up under that name first.
   */
  update(
    user: string,
    change: (history: UserHistory | undefined) => UserHistory | undefined,
    options?: { asGiven?: string },
  ): Promise<UserHistory | undefined>;
  get(user: string): Promise<UserHistory | undefined>;
  /**
   * For `vpnnotify status`: the marks store's problem, if it has one. The state file's only: Redis keeps one marks key
   * per user, and status connects to nothing.
   */
  check?(): Promise<MarksUnreadableError | undefined>;
  /**
   * For `vpnnotify marks`: the marks as stored (expired ones too, until a writer drops them), of `user` or of every
   * user, by user, as decide sees them: those of the marks' own store and those an earlier build kept inside a history
   * (withMarks). Throws MarksUnreadableError when they cannot be read.
   */
  listMarks(user?: string): Promise<Map<string, Marks>>;
  /**
   * For `vpnnotify marks --remove`: removes the user's marks whose key `which` picks (given the marks it is picked
   * among: whether a network mark goes depends on the others), under the writers' own locks (or transaction), so a
   * "No" recorded meanwhile is kept; returns those removed (none: nothing was written) and the user's marks left, as
   * decided on. Only the marks are written, never a history: a picked mark kept inside the history is
   * MarksInHistoryError, nothing removed. Throws MarksUnreadableError, changing nothing, when they cannot be read.
   */
  removeMarks(user: string, which: MarkPick): Promise<{ removed: Marks; left: Marks }>;
  close(): Promise<void>;
}

/** One user's "not me" marks, by "ip:…" and "net:…" key. */
export type Marks = NonNullable<UserHistory["disowned"]>;

/** Whether `key` is one to remove, among `marks` (all of the user's marks where it is picked). */
export type MarkPick = (key: string, marks: Marks) => boolean;

/** `marks` without those `which` picks, and the ones it picked. */
export function withoutMarks(marks: Marks, which: MarkPick): { kept: Marks; removed: Marks } {
  const kept: Marks = {};
  const removed: Marks = {};
  for (const [key, mark] of Object.entries(marks)) (which(key, marks) ? removed : kept)[key] = mark;
  return { kept, removed };
}

/**
 * `marks --remove` picked marks that a build of session 38 wrote inside the user's history, before the marks had a
 * file or key of their own (see withMarks). They leave the history only when the user's history is next written
 * (their next login or disconnect), and `marks --remove` never writes a history: nothing is removed (exit 75), and
 * removing them then works.
 */
export class MarksInHistoryError extends TempFailError {
  constructor(user: string, keys: readonly string[]) {
    super(
      `${escapeLine(JSON.stringify(user))}'s marks of ${keys.map((k) => escapeLine(k.slice(k.indexOf(":") + 1))).join(", ")} are kept inside their history, where an earlier build wrote them (before marks had their own file or key); this command never rewrites a history, so nothing was removed`,
      { hint: "they move to the marks' own file or key when the user next logs in or out: run this again then" },
    );
  }
}

/**
 * The users' "not me" marks (a "No, it wasn't me") exist but cannot be read: corrupt, a symbolic link, too large, or
 * unreadable to this user. Never replaced by an empty store (that would forget every "No" and let the attacker's
 * place pass quietly, T66 P1): the store is left as it is, the history still works, and every login also reaches the
 * security channel (decide's marksUnreadable) until someone fixes it; a new mark cannot be written meanwhile.
 */
export class MarksUnreadableError extends ConfigError {
  /** "…/state.disowned.json is not valid JSON (…)": what the security channel is told, after "could not be read: ". */
  readonly problem: string;

  constructor(problem: string, fix: string) {
    super(`the "not me" marks could not be read: ${problem}`, { hint: fix });
    this.problem = problem;
  }
}

/**
 * The history to write while the marks cannot be read: `result` with the marks it came with kept inside it (where a
 * build of this session before the separate store kept them), or the error when `result` adds a mark (a "No" being
 * recorded), so the caller spools it and tries again once the store is fixed.
 */
export function historyWhileMarksUnreadable(
  before: UserHistory["disowned"],
  result: UserHistory,
  error: MarksUnreadableError,
): UserHistory {
  const { marksUnreadable: _, ...history } = result;
  for (const [key, mark] of Object.entries(history.disowned ?? {})) {
    if (before?.[key]?.answeredAt !== mark.answeredAt) throw error;
  }
  return history;
}
