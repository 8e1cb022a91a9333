import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { networkOf, normalizeIp, specialRange } from "../src/address";
import { FilePlaceStore, marksFileOf } from "../src/file-store";
import { decide, distanceKm, type Login, markDisowned, type PlacePolicy, placeKeys, recordLogin } from "../src/places";

const policy: PlacePolicy = {
  knownBy: ["ip", "network"],
  renotifyAfterMs: 30 * 86_400_000,
  forgetAfterMs: 365 * 86_400_000,
  impossibleTravelKmh: 1000,
  minTravelKm: 50,
  maxPlaces: 5,
  quietWhileBeingTold: true,
};

const at = (ip: string, time: number, extra: Partial<Login["geo"]> = {}): Login => ({
  time,
  geo: { ip, network: networkOf(ip), ...extra },
  place: extra.city ?? ip,
});

describe("addresses", () => {
  it("normalises IPv4-mapped and long IPv6 forms, and names special ranges", () => {
    expect(normalizeIp("::ffff:81.2.69.142")).toBe("81.2.69.142");
    expect(normalizeIp("::ffff:0509:0103")).toBe("5.9.1.3");
    expect(normalizeIp("0:0:0:0:0:FFFF:5.9.1.3")).toBe("5.9.1.3");
    expect(normalizeIp("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(normalizeIp("[2a02:8100::1]")).toBe("2a02:8100::1");
    expect(normalizeIp("81.2.69.142; rm -rf /")).toBeUndefined();
    expect(["10.1.2.3", "100.64.0.1", "127.0.0.1", "fd00::1", "fe80::1", "8.8.8.8"].map(specialRange)).toEqual([
      "private network",
      "carrier-grade NAT range",
      "loopback",
      "private network",
      "link-local",
      undefined,
    ]);
    expect(networkOf("2a02:8100:1234:5678::1")).toBe("2a02:8100:1234:5600::/56");
    expect(networkOf("2a02:8100:1234:56ff:a:b:c:d")).toBe("2a02:8100:1234:5600::/56");
    expect(networkOf("2a02:8100:1234:5700::1")).toBe("2a02:8100:1234:5700::/56");
  });
});

describe("places", () => {
  it("measures great-circle distances", () => {
    expect(Math.round(distanceKm(51.5142, -0.0931, 48.8566, 2.3522))).toBe(343);
  });

  it("forgets places not seen for forgetAfter, so an old place is new again", () => {
    const first = at("81.2.69.1", 0);
    const history = recordLogin(undefined, first, decide(undefined, first, policy), policy, 0);
    const much = at("81.2.69.1", 400 * 86_400_000);
    expect(decide(history, much, policy)).toMatchObject({ notify: true, reason: "first-login" });
  });

  it("keeps at most maxPlaces keys, the most recently seen", () => {
    let history: ReturnType<typeof recordLogin> | undefined;
    for (let i = 0; i < 10; i++) {
      const login = at(`81.2.${i}.1`, i * 1000);
      history = recordLogin(history, login, decide(history, login, policy), policy, 0);
    }
    expect(Object.keys(history?.places ?? {})).toEqual(["ip:81.2.9.1", "net:81.2.9.0/24", "ip:81.2.8.1", "net:81.2.8.0/24", "ip:81.2.7.1"]);
  });

  it("flags a login from far away at the same moment, even with no time between", () => {
    const london = at("81.2.69.1", 1000, { latitude: 51.5, longitude: -0.1, countryCode: "GB" });
    const history = recordLogin(undefined, london, decide(undefined, london, policy), policy, 0);
    const sydney = at("1.128.0.1", 1000, { latitude: -33.9, longitude: 151.2, countryCode: "AU" });
    const decision = decide(history, sydney, policy);
    expect(decision.impossibleTravel?.kmh).toBe(Number.POSITIVE_INFINITY);
    expect(decision).toMatchObject({ newCountry: true, suspicious: true, notify: true });
  });

  it("an unreachable store still notifies, saying why", () => {
    expect(decide(undefined, at("81.2.69.1", 0), policy, false)).toMatchObject({ notify: true, reason: "state-unavailable" });
  });
});

describe("the state file store", () => {
  it("concurrent updates within one process all land: none waits on the process's own file lock (r18 finding 1)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpnnotify-store-"));
    try {
      const file = join(dir, "state.json");
      // A short lock timeout, as a busy worker's updates took longer than it between them: each must wait in line,
      // not on a lock file naming its own pid. Two stores of one file, as a worker's alert and its lease release.
      const stores = [new FilePlaceStore(file, { lockTimeoutMs: 20 }), new FilePlaceStore(file, { lockTimeoutMs: 20 })];
      const place = (i: number) => ({ firstSeen: i, lastSeen: i });
      const updates = Array.from({ length: 60 }, (_, i) =>
        stores[i % 2]?.update(i % 3 === 0 ? "shared" : `user${i}`, (history) => ({
          places: { ...history?.places, [`p${i}`]: place(i) },
        })),
      );
      const results = await Promise.allSettled(updates);
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const state = JSON.parse(readFileSync(file, "utf8")) as { users: Record<string, { places: Record<string, unknown> }> };
      for (let i = 0; i < 60; i++) expect(state.users[i % 3 === 0 ? "shared" : `user${i}`]?.places[`p${i}`]).toEqual(place(i));
      expect(Object.keys(state.users.shared?.places ?? {})).toHaveLength(20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a build from before the "No" marks rewriting the state file (rollback, a host not upgraded) leaves the marks in place (T64 N2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpnnotify-store-"));
    try {
      const file = join(dir, "state.json");
      const store = new FilePlaceStore(file);
      const home = at("81.2.69.1", 1000, { countryCode: "GB" });
      const attacker = at("1.128.0.1", 2000, { countryCode: "AU" });
      for (const l of [home, attacker]) await store.update("alice", (h) => recordLogin(h, l, decide(h, l, policy), policy, 0));
      await store.update("alice", (h) => markDisowned(h, placeKeys(attacker.geo), attacker.time, 3000, policy));
      // What that build does on any login: reads the file with its schema (version 1, no "disowned": zod drops the
      // field), and writes back what it read.
      const state = JSON.parse(readFileSync(file, "utf8")) as { version: number; users: Record<string, Record<string, unknown>> };
      for (const history of Object.values(state.users)) delete history.disowned;
      writeFileSync(file, JSON.stringify(state));
      const next = at("1.128.0.2", 4000, { countryCode: "AU" });
      expect(decide(await store.get("alice"), next, policy)).toMatchObject({ reason: "disowned-place", suspicious: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads a state file written by an earlier build as it is (upgrade in place), marks kept inside a history included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vpnnotify-store-"));
    try {
      const file = join(dir, "state.json");
      // as the builds of session 38 before the marks file wrote it: the mark inside bob's history
      const mark = { login: 2000, answeredAt: 3000 };
      const places = { "ip:81.2.69.1": { firstSeen: 1000, lastSeen: 1000, lastNotified: 1000 } };
      writeFileSync(
        file,
        JSON.stringify({ version: 1, users: { alice: { places }, bob: { places, disowned: { "net:1.128.0.0/24": mark } } } }),
      );
      const store = new FilePlaceStore(file);
      expect(decide(await store.get("alice"), at("81.2.69.1", 5000), policy)).toMatchObject({ reason: "known-place", notify: false });
      const fromThere = at("1.128.0.9", 5000);
      expect(decide(await store.get("bob"), fromThere, policy)).toMatchObject({ reason: "disowned-place" });
      // the next write moves it to the marks file, where a build that does not know marks never writes
      await store.update("bob", (h) => recordLogin(h, fromThere, decide(h, fromThere, policy), policy, 0));
      expect(readFileSync(file, "utf8")).not.toContain("disowned");
      expect(existsSync(marksFileOf(file))).toBe(true);
      expect(decide(await store.get("bob"), at("1.128.0.10", 6000), policy)).toMatchObject({ reason: "disowned-place" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
