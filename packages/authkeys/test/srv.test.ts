import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { LdapUnavailableError } from "@opsguard/core";
import { closedPort, type DnsmasqHandle, type SlapdLab, startDnsmasq, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { decodeSrvAnswer, encodeSrvQuery } from "../src/dns-wire";
import { type AuthkeysConfig, authkeysConfigSchema, lookupKeys } from "../src/index";
import { orderRecords, resolveLdapServers, type SrvRecord, staticLdap } from "../src/srv";
import { bundleLookup, collectingLogger, writeConfig } from "./harness";

// DNS SRV discovery (ldap.srv) against a real DNS server on loopback (dnsmasq) pointing at the lab slapd.

const DOMAIN = "opsguard.test";
const TTL = 300;
let lab: SlapdLab;
let dns: DnsmasqHandle;
let ldapPort: number;
let ldapsPort: number;
let deadPort: number;
let n = 0;
const { log, lines } = collectingLogger();

beforeAll(async () => {
  lab = await startSlapd();
  ldapPort = Number(new URL(lab.connection().urls[0] ?? "").port);
  ldapsPort = Number(new URL(lab.ldapsUrl).port);
  deadPort = await closedPort();
  dns = await startDnsmasq({
    domain: DOMAIN,
    ttl: TTL,
    srv: [
      // priority 5 is tried first but nothing listens there: failover to the priority 10 servers
      { service: `_ldap._tcp.${DOMAIN}`, target: "localhost", port: deadPort, priority: 5, weight: 0 },
      { service: `_ldaps._tcp.${DOMAIN}`, target: "localhost", port: ldapsPort, priority: 10, weight: 0 },
      { service: `_ldap._tcp.${DOMAIN}`, target: "localhost", port: ldapPort, priority: 20, weight: 0 },
    ],
  });
});
afterAll(async () => {
  await Promise.all([dns?.stop(), lab?.stop()]);
});
beforeEach(() => {
  lines.length = 0;
});

function config(ldap: Record<string, unknown> = {}): AuthkeysConfig {
  n++;
  const { urls: _static, ...connection } = lab.connection();
  return authkeysConfigSchema.parse({
    ldap: { ...connection, srv: DOMAIN, dnsServer: dns.server, ...ldap },
    cache: { dir: join(lab.dir, "srv-caches", String(n)) },
    syslog: false,
  });
}

describe("ldap.srv", () => {
  it("finds the servers from _ldaps._tcp and _ldap._tcp records in priority order, and looks up through them", async () => {
    const cfg = config();
    expect((await resolveLdapServers(cfg, { log })).urls).toEqual([
      `ldap://localhost:${deadPort}`,
      `ldaps://localhost:${ldapsPort}`,
      `ldap://localhost:${ldapPort}`,
    ]);
    const outcome = await lookupKeys(config(), { user: "alice" }, { log });
    expect(outcome).toMatchObject({ result: "keys", source: "ldap" });
    expect(outcome.lines).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
  });

  it("OpenLDAP's ldap:///dc=…,dc=… names the same domain", async () => {
    const cfg = config({ srv: "ldap:///dc=opsguard,dc=test" });
    expect((await resolveLdapServers(cfg, { log })).urls).toHaveLength(3);
  });

  it("keeps the answer for its TTL in the cache dir: a login within it asks DNS nothing, one after asks again", async () => {
    const cfg = config();
    const before = dns.queries(`_ldaps._tcp.${DOMAIN}`);
    await lookupKeys(cfg, { user: "alice" }, { log });
    await lookupKeys(cfg, { user: "bob" }, { log });
    expect(dns.queries(`_ldaps._tcp.${DOMAIN}`)).toBe(before + 1);
    expect(existsSync(join(cfg.cache.dir, ".srv.json"))).toBe(true);
    const later = Date.now() + (TTL + 1) * 1000;
    await resolveLdapServers(cfg, { log, now: () => later });
    expect(dns.queries(`_ldaps._tcp.${DOMAIN}`)).toBe(before + 2);
  });

  it("a FIFO planted as the SRV cache is removed with a warning and DNS is asked: no hang (through the bundle)", () => {
    const cfg = config();
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    execFileSync("mkfifo", ["-m", "600", join(cfg.cache.dir, ".srv.json")]);
    const file = join(lab.dir, `srv-fifo-${n}.json`);
    writeConfig(file, cfg);
    const r = bundleLookup(file, "alice", 10_000);
    expect(r.signal, "killed: the lookup hung on the FIFO").toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
    expect(r.stderr).toMatch(/cache file is a FIFO, not one authkeys writes; removed it/);
    expect(statSync(join(cfg.cache.dir, ".srv.json")).isFile()).toBe(true);
  });

  it("a domain without records is an outage: an error, no keys", async () => {
    const failure = lookupKeys(config({ srv: `nothing.${DOMAIN}` }), { user: "alice" }, { log });
    await expect(failure).rejects.toThrow(LdapUnavailableError);
    await expect(failure).rejects.toThrow(/no _ldap._tcp or _ldaps._tcp SRV record for nothing.opsguard.test/);
  });

  it("DNS down: an expired list is used; none at all is an outage, and the key cache rules apply", async () => {
    // the login defaults: DNS and LDAP together stay within the one deadline
    const cfg = config({ connectTimeoutMs: 1000, timeoutMs: 1500, deadlineMs: 2500 });
    await lookupKeys(cfg, { user: "alice" }, { log });
    dns.freeze();
    try {
      // the list expired, DNS hangs: the old list still finds the servers
      const later = Date.now() + (TTL + 1) * 1000;
      expect(await lookupKeys(cfg, { user: "alice" }, { log, now: () => later })).toMatchObject({ result: "keys", source: "ldap" });
      expect(lines.join("")).toContain("using the expired server list");
      // the DNS wait came out of the deadline: what is left for LDAP is less
      const left = await resolveLdapServers(cfg, { log, now: () => later });
      expect(left.deadlineMs).toBeLessThan(2500);
      expect(left.deadlineMs).toBeGreaterThan(0);
      // no list at all: an outage; alice's cached keys are served, bob (never cached) gets an error
      rmSync(join(cfg.cache.dir, ".srv.json"));
      expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ result: "keys", source: "cache" });
      await expect(lookupKeys(cfg, { user: "bob" }, { log })).rejects.toThrow(/DNS SRV lookup failed/);
    } finally {
      dns.thaw();
    }
  });

  it("a DNS server answering garbage, or an error code, is a DNS failure (an outage), not an empty list", async () => {
    const replies = [
      (query: Buffer) => Buffer.concat([query.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0, 0xc0])]),
      (query: Buffer) => Buffer.concat([query.subarray(0, 2), Buffer.from([0x81, 0x82]), query.subarray(4)]), // SERVFAIL
    ];
    for (const answer of replies) {
      const server = createSocket("udp4");
      server.on("message", (query, from) => server.send(answer(query), from.port, from.address));
      await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
      try {
        const cfg = config({ dnsServer: `127.0.0.1:${server.address().port}` });
        await expect(lookupKeys(cfg, { user: "alice" }, { log })).rejects.toThrow(
          /DNS SRV lookup failed \((DNS message is truncated|.*error code 2)/,
        );
      } finally {
        server.close();
      }
    }
  });

  it("the resident agent needs a static list: with ldap.srv it refuses to start, naming the fix", () => {
    expect(() => staticLdap(config())).toThrow(/authkeys agent needs a static ldap.urls list/);
  });

  it("a config sets urls or srv, exactly one, and dnsServer only with srv", () => {
    const { urls, ...connection } = lab.connection();
    const parse = (ldap: Record<string, unknown>) => authkeysConfigSchema.parse({ ldap, syslog: false });
    expect(() => parse({ ...connection, urls, srv: DOMAIN })).toThrow(/exactly one/);
    expect(() => parse(connection)).toThrow(/exactly one/);
    expect(() => parse({ ...connection, urls, dnsServer: "127.0.0.1" })).toThrow(/needs ldap.srv/);
    expect(() => parse({ ...connection, srv: "not a domain" })).toThrow(/DNS domain/);
    expect(() => parse({ ...connection, srv: DOMAIN, dnsServer: "dns.example.org" })).toThrow(/IP:port/);
    // The limits themselves are fine: a 63-character label, ports 1 and 65535, IPv6 in brackets.
    const label = "a".repeat(63);
    const dnsServer = ["127.0.0.1:1", "[::1]:65535"];
    expect(parse({ ...connection, srv: `ldap:///dc=${label},dc=org`, dnsServer }).ldap.dnsServer).toEqual(dnsServer);
    expect(() => parse({ ...connection, srv: `ldap:///dc=a${label},dc=org` })).toThrow(/at most 63/);
    expect(() => parse({ ...connection, srv: DOMAIN, dnsServer: "[::1]:0" })).toThrow(/port 0 is out of range/);
    // A hyphen only inside a label (RFC 1123): refused here, not sent to DNS at the first login.
    for (const srv of ["ldap:///dc=x,dc=-", "ldap:///dc=-x,dc=org", "x-.example.org", "a.-"]) {
      expect(() => parse({ ...connection, srv }), srv).toThrow(/start and end with a letter or digit/);
    }
    expect(parse({ ...connection, srv: "ldap:///dc=x-1,dc=example,dc=org" }).ldap.srv).toBe("ldap:///dc=x-1,dc=example,dc=org");
  });
});

