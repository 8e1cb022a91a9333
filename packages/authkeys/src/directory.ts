import type { LdapClient } from "@opsguard/core/ldap/client";
import { dnEquals } from "@opsguard/core/ldap/dn";
import { LdapNotFoundError } from "@opsguard/core/ldap/errors";
import { type FilterTemplate, ldapFilter } from "@opsguard/core/ldap/filter";
import type { AuthkeysConfig } from "./config";

export interface DirectoryQuery {
  base: string;
  filter: FilterTemplate;
  keyAttribute: string;
  /** Must hold the requested name byte for byte: LDAP matches uid case-insensitively, sshd does not. */
  nameAttribute: string;
  groups: readonly GroupRule[] | undefined;
}

export type DirectoryAnswer =
  | { kind: "unknown-user" }
  | { kind: "not-allowed"; dn: string }
  | { kind: "user"; dn: string; values: string[]; group: GroupRule | undefined };

/**
 * One indexed equality search for the user (only the attributes needed), then — when logins are
 * limited to groups — the first allowed group the user belongs to, by memberOf or by the group's
 * member / uniqueMember / memberUid values.
 */
export async function queryDirectory(client: LdapClient, query: DirectoryQuery, user: string): Promise<DirectoryAnswer> {
  const attributes = [query.keyAttribute, query.nameAttribute, ...(query.groups ? ["memberOf"] : [])];
  const entry = await client.searchOne(query.base, { filter: query.filter.fill({ user }), attributes });
  // "AKALICE" finds alice's entry (caseIgnoreMatch), but sshd logs AKALICE in as another account.
  if (!entry?.get(query.nameAttribute).includes(user)) return { kind: "unknown-user" };
  const values = entry.get(query.keyAttribute);
  if (!query.groups) return { kind: "user", dn: entry.dn, values, group: undefined };
  const memberOf = entry.get("memberOf");
  for (const group of query.groups) {
    if (memberOf.some((dn) => dnEquals(dn, group.dn)) || (await isMember(client, group.dn, entry.dn, user))) {
      return { kind: "user", dn: entry.dn, values, group };
    }
  }
  return { kind: "not-allowed", dn: entry.dn };
}

async function isMember(client: LdapClient, groupDn: string, userDn: string, user: string): Promise<boolean> {
  try {
    const match = await client.searchOne(groupDn, {
      scope: "base",
      filter: ldapFilter`(|(member=${userDn})(uniqueMember=${userDn})(memberUid=${user}))`,
      attributes: ["1.1"],
    });
    return match !== undefined;
  } catch (error) {
    // A group that does not exist has no members: fail closed.
    if (error instanceof LdapNotFoundError) return false;
    throw error;
  }
}

export interface GroupRule {
  dn: string;
  keyOptions: string;
}

export function groupRules(config: AuthkeysConfig): GroupRule[] | undefined {
  return config.allowedGroups?.map((g) =>
    typeof g === "string" ? { dn: g, keyOptions: "" } : { dn: g.dn, keyOptions: g.keyOptions ?? "" },
  );
}
