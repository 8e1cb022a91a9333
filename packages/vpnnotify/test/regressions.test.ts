import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import type { VpnEvent } from "../src/event";
import { handleConnect } from "../src/notify";
import { createNotifier } from "../src/runtime";
import { PLACES, type PlaceName, writeGeoDatabases } from "./fixtures";

// Named regression tests for decisions a single-line break once slipped past the suite (issue 19).
const HOUR = 3_600_000;
const SECURITY = "C0SECURITY";

let dir: string;
let slack: SlackSim;
let geo: { city: string; asn: string };

function notifier() {
  const config = configSchema.parse({
    server: { name: "vpn-eu-1" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
    securityChannel: SECURITY,
    directory: { emailDomain: "example.org" },
    geoip: { city: geo.city, asn: geo.asn },
    state: { file: join(dir, `state-${Math.random().toString(36).slice(2)}.json`) },
  });
  const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
  return createNotifier(config, new Logger({ tool: "vpnnotify", level: "info", stream: quiet }));
}

const connect = (place: PlaceName, time: number): VpnEvent => ({
  kind: "connect",
  source: "openvpn",
  user: "alice",
  ip: PLACES[place].ip,
  port: 51413,
  time,
});

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-regressions-"));
  geo = writeGeoDatabases(dir);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("vpnnotify regressions", () => {
  it("a suspicious login from a known place still DMs the user (not only the security channel)", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 10, 8);
    await handleConnect(connect("london", t0), n); // London: first login, told
    await handleConnect(connect("sydney", t0 + 48 * HOUR), n); // Sydney two days later: new country, told
    const dmsBefore = slack.messagesTo("U0ALICE").length;
    // London again one hour after Sydney: a place she was told about, but nobody flies 17000 km in an hour
    const back = await handleConnect(connect("london", t0 + 49 * HOUR), n);
    expect(back).toMatchObject({ reason: "known-place", verdict: "escalated", dm: "U0ALICE", securityChannel: SECURITY });
    expect(back.flags).toContainEqual(expect.stringMatching(/^impossible travel: /));
    expect(slack.messagesTo("U0ALICE")).toHaveLength(dmsBefore + 1);
    expect(slack.messagesTo(SECURITY).at(-1)?.text).toContain("impossible travel");
  });

  it("control: the same known place without anything suspicious stays quiet", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 12, 8);
    await handleConnect(connect("london", t0), n);
    const again = await handleConnect(connect("london", t0 + HOUR), n);
    expect(again).toMatchObject({ reason: "known-place", verdict: "suppressed", flags: [] });
  });

  it("London, then an address the City database cannot place, then Paris 10 min after London: impossible travel, and the unplaced one escalated (T62 F11)", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 14, 8);
    await handleConnect(connect("london", t0), n);
    // A public NAT64 address the test database has no record for.
    const unplaced = await handleConnect({ ...connect("london", t0 + 5 * 60_000), ip: "64:ff9b::102:1" }, n);
    expect(unplaced).toMatchObject({ verdict: "escalated", place: "unknown location", dm: "U0ALICE", securityChannel: SECURITY });
    expect(unplaced.flags).toEqual([expect.stringMatching(/^unknown location: no GeoIP database places this public address/)]);
    // Kept in the state file across the logins: the jump is measured from London, not from the unknown one.
    const paris = await handleConnect(connect("paris", t0 + 10 * 60_000), n);
    expect(paris).toMatchObject({ verdict: "escalated", securityChannel: SECURITY });
    expect(paris.flags).toContainEqual(
      expect.stringMatching(/^impossible travel: \d+ km from London, England, United Kingdom \(\d+ km\/h\)$/),
    );
  });
});
