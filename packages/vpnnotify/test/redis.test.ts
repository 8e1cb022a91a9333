import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, Secret } from "@opsguard/core";
import { type RedisLab, SLACK_SIM_TOKEN, SlackSim, startRedis } from "@opsguard/lab";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { MAX_MARKS_FILE_BYTES } from "../src/file-store";
import { handleConnect } from "../src/notify";
import { decide, type Login, markDisowned, type PlacePolicy, placeKeys, recordLogin } from "../src/places";
import { RedisPlaceStore } from "../src/redis-store";
import { createNotifier } from "../src/runtime";
import { PLACES, writeGeoDatabases } from "./fixtures";

const SECURITY = "C0SECURITY";
let dir: string;
let redis: RedisLab;
let tlsRedis: RedisLab;
let slack: SlackSim;
let geo: { city: string; asn: string };

/**
 * Timeouts of 5 s, not the 500 ms default: a test about what Redis answers must not turn into a timeout test on a
 * loaded CI machine (a stalled test worker made the second server's lookup "unavailable", so it notified again).
 */
function redisConfig(lab: RedisLab, extra: Record<string, unknown> = {}) {
  return {
    url: lab.url,
    password: `file:${lab.passwordFile}`,
    keyPrefix: `t${Math.random().toString(36).slice(2)}:`,
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 5_000,
    ...extra,
  };
}

