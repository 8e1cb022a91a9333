import { ConfigError, DataError, type LdapClient, LdapNotFoundError } from "@opsguard/core";
import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { person } from "../src/people";
import { LdapGroupSink, type LdapGroupSinkOptions } from "../src/sinks/ldap-group";

// The LDAP group sink's decisions, each against the lab's slapd (issue 19, mutation testing of deputize-diff):
// whom it resolves and how, what it reports, which writes it sends, and what it does after a conflict.

let lab: SlapdLab;
let admin: LdapClient;
let groupCount = 0;

beforeAll(async () => {
  lab = await startSlapd();
  admin = lab.adminClient();
});
afterAll(async () => {
  await admin?.close();
  await lab?.stop();
});

/** A fresh groupOfNames (or posixGroup) with these members, so each test starts from a known group. */
async function group(members: string[], kind: "names" | "posix" = "names"): Promise<string> {
  groupCount += 1;
  const dn = `cn=diff-${groupCount},${lab.groupsDn}`;
  if (kind === "posix")
    await lab.addEntry(dn, {
      objectClass: "posixGroup",
      cn: `diff-${groupCount}`,
      gidNumber: String(6000 + groupCount),
      memberUid: members,
    });
  else await lab.addEntry(dn, { objectClass: "groupOfNames", cn: `diff-${groupCount}`, member: members });
  return dn;
}

function sink(groupDn: string, options: Partial<LdapGroupSinkOptions> = {}, client: () => Promise<LdapClient> = async () => admin) {
  return new LdapGroupSink({
    name: "ldap:test",
    client,
    group: groupDn,
    peopleBase: lab.peopleDn,
    peopleFilter: "(objectClass=inetOrgPerson)",
    emailAttribute: "mail",
    uidAttribute: "uid",
    permanentMembers: [],
    ...options,
  });
}

async function members(dn: string, attribute = "member"): Promise<string[]> {
  return ((await admin.read(dn, [attribute]))?.get(attribute) ?? []).slice().sort();
}