describe("orderRecords (RFC 2782)", () => {
  const record = (target: string, priority: number, weight: number, scheme: "ldap" | "ldaps" = "ldaps"): SrvRecord => ({
    scheme,
    target,
    port: 636,
    priority,
    weight,
  });

  it("lowest priority first; within one, a pick weighted by a running sum over zero weights first", () => {
    const records = [record("b", 10, 3), record("c", 20, 0), record("a", 10, 1), record("z", 10, 0)];
    // running sums in order z(0) a(1) b(4): a draw of 0 picks z, 1 picks a, 2..4 pick b
    expect(orderRecords(records, () => 0)).toEqual(["ldaps://z:636", "ldaps://a:636", "ldaps://b:636", "ldaps://c:636"]);
    expect(orderRecords(records, (max) => max - 1)).toEqual(["ldaps://b:636", "ldaps://a:636", "ldaps://z:636", "ldaps://c:636"]);
  });

  it("the weights share out the first place as RFC 2782 draws (0..sum inclusive: 3/5 for weight 3 of 4)", () => {
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 2000; i++) {
      const first = orderRecords([record("a", 1, 1), record("b", 1, 3)])[0];
      counts[first === "ldaps://a:636" ? "a" : "b"]++;
    }
    expect(counts.b / 2000).toBeGreaterThan(0.5);
    expect(counts.b / 2000).toBeLessThan(0.7);
  });
});

