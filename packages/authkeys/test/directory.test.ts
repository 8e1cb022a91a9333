import { join } from "node:path";
import { LdapClient } from "@opsguard/core";
import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type AuthkeysConfig, authkeysConfigSchema, lookupKeys } from "../src/index";
import { collectingLogger } from "./harness";

// The group check's edges against a real slapd (mutation testing, issue 19, found these unpinned): which
// membership attribute admits whom, DNs compared in normal form, and a group that cannot be read failing
// closed with an error rather than quietly refusing everyone.

let lab: SlapdLab;
let uniqueGroup: string;
let n = 0;
const { log } = collectingLogger();
const searches = vi.spyOn(LdapClient.prototype, "search");

beforeAll(async () => {
  lab = await startSlapd();
  // groupOfUniqueNames: no memberOf for its members, only the group's own uniqueMember values
  uniqueGroup = `cn=dba,${lab.groupsDn}`;
  await lab.addEntry(uniqueGroup, { objectClass: "groupOfUniqueNames", cn: "dba", uniqueMember: [lab.users.dave.dn] });
});
afterAll(() => lab?.stop());
afterEach(() => {
  searches.mockClear();
});

function config(allowedGroups: unknown): AuthkeysConfig {
  n++;
  return authkeysConfigSchema.parse({
    ldap: lab.connection(),
    cache: { dir: join(lab.dir, "directory-caches", String(n)) },
    syslog: false,
    allowedGroups,
  });
}

describe("allowedGroups: who is a member", () => {
  it("a groupOfUniqueNames admits its uniqueMember values and nobody else", async () => {
    const cfg = config([uniqueGroup]);
    expect(await lookupKeys(cfg, { user: "dave" }, { log })).toMatchObject({ result: "keys", source: "ldap" });
    expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ result: "not-allowed", lines: [] });
  });

  it("a group DN written another way (case, spaces) still matches memberOf, with one search and no group read", async () => {
    const spelled = lab.groups.sre
      .split(",")
      .map((rdn) => rdn.toUpperCase())
      .join(" , ");
    const cfg = config([spelled]);
    searches.mockClear();
    expect(await lookupKeys(cfg, { user: "carol" }, { log })).toMatchObject({ result: "keys" });
    // the user's own entry answered it (memberOf): a login costs one round trip, not one per group
    expect(searches.mock.calls.map(([base]) => base)).toEqual([lab.connection().baseDn]);
  });

  it("without allowedGroups nobody's groups are asked for, and every user with keys gets them unprefixed", async () => {
    const cfg = config(undefined);
    searches.mockClear();
    const dave = await lookupKeys(cfg, { user: "dave" }, { log });
    expect(dave.result).toBe("keys");
    expect(dave.lines.every((line) => /^(ssh-|ecdsa-|sk-)/.test(line))).toBe(true);
    expect(searches.mock.calls).toHaveLength(1);
    expect(searches.mock.calls[0]?.[1]?.attributes).not.toContain("memberOf");
  });

  it("a group given as an object without keyOptions prefixes nothing", async () => {
    const cfg = config([{ dn: lab.groups.sre }]);
    const carol = await lookupKeys(cfg, { user: "carol" }, { log });
    expect(carol.lines).toEqual([lab.users.carol.keys[0]!.publicKey]);
  });

  it("the first listed group the user is in decides the options, whatever the directory's order", async () => {
    const cfg = config([
      { dn: uniqueGroup, keyOptions: "no-pty" },
      { dn: lab.groups.sre, keyOptions: "no-agent-forwarding" },
      { dn: lab.groups.ops, keyOptions: "no-port-forwarding" },
    ]);
    // alice is in sre (memberOf) and ops (memberUid): sre is listed first
    const alice = await lookupKeys(cfg, { user: "alice" }, { log });
    expect(alice.lines.map((line) => line.split(" ")[0])).toEqual(alice.lines.map(() => "no-agent-forwarding"));
    // bob only in ops, by memberUid: asked of the group itself
    const bob = await lookupKeys(cfg, { user: "bob" }, { log });
    expect(bob.lines.map((line) => line.split(" ")[0])).toEqual(bob.lines.map(() => "no-port-forwarding"));
  });

  it("a group DN the server refuses is an error, not a silent refusal of everyone", async () => {
    // well-formed, but slapd knows no attribute type "xyzzy" (invalidDNSyntax); dave has no memberOf, so the
    // group itself is asked
    const cfg = config([`xyzzy=ops,${lab.groupsDn}`]);
    await expect(lookupKeys(cfg, { user: "dave" }, { log })).rejects.toThrow(/xyzzy=ops/);
    // one that does not exist admits nobody: that is an answer
    expect(await lookupKeys(config([`cn=gone,${lab.groupsDn}`]), { user: "dave" }, { log })).toMatchObject({ result: "not-allowed" });
  });
});
