import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileFilterTemplate, LdapClient, LdapTimeoutError, LdapUnavailableError, Logger, ldapOptionsFromConfig } from "@opsguard/core";
import { type BlackholeServer, closedPort, makeCa, type SlapdLab, startBlackholeServer, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthkeysConfig, authkeysConfigSchema, fingerprintOf, lookupKeys, queryDirectory } from "../src/index";
import { connectionKey, SUSPECT_PROBE_MS } from "../src/server-memory";

type ServerMemoryFile = { down: Record<string, number>; suspect?: Record<string, number> };

let lab: SlapdLab;
let blackhole: BlackholeServer;
let deadUrl: string;
let cacheRoot: string;
let n = 0;
const warnings: string[] = [];
const log = new Logger({
  tool: "authkeys",
  level: "warn",
  stream: { write: (line: string) => warnings.push(line) } as unknown as NodeJS.WritableStream,
});

beforeAll(async () => {
  [lab, blackhole] = await Promise.all([startSlapd(), startBlackholeServer()]);
  deadUrl = `ldap://127.0.0.1:${await closedPort()}`;
  cacheRoot = join(lab.dir, "caches");
});
afterAll(async () => {
  await Promise.all([lab?.stop(), blackhole?.stop()]);
});

/** A fresh cache dir per config, so tests do not see each other's cached keys. */
function config(overrides: Record<string, unknown> = {}, ldap: Record<string, unknown> = {}): AuthkeysConfig {
  n++;
  return authkeysConfigSchema.parse({
    ldap: { ...lab.connection(), ...ldap },
    cache: { dir: join(cacheRoot, String(n)) },
    syslog: false,
    ...overrides,
  });
}

describe("lookup against a real slapd", () => {
  it("prints every valid key of a user, from LDAP", async () => {
    const outcome = await lookupKeys(config(), { user: "alice" }, { log });
    expect(outcome).toMatchObject({ result: "keys", source: "ldap", dropped: 0 });
    expect(outcome.lines).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
  });

  it("drops weak, disallowed and malformed keys with a warning naming the fingerprint, never the key", async () => {
    warnings.length = 0;
    const outcome = await lookupKeys(config(), { user: "dave" }, { log });
    const good = lab.users.dave.keys.filter((k) => k.type === "ed25519");
    expect(outcome.lines).toEqual(good.map((k) => k.publicKey));
    expect(outcome.dropped).toBe(3);
    const text = warnings.join("");
    for (const value of lab.users.dave.sshPublicKeys.filter((v) => /^ssh-(rsa|dss) /.test(v))) {
      expect(text).toContain(fingerprintOf(Buffer.from(value.split(" ")[1] ?? "", "base64")));
    }
    expect(text.match(/dropped a key/g)).toHaveLength(3);
    expect(text).toContain("user=dave");
    for (const value of lab.users.dave.sshPublicKeys) expect(text).not.toContain(value.split(" ")[1]);
  });

  it("with a fingerprint, prints only the matching key", async () => {
    const ecdsa = lab.users.alice.keys.find((k) => k.type === "ecdsa")!;
    const one = await lookupKeys(config(), { user: "alice", fingerprint: ecdsa.fingerprint }, { log });
    expect(one.lines).toEqual([ecdsa.publicKey]);
    const none = await lookupKeys(config(), { user: "alice", fingerprint: lab.users.bob.keys[0]!.fingerprint }, { log });
    expect(none.lines).toEqual([]);
  });

  it("unknown users and users without keys get nothing", async () => {
    expect(await lookupKeys(config(), { user: "mallory" }, { log })).toMatchObject({ result: "unknown-user", lines: [] });
    expect(await lookupKeys(config(), { user: "frank" }, { log })).toMatchObject({ result: "no-keys", lines: [] });
  });

  it("a userFilter clause can shut out locked accounts", async () => {
    expect((await lookupKeys(config(), { user: "eve" }, { log })).result).toBe("keys");
    const cfg = config({ userFilter: "(&(objectClass=posixAccount)(uid={user})(!(loginShell=/usr/sbin/nologin)))" });
    expect(await lookupKeys(cfg, { user: "eve" }, { log })).toMatchObject({ result: "unknown-user", lines: [] });
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).lines).toHaveLength(3);
  });

  it("de-duplicates a key stored twice (another comment) and keeps the first", async () => {
    const bob = lab.users.bob;
    const [type, blob] = bob.keys[0]!.publicKey.split(" ");
    await lab.modify(bob.dn, [{ operation: "add", attribute: "sshPublicKey", values: [`${type} ${blob} second-copy`] }]);
    try {
      expect((await lookupKeys(config(), { user: "bob" }, { log })).lines).toEqual([bob.keys[0]!.publicKey]);
    } finally {
      await lab.modify(bob.dn, [{ operation: "delete", attribute: "sshPublicKey", values: [`${type} ${blob} second-copy`] }]);
    }
  });

  it("drops a key with two from= or two command= clauses (sshd refuses such a line) with a warning naming it", async () => {
    const bob = lab.users.bob;
    const [alice0, alice1] = lab.users.alice.keys.map((k) => k.publicKey);
    const values = [`command="echo A",command="echo B" ${alice0}`, `from="127.0.0.1",from="10.9.9.9" ${alice1}`];
    await lab.modify(bob.dn, [{ operation: "add", attribute: "sshPublicKey", values }]);
    warnings.length = 0;
    try {
      const outcome = await lookupKeys(config(), { user: "bob" }, { log });
      expect(outcome).toMatchObject({ result: "keys", dropped: 2, lines: bob.keys.map((k) => k.publicKey) });
      const text = warnings.join("");
      expect(text).toContain("option command= given more than once (sshd refuses the line)");
      expect(text).toContain("option from= given more than once (sshd refuses the line)");
      for (const value of [alice0, alice1]) expect(text).toContain(fingerprintOf(Buffer.from(value!.split(" ")[1]!, "base64")));
    } finally {
      await lab.modify(bob.dn, [{ operation: "delete", attribute: "sshPublicKey", values }]);
    }
  });
});

