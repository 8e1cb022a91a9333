import type { LdapClient } from "@opsguard/core/ldap/client";
import type { LdapEntry } from "@opsguard/core/ldap/entry";
import type { FilterTemplate } from "@opsguard/core/ldap/filter";
import type { Logger } from "@opsguard/core/log";
import type { AuthkeysConfig } from "./config";
import { firstAllowedGroup, type GroupRule, type Member, type Nesting } from "./groups";
import { groupsForHost, hostAttributeAllows, hostNames } from "./host-access";
import { missingBase } from "./search-base";

export type { GroupRule } from "./groups";

export interface DirectoryQuery {
  base: string;
  filter: FilterTemplate;
  keyAttribute: string;
  /** Must hold the requested name byte for byte: LDAP matches uid case-insensitively, sshd does not. */
  nameAttribute: string;
  /** The allowed groups on this host (hostAccess.rules already applied); undefined: everyone. */
  groups: readonly GroupRule[] | undefined;
  nesting?: Nesting | undefined;
  /** hostAccess.userAttribute and this host's names. */
  host?: { attribute: string; names: readonly string[] } | undefined;
  log?: Logger | undefined;
}

export type DirectoryAnswer =
  | { kind: "unknown-user" }
  | { kind: "not-allowed"; dn: string }
  | { kind: "user"; dn: string; values: string[]; group: GroupRule | undefined };

/**
 * One indexed equality search for the user (only the attributes needed), then — when logins are
 * limited to groups — the first allowed group the user belongs to, by memberOf or by the group's
 * member / uniqueMember / memberUid values, and with nestedGroups through groups inside it.
 */
export async function queryDirectory(client: LdapClient, query: DirectoryQuery, user: string): Promise<DirectoryAnswer> {
  const found = await findUser(client, query, user, [query.keyAttribute]);
  if (found.kind !== "user") return found;
  const values = found.entry.get(query.keyAttribute);
  if (!query.groups) return { kind: "user", dn: found.entry.dn, values, group: undefined };
  const group = await firstAllowedGroup(client, query.groups, found.member, query.nesting, query.log);
  return group ? { kind: "user", dn: found.entry.dn, values, group } : { kind: "not-allowed", dn: found.entry.dn };
}

export type FoundUser = { kind: "unknown-user" } | { kind: "not-allowed"; dn: string } | { kind: "user"; entry: LdapEntry; member: Member };

/** The user's entry with `attributes`, checked against the name and hostAccess.userAttribute. */
export async function findUser(client: LdapClient, query: DirectoryQuery, user: string, attributes: readonly string[]): Promise<FoundUser> {
  const wanted = [...attributes, query.nameAttribute, ...(query.groups ? ["memberOf"] : []), ...(query.host ? [query.host.attribute] : [])];
  const entry = await client
    .searchOne(query.base, { filter: query.filter.fill({ user }), attributes: wanted })
    .catch(missingBase("the user search base", "userBase"));
  // "AKALICE" finds alice's entry (caseIgnoreMatch), but sshd logs AKALICE in as another account.
  if (!entry?.get(query.nameAttribute).includes(user)) return { kind: "unknown-user" };
  if (query.host && !hostAttributeAllows(entry.get(query.host.attribute), query.host.names)) {
    query.log?.warn(`user may not log in on this host (${query.host.attribute})`, { user, host: query.host.names[0] });
    return { kind: "not-allowed", dn: entry.dn };
  }
  return { kind: "user", entry, member: { dn: entry.dn, uid: user, memberOf: entry.get("memberOf") } };
}

export function groupRules(config: AuthkeysConfig): GroupRule[] | undefined {
  return groupsForHost(config.hostAccess, config.allowedGroups)?.map((g) =>
    typeof g === "string" ? { dn: g, keyOptions: "" } : { dn: g.dn, keyOptions: g.keyOptions ?? "" },
  );
}

/** The nestedGroups section as the group check takes it. */
export function nestingOf(config: AuthkeysConfig): Nesting | undefined {
  const nested = config.nestedGroups;
  if (!nested) return undefined;
  return { maxDepth: nested.maxDepth, match: nested.match, base: nested.groupBase ?? config.ldap.baseDn };
}

/** The user-attribute half of hostAccess, if configured. */
export function hostCheckOf(config: AuthkeysConfig): DirectoryQuery["host"] {
  const access = config.hostAccess;
  return access?.userAttribute ? { attribute: access.userAttribute, names: hostNames(access) } : undefined;
}

/** Everything a directory query needs from the config. */
export function directoryQuery(config: AuthkeysConfig, compile: (template: string) => FilterTemplate, log: Logger): DirectoryQuery {
  return {
    base: config.userBase ?? config.ldap.baseDn,
    filter: compile(config.userFilter),
    keyAttribute: config.keyAttribute,
    nameAttribute: config.userNameAttribute,
    groups: groupRules(config),
    nesting: nestingOf(config),
    host: hostCheckOf(config),
    log,
  };
}
