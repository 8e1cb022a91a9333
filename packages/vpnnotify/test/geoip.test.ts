import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { embeddedDatabaseFiles, GeoIp, placeName } from "../src/geoip";
import { handleConnect } from "../src/notify";
import { createNotifier } from "../src/runtime";

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
    ["a configured database file that is missing", { city: "/nonexistent/GeoLite2-City.mmdb" }],
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
      if (geoip.city) expect(logLines[0]).toMatch(/^vpnnotify: warn: GeoIP lookup failed.*cannot read GeoIP database/);
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
        new RegExp(`^vpnnotify: warn: GeoIP lookup failed.*GeoIP database ${city} is ${what}, not a regular file`),
      );
    }
  });
});