describe("filter injection", () => {
  const attempts = ["*", "*)(uid=*", "\\00", "\u0000", "admin)(|(uid=*", "alice)(uid=*", "ali*", "*)(|(objectClass=*"];

  it.each(attempts)("%j is refused before LDAP and prints nothing", async (user) => {
    expect(await lookupKeys(config(), { user }, { log })).toMatchObject({ result: "invalid-user", lines: [] });
  });

  it("escaped in the filter even when validation is bypassed: never matches another user", async () => {
    const cfg = config();
    const client = new LdapClient(ldapOptionsFromConfig(lab.connection()));
    try {
      const query = {
        base: cfg.ldap.baseDn,
        filter: compileFilterTemplate(cfg.userFilter, ["user"]),
        keyAttribute: "sshPublicKey",
        nameAttribute: "uid",
        groups: undefined,
      };
      for (const user of attempts) expect(await queryDirectory(client, query, user)).toEqual({ kind: "unknown-user" });
      expect(await queryDirectory(client, query, "alice")).toMatchObject({ kind: "user", dn: lab.users.alice.dn });
    } finally {
      await client.close();
    }
  });
});

describe("user names are case-sensitive, as sshd's are", () => {
  it("another spelling of an existing uid gets nothing and leaves no cache file, though LDAP matches it", async () => {
    const cfg = config();
    for (const user of ["ALICE", "Alice", "alicE"]) {
      expect(await lookupKeys(cfg, { user }, { log })).toMatchObject({ result: "unknown-user", lines: [] });
    }
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).result).toBe("keys");
    expect(readdirSync(cfg.cache.dir)).toEqual(["alice.json"]);
  });
});

describe("allowedGroups", () => {
  it("posixGroup memberUid and groupOfNames (memberOf) both count; others are refused", async () => {
    const cfg = config({ allowedGroups: [lab.groups.ops, lab.groups.sre] });
    expect((await lookupKeys(cfg, { user: "bob" }, { log })).result).toBe("keys");
    expect((await lookupKeys(cfg, { user: "carol" }, { log })).result).toBe("keys");
    expect(await lookupKeys(cfg, { user: "dave" }, { log })).toMatchObject({ result: "not-allowed", lines: [] });
  });

  it("prepends the first matching group's key options", async () => {
    const cfg = config({ allowedGroups: [{ dn: lab.groups.ops, keyOptions: 'from="10.0.0.0/8",no-agent-forwarding' }, lab.groups.sre] });
    const bob = await lookupKeys(cfg, { user: "bob" }, { log });
    expect(bob.lines).toEqual([`from="10.0.0.0/8",no-agent-forwarding ${lab.users.bob.keys[0]!.publicKey}`]);
    const carol = await lookupKeys(cfg, { user: "carol" }, { log });
    expect(carol.lines).toEqual([lab.users.carol.keys[0]!.publicKey]);
  });

  it("a group that does not exist admits nobody", async () => {
    const cfg = config({ allowedGroups: [`cn=missing,${lab.groupsDn}`] });
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).result).toBe("not-allowed");
  });
});

