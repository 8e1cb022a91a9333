import { escapeLine, formatIssues, type Logger, OpsguardError, type Secret, TempFailError, UnavailableError } from "@opsguard/core";
import { connectRedis, parseRedisUrl, type Redis } from "@opsguard/core/redis";
import { CLOCK_SKEW_MS } from "./event";
import { MAX_MARKS_FILE_BYTES, marksSchema, splitMarks, stateSchema, withMarks } from "./file-store";
import type { UserHistory } from "./places";
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

export interface RedisStoreOptions {
  /** redis://host:port/db or rediss:// for TLS. */
  url: string;
  username?: string | undefined;
  password?: Secret | undefined;
  /** PEM file of the CA that signed the server's certificate (rediss:// only); the system store otherwise. */
  caFile?: string | undefined;
  /** Name to verify the server certificate against, when it differs from the host in the URL. */
  servername?: string | undefined;
  keyPrefix: string;
  /** Where ioredis' own notes while connecting go (core's connectRedis), instead of bare lines on stderr. */
  log?: Logger | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Idle users' histories expire after this. */
  ttlMs: number;
  /**
   * Builds a history from the original vpnnotify's keys (`vpn:<cn>:lastip`, `vpn:<cn>:lasttime`)
   * for a user who has none yet, so an upgrade does not tell everyone about a "new" login.
   */
  importLegacy?: ((legacy: LegacyLogin) => UserHistory | undefined) | undefined;
}

/** What the original vpnnotify (threatstack/vpnnotify) kept per user in Redis. */
export interface LegacyLogin {
  ip: string;
  /** Epoch milliseconds of the last login, when its lasttime key was readable. */
  time?: number;
}

const historySchema = stateSchema.shape.users.valueType;
const MAX_TRANSACTION_RETRIES = 10;
/** The config key of these options, for error messages. */
const KEY = "state.redis";

/**
 * Histories in Redis, one JSON value per user (`<prefix>user:<name>`), shared by several VPN servers; the user's
 * "disowned" marks in a key of their own (`<prefix>disowned:<name>`): a build from before the marks (a host not upgraded
 * yet, a rollback) rewrites the history without them, and never touches that key (T64 N2). Updates are
 * optimistic transactions (WATCH/MULTI/EXEC), retried a bounded number of times when another
 * server wrote the same user in between. No reconnect loop: a login never waits for Redis to come back; a lost
 * connection is made again by the next command (see #connect).
 */