/** A client whose modifies are counted, and whose first modify can be preceded by another writer's change. */
function counting(before?: () => Promise<void>): { client: () => Promise<LdapClient>; modifies: unknown[][] } {
  const modifies: unknown[][] = [];
  let first = true;
  const wrapped = new Proxy(admin, {
    get(target, prop, receiver) {
      if (prop === "modify")
        return async (dn: string, changes: unknown[]) => {
          modifies.push(changes);
          if (first && before) {
            first = false;
            await before();
          }
          return target.modify(dn, changes as Parameters<LdapClient["modify"]>[1]);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { client: async () => wrapped, modifies };
}

describe("deputize ldap-group sink: configuration and the group", () => {
  it("refuses a peopleFilter that does not parse, naming the sink and the key", () => {
    const make = () => sink("cn=x,dc=example", { peopleFilter: "(&(uid=a)" });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/^sink ldap:test: peopleFilter: /);
    // the kind the run report shows next to the sink's name
    expect(sink("cn=x,dc=example").kind).toBe("ldap-group");
  });

  it("a group that does not exist is a data error naming it, and nothing is written", async () => {
    const missing = `cn=nowhere,${lab.groupsDn}`;
    const error = await sink(missing)
      .plan([person({ email: lab.users.bob.mail })])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toBe(`group ${missing} does not exist`);
  });

  it("an entry that is no group of a known kind is refused, not treated as an empty group", async () => {
    const error = await sink(lab.users.carol.dn)
      .plan([person({ email: lab.users.bob.mail })])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/is not a groupOfNames, groupOfUniqueNames or posixGroup$/);
  });
});

describe("deputize ldap-group sink: who is on call, as the directory knows them", () => {
  it("finds a person by e-mail whatever its case, and accepts a peopleFilter written without parentheses", async () => {
    const dn = await group([lab.users.bob.dn]);
    const plan = await sink(dn, { peopleFilter: "objectClass=inetOrgPerson" }).plan([
      person({ email: lab.users.alice.mail.toUpperCase() }),
    ]);
    expect(plan).toMatchObject({ current: ["bob"], desired: ["alice"], add: ["alice"], remove: ["bob"], unresolved: [] });
    await plan.apply();
    expect(await members(dn)).toEqual([lab.users.alice.dn]);
  });

  it("finds a person known only by uid, and names one nobody matches (the rest still placed)", async () => {
    const dn = await group([lab.users.bob.dn]);
    const plan = await sink(dn).plan([person({ uid: "carol" }), person({ uid: "nobody" }), person({ email: "Ghost@opsguard.test" })]);
    expect(plan.desired).toEqual(["carol"]);
    // named as the source spelled them
    expect(plan.unresolved).toEqual([`nobody: no entry under ${lab.peopleDn}`, `Ghost@opsguard.test: no entry under ${lab.peopleDn}`]);
  });

  it("a person with several e-mail addresses is found by any of them; blanks around the peopleFilter do not matter", async () => {
    const dn = await group([lab.users.bob.dn]);
    const multi = `uid=multi,${lab.peopleDn}`;
    await lab.addEntry(multi, {
      objectClass: "inetOrgPerson",
      uid: "multi",
      cn: "Multi",
      sn: "Multi",
      mail: ["first@opsguard.test", "second@opsguard.test"],
    });
    const plan = await sink(dn, { peopleFilter: "  (objectClass=inetOrgPerson)  " }).plan([person({ email: "second@opsguard.test" })]);
    expect(plan).toMatchObject({ desired: ["multi"], unresolved: [] });
  });

  it("a peopleFilter that leaves someone out makes them unresolved, not a member", async () => {
    const dn = await group([lab.users.bob.dn]);
    const plan = await sink(dn, { peopleFilter: "uid=carol" }).plan([person({ uid: "carol" }), person({ uid: "dave" })]);
    expect(plan.desired).toEqual(["carol"]);
    expect(plan.unresolved).toEqual([`dave: no entry under ${lab.peopleDn}`]);
  });

  it("two entries with the same e-mail are ambiguous: neither is added", async () => {
    const twin = `uid=bob2,${lab.peopleDn}`;
    await lab.addEntry(twin, { objectClass: "inetOrgPerson", uid: "bob2", cn: "Bob Two", sn: "Two", mail: "twin@opsguard.test" });
    await lab.addEntry(`uid=bob3,${lab.peopleDn}`, {
      objectClass: "inetOrgPerson",
      uid: "bob3",
      cn: "Bob Three",
      sn: "Three",
      mail: "twin@opsguard.test",
    });
    const dn = await group([lab.users.bob.dn]);
    const plan = await sink(dn).plan([person({ email: "twin@opsguard.test" }), person({ uid: "alice" })]);
    expect(plan.unresolved).toEqual(["twin@opsguard.test: 2 entries match"]);
    expect(plan.desired).toEqual(["alice"]);
  });

  it("a posixGroup gets the uid; an entry without the uid attribute is named, not added as an empty value", async () => {
    const dn = await group(["bob"], "posix");
    const plan = await sink(dn, { uidAttribute: "employeeNumber" }).plan([person({ email: lab.users.alice.mail })]);
    expect(plan.unresolved).toEqual([`${lab.users.alice.mail}: entry ${lab.users.alice.dn} has no employeeNumber`]);
    expect(plan.desired).toEqual([]);
    const byUid = await sink(dn).plan([person({ email: lab.users.alice.mail })]);
    expect(byUid).toMatchObject({ current: ["bob"], desired: ["alice"], add: ["alice"], remove: ["bob"], unresolved: [] });
    await byUid.apply();
    expect(await members(dn, "memberUid")).toEqual(["alice"]);
  });

  it("nobody on call asks the directory nothing and keeps only the permanent members", async () => {
    const dn = await group([lab.users.bob.dn, lab.users.dave.dn]);
    const plan = await sink(dn, { permanentMembers: [lab.users.dave.dn] }).plan([]);
    expect(plan).toMatchObject({ current: ["bob", "dave"], desired: ["dave"], add: [], remove: ["bob"], unresolved: [] });
  });
});

describe("deputize ldap-group sink: what it writes", () => {
  it("no change sends no modify at all", async () => {
    const dn = await group([lab.users.bob.dn]);
    const { client, modifies } = counting();
    const plan = await sink(dn, {}, client).plan([person({ email: lab.users.bob.mail })]);
    expect(plan).toMatchObject({ add: [], remove: [] });
    await plan.apply();
    expect(modifies).toEqual([]);
  });

  it("only adding sends one add and no delete; only removing sends one delete and no add", async () => {
    const dn = await group([lab.users.bob.dn]);
    const adding = counting();
    const more = await sink(dn, {}, adding.client).plan([person({ email: lab.users.bob.mail }), person({ email: lab.users.carol.mail })]);
    await more.apply();
    expect(adding.modifies).toEqual([[{ operation: "add", attribute: "member", values: [lab.users.carol.dn] }]]);
    const removing = counting();
    const fewer = await sink(dn, {}, removing.client).plan([person({ email: lab.users.carol.mail })]);
    await fewer.apply();
    expect(removing.modifies).toEqual([[{ operation: "delete", attribute: "member", values: [lab.users.bob.dn] }]]);
    expect(await members(dn)).toEqual([lab.users.carol.dn]);
  });

  it("a member name that is a single RDN or no DN at all is shown as the directory holds it", async () => {
    const dn = await group(["dc=example", lab.users.bob.dn]);
    const plan = await sink(dn).plan([person({ email: lab.users.bob.mail })]);
    expect(plan.current).toEqual(["dc=example", "bob"]);
    expect(plan.remove).toEqual(["dc=example"]);
    const posix = await group(["x=y,z"], "posix");
    expect((await sink(posix).plan([])).current).toEqual(["x=y,z"]);
  });
});

describe("deputize ldap-group sink: another writer between read and write", () => {
  it("someone already added the person (attributeOrValueExists): re-read, write only what is missing, report that", async () => {
    const dn = await group([lab.users.bob.dn]);
    const { client, modifies } = counting(() =>
      admin.modify(dn, [{ operation: "add", attribute: "member", values: [lab.users.carol.dn] }]),
    );
    const plan = await sink(dn, {}, client).plan([person({ email: lab.users.carol.mail })]);
    expect(plan).toMatchObject({ add: ["carol"], remove: ["bob"] });
    await plan.apply();
    expect(modifies).toHaveLength(2);
    expect(modifies[1]).toEqual([{ operation: "delete", attribute: "member", values: [lab.users.bob.dn] }]);
    expect(await members(dn)).toEqual([lab.users.carol.dn]);
    expect(plan).toMatchObject({ current: ["bob", "carol"], add: [], remove: ["bob"] });
  });

  it("the other writer already did the whole change: nothing more is written and the report says so", async () => {
    const dn = await group([lab.users.bob.dn]);
    const { client, modifies } = counting(() =>
      admin.modify(dn, [{ operation: "replace", attribute: "member", values: [lab.users.carol.dn] }]),
    );
    const plan = await sink(dn, {}, client).plan([person({ email: lab.users.carol.mail })]);
    await plan.apply();
    expect(modifies).toHaveLength(1);
    expect(await members(dn)).toEqual([lab.users.carol.dn]);
    expect(plan).toMatchObject({ current: ["carol"], add: [], remove: [] });
  });

  it("any other refusal is not retried: the group deleted meanwhile reaches the caller as not found", async () => {
    const dn = await group([lab.users.bob.dn]);
    const { client, modifies } = counting(() => admin.delete(dn).then(() => undefined));
    const plan = await sink(dn, {}, client).plan([person({ email: lab.users.carol.mail })]);
    const error = await plan.apply().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LdapNotFoundError);
    expect(modifies).toHaveLength(1);
  });
});