function notifier(redisSection: Record<string, unknown>, options: { worker?: boolean } = {}) {
  const config = configSchema.parse({
    server: { name: "vpn-eu-1" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
    securityChannel: SECURITY,
    directory: { emailDomain: "example.org" },
    geoip: { city: geo.city, asn: geo.asn },
    state: { redis: redisSection },
    spool: { dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`) },
  });
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  return { n: createNotifier(config, new Logger({ tool: "vpnnotify", level: "info", stream }), undefined, options), lines };
}

const login = (ip: string, time = Date.now()) => ({ kind: "connect" as const, source: "openvpn" as const, user: "alice", ip, time });

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-redis-"));
  geo = writeGeoDatabases(dir);
  [redis, tlsRedis] = await Promise.all([
    startRedis({ password: "lab-redis-pw-1" }),
    startRedis({ password: "lab-redis-pw-2", tls: true }),
  ]);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addUser({ id: "U0CAROL", name: "carol", email: "carol@example.org" });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack?.stop();
  await redis?.stop();
  await tlsRedis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.messages.length = 0;
});

/**
 * A notifier on the lab's Redis where alice logged in from London, then from Sydney a day later, and said "No" to
 * Sydney; with a direct connection to look at and spoil the keys. The caller disconnects and closes both.
 */
async function aliceDisownedSydney() {
  const section = redisConfig(redis);
  const { n, lines } = notifier(section);
  const direct = new Redis(redis.port, "127.0.0.1", { password: redis.password, lazyConnect: true });
  await direct.connect();
  const t0 = Date.now() - 86_400_000;
  await handleConnect(login(PLACES.london.ip, t0 - 86_400_000), n);
  await handleConnect(login(PLACES.sydney.ip, t0), n);
  await n.store.update("alice", (h) => markDisowned(h, placeKeys(n.geo.lookup(PLACES.sydney.ip)), t0, Date.now(), n.policy));
  return { section, n, lines, direct };
}

describe("known places in Redis (several VPN servers)", () => {
  it("remembers places across servers: the second server suppresses a repeat", async () => {
    const section = redisConfig(redis);
    const serverA = notifier(section);
    const serverB = notifier(section);
    const t0 = Date.now();
    expect((await handleConnect(login(PLACES.london.ip, t0), serverA.n)).verdict).toBe("notified");
    expect((await handleConnect(login(PLACES.london.ip, t0 + 60_000), serverB.n)).verdict).toBe("suppressed");
    await Promise.all([serverA.n.store.close(), serverB.n.store.close()]);
  });

  it('a place disowned ("No, it wasn\'t me") on one server is escalated by the others (T62 F0)', async () => {
    const section = redisConfig(redis);
    const serverA = notifier(section);
    const serverB = notifier(section);
    const t0 = Date.now() - 86_400_000;
    await handleConnect(login(PLACES.london.ip, t0 - 86_400_000), serverA.n);
    const stolen = await handleConnect(login(PLACES.sydney.ip, t0), serverA.n);
    expect(stolen).toMatchObject({ verdict: "escalated", flags: ["new country"] });
    // what serve's escalation of the "No" does to the store
    const geoOf = serverA.n.geo.lookup(PLACES.sydney.ip);
    await serverA.n.store.update("alice", (h) => markDisowned(h, placeKeys(geoOf), t0, Date.now(), serverA.n.policy));
    const again = await handleConnect(login(PLACES.sydney.ip), serverB.n);
    expect(again).toMatchObject({ verdict: "escalated", reason: "disowned-place", securityChannel: SECURITY });
    expect(again.flags).toContain(`from where alice said a login was NOT them (the login of ${new Date(t0).toISOString()})`);
    await Promise.all([serverA.n.store.close(), serverB.n.store.close()]);
  });

  it('a "disowned:" key that cannot be read (not JSON, a list) is left as it is and fails closed: every login of the user reaches the security channel, saying so (T66 P1)', async () => {
    const { section, n, lines, direct } = await aliceDisownedSydney();
    try {
      const key = `${section.keyPrefix}disowned:alice`;
      for (const [spoil, what] of [
        [() => direct.set(key, "garbage{"), "is not valid JSON"],
        [() => direct.del(key).then(() => direct.rpush(key, "x")), "holds no string value (WRONGTYPE"],
      ] as const) {
        await spoil();
        const before = await direct.dump(key);
        // from the disowned place, and from home (a known place, quiet otherwise): both told to security, with the reason
        for (const ip of [PLACES.sydney.ip, PLACES.london.ip]) {
          const outcome = await handleConnect(login(ip), n);
          expect(outcome).toMatchObject({ securityChannel: SECURITY });
          expect(outcome.flags.join("; ")).toContain(`the 'not me' marks could not be read: the Redis key ${key} ${what}`);
        }
        expect(await direct.dump(key)).toEqual(before);
        expect(
          lines.filter((l) => l.includes(`error: the "not me" marks could not be read: the Redis key ${key} ${what}`)).at(-1),
        ).toContain(`DEL ${key}`);
      }
    } finally {
      direct.disconnect();
      await n.store.close();
    }
  });

  it('a "disowned:" value over the 2 MiB the marks file may have is not read: it fails closed as that file does, the value left as it is (T70 N3)', async () => {
    const { section, n, lines, direct } = await aliceDisownedSydney();
    try {
      const key = `${section.keyPrefix}disowned:alice`;
      const marks = (await direct.get(key)) ?? "";
      // Valid marks, padded with JSON's own white space: at the cap they are read, one byte more and they are not.
      const padded = (bytes: number) => `${marks}${" ".repeat(bytes - Buffer.byteLength(marks))}`;
      await direct.set(key, padded(MAX_MARKS_FILE_BYTES), "KEEPTTL");
      expect(await handleConnect(login(PLACES.london.ip), n)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
      const over = MAX_MARKS_FILE_BYTES + 1;
      await direct.set(key, padded(over), "KEEPTTL");
      const problem = `the Redis key ${key} is ${over} bytes, over the ${MAX_MARKS_FILE_BYTES} a marks value may have`;
      // from home (quiet otherwise) and from the disowned place: both to security, saying why
      for (const ip of [PLACES.london.ip, PLACES.sydney.ip]) {
        const outcome = await handleConnect(login(ip), n);
        expect(outcome).toMatchObject({ securityChannel: SECURITY });
        expect(outcome.flags).toContain(`the 'not me' marks could not be read: ${problem}`);
      }
      expect(lines.filter((l) => l.includes(`error: the "not me" marks could not be read: ${problem}`)).at(-1)).toContain(`DEL ${key}`);
      // a "No" now cannot be marked (it stays spooled), and the value is not replaced
      await expect(
        n.store.update("alice", (h) => markDisowned(h, placeKeys(n.geo.lookup(PLACES.paris.ip)), Date.now(), Date.now(), n.policy)),
      ).rejects.toThrow(problem);
      expect(await direct.strlen(key)).toBe(over);
      expect((await direct.getrange(key, 0, Buffer.byteLength(marks) - 1)) === marks).toBe(true);
    } finally {
      direct.disconnect();
      await n.store.close();
    }
  });

  it('a server still on the build before the marks (rolling upgrade, rollback) rewriting a history leaves its "No" marks in place (T64 N2)', async () => {
    const section = redisConfig(redis);
    const serverA = notifier(section);
    const serverB = notifier(section);
    const t0 = Date.now() - 86_400_000;
    await handleConnect(login(PLACES.london.ip, t0 - 86_400_000), serverA.n);
    await handleConnect(login(PLACES.sydney.ip, t0), serverA.n);
    const geoOf = serverA.n.geo.lookup(PLACES.sydney.ip);
    await serverA.n.store.update("alice", (h) => markDisowned(h, placeKeys(geoOf), t0, Date.now(), serverA.n.policy));
    // What such a build does with a login of alice's: reads her history with its schema (no "disowned": zod drops
    // the field), records the login and writes the value back, keeping its expiry.
    const direct = new Redis(redis.port, "127.0.0.1", { password: redis.password, lazyConnect: true });
    await direct.connect();
    try {
      const key = `${section.keyPrefix}user:alice`;
      const { disowned: _unknownToIt, ...asItReads } = JSON.parse((await direct.get(key)) ?? "{}") as Record<string, unknown>;
      await direct.set(key, JSON.stringify(asItReads), "KEEPTTL");
    } finally {
      direct.disconnect();
    }
    const again = await handleConnect(login(PLACES.sydney.ip), serverB.n);
    expect(again).toMatchObject({ verdict: "escalated", reason: "disowned-place", securityChannel: SECURITY });
    await Promise.all([serverA.n.store.close(), serverB.n.store.close()]);
  });

  it("speaks TLS, verifying the server against the configured CA", async () => {
    const { n } = notifier(redisConfig(tlsRedis, { caFile: tlsRedis.caFile }));
    expect((await handleConnect(login(PLACES.paris.ip), n)).stateError).toBeUndefined();
    expect(await n.store.get("alice")).toMatchObject({ last: { ip: PLACES.paris.ip } });
    await n.store.close();
    const untrusted = notifier(redisConfig(tlsRedis));
    const outcome = await handleConnect(login(PLACES.paris.ip), untrusted.n);
    expect(outcome.stateError).toMatch(/^redis 127\.0\.0\.1:\d+ is unavailable: self-signed certificate/);
    await untrusted.n.store.close();
  });

  it("a database the server does not have is a config problem named in the outcome, never silently database 0", async () => {
    const section = redisConfig(redis, { url: redis.url.replace(/\/0$/, "/42") });
    const { n } = notifier(section);
    const outcome = await handleConnect(login(PLACES.paris.ip), n);
    expect(outcome).toMatchObject({ verdict: "notified", reason: "state-unavailable", dm: "U0ALICE" });
    expect(outcome.stateError).toMatch(/^state\.redis\.url: redis 127\.0\.0\.1:\d+ refused database 42: .*DB index is out of range/);
    await n.store.close();
    // Nothing was written to database 0 instead.
    const direct = new Redis(redis.port, "127.0.0.1", { password: redis.password, lazyConnect: true });
    await direct.connect();
    try {
      expect(await direct.keys(`${section.keyPrefix}*`)).toEqual([]);
    } finally {
      direct.disconnect();
    }
  });

  it("a password over redis:// to another host is refused when the notifier is built, as deputize's lease (T56 F4)", () => {
    expect(() => notifier(redisConfig(redis, { url: "redis://192.0.2.1:6379/0" }))).toThrow(
      "state.redis.url: redis:// to 192.0.2.1 would send state.redis.password in clear text",
    );
  });

  it("concurrent updates of one user from several servers lose nothing", async () => {
    const section = redisConfig(redis);
    const policy: PlacePolicy = {
      knownBy: ["ip"],
      renotifyAfterMs: 86_400_000,
      forgetAfterMs: 365 * 86_400_000,
      impossibleTravelKmh: 1000,
      minTravelKm: 50,
      maxPlaces: 1000,
      quietWhileBeingTold: true,
    };
    const stores = Array.from(
      { length: 6 },
      () =>
        new RedisPlaceStore({
          ...section,
          password: new Secret("lab-redis-pw-1", "test"),
          connectTimeoutMs: 2_000,
          commandTimeoutMs: 2_000,
          ttlMs: 60_000,
        }),
    );
    const t0 = Date.now();
    await Promise.all(
      stores.flatMap((store, s) =>
        Array.from({ length: 5 }, (_, i) => {
          const ip = `81.2.${s}.${i + 1}`;
          const l: Login = { time: t0 + i, geo: { ip, network: `81.2.${s}.0/24` }, place: "x" };
          return store.update("alice", (h) => recordLogin(h, l, decide(h, l, policy), policy, 0));
        }),
      ),
    );
    const history = await stores[0]!.get("alice");
    const ips = Object.keys(history?.places ?? {}).filter((k) => k.startsWith("ip:"));
    expect(ips).toHaveLength(30);
    await Promise.all(stores.map((s) => s.close()));
  });

  it("Redis down: the user is still told, and the log line says the store was unavailable", async () => {
    await redis.stopServer();
    try {
      const { n, lines } = notifier(redisConfig(redis, { connectTimeoutMs: 500, commandTimeoutMs: 500 }));
      const started = Date.now();
      const outcome = await handleConnect(login(PLACES.reading.ip), n);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(outcome).toMatchObject({ verdict: "notified", reason: "state-unavailable", dm: "U0ALICE" });
      expect(lines.at(-1)).toMatch(
        /^vpnnotify: warn: notified user=alice .*state="unavailable \(redis 127\.0\.0\.1:\d+ is unavailable: .*\)"/,
      );
      await n.store.close();
    } finally {
      await redis.startServer();
    }
  });

  it("a long-running notifier (serve) uses Redis again once it is restarted: the next update is stored, not 'unavailable' until a new process (T66 P4)", async () => {
    const { n, lines } = notifier(redisConfig(redis, { connectTimeoutMs: 500, commandTimeoutMs: 500 }));
    try {
      expect((await handleConnect(login(PLACES.london.ip), n)).reason).toBe("first-login");
      await redis.stopServer();
      // while it is down, the store says so (and keeps no dead connection for later)
      expect((await handleConnect(login(PLACES.paris.ip), n)).reason).toBe("state-unavailable");
      await redis.startServer();
      // the restarted server is empty (the lab persists nothing): a first login again, recorded there
      const outcome = await handleConnect(login(PLACES.reading.ip), n);
      expect(outcome, lines.join("\n")).toMatchObject({ verdict: "notified", reason: "first-login" });
      expect(Object.keys((await n.store.get("alice"))?.places ?? {})).not.toHaveLength(0);
    } finally {
      await n.store.close();
    }
  });

  it("a hung Redis costs at most its connect timeout", async () => {
    redis.freeze();
    try {
      const { n } = notifier(redisConfig(redis, { connectTimeoutMs: 300, commandTimeoutMs: 300 }));
      const started = Date.now();
      const outcome = await handleConnect(login(PLACES.sydney.ip), n);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(outcome.reason).toBe("state-unavailable");
      expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
      await n.store.close();
    } finally {
      redis.thaw();
    }
  });

  it("the worker, which nobody waits on, waits out a Redis slower than the hook's 500 ms: the login is recorded", async () => {
    // The defaults (500 ms), as a site that set nothing has them; Redis stalled for longer than that.
    const { n, lines } = notifier(redisConfig(redis, { connectTimeoutMs: 500, commandTimeoutMs: 500 }), { worker: true });
    redis.freeze();
    const thawed = new Promise((resolve) => setTimeout(resolve, 1_500)).then(() => redis.thaw());
    try {
      const outcome = await handleConnect(login(PLACES.reading.ip), n);
      expect(outcome, lines.join("\n")).toMatchObject({ verdict: "notified", reason: "first-login" });
      expect(await n.store.get("alice")).toBeDefined();
    } finally {
      await thawed;
      await n.store.close();
    }
  });

  it("a Redis that stops answering mid-run (overloaded) is 'slow', never an internal error, and the user is still told", async () => {
    const { n, lines } = notifier(redisConfig(redis, { connectTimeoutMs: 2_000, commandTimeoutMs: 300 }));
    expect((await handleConnect(login(PLACES.london.ip), n)).reason).toBe("first-login");
    redis.freeze();
    try {
      const outcome = await handleConnect(login(PLACES.paris.ip), n);
      expect(outcome).toMatchObject({ verdict: "notified", reason: "state-unavailable", dm: "U0ALICE" });
      expect(lines.at(-1)).toMatch(/ state="unavailable \(redis 127\.0\.0\.1:\d+ is slow: no answer within 300 ms \(check/);
      expect(lines.join("\n")).not.toMatch(/internal error/);
    } finally {
      redis.thaw();
      await n.store.close();
    }
  });

  it("never logs the Redis password", async () => {
    process.env.VPNNOTIFY_TEST_REDIS_PW = "wrong-password-123";
    const { n, lines } = notifier(redisConfig(redis, { password: "env:VPNNOTIFY_TEST_REDIS_PW" }));
    const outcome = await handleConnect(login(PLACES.london.ip), n);
    expect(outcome.stateError).toMatch(/WRONGPASS|invalid password/i);
    expect(lines).toHaveLength(1);
    expect(lines.join("\n")).not.toContain("wrong-password-123");
    await n.store.close();
  });

  it("imports the original vpnnotify's vpn:<cn>:lastip on first run: no false 'new login' after the upgrade", async () => {
    const raw = new Redis({ host: redis.host, port: redis.port, password: redis.password });
    try {
      const lastLogin = Math.floor(Date.now() / 1000) - 3 * 3600;
      await raw.mset("vpn:carol:lastip", PLACES.london.ip, "vpn:carol:lasttime", String(lastLogin));
      const carol = (ip: string, time: number) => ({ ...login(ip, time), user: "carol" });
      const { n } = notifier(redisConfig(redis));
      const t0 = Date.now();
      expect(await handleConnect(carol(PLACES.london.ip, t0), n)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
      expect(await handleConnect(carol("81.2.69.99", t0 + 1), n)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
      // Imported with its country: France is news to the user and the security channel.
      expect(await handleConnect(carol(PLACES.paris.ip, t0 + 7_200_000), n)).toMatchObject({
        verdict: "escalated",
        flags: ["new country"],
      });
      expect(await n.store.get("carol")).toMatchObject({ places: { "ip:81.2.69.142": { lastNotified: lastLogin * 1000 } } });
      // Only while the user has no history of ours: the original's keys are left alone, and not read again.
      await raw.set("vpn:carol:lastip", PLACES.sydney.ip);
      expect(await handleConnect(carol(PLACES.sydney.ip, t0 + 172_800_000), n)).toMatchObject({
        verdict: "escalated",
        reason: "new-place",
      });
      const off = notifier(redisConfig(redis, { importLegacy: false }));
      expect(await handleConnect(carol(PLACES.london.ip, t0), off.n)).toMatchObject({ verdict: "notified", reason: "first-login" });
      await Promise.all([n.store.close(), off.n.store.close()]);
    } finally {
      raw.disconnect();
    }
  });

  it("imports the original's keys under the common_name as it came (vpn:Pia:…), then under its normal form: a capitalised CN is not told a 'first login' on upgrade (T62 F6)", async () => {
    const raw = new Redis({ host: redis.host, port: redis.port, password: redis.password });
    try {
      const lastLogin = String(Math.floor(Date.now() / 1000) - 3600);
      // As the original stored them: its key is the CN verbatim (Pia); quinn's happens to be lower-case.
      await raw.mset("vpn:Pia:lastip", PLACES.london.ip, "vpn:Pia:lasttime", lastLogin);
      await raw.mset("vpn:quinn:lastip", PLACES.london.ip, "vpn:quinn:lasttime", lastLogin);
      const { n } = notifier(redisConfig(redis));
      for (const user of ["Pia", "Quinn"]) {
        const outcome = await handleConnect({ ...login(PLACES.london.ip), user }, n);
        expect(outcome, user).toMatchObject({ verdict: "suppressed", reason: "known-place" });
        expect(
          slack.messages.filter((m) => m.text?.includes(user)),
          user,
        ).toEqual([]);
      }
      // kept under our normal form, as every history is
      expect(await n.store.get("pia")).toMatchObject({ places: { "ip:81.2.69.142": { lastNotified: Number(lastLogin) * 1000 } } });
      await n.store.close();
    } finally {
      raw.disconnect();
    }
  });

  it("a legacy lasttime ahead of the clock (milliseconds stored as seconds) keeps the place, not a time that would keep it quiet for years (T38 F2)", async () => {
    const raw = new Redis({ host: redis.host, port: redis.port, password: redis.password });
    try {
      await raw.mset("vpn:dora:lastip", PLACES.london.ip, "vpn:dora:lasttime", String(Date.now()));
      const { n } = notifier(redisConfig(redis));
      const t0 = Date.now();
      const dora = { ...login(PLACES.london.ip, t0), user: "dora" };
      expect(await handleConnect(dora, n)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
      const place = (await n.store.get("dora"))?.places["ip:81.2.69.142"];
      expect(place).toBeDefined();
      // read as seconds, Date.now() is the year ~57000: never stored as when dora was last told
      expect(place?.lastNotified ?? 0).toBeLessThanOrEqual(Date.now());
      await n.store.close();
    } finally {
      raw.disconnect();
    }
  });
});