export class RedisPlaceStore implements PlaceStore {
  readonly name: string;
  readonly #opts: RedisStoreOptions;
  /** Connected on the first command, by core's connectRedis (the way deputize's lease connects). */
  #redis: Promise<Redis> | undefined;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RedisStoreOptions) {
    this.#opts = options;
    // Parsed at construction: a bad URL is a config error when the notifier is built, not at the first login.
    const url = parseRedisUrl(options.url, KEY, { password: options.password !== undefined });
    this.name = `redis ${url.host}:${url.port}`;
  }

  async get(user: string): Promise<UserHistory | undefined> {
    const redis = await this.#connect();
    const [history, marks] = await this.#read(redis, user).catch((error: unknown) => this.#failed(error));
    if (!(marks instanceof MarksUnreadableError)) return withMarks(history, marks);
    this.#unreadable(marks);
    return { ...(history ?? { places: {} }), marksUnreadable: marks.problem };
  }

  /**
   * The user's history and marks, in one round trip. The marks are never read with GET (nor MGET, which answers nil for
   * a key of another type, a list, that would read as "no marks" and be overwritten): GETRANGE reads at most one byte
   * past MAX_MARKS_FILE_BYTES, so a value over the cap the state file's marks have costs a login no more than one at
   * it, and is unreadable as that file would be (T70 N3); STRLEN says its size, EXISTS tells an empty value (not
   * marks) from no key. GETRANGE and STRLEN answer WRONGTYPE for another type, as GET did.
   */
  async #read(redis: Redis, user: string): Promise<[UserHistory | undefined, UserHistory["disowned"] | MarksUnreadableError]> {
    const marksKey = this.#marksKey(user);
    const replies = await redis
      .pipeline()
      .get(this.#key(user))
      .exists(marksKey)
      .strlen(marksKey)
      .getrangeBuffer(marksKey, 0, MAX_MARKS_FILE_BYTES)
      .exec();
    // exec() answers null only for a transaction that was aborted: never for a pipeline.
    const [
      [historyError, raw] = [null, null],
      [existsError, exists] = [null, 0],
      [sizeError, size] = [null, 0],
      [marksError, rawMarks] = [null, null],
    ] = replies ?? [];
    // A history key of another type counts as no history, as a value that is no history does (and is overwritten).
    if (historyError && !/WRONGTYPE/.test(historyError.message)) throw historyError;
    for (const error of [existsError, sizeError, marksError]) if (error && !/WRONGTYPE/.test(error.message)) throw error;
    const value = rawMarks as Buffer | null;
    const marks = marksError
      ? parseMarks(marksKey, marksError)
      : (value?.length ?? 0) === 0 && !exists
        ? undefined
        : parseMarks(marksKey, value ?? Buffer.alloc(0), sizeError ? undefined : (size as number));
    return [historyError ? undefined : parseHistory((raw as string | null) ?? null), marks];
  }

  update(
    user: string,
    change: (history: UserHistory | undefined) => UserHistory | undefined,
    options: { asGiven?: string } = {},
  ): Promise<UserHistory | undefined> {
    // WATCH belongs to the connection: transactions of one connection must not interleave.
    const run = this.#queue.then(() => this.#transaction(user, change, options.asGiven).catch((error: unknown) => this.#failed(error)));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transaction(
    user: string,
    change: (history: UserHistory | undefined) => UserHistory | undefined,
    asGiven: string | undefined,
  ): Promise<UserHistory | undefined> {
    const redis = await this.#connect();
    const key = this.#key(user);
    const marksKey = this.#marksKey(user);
    for (let attempt = 0; attempt < MAX_TRANSACTION_RETRIES; attempt++) {
      await redis.watch(key, marksKey);
      const [stored, marks] = await this.#read(redis, user);
      const history = stored ?? (await this.#legacy(redis, user, asGiven));
      const unreadable = marks instanceof MarksUnreadableError ? marks : undefined;
      if (unreadable) this.#unreadable(unreadable);
      const next = change(
        marks instanceof MarksUnreadableError
          ? { ...(history ?? { places: {} }), marksUnreadable: marks.problem }
          : withMarks(history, marks),
      );
      if (!next) {
        await redis.unwatch();
        return next;
      }
      if (unreadable) {
        // The marks key is left as it is (never deleted or overwritten, T66 P1): the history alone is written.
        const kept = historyWhileMarksUnreadable(history?.disowned, next, unreadable);
        if ((await redis.multi().set(key, JSON.stringify(kept), "PX", this.#opts.ttlMs).exec()) !== null) return next;
        continue;
      }
      const split = splitMarks(next);
      const write = redis.multi().set(key, JSON.stringify(split.history), "PX", this.#opts.ttlMs);
      if (split.marks) write.set(marksKey, JSON.stringify(split.marks), "PX", this.#opts.ttlMs);
      else write.del(marksKey);
      const done = await write.exec();
      if (done !== null) return next;
      // Another server won this round; a random pause keeps the contenders from colliding again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
    throw new TempFailError(`${this.name}: ${user}'s history kept changing under ${MAX_TRANSACTION_RETRIES} attempts to update it`);
  }

  async listMarks(user?: string): Promise<Map<string, Marks>> {
    const redis = await this.#connect();
    return this.#listMarks(redis, user).catch((error: unknown) => this.#failed(error));
  }

  async #listMarks(redis: Redis, user: string | undefined): Promise<Map<string, Marks>> {
    let users: string[];
    if (user !== undefined) users = [user];
    else {
      // Every user with a marks key, and every history (an earlier build kept marks inside it): SCAN, not KEYS, so a
      // shared Redis is not held up while its keyspace is walked. The prefix is matched literally.
      const found = new Set<string>();
      for (const kind of ["disowned:", "user:"]) {
        const prefix = `${this.#opts.keyPrefix}${kind}`;
        const match = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
        let cursor = "0";
        do {
          const [next, batch] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
          for (const key of batch) found.add(key.slice(prefix.length));
          cursor = next;
        } while (cursor !== "0");
      }
      users = [...found].sort();
    }
    const result = new Map<string, Marks>();
    for (const name of users) {
      const [history, marks] = await this.#read(redis, name);
      if (marks instanceof MarksUnreadableError) throw marks;
      const merged = withMarks(history, marks)?.disowned;
      if (!merged || Object.keys(merged).length === 0) continue;
      // Found by SCAN under a name no login or `marks USER` looks up ("Bob"): never a key vpnnotify wrote, listed it
      // would count for nobody (T71 N2). Its user's logins never read it, so they are not the ones to fail closed.
      const unreachable = markUserProblem(name);
      if (unreachable) {
        const key = marks && Object.keys(marks).length > 0 ? this.#marksKey(name) : this.#key(name);
        const target = unreachable.normal === undefined ? undefined : this.#marksKey(unreachable.normal);
        throw new MarksUnreadableError(
          `the Redis key ${escapeLine(key)} holds marks no login can reach (${unreachable.problem})`,
          target === undefined
            ? `DEL ${escapeLine(key)} (vpnnotify leaves it as it is; no login or command can use it)`
            : `move them under ${escapeLine(target)}: RENAME ${escapeLine(key)} ${escapeLine(target)} when that key does not exist yet, else merge them into it by hand and DEL ${escapeLine(key)} (vpnnotify leaves it as it is)`,
        );
      }
      result.set(name, merged);
    }
    return result;
  }

  removeMarks(user: string, which: MarkPick): Promise<{ removed: Marks; left: Marks }> {
    // On the connection's queue, as update's transactions: WATCH belongs to the connection.
    const run = this.#queue.then(() => this.#remove(user, which).catch((error: unknown) => this.#failed(error)));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The writers' optimistic transaction on the marks key alone: a "No" written by another server between the read and
   * EXEC aborts this round, which reads again. The history key is never written; the marks key keeps its expiry.
   */
  async #remove(user: string, which: MarkPick): Promise<{ removed: Marks; left: Marks }> {
    const redis = await this.#connect();
    const key = this.#marksKey(user);
    for (let attempt = 0; attempt < MAX_TRANSACTION_RETRIES; attempt++) {
      // The history too: a mark an earlier build kept inside it is refused, and one written there meanwhile aborts EXEC.
      await redis.watch(key, this.#key(user));
      const [[history, marks], ttl] = await Promise.all([this.#read(redis, user), redis.pttl(key)]);
      if (marks instanceof MarksUnreadableError) {
        await redis.unwatch();
        throw marks;
      }
      const inside = withoutMarks(history?.disowned ?? {}, which).removed;
      if (Object.keys(inside).length > 0) {
        await redis.unwatch();
        throw new MarksInHistoryError(user, Object.keys(inside));
      }
      const { kept, removed } = withoutMarks(marks ?? {}, which);
      if (Object.keys(removed).length === 0) {
        await redis.unwatch();
        return { removed, left: kept };
      }
      const write = redis.multi();
      if (Object.keys(kept).length === 0) write.del(key);
      else if (ttl > 0) write.set(key, JSON.stringify(kept), "PX", ttl);
      else write.set(key, JSON.stringify(kept));
      if ((await write.exec()) !== null) return { removed, left: kept };
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
    throw new TempFailError(
      `${this.name}: ${user}'s "not me" marks kept changing under ${MAX_TRANSACTION_RETRIES} attempts to remove some`,
    );
  }

  /** The original's memory of this user, as a history; only asked while the user has none of ours. */
  async #legacy(redis: Redis, user: string, asGiven: string | undefined): Promise<UserHistory | undefined> {
    if (!this.#opts.importLegacy) return undefined;
    // The original keyed them by OpenVPN's common_name exactly as it came, case and all (threatstack/vpnnotify
    // 53e80099ba3d751053f1e81d5ac9eede82e4fe49, helpers.go:75: rcli.Set(fmt.Sprintf("vpn:%s:lastip", commonName), …),
    // commonName := os.Getenv("common_name") in vpnnotify.go:66): that name first, then the normal form ours are keyed
    // by. Only the normal form missed every capitalised CN (John.Smith): each was told a "first login" on upgrade (T62 F6).
    for (const name of new Set([asGiven ?? user, user])) {
      const [ip, time] = await redis.mget(`vpn:${name}:lastip`, `vpn:${name}:lasttime`);
      if (ip) return this.#opts.importLegacy(legacyLogin(ip, time ?? null));
    }
    return undefined;
  }

  /**
   * ioredis' own errors as the store being slow (a command timed out: overloaded or hung) or
   * unavailable (a dropped connection), never as a bug of ours.
   */
  #failed(error: unknown): never {
    if (error instanceof OpsguardError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (/timed out/i.test(message)) {
      throw new TempFailError(`${this.name} is slow: no answer within ${this.#opts.commandTimeoutMs} ms`, {
        hint: "check the Redis server's load, or raise state.redis.commandTimeoutMs",
      });
    }
    throw new UnavailableError(`${this.name} is unavailable: ${message}`, { hint: "check state.redis" });
  }

  /**
   * Ends the connection without waiting for one still being made (a hook past its deadline must not wait on a hung
   * Redis): that one is closed as soon as it is ready, and connectRedis gives up on it within connectTimeoutMs.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#redis?.then(
      (redis) => redis.disconnect(),
      () => {},
    );
  }

  /** Said on every use, as an error: until fixed, every login of the user goes to the security channel. */
  #unreadable(error: MarksUnreadableError): void {
    this.#opts.log?.error(error.message, { fix: error.hint });
  }

  #key(user: string): string {
    return `${this.#opts.keyPrefix}user:${user}`;
  }

  #marksKey(user: string): string {
    return `${this.#opts.keyPrefix}disowned:${user}`;
  }

  /**
   * Connect, TLS, AUTH and SELECT within connectTimeoutMs, TLS verified, as core connects every tool: a server that
   * accepts and then hangs counts as down (UnavailableError), refused credentials are a ConfigError. One attempt per
   * command, no reconnect loop: a login never waits on Redis coming back. A failed attempt or a connection that ended
   * (Redis restarted: core's clients never reconnect by themselves) is forgotten, so the next command connects
   * afresh: `serve` lives for weeks and must not answer every later "No" with "could not be marked" (T66 P4).
   */
  #connect(): Promise<Redis> {
    if (this.#closed) return Promise.reject(new UnavailableError(`${this.name}: the store was closed`));
    if (this.#redis) return this.#redis;
    const attempt = connectRedis({ ...this.#opts, key: KEY });
    const forget = () => {
      if (this.#redis === attempt) this.#redis = undefined;
    };
    attempt.then((redis) => redis.once("end", forget), forget);
    this.#redis = attempt;
    return attempt;
  }
}

/** The original's lastip and lasttime (epoch seconds) as a LegacyLogin. */
function legacyLogin(ip: string, time: string | null): LegacyLogin {
  const seconds = time && /^\d+$/.test(time) ? Number(time) : undefined;
  // a time ahead of this host's clock (milliseconds stored by mistake read as seconds, a skewed writer) would stand
  // as the place's last alert and keep every real login from it quiet for years: the place is kept, not its time
  const at = seconds !== undefined && seconds * 1000 - Date.now() < CLOCK_SKEW_MS ? seconds * 1000 : undefined;
  return { ip, ...(at !== undefined ? { time: at } : {}) };
}

/**
 * The user's marks, or why the key's value cannot be used: the value as read (at most one byte past the cap), or GET's
 * WRONGTYPE error, and the value's size (STRLEN) when known. Unlike a history, a value that is not valid marks is never
 * read as none: that would forget the user's every "No" (T66 P1). One over MAX_MARKS_FILE_BYTES is no value vpnnotify
 * wrote (a user keeps at most policy.maxPlacesPerUser marks, 10,000 at most, each under 160 bytes: 1.6 MB), and is
 * unreadable as the marks file over it is, with the same words (T70 N3).
 */
function parseMarks(key: string, raw: Buffer | Error, size?: number): UserHistory["disowned"] | MarksUnreadableError {
  const unreadable = (what: string) =>
    new MarksUnreadableError(
      `the Redis key ${key} ${what}`,
      `restore it (vpnnotify leaves it as it is); to drop this user's every "No" on purpose: DEL ${key}`,
    );
  // GETRANGE's WRONGTYPE: a list, a hash… where the marks' JSON string should be.
  if (raw instanceof Error) return unreadable(`holds no string value (${raw.message})`);
  if (size !== undefined && size > MAX_MARKS_FILE_BYTES) {
    return unreadable(`is ${size} bytes, over the ${MAX_MARKS_FILE_BYTES} a marks value may have`);
  }
  // It may have grown since STRLEN (the pipeline is no transaction): the cap holds for what was read.
  if (raw.length > MAX_MARKS_FILE_BYTES) return unreadable(`is over the ${MAX_MARKS_FILE_BYTES} bytes a marks value may have`);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    return unreadable(`is not valid JSON (${(error as Error).message})`);
  }
  const parsed = marksSchema.safeParse(value);
  if (!parsed.success) return unreadable(`holds no marks (${formatIssues(parsed.error)})`);
  // A place no login or command can reach (T71 N2): refused as the marks file's, so the user's logins fail closed.
  const place = marksPlaceProblem(parsed.data);
  if (place) {
    return new MarksUnreadableError(
      `the Redis key ${key} holds no marks (${place})`,
      `correct that place to the address or network it was meant to be, or remove its mark (vpnnotify leaves the key as it is); to drop this user's every "No" on purpose: DEL ${key}`,
    );
  }
  return parsed.data;
}

/** A stored value that is not a valid history (hand-edited, another version) counts as no history. */
function parseHistory(raw: string | null): UserHistory | undefined {
  if (raw === null) return undefined;
  try {
    const parsed = historySchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
