import { ConfigError, escapeLine, TempFailError } from "@opsguard/core";
import { networkOf, normalizeIp } from "./address";
import { historyKey, vpnUser } from "./event";
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

/**
 * Why a user's name, as a marks file or a Redis key keys their marks, is one no login and no `marks USER` can ever
 * look up (undefined: it is not). Every writer keys them by historyKey (trimmed, lower-cased, one space between
 * words), so a name that cannot be its result ("Dave", " bob", "") is a hand edit or damage, never a "No" vpnnotify
 * recorded. Not a test that historyKey(name) is name: historyKey is not idempotent for a few names (its NFC comes
 * before lower-casing: "T\u0308" becomes a decomposed "ẗ"), and such a user's marks are keyed as written (T71 N2).
 */
export function markUserProblem(name: string): { problem: string; normal?: string } | undefined {
  const shown = escapeLine(JSON.stringify(name));
  // Names with nothing visible, or a byte that was not UTF-8 (U+FFFD): no login keeps a history under them.
  if (vpnUser(name) === undefined) return { problem: `the user ${shown} is empty (or only spaces or control characters)` };
  if (name.includes("\uFFFD")) return { problem: `the user ${shown} is not valid UTF-8 (holds U+FFFD)` };
  if (name !== name.trim() || name !== name.toLowerCase() || /[^\S ]| {2}/.test(name)) {
    const normal = historyKey(name);
    return {
      problem: `the user ${shown} is not in its normal form ${escapeLine(JSON.stringify(normal))} (trimmed, lower-cased, one space between words: how logins and marks USER look marks up)`,
      normal,
    };
  }
  return undefined;
}

/**
 * Why a mark's place key is not one vpnnotify writes (undefined: it is): "ip:" and the address in its canonical form
 * (normalizeIp), or "net:" and the /24 (IPv6 /56) networkOf makes. Any other ("ip:999.2.69.50", "net:0.0.0.0/0", an
 * upper-case IPv6, "asn:…") matches no login, and no `marks USER PLACE` or `--remove` can name it (T71 N2).
 */
export function markPlaceProblem(key: string): string | undefined {
  if (key.startsWith("ip:")) {
    const ip = key.slice(3);
    if (normalizeIp(ip) === ip && !ip.includes("%")) return undefined;
  } else if (key.startsWith("net:")) {
    const network = key.slice(4);
    const slash = network.lastIndexOf("/");
    const ip = slash < 0 ? undefined : normalizeIp(network.slice(0, slash));
    if (ip !== undefined && !network.includes("%") && networkOf(ip) === network) return undefined;
  }
  return `the place ${escapeLine(JSON.stringify(key))} is no address ("ip:" and one IP address as vpnnotify writes it) or network ("net:" and its /24, for IPv6 its /56)`;
}

/** The first key among one user's marks that no login or command can reach (markPlaceProblem). */
export function marksPlaceProblem(marks: Marks): string | undefined {
  for (const key of Object.keys(marks)) {
    const problem = markPlaceProblem(key);
    if (problem) return problem;
  }
  return undefined;
}

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
