import { isIP } from "node:net";
import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import { ConfigError, OpsguardError, TempFailError, UnavailableError } from "./errors";
import type { Logger } from "./log";
import { describeRefusal, readRegularFileSync } from "./regular-file";
import type { Secret } from "./secret";
import { randomHex } from "./state";
import { LOOPBACK_ONLY, sendsInClear } from "./url";

export type { Redis } from "ioredis";

/** A CA bundle is a few hundred KiB at most (the whole Mozilla store is ~200 KiB). */
const MAX_CA_BYTES = 4 * 1024 * 1024;

/**
 * Redis for the tools that share state between hosts (a lease, histories): one connection attempt
 * within a deadline, no reconnect loop and no offline queue, TLS verified against the system store
 * or a given CA. Not exported from the package root: only tools that use Redis load ioredis.
 */

export interface RedisConnectionOptions {
  /** redis://host:port/db, or rediss:// for TLS. */
  url: string;
  username?: string | undefined;
  password?: Secret | undefined;
  /** PEM file of the CA that signed the server's certificate (rediss:// only). */
  caFile?: string | undefined;
  /** Name to verify the server certificate against, when it differs from the host in the URL. */
  servername?: string | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** The config key these options came from, for error messages ("lease.redis"). */
  key: string;
  /** Where ioredis' own notes while connecting go (see routeIoredisNotes); stderr as ioredis prints them without one. */
  log?: Logger | undefined;
}

/**
 * `password`: whether a password goes with the URL (AUTH). Without TLS it would cross the network in clear text,
 * so redis:// then only to this host, as for LDAP's bind password and every API token. rediss:// is RESP over TLS
 * (IANA's provisional registration: https://www.iana.org/assignments/uri-schemes/prov/rediss), verified here.
 */
export function parseRedisUrl(
  text: string,
  key = "redis",
  { password = false }: { password?: boolean } = {},
): { host: string; port: number; db: number; tls: boolean } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${key}.url: "${text}" is not a URL`, { hint: 'write "redis://host:6379/0" or "rediss://host:6380/0"' });
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError(`${key}.url: unsupported scheme ${url.protocol}`, { hint: "use redis:// or rediss://" });
  }
  if (url.username || url.password) {
    throw new ConfigError(`${key}.url must not carry credentials`, { hint: `use ${key}.username and ${key}.password` });
  }
  if (password && sendsInClear(url)) {
    throw new ConfigError(`${key}.url: redis:// to ${url.hostname} would send ${key}.password in clear text`, {
      hint: `use rediss:// (verified TLS; ${key}.caFile names a private CA), redis:// only to ${LOOPBACK_ONLY}`,
    });
  }
  const db = url.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,2}$/.test(db))
    throw new ConfigError(`${key}.url: "${db}" is not a database number`, { hint: "end the URL with /0" });
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 6379),
    db: db === "" ? 0 : Number(db),
    tls: url.protocol === "rediss:",
  };
}

/**
 * ioredis options for one connection attempt within a deadline, no reconnect loop and no offline queue, TLS
 * verified. The database is not among them: connectRedis selects it where a refusal can be reported (ioredis'
 * own SELECT on connect leaves a failure, an index past the server's `databases`, unseen and db 0 in use).
 */
export function redisClientOptions(
  options: RedisConnectionOptions,
  url: ReturnType<typeof parseRedisUrl> = parseRedisUrl(options.url, options.key, { password: options.password !== undefined }),
): RedisOptions {
  let ca: string | undefined;
  if (options.caFile) {
    // Refused without blocking: a FIFO named as the CA would hang the connect past its own timeout.
    const read = readRegularFileSync(options.caFile, MAX_CA_BYTES);
    if ("refused" in read) {
      throw new ConfigError(`${options.key}.caFile: ${options.caFile} ${describeRefusal(read.refused, MAX_CA_BYTES)}`, {
        hint: "point it at the PEM file of the CA, readable by this user",
      });
    }
    ca = read.bytes.toString("utf8");
  }
  return {
    host: url.host,
    port: url.port,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password.reveal() } : {}),
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // SNI takes host names only (RFC 6066 §3): an IP as servername is refused by Node (DEP0123); the
    // certificate is then checked against the IP's subjectAltName all the same.
    ...(url.tls ? { tls: { ...(ca ? { ca } : {}), ...sni(options.servername ?? url.host), rejectUnauthorized: true } } : {}),
  };
}