describe("offline cache", () => {
  it("stores keys privately and serves them when LDAP is unreachable", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const file = join(cfg.cache.dir, "alice.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cfg.cache.dir).mode & 0o777).toBe(0o700);
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    warnings.length = 0;
    const outcome = await lookupKeys(offline, { user: "alice" }, { log });
    expect(outcome).toMatchObject({ result: "keys", source: "cache" });
    expect(outcome.lines).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
    expect(warnings.join("")).toContain("serving cached keys");
  });

  it("fails closed for a user never cached, and for cached keys older than maxStaleSeconds", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "bob" }, { log });
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    await expect(lookupKeys(offline, { user: "carol" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    const later = () => Date.now() + (cfg.cache.maxStaleSeconds + 60) * 1000;
    await expect(lookupKeys(offline, { user: "bob" }, { log, now: later })).rejects.toBeInstanceOf(LdapUnavailableError);
  });

  it("revocation wins: a user removed from LDAP, from the group, or left without keys loses the cached keys", async () => {
    const cfg = config({ allowedGroups: [lab.groups.sre] });
    await lookupKeys(cfg, { user: "carol" }, { log });
    const file = join(cfg.cache.dir, "carol.json");
    expect(existsSync(file)).toBe(true);
    await lab.modify(lab.groups.sre, [{ operation: "delete", attribute: "member", values: [lab.users.carol.dn] }]);
    try {
      expect((await lookupKeys(cfg, { user: "carol" }, { log })).result).toBe("not-allowed");
      expect(existsSync(file)).toBe(false);
    } finally {
      await lab.modify(lab.groups.sre, [{ operation: "add", attribute: "member", values: [lab.users.carol.dn] }]);
    }
    await lookupKeys(cfg, { user: "carol" }, { log });
    const keys = lab.users.carol.sshPublicKeys;
    await lab.modify(lab.users.carol.dn, [{ operation: "delete", attribute: "sshPublicKey", values: keys }]);
    try {
      expect((await lookupKeys(cfg, { user: "carol" }, { log })).result).toBe("no-keys");
      expect(existsSync(file)).toBe(false);
    } finally {
      await lab.modify(lab.users.carol.dn, [{ operation: "add", attribute: "sshPublicKey", values: keys }]);
    }
  });

  it("a corrupt cache file is moved aside and never served", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    writeFileSync(join(cfg.cache.dir, "alice.json"), "{not json", { mode: 0o600 });
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    await expect(lookupKeys(offline, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(readdirSync(cfg.cache.dir).some((f) => f.startsWith("alice.json.corrupt-"))).toBe(true);
  });

  it("a cache file of another shape (valid JSON) is never served", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const file = join(cfg.cache.dir, "alice.json");
    const stored = JSON.parse(readFileSync(file, "utf8"));
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    for (const other of [
      { ...stored, version: 3 },
      { ...stored, extra: true },
      { ...stored, keys: [1] },
      { ...stored, group: 1 },
      [stored],
    ]) {
      writeFileSync(file, JSON.stringify(other), { mode: 0o600 });
      await expect(lookupKeys(offline, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    }
    writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
    expect((await lookupKeys(offline, { user: "alice" }, { log })).source).toBe("cache");
  });

  it("a cache file readable by others is refused, and rewritten privately at the next answer", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const file = join(cfg.cache.dir, "alice.json");
    chmodSync(file, 0o644);
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    await expect(lookupKeys(offline, { user: "alice" }, { log })).rejects.toThrow(/not private/);
    await lookupKeys(cfg, { user: "alice" }, { log });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("cached keys an older version wrote (finished lines, no group) are not served: fail closed", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "bob" }, { log });
    const file = join(cfg.cache.dir, "bob.json");
    const key = lab.users.bob.keys[0]!.publicKey;
    writeFileSync(file, JSON.stringify({ version: 1, user: "bob", lines: [key] }), { mode: 0o600 });
    const offline = { ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } };
    await expect(lookupKeys(offline, { user: "bob" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
  });

  it("cached keys are served under today's allowedGroups and keyOptions, not those they were cached under", async () => {
    const cfg = config({ allowedGroups: [lab.groups.ops, lab.groups.sre] });
    await lookupKeys(cfg, { user: "bob" }, { log });
    const offline = (groups: unknown[]) => ({ ...cfg, allowedGroups: groups, ldap: { ...cfg.ldap, urls: [deadUrl] } }) as typeof cfg;
    const key = lab.users.bob.keys[0]!.publicKey;
    expect(await lookupKeys(offline([lab.groups.ops, lab.groups.sre]), { user: "bob" }, { log })).toMatchObject({
      source: "cache",
      lines: [key],
    });
    // keyOptions tightened since: applied to the cached keys.
    const tightened = await lookupKeys(offline([{ dn: lab.groups.ops, keyOptions: "no-pty" }, lab.groups.sre]), { user: "bob" }, { log });
    expect(tightened).toMatchObject({ source: "cache", lines: [`no-pty ${key}`] });
    // The group that admitted bob is no longer allowed: not served.
    await expect(lookupKeys(offline([lab.groups.sre]), { user: "bob" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
  });

  it("an unchanged answer only touches the cache file", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "bob" }, { log });
    const file = join(cfg.cache.dir, "bob.json");
    const before = readFileSync(file, "utf8");
    const inode = statSync(file).ino;
    await lookupKeys(cfg, { user: "bob" }, { log });
    expect(statSync(file).ino).toBe(inode);
    expect(readFileSync(file, "utf8")).toBe(before);
  });
});

describe("blackholed LDAP", () => {
  it("gives up within the deadline, then serves a fresh cache", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const hung = {
      ...cfg,
      ldap: { ...cfg.ldap, urls: [blackhole.url], connectTimeoutMs: 300, timeoutMs: 300, deadlineMs: 800 },
      cache: { ...cfg.cache, deadServerSeconds: 0 },
    };
    const started = Date.now();
    expect((await lookupKeys(hung, { user: "alice" }, { log })).source).toBe("cache");
    await expect(lookupKeys(hung, { user: "bob" }, { log })).rejects.toBeInstanceOf(LdapTimeoutError);
    expect(Date.now() - started).toBeLessThan(2 * 800 + 500);
  });
});

describe("a server that failed is remembered across lookups", () => {
  it("by the first lookup on a host, before any cache directory exists: the directory is made (0700) for the mark", async () => {
    const cfg = config({}, { urls: [blackhole.url], connectTimeoutMs: 300, timeoutMs: 300, deadlineMs: 800 });
    expect(existsSync(cfg.cache.dir)).toBe(false);
    await expect(lookupKeys(cfg, { user: "alice" }, { log })).rejects.toThrow(/no LDAP server answered in time/);
    expect(statSync(cfg.cache.dir).mode & 0o777).toBe(0o700);
    const memory = JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")) as { down: Record<string, number> };
    expect(Object.keys(memory.down)).toEqual([blackhole.url]);
  });

  it("is skipped by the next lookups, forgotten when it answers, and probed again once deadServerSeconds pass", async () => {
    const cfg = config({}, { connectTimeoutMs: 300, timeoutMs: 300, deadlineMs: 800 });
    await lookupKeys(cfg, { user: "alice" }, { log });
    const dead = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url] } };
    const both = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url, lab.url] } };
    const before = blackhole.connections();
    // The blackholed server has its whole connect timeout and fails: remembered, privately.
    expect((await lookupKeys(dead, { user: "alice" }, { log })).source).toBe("cache");
    expect(blackhole.connections()).toBe(before + 1);
    const memory = JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")) as { down: Record<string, number> };
    expect(Object.keys(memory.down)).toEqual([blackhole.url]);
    expect(statSync(join(cfg.cache.dir, ".servers.json")).mode & 0o777).toBe(0o600);
    // The next lookups skip it: straight to slapd.
    expect((await lookupKeys(both, { user: "alice" }, { log })).source).toBe("ldap");
    expect((await lookupKeys(both, { user: "bob" }, { log })).source).toBe("ldap");
    expect(blackhole.connections()).toBe(before + 1);
    // When it is the only server, it is still probed with the short budget (a 2 s freeze of the only
    // slapd must not mean 30 s of refusals, T-ak17b 5), then the cache is served.
    const warningsBefore = warnings.length;
    expect(await lookupKeys(dead, { user: "alice" }, { log })).toMatchObject({ source: "cache" });
    expect(warnings.slice(warningsBefore).join("")).toContain(`${blackhole.url}: no answer within ${SUSPECT_PROBE_MS} ms`);
    expect(blackhole.connections()).toBe(before + 2);
    // Later, it is probed again (first in line); slapd answers meanwhile, and the probe's mark is renewed.
    const later = () => Date.now() + 31_000;
    expect((await lookupKeys(both, { user: "alice" }, { log, now: later })).source).toBe("ldap");
    expect(blackhole.connections()).toBe(before + 3);
    // A server that answers again is forgotten at once.
    const labOnly = { ...cfg, ldap: { ...cfg.ldap, urls: [lab.url] } };
    await lab.stopServer();
    try {
      expect((await lookupKeys(labOnly, { user: "alice" }, { log })).source).toBe("cache");
    } finally {
      await lab.startServer();
    }
    const remembered = () => Object.keys(JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")).down);
    expect(remembered()).toContain(lab.url);
    expect((await lookupKeys(labOnly, { user: "alice" }, { log, now: later })).source).toBe("ldap");
    expect(remembered()).not.toContain(lab.url);
  });
});

