import {
  ConfigError,
  DataError,
  escapeFilterValue,
  type LdapClient,
  type LdapEntry,
  LdapOperationError,
  normalizeDn,
  parseDn,
  parseFilter,
} from "@opsguard/core";
import type { Person } from "../people";
import type { Sink, SinkPlan } from "./sink";

export interface LdapGroupSinkOptions {
  name: string;
  client: () => Promise<LdapClient>;
  group: string;
  /** Where people live, and which entries count as people. */
  peopleBase: string;
  peopleFilter: string;
  emailAttribute: string;
  uidAttribute: string;
  /** DNs (or uids for a posixGroup) that stay whatever the schedule says. */
  permanentMembers: readonly string[];
  schedules?: readonly string[] | undefined;
}

const MEMBER_ATTRIBUTE: Record<string, string> = {
  groupofnames: "member",
  groupofuniquenames: "uniqueMember",
  posixgroup: "memberUid",
};

/**
 * An LDAP group (groupOfNames, groupOfUniqueNames or posixGroup) whose members follow the
 * schedule. People are found with one search for all of them, and the change is ONE modify with
 * add and delete of values, which the server applies atomically: the group is never empty or half-done.
 */
export class LdapGroupSink implements Sink {
  readonly kind = "ldap-group";
  readonly name: string;
  readonly schedules: readonly string[] | undefined;
  readonly #o: LdapGroupSinkOptions;

  constructor(options: LdapGroupSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.schedules = options.schedules;
    try {
      parseFilter(options.peopleFilter);
    } catch (error) {
      throw new ConfigError(`sink ${options.name}: peopleFilter: ${(error as Error).message}`);
    }
  }

