import { type Logger, OpsguardError, type Secret, TempFailError, UnavailableError } from "@opsguard/core";
import { connectRedis, parseRedisUrl, type Redis } from "@opsguard/core/redis";
import { CLOCK_SKEW_MS } from "./event";
import { marksSchema, splitMarks, stateSchema, withMarks } from "./file-store";
import type { UserHistory } from "./places";
import type { PlaceStore } from "./store";

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
    const [history, marks] = await redis.mget(this.#key(user), this.#marksKey(user)).catch((error: unknown) => this.#failed(error));
    return withMarks(parseHistory(history ?? null), parseMarks(marks ?? null));
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
      const [raw, rawMarks] = await redis.mget(key, marksKey);
      const history = parseHistory(raw ?? null) ?? (await this.#legacy(redis, user, asGiven));
      const next = change(withMarks(history, parseMarks(rawMarks ?? null)));
      if (!next) {
        await redis.unwatch();
        return next;
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

/** The user's marks; a value that is not valid marks (hand-edited) counts as none, as a history does. */
function parseMarks(raw: string | null): UserHistory["disowned"] {
  if (raw === null) return undefined;
  try {
    const parsed = marksSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
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
