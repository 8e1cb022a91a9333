import { dnEquals } from "@opsguard/core/ldap/dn";
import type { Logger } from "@opsguard/core/log";
import type { CachedKeys, KeyCache } from "./cache";
import type { GroupRule } from "./groups";

/** How far a cache file's mtime may be ahead of this clock (clock skew, a step back by NTP). */
const FUTURE_SKEW_MS = 5 * 60_000;

export interface UsableEntry {
  cached: CachedKeys;
  /** Today's rule for the group that admitted the user then; undefined when allowedGroups is unset. */
  group: GroupRule | undefined;
}

/**
 * The cached answer for `user` that may stand in for LDAP during an outage, or the LDAP error again:
 * none cached, dated in the future beyond clock skew, older than maxAgeMs, or admitted through a group
 * today's config no longer allows. A cache directory this user cannot write serves nothing (exit 77). Shared by the key lookup and the principals lookup.
 */
export async function usableCacheEntry(
  cache: KeyCache,
  user: string,
  groups: readonly GroupRule[] | undefined,
  maxAgeMs: number,
  ldapError: Error,
  deps: { log: Logger; now?: (() => number) | undefined },
): Promise<UsableEntry> {
  const loaded = await cache.load(user, deps.now?.());
  if (!loaded) throw ldapError;
  // A file dated ahead by more than clock skew would never grow old: whoever set that date (or a clock
  // stepped far back) cannot make keys outlive maxStaleSeconds, so it is not served.
  if (loaded.ageMs < -FUTURE_SKEW_MS) {
    deps.log.warn("no usable LDAP answer and the cached keys are dated in the future; refusing", {
      user,
      aheadSeconds: Math.round(-loaded.ageMs / 1000),
    });
    throw ldapError;
  }
  const cached = { ...loaded, ageMs: Math.max(0, loaded.ageMs) };
  if (cached.ageMs > maxAgeMs) {
    deps.log.warn("no usable LDAP answer and the cached keys are too old; refusing", {
      user,
      ageSeconds: Math.round(cached.ageMs / 1000),
      maxStaleSeconds: maxAgeMs / 1000,
    });
    throw ldapError;
  }
  // Today's allowedGroups and keyOptions, not those of the day the keys were cached.
  const group = groups === undefined ? undefined : groups.find((rule) => cached.group !== null && dnEquals(rule.dn, cached.group));
  if (groups !== undefined && group === undefined) {
    deps.log.warn("no usable LDAP answer and the cached keys came through a group allowedGroups no longer lists; refusing", { user });
    throw ldapError;
  }
  // Only where every revocation could have been recorded (see KeyCache.assertWritable).
  cache.assertWritable();
  return { cached, group };
}