/** A connected client, or UnavailableError naming the server: a server that accepts and then hangs counts as down. */
export async function connectRedis(options: RedisConnectionOptions): Promise<Redis> {
  const url = parseRedisUrl(options.url, options.key, { password: options.password !== undefined });
  const name = `redis ${url.host}:${url.port}`;
  const redis = new Redis(redisClientOptions(options, url));
  let lastError: Error | undefined;
  // Errors surface through the commands that hit them; without a listener ioredis prints them.
  redis.on("error", (error: Error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new UnavailableError(`${name} did not get ready within ${options.connectTimeoutMs} ms`, { hint: `check ${options.key}` })),
      options.connectTimeoutMs,
    );
  });
  const unroute = options.log ? routeIoredisNotes(options.log, `${options.key}: ${name}`) : () => {};
  try {
    await Promise.race([redis.connect(), deadline]).finally(unroute);
    if (url.db !== 0) {
      await Promise.race([redis.select(url.db), deadline]).catch((error: unknown) => {
        if (error instanceof OpsguardError) throw error;
        throw new ConfigError(`${options.key}.url: ${name} refused database ${url.db}: ${(error as Error).message}`, {
          hint: "use a database number the server has (0 to its `databases` setting - 1)",
        });
      });
    }
    return redis;
  } catch (error) {
    close(redis);
    if (error instanceof OpsguardError) throw error;
    const message = (error as Error).message;
    const reason = lastError && lastError.message !== message ? `${lastError.message}; ${message}` : message;
    // A wrong password is the operator's to fix, not an outage.
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(reason)) {
      throw new ConfigError(`${name} refused the credentials: ${reason}`, {
        hint: `check ${options.key}.username and ${options.key}.password`,
      });
    }
    throw new UnavailableError(`${name} is unavailable: ${reason}`, { hint: `check ${options.key}` });
  } finally {
    clearTimeout(timer);
  }
}

/** Loggers taking ioredis' notes while a connection is made, newest last; console.warn is replaced while any is. */
const noteRoutes: Array<{ log: Logger; prefix: string }> = [];
let consoleWarn: typeof console.warn | undefined;

/**
 * ioredis (5.x, built/redis/event_handler.js) reports an AUTH the server did not need ("[WARN] This Redis
 * server's `default` user does not require a password, but a password was supplied") with a bare console.warn,
 * and has no option to turn it off or hand it a logger. That happens only in the AUTH answer on connect (our
 * clients never reconnect: retryStrategy null), so while connectRedis waits for the connection, ioredis'
 * "[WARN] …"/"[ERROR] …" lines go through the tool's logger instead: `--log-format json`, `-q` and the `tool:`
 * prefix apply to them like to any warning (T59 N3). Anything else printed meanwhile is passed on unchanged.
 * Returns the undo.
 */
function routeIoredisNotes(log: Logger, prefix: string): () => void {
  const route = { log, prefix };
  noteRoutes.push(route);
  if (consoleWarn === undefined) {
    const original = console.warn;
    consoleWarn = original;
    console.warn = (...args: unknown[]) => {
      const text = args.length === 1 && typeof args[0] === "string" ? /^\[(?:WARN|ERROR)\] (.*)$/s.exec(args[0])?.[1] : undefined;
      const to = noteRoutes.at(-1);
      if (text === undefined || !to) original(...args);
      else to.log.warn(`${to.prefix}: ${text}`);
    };
  }
  return () => {
    const i = noteRoutes.indexOf(route);
    if (i !== -1) noteRoutes.splice(i, 1);
    if (noteRoutes.length === 0 && consoleWarn !== undefined) {
      console.warn = consoleWarn;
      consoleWarn = undefined;
    }
  };
}

// Delete or extend the key only while it still holds our token: a lease that expired and was taken
// by another host must not be released or renewed by the old holder
// (https://redis.io/docs/latest/develop/use/patterns/distributed-locks/#correct-implementation-with-a-single-instance).
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

export interface LeaseOptions {
  /** The lease's key, shared by every host that must not run at the same time. */
  key: string;
  /** The lease ends by itself this long after it was last renewed, if its holder died. */
  ttlMs: number;
  /** How long to wait for a lease another host holds before giving up (TempFailError, exit 75). */
  waitMs: number;
  /** Who is asking, for the other hosts' messages; hostname and pid by default. */
  owner?: string;
  /**
   * Called when the lease could not be kept while `fn` ran (it expired, Redis went away): another host
   * may have started meanwhile. `fn`'s result is still returned, so what it did is still reported.
   */
  onLost?: (reason: string) => void;
}

/** The lease once taken, handed to the function that runs under it. */
export interface HeldLease {
  /**
   * Fencing before a write: atomically checks that the key still holds this run's token and extends
   * it by the full TTL (one Lua script, so nothing can take the lease between the check and the
   * extension). Throws LeaseLostError (exit 75) when the lease expired, was taken or deleted, or
   * Redis did not answer within its command timeout: the caller must then not write.
   */
  confirm(): Promise<void>;
  /** Releases it now (compare-and-delete), e.g. on SIGTERM before the process exits; later calls do nothing. */
  release(): Promise<void>;
}

