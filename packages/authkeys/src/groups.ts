import type { LdapClient } from "@opsguard/core/ldap/client";
import { dnEquals, normalizeDn } from "@opsguard/core/ldap/dn";
import { LdapNotFoundError } from "@opsguard/core/ldap/errors";
import { ldapFilter } from "@opsguard/core/ldap/filter";
import type { Logger } from "@opsguard/core/log";
import { missingBase } from "./search-base";

export interface GroupRule {
  dn: string;
  keyOptions: string;
}

/** How groups inside allowed groups are followed (config `nestedGroups`); absent: direct members only. */
export interface Nesting {
  /** Group-in-group hops followed above the user's own groups (SSSD's ldap_group_nesting_level). */
  maxDepth: number;
  /** "recursive": searched level by level here; "in-chain": Active Directory's LDAP_MATCHING_RULE_IN_CHAIN. */
  match: "recursive" | "in-chain";
  /** Where groups are searched for, level by level (recursive only). */
  base: string;
}

export interface Member {
  dn: string;
  uid: string;
  memberOf: readonly string[];
}

/** AD evaluates membership transitively for this rule ([MS-ADTS] 3.1.1.3.4.4.3); OpenLDAP does not know it. */
export const IN_CHAIN_RULE = "1.2.840.113556.1.4.1941";

/**
 * More groups than this at one level is not a membership we can judge within a login's deadline: an
 * error (fail closed), not a silent cut.
 */
const MAX_GROUPS_PER_LEVEL = 500;

/**
 * The first listed group the member is in, directly or — with nesting — through groups inside it, so
 * the config's order decides keyOptions for nested members exactly as for direct ones. Direct
 * membership is checked first: a member of the first listed group costs no nesting search at all.
 */
export async function firstAllowedGroup(
  client: LdapClient,
  groups: readonly GroupRule[],
  member: Member,
  nesting: Nesting | undefined,
  log: Logger | undefined,
): Promise<GroupRule | undefined> {
  let direct = -1;
  for (const [index, group] of groups.entries()) {
    if (member.memberOf.some((dn) => dnEquals(dn, group.dn)) || (await isDirectMember(client, group.dn, member, log))) {
      direct = index;
      break;
    }
  }
  if (!nesting || direct === 0) return groups[direct];
  // Only a group listed before the direct one can change the answer.
  const candidates = direct === -1 ? groups : groups.slice(0, direct);
  const nested =
    nesting.match === "in-chain"
      ? await firstInChain(client, candidates, member)
      : await firstReached(client, candidates, member, nesting, log);
  return nested ?? groups[direct];
}

async function isDirectMember(client: LdapClient, groupDn: string, member: Member, log: Logger | undefined): Promise<boolean> {
  try {
    const match = await client.searchOne(groupDn, {
      scope: "base",
      filter: ldapFilter`(|(member=${member.dn})(uniqueMember=${member.dn})(memberUid=${member.uid}))`,
      attributes: ["1.1"],
    });
    return match !== undefined;
  } catch (error) {
    // A group that does not exist has no members: fail closed. Said each time, since a listed group that is gone
    // (renamed, or hidden from the bind DN by an ACL) no longer puts its keyOptions on anyone: a member of it who
    // is also in a later group logs in with that group's options.
    if (error instanceof LdapNotFoundError) {
      log?.warn("an allowed group does not exist or the bind DN cannot read it: nobody counts as its member", {
        group: groupDn,
        fix: "correct the DN in the config or the directory's ACL (authkeys doctor lists such groups)",
      });
      return false;
    }
    throw error;
  }
}

/**
 * One base search of the user's entry per candidate group, in the config's order: the server
 * resolves the chain. A server without the rule (OpenLDAP) matches nothing, so nobody is admitted
 * through nesting there: fail closed.
 */
async function firstInChain(client: LdapClient, groups: readonly GroupRule[], member: Member): Promise<GroupRule | undefined> {
  for (const group of groups) {
    const match = await client.searchOne(member.dn, {
      scope: "base",
      filter: ldapFilter`(memberOf:${IN_CHAIN_RULE}:=${group.dn})`,
      attributes: ["1.1"],
    });
    if (match !== undefined) return group;
  }
  return undefined;
}

/**
 * Walks up from the user: the groups holding the user, then the groups holding those, one search per
 * level, at most maxDepth levels above the first. A group seen before is not followed again, so a
 * loop (a group in itself, A in B in A) ends. Stops as soon as the first candidate is reached.
 */
async function firstReached(
  client: LdapClient,
  groups: readonly GroupRule[],
  member: Member,
  nesting: Nesting,
  log: Logger | undefined,
): Promise<GroupRule | undefined> {
  const wanted = groups.map((g) => normalizeDn(g.dn));
  const seen = new Set<string>();
  const reached = new Set<string>();
  const best = () => groups[wanted.findIndex((dn) => reached.has(dn))];
  let filter = ldapFilter`(|(member=${member.dn})(uniqueMember=${member.dn})(memberUid=${member.uid}))`;
  for (let level = 0; level <= nesting.maxDepth; level++) {
    const found = await client
      .search(nesting.base, { filter, attributes: ["1.1"], sizeLimit: MAX_GROUPS_PER_LEVEL, pageSize: 0 })
      .catch(missingBase("the nested-group search base", "nestedGroups.groupBase"));
    const fresh = [...found.map((e) => e.dn), ...(level === 0 ? member.memberOf : [])].filter((dn) => {
      const key = normalizeDn(dn);
      if (seen.has(key)) return false;
      seen.add(key);
      reached.add(key);
      return true;
    });
    if (best() !== undefined || fresh.length === 0) return best();
    if (level === nesting.maxDepth) {
      log?.warn("group nesting goes deeper than nestedGroups.maxDepth; deeper groups are not followed", {
        user: member.uid,
        maxDepth: nesting.maxDepth,
      });
      return undefined;
    }
    filter = `(|${fresh.map((dn) => ldapFilter`(|(member=${dn})(uniqueMember=${dn}))`).join("")})`;
  }
  return undefined;
}
