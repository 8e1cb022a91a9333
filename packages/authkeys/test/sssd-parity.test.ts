import { join } from "node:path";
import { ConfigError, LdapClient } from "@opsguard/core";
import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type AuthkeysConfig, authkeysConfigSchema, lookupKeys } from "../src/index";
import { collectingLogger } from "./harness";

// Issue 22's SSSD parity against a real slapd: nested groups (recursive; AD's in-chain rule by the
// filter sent, since slapd does not implement it) and host-based access.

let lab: SlapdLab;
let g: Record<"platform" | "dba" | "data" | "loopA" | "loopB" | "d1" | "d2" | "d3" | "odd", string>;
let hostieDn: string;
let hostieKey: string;
let n = 0;
const { log, lines } = collectingLogger();
const searches = vi.spyOn(LdapClient.prototype, "search");

beforeAll(async () => {
  lab = await startSlapd();
  const dn = (cn: string) => `cn=${cn},${lab.groupsDn}`;
  g = {
    platform: dn("platform"),
    dba: dn("dba"),
    data: dn("data"),
    loopA: dn("loopA"),
    loopB: dn("loopB"),
    d1: dn("d1"),
    d2: dn("d2"),
    d3: dn("d3"),
    // a DN whose value holds filter metacharacters: it must reach the server escaped
    odd: `cn=ops\\2C*)(uid=*,${lab.groupsDn}`,
  };
  const names = (cn: string, member: string[]) => lab.addEntry(dn(cn), { objectClass: "groupOfNames", cn, member });
  // sre (alice, carol) is inside platform
  await names("platform", [lab.groups.sre]);
  // a groupOfUniqueNames (dave) inside a groupOfNames
  await lab.addEntry(g.dba, { objectClass: "groupOfUniqueNames", cn: "dba", uniqueMember: [lab.users.dave.dn] });
  await names("data", [g.dba]);
  // a loop: eve in loopA, loopA in loopB, loopB in loopA
  await names("loopA", [lab.users.eve.dn, g.loopB]);
  await names("loopB", [g.loopA]);
  // a chain three deep: bob in d1 in d2 in d3
  await names("d1", [lab.users.bob.dn]);
  await names("d2", [g.d1]);
  await names("d3", [g.d2]);
  // an account entry (which may carry SSSD's host attribute) with alice's first key
  hostieDn = `uid=hostie,${lab.peopleDn}`;
  hostieKey = lab.users.alice.keys[0]!.publicKey;
  await lab.addEntry(hostieDn, {
    objectClass: ["account", "posixAccount", "ldapPublicKey"],
    uid: "hostie",
    cn: "hostie",
    uidNumber: "20001",
    gidNumber: "5000",
    homeDirectory: "/home/hostie",
    sshPublicKey: hostieKey,
    host: ["web-01.example.org", "!db-01", "build-*"],
  });
});
afterAll(() => lab?.stop());
beforeEach(() => {
  searches.mockClear();
  lines.length = 0;
});

function config(overrides: Record<string, unknown>): AuthkeysConfig {
  n++;
  return authkeysConfigSchema.parse({
    ldap: lab.connection(),
    cache: { dir: join(lab.dir, "parity-caches", String(n)) },
    syslog: false,
    ...overrides,
  });
}

