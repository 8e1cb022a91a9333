import { LdapClient } from "@opsguard/core";
import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { person } from "../src/people";
import { LdapGroupSink } from "../src/sinks/ldap-group";

/**
 * deputize on two hosts for redundancy, against the real slapd: the LDAP modify names the exact
 * values it adds and deletes, so the later of two overlapping writers is refused whole by slapd
 * and re-reads once instead of failing or undoing the other's work.
 */

let lab: SlapdLab;
const clients: LdapClient[] = [];
const modify = vi.spyOn(LdapClient.prototype, "modify");

function sink(): LdapGroupSink {
  const client = lab.adminClient();
  clients.push(client);
  return new LdapGroupSink({
    name: "ldap",
    client: async () => client,
    group: lab.groups.oncall,
    peopleBase: lab.peopleDn,
    peopleFilter: "(objectClass=inetOrgPerson)",
    emailAttribute: "mail",
    uidAttribute: "uid",
    permanentMembers: [],
  });
}

async function members(): Promise<string[]> {
  const entry = await clients[0]?.read(lab.groups.oncall, ["member"]);
  return (entry?.get("member") ?? []).map((v) => /^uid=([^,]+)/.exec(v)?.[1] ?? v).sort();
}

const on = (...names: string[]) => names.map((n) => person({ email: lab.users[n as "alice"].mail }));

beforeAll(async () => {
  lab = await startSlapd();
  sink();
});
afterAll(async () => {
  modify.mockRestore();
  await Promise.all(clients.map((c) => c.close()));
  await lab?.stop();
});

describe("two deputize instances on one LDAP group", () => {
  it("the later writer, refused by slapd, re-reads and finds the work done instead of failing", async () => {
    expect(await members()).toEqual(["bob"]);
    const [a, b] = [sink(), sink()];
    const planA = await a.plan(on("alice"));
    const planB = await b.plan(on("alice"));
    expect(planA).toMatchObject({ add: ["alice"], remove: ["bob"] });
    modify.mockClear();
    await planB.apply();
    await expect(planA.apply()).resolves.toBeUndefined();
    expect(await members()).toEqual(["alice"]);
    // B's modify, then A's refused one; nothing was left for A to do, and A's report says so.
    expect(modify).toHaveBeenCalledTimes(2);
    expect(planA).toMatchObject({ add: [], remove: [] });
  });

  it("run at the same moment, both finish and the group is what the schedule says", async () => {
    const [a, b] = [sink(), sink()];
    const [planA, planB] = await Promise.all([a.plan(on("carol", "alice")), b.plan(on("carol", "alice"))]);
    await Promise.all([planA.apply(), planB.apply()]);
    expect(await members()).toEqual(["alice", "carol"]);
  });

  it("a writer with a stale view still applies what is missing of its own plan, not the other's leftovers", async () => {
    const [a, b] = [sink(), sink()];
    const stale = await a.plan(on("bob"));
    await (await b.plan(on("dave"))).apply();
    expect(await members()).toEqual(["dave"]);
    await stale.apply();
    expect(await members()).toEqual(["bob"]);
    // It planned "+bob -alice -carol" but, after the re-read, removed dave: the report names dave.
    expect(stale).toMatchObject({ current: ["dave"], add: ["bob"], remove: ["dave"] });
  });
});