  async plan(people: readonly Person[]): Promise<SinkPlan> {
    const ldap = await this.#o.client();
    const group = await ldap.read(this.#o.group, ["objectClass", "member", "uniqueMember", "memberUid"]);
    if (!group) throw new DataError(`group ${this.#o.group} does not exist`, { hint: "check the sink's group DN" });
    const attribute = memberAttributeOf(group);
    const byDn = attribute !== "memberUid";
    const key = (value: string) => (byDn ? normalizeDn(value) : value);
    const current = group.get(attribute);

    const { values, unresolved } = await this.#resolve(ldap, people, byDn);
    const desired = new Map<string, string>();
    for (const value of [...this.#o.permanentMembers, ...values]) desired.set(key(value), value);
    const currentKeys = new Set(current.map(key));
    const add = [...desired].filter(([k]) => !currentKeys.has(k)).map(([, v]) => v);
    const remove = current.filter((v) => !desired.has(key(v)));

    const plan: SinkPlan = {
      current: current.map(display),
      desired: [...desired.values()].map(display),
      add: add.map(display),
      remove: remove.map(display),
      updates: [],
      unresolved,
      // Counted here, not guessed from the plan: a permanent member to add is nobody on call placed.
      placed: values.length,
      apply: async (beforeWrite = async () => {}) => {
        if (add.length === 0 && remove.length === 0) return;
        const modify = (adding: string[], removing: string[]) =>
          ldap.modify(this.#o.group, [
            ...(adding.length > 0 ? [{ operation: "add" as const, attribute, values: adding }] : []),
            ...(removing.length > 0 ? [{ operation: "delete" as const, attribute, values: removing }] : []),
          ]);
        try {
          await modify(add, remove);
        } catch (error) {
          // The modify names the exact values to add and delete, so it is a compare-and-set: when another
          // writer (deputize on a second host) changed the group since it was read, slapd refuses it whole
          // (attributeOrValueExists 20, noSuchAttribute 16). Re-read once and apply what is still missing.
          if (!(error instanceof LdapOperationError) || (error.resultCode !== 20 && error.resultCode !== 16)) throw error;
          const now = (await ldap.read(this.#o.group, [attribute]))?.get(attribute) ?? [];
          const nowKeys = new Set(now.map(key));
          const stillAdd = [...desired].filter(([k]) => !nowKeys.has(k)).map(([, v]) => v);
          const stillRemove = now.filter((v) => !desired.has(key(v)));
          // The retry is a second write: fenced again (lease.redis), the first one was fenced by the run.
          if (stillAdd.length > 0 || stillRemove.length > 0) {
            await beforeWrite();
            await modify(stillAdd, stillRemove);
          }
          // The report must name what was really written (frank removed), not the refused first try.
          plan.current = now.map(display);
          plan.add = stillAdd.map(display);
          plan.remove = stillRemove.map(display);
        }
      },
    };
    return plan;
  }

  /** One search for everyone: (&<peopleFilter>(|(mail=a)(uid=b)…)), every value escaped. */
  async #resolve(ldap: LdapClient, people: readonly Person[], byDn: boolean): Promise<{ values: string[]; unresolved: string[] }> {
    if (people.length === 0) return { values: [], unresolved: [] };
    const { emailAttribute: mailAttr, uidAttribute: uidAttr } = this.#o;
    const entries = await this.#search(ldap, people);
    const values: string[] = [];
    const unresolved: string[] = [];
    for (const p of people) {
      const matches = entries.filter((e) =>
        p.email ? e.get(mailAttr).some((m) => sameValue(m, p.email)) : e.get(uidAttr).some((u) => sameValue(u, p.uid)),
      );
      const who = p.email ?? p.uid ?? p.key;
      const match = matches[0];
      const conflict = this.#conflict(p, entries);
      if (conflict) unresolved.push(conflict);
      else if (!match) unresolved.push(`${who}: no entry under ${this.#o.peopleBase}`);
      else if (matches.length > 1) unresolved.push(`${who}: ${matches.length} entries match`);
      else if (byDn) values.push(match.dn);
      else {
        const uid = match.first(uidAttr);
        if (uid) values.push(uid);
        else unresolved.push(`${who}: entry ${match.dn} has no ${uidAttr}`);
      }
    }
    return { values, unresolved };
  }

  /**
   * People on call (given with both a uid and an email) whose uid and email name two different people in
   * the directory, each with the line saying so: every sink leaves such an entry out rather than grant one
   * person by one key and remove the other by the other (T56 F12).
   */
  readonly identityConflicts = async (people: readonly Person[]): Promise<Map<string, string>> => {
    const both = people.filter((p) => p.email && p.uid);
    const conflicts = new Map<string, string>();
    if (both.length === 0) return conflicts;
    const entries = await this.#search(await this.#o.client(), both);
    for (const p of both) {
      const conflict = this.#conflict(p, entries);
      if (conflict) conflicts.set(p.key, conflict);
    }
    return conflicts;
  };

  /** Searches by email, and also by uid for someone given both, so a uid and email that disagree are seen. */
  async #search(ldap: LdapClient, people: readonly Person[]): Promise<LdapEntry[]> {
    const { emailAttribute: mailAttr, uidAttribute: uidAttr } = this.#o;
    const terms = people.flatMap((p) => [
      ...(p.email ? [`(${mailAttr}=${escapeFilterValue(p.email)})`] : []),
      ...(p.uid ? [`(${uidAttr}=${escapeFilterValue(p.uid)})`] : []),
    ]);
    const filter = `(&${wrap(this.#o.peopleFilter)}(|${terms.join("")}))`;
    return ldap.search(this.#o.peopleBase, { filter, attributes: [mailAttr, uidAttr] });
  }

  /** The entry with the person's email has another uid, or the one with their uid another email: two people. */
  #conflict(p: Person, entries: readonly LdapEntry[]): string | undefined {
    if (!p.email || !p.uid) return undefined;
    const { emailAttribute: mailAttr, uidAttribute: uidAttr } = this.#o;
    const hasEmail = (e: LdapEntry) => e.get(mailAttr).some((m) => sameValue(m, p.email));
    const hasUid = (e: LdapEntry) => e.get(uidAttr).some((u) => sameValue(u, p.uid));
    const others = entries.filter((e) => {
      if (hasEmail(e)) return e.get(uidAttr).length > 0 && !hasUid(e);
      return hasUid(e) && e.get(mailAttr).length > 0;
    });
    if (others.length === 0) return undefined;
    // The entry holding the email first, then the uid's: the same line on every run, whatever the server's order.
    others.sort((a, b) => Number(hasEmail(b)) - Number(hasEmail(a)) || a.dn.localeCompare(b.dn));
    const said = others.map(
      (e) => `${e.dn} has ${uidAttr} ${e.get(uidAttr).join(", ")} and ${mailAttr} ${e.get(mailAttr).join(", ") || "none"}`,
    );
    return `${p.email} (uid ${p.uid}): this uid and email are different people in the directory (${said.join("; ")}); left out of every sink: fix the on-call entry`;
  }
}

/**
 * Equal as the directory compares them: uid's equality rule is caseIgnoreMatch (RFC 4519 §2.39) and mail's
 * caseIgnoreIA5Match (RFC 4524 §2.16), so `Bob` and `bob`, `BOB@Example.com` and `bob@example.com` are one
 * value (T59 N1). Both rules prepare the strings first (RFC 4518: compatibility normalization, case folding).
 */
function sameValue(stored: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const fold = (v: string) => v.normalize("NFKC").toLowerCase();
  return fold(stored) === fold(given);
}

function memberAttributeOf(group: LdapEntry): string {
  for (const oc of group.get("objectClass")) {
    const attribute = MEMBER_ATTRIBUTE[oc.toLowerCase()];
    if (attribute) return attribute;
  }
  throw new DataError(`${group.dn} is not a groupOfNames, groupOfUniqueNames or posixGroup`, { hint: "point the sink at a group entry" });
}

function wrap(filter: string): string {
  const f = filter.trim();
  return f.startsWith("(") ? f : `(${f})`;
}

/** uid=alice,ou=people,… → alice; a memberUid stays as it is. */
function display(value: string): string {
  try {
    const rdns = parseDn(value);
    return rdns.length > 1 ? (rdns[0]?.[0]?.value ?? value) : value;
  } catch {
    return value;
  }
}