describe("nestedGroups", () => {
  it("without nestedGroups a nested member is refused, as before (an upgrade never widens access)", async () => {
    expect(await lookupKeys(config({ allowedGroups: [g.platform] }), { user: "alice" }, { log })).toMatchObject({
      result: "not-allowed",
    });
  });

  it("admits members of a groupOfNames or groupOfUniqueNames inside an allowed group, and nobody else", async () => {
    const cfg = config({ allowedGroups: [g.platform, g.data], nestedGroups: {} });
    for (const user of ["alice", "carol", "dave"]) {
      expect(await lookupKeys(cfg, { user }, { log })).toMatchObject({ result: "keys", source: "ldap" });
    }
    for (const user of ["bob", "eve", "frank"]) {
      expect(await lookupKeys(cfg, { user }, { log })).toMatchObject({ result: "not-allowed", lines: [] });
    }
  });

  it("the first listed group decides keyOptions, reached directly or through nesting", async () => {
    const groups = [
      { dn: g.platform, keyOptions: "no-pty" },
      { dn: lab.groups.sre, keyOptions: "no-agent-forwarding" },
    ];
    const nested = await lookupKeys(config({ allowedGroups: groups, nestedGroups: {} }), { user: "carol" }, { log });
    expect(nested.lines.map((line) => line.split(" ")[0])).toEqual(["no-pty"]);
    const flat = await lookupKeys(config({ allowedGroups: groups }), { user: "carol" }, { log });
    expect(flat.lines.map((line) => line.split(" ")[0])).toEqual(["no-agent-forwarding"]);
  });

  it("a direct member of the first listed group costs no nesting search", async () => {
    const cfg = config({ allowedGroups: [lab.groups.sre, g.platform], nestedGroups: {} });
    expect(await lookupKeys(cfg, { user: "carol" }, { log })).toMatchObject({ result: "keys" });
    expect(searches.mock.calls).toHaveLength(1);
  });

  it("follows at most maxDepth group-in-group hops, and says so when it stops", async () => {
    expect(await lookupKeys(config({ allowedGroups: [g.d3], nestedGroups: {} }), { user: "bob" }, { log })).toMatchObject({
      result: "keys",
    });
    lines.length = 0;
    const shallow = config({ allowedGroups: [g.d3], nestedGroups: { maxDepth: 1 } });
    expect(await lookupKeys(shallow, { user: "bob" }, { log })).toMatchObject({ result: "not-allowed", lines: [] });
    expect(lines.join("")).toContain("deeper than nestedGroups.maxDepth");
  });

  it("a loop of groups ends: each group is searched for once", async () => {
    const cfg = config({ allowedGroups: [g.d3], nestedGroups: { maxDepth: 10 } });
    expect(await lookupKeys(cfg, { user: "eve" }, { log })).toMatchObject({ result: "not-allowed" });
    // the user's search, the direct check of d3, then levels: {loopA}, {loopB}, {} — not ten levels
    expect(searches.mock.calls.length).toBeLessThanOrEqual(5);
    expect(lines.join("")).not.toContain("deeper than");
  });

  it("a group DN with filter metacharacters is escaped in every filter sent", async () => {
    const cfg = config({ allowedGroups: [g.odd], nestedGroups: {} });
    expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ result: "not-allowed" });
    const filters = searches.mock.calls.map(([, options]) => options?.filter ?? "");
    expect(filters.join(" ")).not.toContain("*)(uid=*");
    const inChain = config({ allowedGroups: [g.odd], nestedGroups: { match: "in-chain" } });
    searches.mockClear();
    expect(await lookupKeys(inChain, { user: "alice" }, { log })).toMatchObject({ result: "not-allowed" });
    expect(searches.mock.calls.map(([, options]) => options?.filter).at(-1)).toBe(
      `(memberOf:1.2.840.113556.1.4.1941:=cn=ops\\5c2C\\2a\\29\\28uid=\\2a,${lab.groupsDn})`,
    );
  });

  it("in-chain asks the user's own entry with AD's matching rule, per listed group; slapd (no such rule) admits nobody", async () => {
    const cfg = config({ allowedGroups: [g.platform, g.data], nestedGroups: { match: "in-chain" } });
    expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ result: "not-allowed", lines: [] });
    const inChain = searches.mock.calls.filter(([, options]) => options?.filter?.includes("1.2.840.113556.1.4.1941"));
    expect(inChain.map(([base, options]) => [base, options?.scope, options?.filter])).toEqual([
      [lab.users.alice.dn, "base", `(memberOf:1.2.840.113556.1.4.1941:=${g.platform})`],
      [lab.users.alice.dn, "base", `(memberOf:1.2.840.113556.1.4.1941:=${g.data})`],
    ]);
  });
});

