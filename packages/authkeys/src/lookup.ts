import { describeError } from "@opsguard/core/errors";
import { type LdapClient, type LdapClientOptions, withLdap } from "@opsguard/core/ldap/client";
import { LdapAuthError, LdapTimeoutError, LdapUnavailableError } from "@opsguard/core/ldap/errors";
import { compileFilterTemplate } from "@opsguard/core/ldap/filter";
import { ldapOptionsFromConfig } from "@opsguard/core/ldap/options";
import type { Logger } from "@opsguard/core/log";
import { forgetUser, KeyCache } from "./cache";
import { usableCacheEntry } from "./cache-policy";
import type { AuthkeysConfig } from "./config";
import { directoryQuery, type GroupRule, queryDirectory } from "./directory";
import { hasOption, mergeGroupOptions } from "./key-options";
import { type AuthorizedKey, checkKeyValue, formatKeyLine, type KeyPolicy } from "./keys";
import { connectionKey, ServerMemory } from "./server-memory";
import { resolveLdapServers } from "./srv";
import { isValidUsername } from "./username";

export type LookupResult = "keys" | "no-keys" | "unknown-user" | "not-allowed" | "invalid-user";

export interface LookupOutcome {
  result: LookupResult;
  source: "ldap" | "cache" | "none";
  /** authorized_keys lines to print, already filtered by the fingerprint if one was given. */
  lines: string[];
  /** Keys dropped by validation. */
  dropped: number;
  /** Set when the lines came from the cache: how old they are. */
  cacheAgeMs?: number;
}

export interface LookupRequest {
  user: string;
  /** sshd's %f: print only the key with this fingerprint. */
  fingerprint?: string | undefined;
}

export interface LookupDeps {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** Runs the directory query on a client: a fresh connection per lookup unless a long-running agent holds one. */
  ldap?: LdapSession;
  /**
   * At most this long for LDAP (DNS SRV included) instead of ldap.deadlineMs: what a login process has
   * left before its hard give-up, counted from its own start. Nothing left: LDAP is not asked at all,
   * and the outage rules decide.
   */
  budgetMs?: number;
}

export type LdapSession = <T>(options: LdapClientOptions, fn: (client: LdapClient) => Promise<T>) => Promise<T>;

/**
 * The whole decision for one login attempt. LDAP is the authority whenever it answers: a missing
 * user, a user outside the allowed groups or without keys deletes the cached keys at once. Only when
 * no server answers (or none lets us bind) are cached keys served, and only if younger than
 * cache.maxStaleSeconds. Servers that failed moments ago, in this process or an earlier one, are skipped.
 */
export async function lookupKeys(config: AuthkeysConfig, request: LookupRequest, deps: LookupDeps): Promise<LookupOutcome> {
  const { user } = request;
  if (!isValidUsername(user)) return { result: "invalid-user", source: "none", lines: [], dropped: 0 };
  const log = deps.log;
  const policy: KeyPolicy = { types: config.keyTypes, minRsaBits: config.minRsaBits };
  const cache = config.cache.enabled ? new KeyCache(config.cache.dir, log) : undefined;
  const query = directoryQuery(config, (template) => compileFilterTemplate(template, ["user"], "userFilter"), log);
  const memory =
    cache && config.cache.deadServerSeconds > 0 && !deps.ldap
      ? new ServerMemory(config.cache.dir, config.cache.deadServerSeconds, log, deps.now?.(), connectionKey(config.ldap))
      : undefined;
  let answer: Awaited<ReturnType<typeof queryDirectory>>;
  try {
    const bounded = withinBudget(config, deps.budgetMs);
    const ldap = await resolveLdapServers(bounded, deps);
    const options = { ...ldapOptionsFromConfig(ldap, "ldap", deps.env), log, health: memory };
    const started = Date.now();
    answer = await (deps.ldap ?? withLdap)(options, async (client) => {
      const found = await queryDirectory(client, query, user);
      // -vv shows where a slow login spends its time.
      log.debug("LDAP answered", { user, server: client.url, ms: Date.now() - started });
      return found;
    });
  } catch (error) {
    await memory?.save();
    if (!isOutage(error) || !cache) throw error;
    return fromCache(cache, request, policy, query.groups, config.cache.maxStaleSeconds * 1000, error, deps);
  }
  await memory?.save();

  if (answer.kind !== "user") {
    // The principals command's cached memberships go too (cache.ts forgetUser).
    if (cache) await forgetUser(config.cache.dir, user, log);
    return { result: answer.kind, source: "ldap", lines: [], dropped: 0 };
  }
  const { keys, lines, dropped } = validKeys(answer.values, policy, user, log, answer.group?.keyOptions ?? "");
  if (lines.length === 0) {
    await cache?.remove(user);
    return { result: "no-keys", source: "ldap", lines: [], dropped };
  }
  if (cache) {
    // The keys are good even if the cache is not: a full disk must not lock anyone out.
    await cache
      .store(user, { group: answer.group?.dn ?? null, keys: answer.values })
      .catch((error: unknown) => log.warn(`could not update the key cache: ${(error as Error).message}`, { user }));
  }
  return { result: "keys", source: "ldap", lines: byFingerprint(keys, lines, request.fingerprint), dropped };
}

