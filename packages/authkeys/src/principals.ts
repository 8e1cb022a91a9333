import { join } from "node:path";
import { withLdap } from "@opsguard/core/ldap/client";
import { dnEquals } from "@opsguard/core/ldap/dn";
import type { LdapTimeoutError } from "@opsguard/core/ldap/errors";
import { compileFilterTemplate } from "@opsguard/core/ldap/filter";
import { ldapOptionsFromConfig } from "@opsguard/core/ldap/options";
import type { Logger } from "@opsguard/core/log";
import { forgetUser, KeyCache, PRINCIPALS_CACHE_DIR } from "./cache";
import { usableCacheEntry } from "./cache-policy";
import type { AuthkeysConfig } from "./config";
import { directoryQuery, findUser } from "./directory";
import { firstAllowedGroup, type GroupRule } from "./groups";
import { isOutage, withinBudget } from "./lookup";
import { connectionKey, ServerMemory } from "./server-memory";
import { resolveLdapServers } from "./srv";
import { isValidUsername } from "./username";

export type PrincipalsResult = "principals" | "none" | "unknown-user" | "not-allowed" | "invalid-user";

export interface PrincipalsOutcome {
  result: PrincipalsResult;
  source: "ldap" | "cache" | "none";
  /** A certificate naming any of them may log in as the user. */
  principals: string[];
  /**
   * The admitting group's keyOptions (allowedGroups), "" without: sshd reads them in front of each principal
   * line (sshd_config(5) AuthorizedPrincipalsFile: lines "may be prefixed with key options") and holds a
   * certificate login to them as to a key's, so from=, no-port-forwarding … bind certificates too.
   */
  keyOptions: string;
}

/** What sshd reads: one principal per line, each behind the group's key options. */
export function principalLines(outcome: PrincipalsOutcome): string[] {
  return outcome.principals.map((p) => (outcome.keyOptions ? `${outcome.keyOptions} ${p}` : p));
}

export interface PrincipalsDeps {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** As the key lookup's (LookupDeps.budgetMs): at most this long for LDAP; nothing left, the outage rules decide. */
  budgetMs?: number;
}

/** The `principals` section; absent: the login name only, which is what sshd accepts without a command. */
function principalsConfig(config: AuthkeysConfig): NonNullable<AuthkeysConfig["principals"]> {
  return config.principals ?? { loginName: true, groups: [] };
}

/**
 * The principals `user` may be logged in as (sshd's AuthorizedPrincipalsCommand), by the key lookup's
 * rules: a valid name, the user found by userFilter and named exactly, allowedGroups (with nesting and
 * host rules), one LDAP deadline. The mapped groups the user is in are cached — not the principals —
 * so during an outage today's principals map applies to them, as today's keyOptions do to cached keys.
 */
export async function lookupPrincipals(config: AuthkeysConfig, user: string, deps: PrincipalsDeps): Promise<PrincipalsOutcome> {
  if (!isValidUsername(user)) return { result: "invalid-user", source: "none", principals: [], keyOptions: "" };
  const { log } = deps;
  const settings = principalsConfig(config);
  const cache = config.cache.enabled ? new KeyCache(join(config.cache.dir, PRINCIPALS_CACHE_DIR), log) : undefined;
  const query = directoryQuery(config, (template) => compileFilterTemplate(template, ["user"], "userFilter"), log);
  const memory =
    cache && config.cache.deadServerSeconds > 0
      ? new ServerMemory(config.cache.dir, config.cache.deadServerSeconds, log, deps.now?.(), connectionKey(config.ldap))
      : undefined;

  type Answer = { kind: "unknown-user" | "not-allowed" } | { kind: "user"; group: GroupRule | undefined; mapped: string[] };
  let answer: Answer;
  try {
    const bounded = withinBudget(config, deps.budgetMs);
    const ldap = await resolveLdapServers(bounded, deps);
    const options = { ...ldapOptionsFromConfig(ldap, "ldap", deps.env), log, health: memory };
    answer = await withLdap(options, async (client): Promise<Answer> => {
      const found = await findUser(client, query, user, settings.groups.length > 0 ? ["memberOf"] : []);
      if (found.kind !== "user") return { kind: found.kind };
      const allowed = query.groups ? await firstAllowedGroup(client, query.groups, found.member, query.nesting, log) : undefined;
      if (query.groups && !allowed) return { kind: "not-allowed" };
      const mapped: string[] = [];
      for (const { dn } of settings.groups) {
        if (await firstAllowedGroup(client, [{ dn, keyOptions: "" }], found.member, query.nesting, log)) mapped.push(dn);
      }
      return { kind: "user", group: allowed, mapped };
    });
  } catch (error) {
    await memory?.save();
    if (!isOutage(error) || !cache) throw error;
    return fromCache(config, cache, user, query.groups, error, deps);
  }
  await memory?.save();
  if (answer.kind !== "user") {
    if (cache) await forgetUser(config.cache.dir, user, log);
    return { result: answer.kind, source: "ldap", principals: [], keyOptions: "" };
  }
  if (cache) {
    // A full disk must not refuse a login LDAP allowed.
    await cache
      .store(user, { group: answer.group?.dn ?? null, keys: answer.mapped })
      .catch((error: unknown) => log.warn(`could not update the principals cache: ${(error as Error).message}`, { user }));
  }
  return outcome(settings, user, answer.mapped, "ldap", answer.group?.keyOptions ?? "");
}

/**
 * The login's hard give-up (principals-command.ts): the lookup under way is abandoned and the fresh cached
 * memberships are served by the outage rules, or `error` is thrown.
 */
export async function principalsFromCacheAfterDeadline(
  config: AuthkeysConfig,
  user: string,
  deps: PrincipalsDeps,
  error: LdapTimeoutError,
): Promise<PrincipalsOutcome> {
  if (!config.cache.enabled || !isValidUsername(user)) throw error;
  const cache = new KeyCache(join(config.cache.dir, PRINCIPALS_CACHE_DIR), deps.log);
  const query = directoryQuery(config, (template) => compileFilterTemplate(template, ["user"], "userFilter"), deps.log);
  return fromCache(config, cache, user, query.groups, error, deps);
}

/** The cached memberships, under today's principals map, allowedGroups and keyOptions (cache-policy's rules). */
async function fromCache(
  config: AuthkeysConfig,
  cache: KeyCache,
  user: string,
  groups: readonly GroupRule[] | undefined,
  ldapError: Error,
  deps: PrincipalsDeps,
): Promise<PrincipalsOutcome> {
  const { cached, group } = await usableCacheEntry(cache, user, groups, config.cache.maxStaleSeconds * 1000, ldapError, deps);
  deps.log.warn(`LDAP unreachable (${ldapError.message}); serving cached group memberships for principals`, {
    user,
    ageSeconds: Math.round(cached.ageMs / 1000),
  });
  return outcome(principalsConfig(config), user, cached.keys, "cache", group?.keyOptions ?? "");
}

/** The login name (if configured) and each mapped group's principals, in config order, each once. */
function outcome(
  settings: NonNullable<AuthkeysConfig["principals"]>,
  user: string,
  groupDns: readonly string[],
  source: "ldap" | "cache",
  keyOptions: string,
): PrincipalsOutcome {
  const principals = new Set<string>(settings.loginName ? [user] : []);
  for (const group of settings.groups) {
    if (groupDns.some((dn) => dnEquals(dn, group.dn))) for (const p of group.principals) principals.add(p);
  }
  return { result: principals.size > 0 ? "principals" : "none", source, principals: [...principals], keyOptions };
}