describe("the DNS wire format", () => {
  /** A reply to query id 7 for the name in `query`, with `answer` appended and ancount 1. */
  function reply(answer: Buffer, flags = 0x8180): Buffer {
    const query = encodeSrvQuery(7, "_ldap._tcp.x.test");
    const header = Buffer.from(query.subarray(0, 12));
    header.writeUInt16BE(flags, 2);
    header.writeUInt16BE(1, 6);
    return Buffer.concat([header, query.subarray(12), answer]);
  }
  // name: pointer to the question's name at offset 12; SRV, IN, TTL 60, rdata 6 + target "h.test"
  const srv = (ttl: number) =>
    Buffer.from([0xc0, 12, 0, 33, 0, 1, ...[0, 0, 0, ttl], 0, 14, 0, 1, 0, 2, 1, 0x85, 1, 0x68, 4, 0x74, 0x65, 0x73, 0x74, 0]);

  it("reads an SRV answer with a compressed owner name and its TTL", () => {
    expect(decodeSrvAnswer(reply(srv(60)), 7)).toEqual({
      rcode: 0,
      truncated: false,
      records: [{ name: "_ldap._tcp.x.test", ttl: 60, priority: 1, weight: 2, port: 389, target: "h.test" }],
    });
  });

  it("refuses hostile replies: another id, cut short, a pointer loop, a record past the end", () => {
    expect(() => decodeSrvAnswer(reply(srv(60)), 8)).toThrow(/another query/);
    expect(() => decodeSrvAnswer(reply(srv(60)).subarray(0, 40), 7)).toThrow(/truncated|past the message/);
    const loop = reply(Buffer.from([0xc0, 0xff]));
    expect(() => decodeSrvAnswer(loop, 7)).toThrow(/backwards/);
    const long = reply(Buffer.from([0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 1, 0xff, 0xff]));
    expect(() => decodeSrvAnswer(long, 7)).toThrow(/past the message/);
  });
});
