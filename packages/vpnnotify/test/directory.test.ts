import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { handleConnect } from "../src/notify";
import { createNotifier } from "../src/runtime";
import { PLACES, writeGeoDatabases } from "./fixtures";

const SECURITY = "C0SECURITY";
let dir: string;
let slapd: SlapdLab;
let slack: SlackSim;
let geo: { city: string; asn: string };

function notifier(directory: Record<string, unknown>) {
  const config = configSchema.parse({
    server: { name: "vpn-eu-1" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
    securityChannel: SECURITY,
    directory: { ldap: slapd.connection({ deadlineMs: 1_500, connectTimeoutMs: 500 }), ...directory },
    geoip: { city: geo.city, asn: geo.asn },
    state: { file: join(dir, `state-${Math.random().toString(36).slice(2)}.json`) },
    spool: { dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`) },
  });
  return createNotifier(config, new Logger({ tool: "vpnnotify", level: "silent" }));
}

const login = (user: string) => ({ kind: "connect" as const, source: "openvpn" as const, user, ip: PLACES.london.ip, time: Date.now() });

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-dir-"));
  geo = writeGeoDatabases(dir);
  slapd = await startSlapd();
  slack = new SlackSim();
  slack.addUser({ id: slapd.users.alice.slackId, name: "alice", email: slapd.users.alice.mail, tz: "America/New_York" });
  slack.addUser({ id: "U0BOBMAIL", name: "bob", email: slapd.users.bob.mail });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack?.stop();
  await slapd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.up();
  slack.messages.length = 0;
});

describe("mapping VPN users to Slack through LDAP", () => {
  it("uses the Slack id stored in the directory entry, and the Slack profile's time zone", async () => {
    const outcome = await handleConnect(login("alice"), notifier({ slackIdAttribute: "slackId" }));
    expect(outcome).toMatchObject({ verdict: "notified", dm: slapd.users.alice.slackId });
    expect(slack.callsTo("users.lookupByEmail")).toHaveLength(0);
    expect(slack.messagesTo(slapd.users.alice.slackId)[0]?.text).toMatch(/• When: .* (EST|EDT|GMT-[45])/);
  });

  it("looks the entry's mail up in Slack and writes the time in the Slack user's zone", async () => {
    const outcome = await handleConnect(login("alice"), notifier({ emailAttribute: "mail" }));
    expect(outcome.dm).toBe(slapd.users.alice.slackId);
    expect(slack.callsTo("users.lookupByEmail")[0]?.query.get("email")).toBe(slapd.users.alice.mail);
    expect(slack.messagesTo(slapd.users.alice.slackId)[0]?.text).toMatch(/• When: .* (EST|EDT|GMT-[45])/);
  });

  it("sends unknown users and users without a Slack account to the security channel", async () => {
    const n = notifier({ emailAttribute: "mail" });
    const unknown = await handleConnect(login("zoe"), n);
    expect(unknown.flags).toEqual(["nobody to tell: unknown user: not in the directory"]);
    const noSlack = await handleConnect(login("carol"), n);
    expect(noSlack.flags).toEqual(["nobody to tell: no Slack user has the directory's email address"]);
    expect(slack.messages.map((m) => m.to)).toEqual([SECURITY, SECURITY]);
  });

  it("escapes the user name in the filter: a wildcard user matches nobody", async () => {
    const outcome = await handleConnect(login("*"), notifier({ slackIdAttribute: "slackId" }));
    expect(outcome.flags).toEqual(["nobody to tell: unknown user: not in the directory"]);
    const injected = await handleConnect(login("alice)(uid=*"), notifier({ slackIdAttribute: "slackId" }));
    expect(injected.dm).toBeUndefined();
  });

  it("when LDAP is down: the security channel hears of the login, within the LDAP deadline", async () => {
    await slapd.stopServer();
    try {
      const started = Date.now();
      const outcome = await handleConnect(login("bob"), notifier({ emailAttribute: "mail" }));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(outcome.verdict).toBe("escalated");
      expect(outcome.flags[0]).toMatch(/^nobody to tell: directory lookup failed: /);
    } finally {
      await slapd.startServer();
    }
  });
});
