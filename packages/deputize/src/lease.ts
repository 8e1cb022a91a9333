import { createHash } from "node:crypto";
import { DataError, type Logger, OpsguardError, resolveSecret, UnavailableError } from "@opsguard/core";
import { connectRedis, type Redis, withRedisLease } from "@opsguard/core/redis";
import type { DeputizeConfig } from "./config";
import type { DmLedger } from "./next";
import type { AnnouncedLedger } from "./sinks/sink";

/**
 * Two hosts running deputize for redundancy: with `lease.redis`, a run holds a short lease in Redis
 * while it writes, so the hosts take turns and the second finds the work done (no second hand-off
 * message). Redis unreachable fails the run (exit 69) rather than risk both hosts writing.
 * Two copies on one host are kept apart by the lock file in stateDir (cli.ts), lease or not.
 * `beforeWrite` is the fence: each write is preceded by a confirm-and-extend of the lease, so a host
 * that lost it (Redis paused, the key expired or deleted) stops writing instead of racing the other.
 */
export async function withRunLease<T>(
  config: Pick<DeputizeConfig, "lease" | "timeoutMs">,
  options: {
    log?: Logger | undefined;
    env?: NodeJS.ProcessEnv | undefined;
    /** Told how to release the lease early (a signal ends the process before `finally` blocks run). */
    onHeld?: ((release: () => Promise<void>) => void) | undefined;
  },
  fn: (shared?: { dmLedger: DmLedger; announced: AnnouncedLedger; beforeWrite: () => Promise<void> }) => Promise<T>,
): Promise<T> {
  const log = options.log;
  const lease = config.lease?.redis;
  if (!lease) return fn();
  const redis = await connectRedis({
    url: lease.url,
    username: lease.username,
    password: lease.password ? resolveSecret(lease.password, "lease.redis.password", options.env) : undefined,
    caFile: lease.caFile,
    connectTimeoutMs: Math.min(config.timeoutMs, 5_000),
    commandTimeoutMs: Math.min(config.timeoutMs, 5_000),
    key: "lease.redis",
    log,
  });
  try {
    return await withRedisLease(
      redis,
      {
        key: lease.key,
        ttlMs: lease.ttlSeconds * 1000,
        waitMs: lease.waitSeconds * 1000,
        onLost: (reason) => log?.warn(`${reason}; another host may have written at the same time`),
      },
      (held) => {
        options.onHeld?.(() => held.release());
        return fn({
          dmLedger: redisDmLedger(redis, `${lease.key}:dm:`),
          announced: redisAnnouncedLedger(redis, `${lease.key}:announced:`),
          beforeWrite: () => held.confirm(),
        });
      },
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Look-ahead DMs remembered in Redis, so the second host of a pair does not DM a shift the first
 * already told; each record expires a day after its shift ends. The hosts' runs take turns under the
 * lease, so a check and its record never race.
 */
function redisDmLedger(redis: Redis, prefix: string): DmLedger {
  const key = (shift: string) => `${prefix}${createHash("sha256").update(shift).digest("hex").slice(0, 32)}`;
  return {
    sent: async (shift) => (await redis.exists(key(shift)).catch(unavailable)) === 1,
    record: async (shift, until, now) => {
      await redis.set(key(shift), "1", "PX", Math.max(until.getTime() - now.getTime(), 0) + 86_400_000).catch(unavailable);
    },
  };
}

/**
 * What each webhook last delivered and each Slack sink last announced, in Redis, so the second host of a
 * pair does not deliver the hand-off the first one did (T56 F14), and a host that missed a shift posts
 * the hand-off the channel has not seen (T59 N6). No expiry: the on-call set may stay the same for weeks. Read and written
 * under the lease, so the hosts' checks and records never race.
 */
function redisAnnouncedLedger(redis: Redis, prefix: string): AnnouncedLedger {
  const key = (sink: string) => `${prefix}${createHash("sha256").update(sink).digest("hex").slice(0, 32)}`;
  return {
    announced: async (sink) => {
      const text = await redis.get(key(sink)).catch(unavailable);
      if (text === null) return undefined;
      let members: unknown;
      try {
        members = JSON.parse(text);
      } catch {
        members = undefined;
      }
      if (!Array.isArray(members) || !members.every((m) => typeof m === "string")) {
        throw new DataError(`the hand-off record ${key(sink)} in Redis is not a list of people`, {
          hint: "delete the key: the next run delivers the current set again",
        });
      }
      return members;
    },
    record: async (sink, members) => {
      await redis.set(key(sink), JSON.stringify([...members].sort())).catch(unavailable);
    },
  };
}

/** A Redis command that failed (ioredis' "Command timed out", a closed connection) is Redis being unavailable (69), not a bug (70). */
function unavailable(error: unknown): never {
  if (error instanceof OpsguardError) throw error;
  throw new UnavailableError(`Redis did not answer for the look-ahead DM or hand-off records: ${(error as Error).message}`, {
    hint: "check lease.redis; what was not recorded is done on a later run",
  });
}
