import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { person } from "../src/people";
import { LdapGroupSink } from "../src/sinks/ldap-group";

// Named regression test for a decision a single-line break once slipped past the suite (issue 19): the LDAP
// group diff compares member DNs in normal form, so a DN written another way is the same member.

let lab: SlapdLab;

beforeAll(async () => {
  lab = await startSlapd();
});
afterAll(() => lab?.stop());

describe("deputize regressions", () => {
  it("a member whose DN is written differently (case, spaces) is the same member: no change, no modify", async () => {
    const admin = lab.adminClient();
    try {
      // another tool (or a person with ldapmodify) wrote bob's DN in upper case with spaces after the commas
      const otherSpelling = lab.users.bob.dn
        .split(",")
        .map((rdn) => rdn.replace(/^([^=]+)=(.*)$/, (_m, type: string, value: string) => `${type.toUpperCase()}=${value.toUpperCase()}`))
        .join(", ");
      await lab.modify(lab.groups.oncall, [{ operation: "replace", attribute: "member", values: [otherSpelling] }]);
      const stored = (await admin.read(lab.groups.oncall, ["member"]))?.get("member") ?? [];
      expect(stored).toHaveLength(1);
      expect(stored[0]).not.toBe(lab.users.bob.dn); // the directory kept the other spelling

      const sink = new LdapGroupSink({
        name: "ldap:oncall",
        client: async () => admin,
        group: lab.groups.oncall,
        peopleBase: lab.peopleDn,
        peopleFilter: "(objectClass=inetOrgPerson)",
        emailAttribute: "mail",
        uidAttribute: "uid",
        permanentMembers: [],
      });
      const plan = await sink.plan([person({ email: lab.users.bob.mail })]);
      expect(plan).toMatchObject({ add: [], remove: [], unresolved: [] });
      await plan.apply();
      expect((await admin.read(lab.groups.oncall, ["member"]))?.get("member")).toEqual(stored);

      // control: someone else on call is a real change of one add and one delete
      const change = await sink.plan([person({ email: lab.users.alice.mail })]);
      expect(change).toMatchObject({ add: ["alice"], remove: ["BOB"] }); // shown as the directory spells it
    } finally {
      await admin.close();
    }
  });
});