describe("only servers that failed are skipped", () => {
  it("a silent server before slapd costs a stagger, not its timeout, and is in doubt, not failed", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    // The connect timeout equals the deadline: one after another, slapd would never be reached.
    const tight = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url, lab.url], connectTimeoutMs: 20_000, deadlineMs: 20_000 } };
    const before = blackhole.connections();
    const warningsBefore = warnings.length;
    expect(await lookupKeys(tight, { user: "alice" }, { log })).toMatchObject({ source: "ldap", result: "keys" });
    expect(blackhole.connections()).toBe(before + 1);
    const file = join(cfg.cache.dir, ".servers.json");
    const memory = () => JSON.parse(readFileSync(file, "utf8")) as ServerMemoryFile;
    expect([memory().down, Object.keys(memory().suspect ?? {})]).toEqual([{}, [blackhole.url]]);
    // sshd's second run and another user's login: slapd first now; nothing is skipped, nothing failed.
    expect(await lookupKeys(tight, { user: "bob" }, { log })).toMatchObject({ source: "ldap", result: "keys" });
    expect(warnings.slice(warningsBefore).join("")).not.toContain("skipped");
    expect(memory().down).toEqual({});
  });

  it("a server in doubt gets a short probe, in its place, and is remembered failed when that fails", async () => {
    const second = await startBlackholeServer();
    try {
      const cfg = config();
      await lookupKeys(cfg, { user: "alice" }, { log });
      const ldap = { ...cfg.ldap, urls: [blackhole.url, second.url], connectTimeoutMs: 1200, timeoutMs: 1200, deadlineMs: 2500 };
      const file = join(cfg.cache.dir, ".servers.json");
      const suspect = { [blackhole.url]: Date.now() + 30_000 };
      writeFileSync(file, JSON.stringify({ version: 1, settings: connectionKey(ldap), down: {}, suspect }), { mode: 0o600 });
      const warningsBefore = warnings.length;
      expect((await lookupKeys({ ...cfg, ldap }, { user: "alice" }, { log })).source).toBe("cache");
      // SUSPECT_PROBE_MS for the one in doubt, the whole connect timeout for the other; both failed.
      const said = warnings.slice(warningsBefore).join("");
      expect(said).toContain(`${blackhole.url}: no answer within ${SUSPECT_PROBE_MS} ms`);
      expect(said).toContain(`${second.url}: no answer within 1200 ms`);
      const after = JSON.parse(readFileSync(file, "utf8")) as ServerMemoryFile;
      expect([Object.keys(after.down).sort(), after.suspect]).toEqual([[blackhole.url, second.url].sort(), {}]);
      // The next logins skip the second and give the first one short probe: an uncached user is refused
      // after at most SUSPECT_PROBE_MS, not both servers' timeouts.
      const counts = () => [blackhole.connections(), second.connections()];
      const [a0, b0] = counts();
      await expect(lookupKeys({ ...cfg, ldap }, { user: "bob" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
      expect(counts()).toEqual([(a0 ?? 0) + 1, b0]);
    } finally {
      await second.stop();
    }
  });

  it("a server the deadline cut off mid-attempt is in doubt, not failed: it is probed, not skipped, next run", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const file = join(cfg.cache.dir, ".servers.json");
    const marks = () => JSON.parse(readFileSync(file, "utf8")) as ServerMemoryFile;
    // Deterministic: the deadline (150 ms), not the server's connect timeout (1 s), ends the attempt.
    const cut = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url], connectTimeoutMs: 1000, deadlineMs: 150 } };
    expect((await lookupKeys(cut, { user: "alice" }, { log })).source).toBe("cache");
    expect([marks().down, Object.keys(marks().suspect ?? {})]).toEqual([{}, [blackhole.url]]);
    rmSync(file);
    // Cut off only after a probe's budget (SUSPECT_PROBE_MS) or more, it had its chance: failed.
    const fair = { ...cut, ldap: { ...cut.ldap, deadlineMs: 400 } };
    expect((await lookupKeys(fair, { user: "alice" }, { log })).source).toBe("cache");
    expect([Object.keys(marks().down), marks().suspect]).toEqual([[blackhole.url], {}]);
    rmSync(file);
    // The tester's case: a blackholed server's connect timeout is the whole deadline; slapd, tried
    // alongside it, still answers that very run (a revocation would be seen the same way).
    const ldap = { ...cfg.ldap, urls: [blackhole.url, lab.url], connectTimeoutMs: 300, timeoutMs: 300, deadlineMs: 301 };
    expect(await lookupKeys({ ...cfg, ldap }, { user: "bob" }, { log })).toMatchObject({ source: "ldap", result: "keys" });
    expect(marks().down).toEqual({});
  });

  it("a lookup whose process stalled past the connect timeout leaves a healthy slapd in doubt, never failed", async () => {
    // The burst finding: on a starved host connect timers fire late; the server was not the one that was slow.
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const starved = { ...cfg, ldap: { ...cfg.ldap, connectTimeoutMs: 200, deadlineMs: 2000 } };
    const lookup = lookupKeys(starved, { user: "alice" }, { log });
    // Once the connect attempt is under way (its timer set), the event loop is blocked well past it.
    await new Promise((resolve) => setImmediate(resolve));
    const blockedUntil = Date.now() + 700;
    while (Date.now() < blockedUntil) {
      // a burst of other work on this process
    }
    expect((await lookup).source).toBe("cache");
    const marks = JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")) as ServerMemoryFile;
    expect([marks.down, Object.keys(marks.suspect ?? {})]).toEqual([{}, [lab.url]]);
    // The next run tries it (a short probe), and it answers: nothing skipped, the doubt forgotten.
    expect(await lookupKeys(starved, { user: "alice" }, { log })).toMatchObject({ source: "ldap", result: "keys" });
    expect(JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")).suspect).toEqual({});
  });

  it("a doubt never outlives its hold: a stale or far-future mark gives the server its full connect budget", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const urls = [blackhole.url];
    const ldap = { ...cfg.ldap, urls, connectTimeoutMs: 700, timeoutMs: 700, deadlineMs: 700 };
    const file = join(cfg.cache.dir, ".servers.json");
    // Ran out, far ahead (a clock set back, or a hand edit), not a time, not a map of times.
    const hostile = [{ [blackhole.url]: Date.now() - 1000 }, { [blackhole.url]: Date.now() + 3600_000 }, { [blackhole.url]: "soon" }, 5];
    for (const suspect of hostile) {
      writeFileSync(file, JSON.stringify({ version: 1, down: {}, suspect }), { mode: 0o600 });
      const started = Date.now();
      expect((await lookupKeys({ ...cfg, ldap }, { user: "alice" }, { log })).source).toBe("cache");
      // The whole connect timeout was spent on it, not the short probe.
      expect(Date.now() - started).toBeGreaterThanOrEqual(690);
      rmSync(file);
    }
  });

  it("when the marks of several dead servers run out, each lookup probes one of them, not all", async () => {
    const second = await startBlackholeServer();
    try {
      const cfg = config({}, { connectTimeoutMs: 300, timeoutMs: 300, deadlineMs: 1500 });
      await lookupKeys(cfg, { user: "alice" }, { log }); // creates the cache directory, as install does
      const holes = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url, second.url] } };
      const three = { ...cfg, ldap: { ...cfg.ldap, urls: [blackhole.url, second.url, lab.url] } };
      const counts = () => [blackhole.connections(), second.connections()];
      const [a0 = 0, b0 = 0] = counts();
      // Both fail (each had its connect timeout): remembered.
      expect((await lookupKeys(holes, { user: "alice" }, { log })).source).toBe("cache");
      expect(counts()).toEqual([a0 + 1, b0 + 1]);
      expect((await lookupKeys(three, { user: "alice" }, { log })).source).toBe("ldap");
      expect(counts()).toEqual([a0 + 1, b0 + 1]);
      // 31 s later both marks have run out: this lookup probes the first only, the next the second only.
      const warningsBefore = warnings.length;
      const at = (seconds: number) => () => Date.now() + seconds * 1000;
      expect((await lookupKeys(three, { user: "alice" }, { log, now: at(31) })).source).toBe("ldap");
      expect(counts()).toEqual([a0 + 2, b0 + 1]);
      expect(warnings.slice(warningsBefore).join("")).toContain(
        `${second.url} (skipped: failed before; this lookup probes ${blackhole.url}`,
      );
      expect((await lookupKeys(three, { user: "bob" }, { log, now: at(32) })).source).toBe("ldap");
      expect(counts()).toEqual([a0 + 2, b0 + 2]);
      // Neither answered its probe, so both are skipped for the next 30 s.
      expect((await lookupKeys(three, { user: "bob" }, { log, now: at(33) })).source).toBe("ldap");
      expect(counts()).toEqual([a0 + 2, b0 + 2]);
    } finally {
      await second.stop();
    }
  });
});