/** The lease is no longer this run's: stop writing, the next run carries on (exit 75). */
export class LeaseLostError extends TempFailError {}

/**
 * Runs `fn` while holding a lease in Redis: `SET key token NX PX ttl` (the token names this host and
 * is random), renewed every third of the TTL while `fn` runs, released with compare-and-delete. A
 * lease held by another host is waited for (polling, bounded by waitMs); a lease lost while `fn` ran
 * (Redis down, renewal refused) is told to `onLost`, since another host may have started.
 */
export async function withRedisLease<T>(redis: Redis, options: LeaseOptions, fn: (lease: HeldLease) => Promise<T>): Promise<T> {
  const token = `${options.owner ?? `${hostname()}:${process.pid}`}:${randomHex(8)}`;
  const deadline = Date.now() + options.waitMs;
  let delay = 50;
  for (;;) {
    const set = await redis.set(options.key, token, "PX", options.ttlMs, "NX").catch((error: unknown) => unavailable(error, options.key));
    if (set === "OK") break;
    if (Date.now() >= deadline) {
      const holder = await redis.get(options.key).catch(() => null);
      const ttl = await redis.pttl(options.key).catch(() => undefined);
      const who = holder ? holder.replace(/:[0-9a-f]{16}$/, "") : "another host";
      // PTTL -1: the key exists without an expiry (set by hand, or by something else): it never ends by itself.
      if (ttl === -1) {
        throw new TempFailError(`the lease ${options.key} is held by ${who} and has no expiry, so it never ends by itself`, {
          hint: `if no other run is going on, delete the key ${options.key} in Redis (DEL)`,
        });
      }
      throw new TempFailError(`the lease ${options.key} is held by ${who}; gave up after ${options.waitMs} ms`, {
        hint: "another deputize is running; the next run tries again",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(1, deadline - Date.now())) * (0.5 + Math.random())));
    delay = Math.min(delay * 2, 1_000);
  }
  let lost: string | undefined;
  const tell = (reason: string) => {
    if (lost === undefined) options.onLost?.(`the lease ${options.key} was lost while running: ${reason}`);
    lost ??= reason;
  };
  let released: Promise<unknown> | undefined;
  const release = () => {
    released ??= redis.eval(RELEASE, 1, options.key, token).catch(() => undefined);
    return released.then(() => undefined);
  };
  const lease: HeldLease = {
    release,
    confirm: async () => {
      if (lost === undefined) {
        try {
          const kept = await redis.eval(RENEW, 1, options.key, token, String(options.ttlMs));
          if (kept !== 1) tell(await whyGone(redis, options.key));
        } catch (error) {
          tell(`Redis did not confirm it (${(error as Error).message})`);
        }
      }
      if (lost !== undefined) {
        throw new LeaseLostError(`the lease ${options.key} is no longer held by this run (${lost}); stopped writing`, {
          hint: "another host may have taken over; the next run carries on",
        });
      }
    },
  };
  const renew = setInterval(
    () => {
      redis.eval(RENEW, 1, options.key, token, String(options.ttlMs)).then(
        (kept) => {
          if (kept !== 1) tell("it expired and may have been taken by another host");
        },
        (error: unknown) => tell(`it could not be renewed (${(error as Error).message})`),
      );
    },
    Math.max(1, Math.floor(options.ttlMs / 3)),
  );
  try {
    return await fn(lease);
  } finally {
    clearInterval(renew);
    await release();
  }
}

function sni(host: string): { servername?: string } {
  return isIP(host) === 0 ? { servername: host } : {};
}

/** Why a renewal found the key without our token: gone (expired or deleted), or held by someone else. */
async function whyGone(redis: Redis, key: string): Promise<string> {
  const holder = await redis.get(key).catch(() => undefined);
  if (holder === undefined) return "it expired or was taken by another host";
  return holder === null ? "it expired or was deleted" : `it is now held by ${holder.replace(/:[0-9a-f]{16}$/, "")}`;
}

/**
 * disconnect() only half-closes a socket that is still getting ready (a server that accepted and never
 * answered), which would keep the process alive until ioredis' own timer fires: destroy it too.
 */
function close(redis: Redis): void {
  redis.disconnect();
  redis.stream?.destroy();
}

function unavailable(error: unknown, key: string): never {
  if (error instanceof OpsguardError) throw error;
  throw new UnavailableError(`Redis could not take the lease ${key}: ${(error as Error).message}`, { hint: "check the Redis server" });
}