describe("hostAccess", () => {
  const hostie = (hostname: string) => config({ hostAccess: { hostname, userAttribute: "host" } });

  it("the user's host attribute, SSSD style: a listed name (full or short), !name denies, no value denies", async () => {
    expect(await lookupKeys(hostie("web-01.example.org"), { user: "hostie" }, { log })).toMatchObject({
      result: "keys",
      lines: [hostieKey],
    });
    expect(await lookupKeys(hostie("WEB-01.example.org"), { user: "hostie" }, { log })).toMatchObject({ result: "keys" });
    expect(await lookupKeys(hostie("db-01.example.org"), { user: "hostie" }, { log })).toMatchObject({ result: "not-allowed" });
    // only "*" is special: "build-*" names no host
    expect(await lookupKeys(hostie("build-7"), { user: "hostie" }, { log })).toMatchObject({ result: "not-allowed" });
    // alice has no host attribute at all
    expect(await lookupKeys(hostie("web-01.example.org"), { user: "alice" }, { log })).toMatchObject({ result: "not-allowed" });
    expect(lines.join("")).toContain("may not log in on this host");
  });

  it("* admits on every host, but an explicit !name still wins over it", async () => {
    await lab.modify(hostieDn, [{ operation: "add", attribute: "host", values: ["*"] }]);
    try {
      expect(await lookupKeys(hostie("anything"), { user: "hostie" }, { log })).toMatchObject({ result: "keys" });
      expect(await lookupKeys(hostie("db-01"), { user: "hostie" }, { log })).toMatchObject({ result: "not-allowed" });
    } finally {
      await lab.modify(hostieDn, [{ operation: "delete", attribute: "host", values: ["*"] }]);
    }
  });

  it("host rules pick the allowed groups by host name pattern; an unnamed host falls back to allowedGroups", async () => {
    const fleet = (hostname: string, top?: string[]) =>
      config({
        ...(top ? { allowedGroups: top } : {}),
        hostAccess: {
          hostname,
          rules: [
            { hosts: ["web-*"], allowedGroups: [lab.groups.sre] },
            { hosts: ["db-??.example.org"], allowedGroups: [lab.groups.oncall] },
          ],
        },
      });
    expect(await lookupKeys(fleet("web-3.example.org"), { user: "carol" }, { log })).toMatchObject({ result: "keys" });
    expect(await lookupKeys(fleet("web-3.example.org"), { user: "bob" }, { log })).toMatchObject({ result: "not-allowed" });
    expect(await lookupKeys(fleet("db-01.example.org"), { user: "bob" }, { log })).toMatchObject({ result: "keys" });
    expect(await lookupKeys(fleet("db-01.example.org"), { user: "carol" }, { log })).toMatchObject({ result: "not-allowed" });
    // no rule names "mail-1": the top-level allowedGroups apply, and without them nobody is admitted
    expect(await lookupKeys(fleet("mail-1", [lab.groups.ops]), { user: "bob" }, { log })).toMatchObject({ result: "keys" });
    expect(await lookupKeys(fleet("mail-1"), { user: "carol" }, { log })).toMatchObject({ result: "not-allowed" });
  });

  it("a host two rules match is an error, not a guess", async () => {
    const cfg = config({
      hostAccess: {
        hostname: "web-db-1",
        rules: [
          { hosts: ["web-*"], allowedGroups: [lab.groups.sre] },
          { hosts: ["*-db-*"], allowedGroups: [lab.groups.oncall] },
        ],
      },
    });
    const failure = lookupKeys(cfg, { user: "carol" }, { log });
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(/matches 2 hostAccess.rules/);
  });

  it("rejects host names and patterns that cannot be one", () => {
    expect(() => config({ hostAccess: { hostname: "web 1" } })).toThrow(/host name/);
    expect(() => config({ hostAccess: { rules: [{ hosts: ["web-[12]"], allowedGroups: ["cn=x"] }] } })).toThrow(/pattern/);
  });
});
