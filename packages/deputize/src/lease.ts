import { createHash } from "node:crypto";
import { type Logger, OpsguardError, resolveSecret, UnavailableError } from "@opsguard/core";
import { connectRedis, type Redis, withRedisLease } from "@opsguard/core/redis";
import type { DeputizeConfig } from "./config";
import type { DmLedger } from "./next";

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
  fn: (shared?: { dmLedger: DmLedger; beforeWrite: () => Promise<void> }) => Promise<T>,
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
        return fn({ dmLedger: redisDmLedger(redis, `${lease.key}:dm:`), beforeWrite: () => held.confirm() });
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

/** A Redis command that failed (ioredis' "Command timed out", a closed connection) is Redis being unavailable (69), not a bug (70). */
function unavailable(error: unknown): never {
  if (error instanceof OpsguardError) throw error;
  throw new UnavailableError(`Redis did not answer for the look-ahead DM records: ${(error as Error).message}`, {
    hint: "check lease.redis; the DM is sent on a later run",
  });
}