describe("a bind password never travels in clear text", () => {
  it("ldap:// without StartTLS to a host that is not a loopback address is refused before any connection", async () => {
    for (const url of ["ldap://ldap.example.org", "ldap://127.example.org", "ldap://127.0.0.1.example.org"]) {
      const plain = config({}, { urls: [url], startTls: false });
      await expect(lookupKeys(plain, { user: "alice" }, { log }), url).rejects.toThrow(
        `${url} would carry the bind password in clear text`,
      );
    }
  });

  it("a loopback address is exempt, deliberately: its traffic never leaves the host", async () => {
    const plainLab = lab.url.replace(/^ldaps?:\/\/[^:/]+/, "ldap://127.0.0.1");
    const cfg = config({}, { urls: [plainLab], startTls: false, caFile: undefined });
    expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ source: "ldap", result: "keys" });
  });
});

describe("a failure mark is about the settings it was made under", () => {
  // The tester's host: a wrong ldap.caFile marked slapd failed; with the config fixed, logins were still
  // refused for ~25 s with "skipped: failed moments ago … check ldap.urls", TLS never named.
  it("says why the server failed while it is skipped, and a fixed config tries it at the next login", async () => {
    const cfg = config({}, { connectTimeoutMs: 1000, deadlineMs: 2000 });
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    const caDir = join(lab.dir, `other-ca-${n}`);
    mkdirSync(caDir);
    const other = await makeCa(caDir, "other");
    // Two URLs: when every server is skipped the first is still probed, the other's skip is what is said.
    const wrong = { ...cfg, ldap: { ...cfg.ldap, urls: [lab.url, lab.ldapsUrl], caFile: other.certFile } };
    await expect(lookupKeys(wrong, { user: "bob" }, { log })).rejects.toThrow(/TLS certificate not trusted/);
    const skipped = await lookupKeys(wrong, { user: "bob" }, { log }).catch((error: unknown) => error as Error & { hint?: string });
    expect(skipped).toBeInstanceOf(LdapUnavailableError);
    expect((skipped as Error).message).toMatch(
      /skipped: failed moments ago \(TLS certificate not trusted \([A-Z_]+\)\), tried again in \d+ s/,
    );
    expect((skipped as { hint?: string }).hint).toMatch(/ldap\.caFile/);
    expect(await lookupKeys(cfg, { user: "bob" }, { log })).toMatchObject({ result: "keys", source: "ldap" });
    const marks = JSON.parse(readFileSync(join(cfg.cache.dir, ".servers.json"), "utf8")) as ServerMemoryFile;
    expect(marks.down).toEqual({});
  });
});
