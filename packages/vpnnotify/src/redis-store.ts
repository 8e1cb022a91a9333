import { OpsguardError, type Secret, TempFailError, UnavailableError } from "@opsguard/core";
import { parseRedisUrl, redisClientOptions } from "@opsguard/core/redis";
import { Redis } from "ioredis";
import { stateSchema } from "./file-store";
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
 * Histories in Redis, one JSON value per user, shared by several VPN servers. Updates are
 * optimistic transactions (WATCH/MULTI/EXEC), retried a bounded number of times when another
 * server wrote the same user in between. One connection attempt, no reconnect loop: a login
 * never waits for Redis to come back.
 */
export class RedisPlaceStore implements PlaceStore {
  readonly name: string;
  readonly #redis: Redis;
  readonly #opts: RedisStoreOptions;
  #connected: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: RedisStoreOptions) {
    this.#opts = options;
    const url = parseRedisUrl(options.url, KEY);
    this.name = `redis ${url.host}:${url.port}`;
    // The database in the connection options: this store connects lazily, on its first command.
    this.#redis = new Redis({ ...redisClientOptions({ ...options, key: KEY }, url), db: url.db });
    // Errors surface through the commands that hit them; without a listener ioredis prints them.
    this.#redis.on("error", () => {});
  }

  async get(user: string): Promise<UserHistory | undefined> {
    await this.#connect();
    return parseHistory(await this.#redis.get(this.#key(user)).catch((error: unknown) => this.#failed(error)));
  }

  update(user: string, change: (history: UserHistory | undefined) => UserHistory | undefined): Promise<UserHistory | undefined> {
    // WATCH belongs to the connection: transactions of one connection must not interleave.
    const run = this.#queue.then(() => this.#transaction(user, change).catch((error: unknown) => this.#failed(error)));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #transaction(
    user: string,
    change: (history: UserHistory | undefined) => UserHistory | undefined,
  ): Promise<UserHistory | undefined> {
    await this.#connect();
    const key = this.#key(user);
    for (let attempt = 0; attempt < MAX_TRANSACTION_RETRIES; attempt++) {
      await this.#redis.watch(key);
      const next = change(parseHistory(await this.#redis.get(key)) ?? (await this.#legacy(user)));
      if (!next) {
        await this.#redis.unwatch();
        return next;
      }
      const done = await this.#redis.multi().set(key, JSON.stringify(next), "PX", this.#opts.ttlMs).exec();
      if (done !== null) return next;
      // Another server won this round; a random pause keeps the contenders from colliding again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
    }
    throw new TempFailError(`${this.name}: ${user}'s history kept changing under ${MAX_TRANSACTION_RETRIES} attempts to update it`);
  }

  /** The original's memory of this user, as a history; only asked while the user has none of ours. */
  async #legacy(user: string): Promise<UserHistory | undefined> {
    if (!this.#opts.importLegacy) return undefined;
    const [ip, time] = await this.#redis.mget(`vpn:${user}:lastip`, `vpn:${user}:lasttime`);
    if (!ip) return undefined;
    const seconds = time && /^\d+$/.test(time) ? Number(time) : undefined;
    return this.#opts.importLegacy({ ip, ...(seconds !== undefined ? { time: seconds * 1000 } : {}) });
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

  async close(): Promise<void> {
    this.#redis.disconnect();
  }

  #key(user: string): string {
    return `${this.#opts.keyPrefix}user:${user}`;
  }

  /** Connect, TLS and AUTH within connectTimeoutMs: a server that accepts and then hangs counts as down. */
  #connect(): Promise<void> {
    this.#connected ??= new Promise<void>((resolve, reject) => {
      let lastError: Error | undefined;
      const onError = (error: Error) => {
        lastError = error;
      };
      this.#redis.on("error", onError);
      const timer = setTimeout(() => {
        this.#redis.disconnect();
        reject(
          new TempFailError(`${this.name} is slow or down: not ready within ${this.#opts.connectTimeoutMs} ms`, {
            hint: "check state.redis, or raise state.redis.connectTimeoutMs",
          }),
        );
      }, this.#opts.connectTimeoutMs);
      this.#redis.connect().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: Error) => {
          clearTimeout(timer);
          const reason = lastError && lastError !== error ? `${lastError.message}; ${error.message}` : error.message;
          reject(new UnavailableError(`${this.name} is unavailable: ${reason}`, { hint: "check state.redis" }));
        },
      );
    });
    return this.#connected;
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