/**
 * The config with LDAP's deadline cut to budgetMs (the login's hard give-up, LookupDeps.budgetMs). A process
 * that got the CPU only after its deadline (a starved host) asks no server: this throws, nothing is remembered
 * against servers that were never given a chance, and a fresh cache still serves under the outage rules.
 */
export function withinBudget(config: AuthkeysConfig, budgetMs: number | undefined): AuthkeysConfig {
  if (budgetMs === undefined) return config;
  const budget = Math.min(config.ldap.deadlineMs, Math.floor(budgetMs));
  if (budget <= 0) {
    throw new LdapTimeoutError("no time left to ask LDAP before this login's hard limit (counted from the process start)", {
      hint: "the host is overloaded: the process got the CPU too late",
    });
  }
  return { ...config, ldap: { ...config.ldap, deadlineMs: budget } };
}

/**
 * The login's hard give-up (lookup-command.ts): the lookup under way is abandoned, and what an outage
 * would serve is served, by the same rules (fresh, today's groups and key policy, a writable cache),
 * or `error` is thrown.
 */
export async function fromCacheAfterDeadline(
  config: AuthkeysConfig,
  request: LookupRequest,
  deps: LookupDeps,
  error: LdapTimeoutError,
): Promise<LookupOutcome> {
  if (!config.cache.enabled || !isValidUsername(request.user)) throw error;
  const policy: KeyPolicy = { types: config.keyTypes, minRsaBits: config.minRsaBits };
  const query = directoryQuery(config, (template) => compileFilterTemplate(template, ["user"], "userFilter"), deps.log);
  const cache = new KeyCache(config.cache.dir, deps.log);
  return fromCache(cache, request, policy, query.groups, config.cache.maxStaleSeconds * 1000, error, deps);
}

/**
 * What the cache stands in for: no server answered in time, or none would let us bind. A rejected
 * bind (the password rotated on the servers first) refuses every user alike, so from the fleet's
 * view it is an outage, not an answer about the user.
 */
export function isOutage(error: unknown): error is Error {
  return error instanceof LdapUnavailableError || error instanceof LdapTimeoutError || error instanceof LdapAuthError;
}

async function fromCache(
  cache: KeyCache,
  request: LookupRequest,
  policy: KeyPolicy,
  groups: readonly GroupRule[] | undefined,
  maxAgeMs: number,
  ldapError: Error,
  deps: LookupDeps,
): Promise<LookupOutcome> {
  const { cached, group } = await usableCacheEntry(cache, request.user, groups, maxAgeMs, ldapError, deps);
  const { keys, lines, dropped } = validKeys(cached.keys, policy, request.user, deps.log, group?.keyOptions ?? "");
  const served = { user: request.user, keys: lines.length, ageSeconds: Math.round(cached.ageMs / 1000) };
  if (ldapError instanceof LdapAuthError) {
    // Not an outage of the servers but of our account: someone must fix it before the cache runs out.
    deps.log.error(`${describeError(ldapError)}; serving cached keys until it is fixed`, served);
  } else {
    deps.log.warn(`LDAP unreachable (${ldapError.message}); serving cached keys`, served);
  }
  return {
    result: lines.length > 0 ? "keys" : "no-keys",
    source: "cache",
    lines: byFingerprint(keys, lines, request.fingerprint),
    dropped,
    cacheAgeMs: cached.ageMs,
  };
}

/**
 * Valid keys, first occurrence of each; every dropped value is reported by fingerprint, never by
 * content. A group's options are merged in so that the key's own options cannot undo them.
 */
function validKeys(
  values: readonly string[],
  policy: KeyPolicy,
  user: string,
  log: Logger,
  groupOptions: string,
): { keys: AuthorizedKey[]; lines: string[]; dropped: number } {
  const keys: AuthorizedKey[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  const drop = (reason: string, fingerprint: string | undefined) => {
    dropped++;
    log.warn(`dropped a key: ${reason}`, { user, fingerprint: fingerprint ?? "none" });
  };
  for (const value of values) {
    const verdict = checkKeyValue(value, policy);
    if (!verdict.ok) {
      drop(verdict.reason, verdict.fingerprint);
      continue;
    }
    const merged = mergeGroupOptions(groupOptions, verdict.key.options);
    if (!merged.ok) {
      drop(merged.reason, verdict.key.fingerprint);
      continue;
    }
    if (seen.has(verdict.key.fingerprint)) continue;
    seen.add(verdict.key.fingerprint);
    if (merged.dropped.length > 0) {
      log.warn("ignored key options that would undo the group's keyOptions", {
        user,
        fingerprint: verdict.key.fingerprint,
        options: merged.dropped.map((text) => /^[A-Za-z0-9-]+/.exec(text)?.[0] ?? "?").join(","),
      });
    }
    keys.push({ ...verdict.key, options: merged.options });
  }
  return { keys, lines: keys.map((k) => formatKeyLine(k)), dropped };
}

/**
 * sshd's %f is the fingerprint of the offered key; for a certificate, of the key inside it, never of the
 * CA that signed it. So cert-authority lines always stay: sshd matches them against certificates only.
 */
function byFingerprint(keys: readonly AuthorizedKey[], lines: readonly string[], fingerprint: string | undefined): string[] {
  if (!fingerprint) return [...lines];
  return lines.filter((_, i) => keys[i]?.fingerprint === fingerprint || hasOption(keys[i]?.options ?? "", "cert-authority"));
}
