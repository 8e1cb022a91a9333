import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { Reader } from "maxmind";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { embeddedDatabaseFiles, GeoIp, placeName } from "../src/geoip";
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

  it.each(["truncated", "random", "corrupt", "missing", "asnAsCity"])(
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
      if (name === "asnAsCity") expect(warning[0]).toContain('is a "GeoLite2-ASN" database, not a City or Country database');
    },
  );

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

  it.each(["truncated", "random", "corrupt", "missing", "asnAsCity"])(
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
