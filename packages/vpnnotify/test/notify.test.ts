import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import type { VpnEvent } from "../src/event";
import { deliverEntry, handleConnect, handleDisconnect } from "../src/notify";
import { createNotifier } from "../src/runtime";
import { queuedLogin } from "../src/worker";
import { PLACES, type PlaceName, waitFor, writeGeoDatabases } from "./fixtures";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SECURITY = "C0SECURITY";

let dir: string;
let slack: SlackSim;
let geo: { city: string; asn: string };
let logLines: string[];

function notifier(overrides: Record<string, unknown> = {}, options: { worker?: boolean } = {}) {
  const config = configSchema.parse({
    server: { name: "vpn-eu-1", environment: "production" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
    securityChannel: SECURITY,
    directory: { emailDomain: "example.org" },
    geoip: { city: geo.city, asn: geo.asn },
    state: { file: join(dir, `state-${Math.random().toString(36).slice(2)}.json`) },
    spool: { dir: join(dir, `spool-${Math.random().toString(36).slice(2)}`) },
    ...overrides,
  });
  const stream = { write: (line: string) => logLines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  return createNotifier(config, new Logger({ tool: "vpnnotify", level: "info", stream }), undefined, options);
}

function connect(user: string, place: PlaceName, time: number, ip: string = PLACES[place].ip): VpnEvent {
  return { kind: "connect", source: "openvpn", user, ip, port: 51413, time };
}

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-notify-"));
  geo = writeGeoDatabases(dir);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org", tz: "Europe/Berlin" });
  slack.addUser({ id: "U0BOB", name: "bob", email: "bob@example.org" });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.up();
  slack.messages.length = 0;
  logLines = [];
});

describe("who is told about a login", () => {
  it("sends the user a DM on their first login, with place, network owner, server and time in their zone", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 23, 9, 30);
    const outcome = await handleConnect(connect("alice", "london", t0), n);
    expect(outcome.verdict).toBe("notified");
    expect(outcome.reason).toBe("first-login");
    const [dm] = slack.messagesTo("U0ALICE");
    expect(slack.messages).toHaveLength(1);
    expect(dm?.text).toContain("81.2.69.142 port 51413: London, England, United Kingdom (AS20712 Andrews &amp; Arnold Ltd)");
    expect(dm?.text).toContain("*vpn-eu-1* (production)");
    expect(dm?.text).toContain("23 Nov 2026, 10:30 CET");
    expect(dm?.text).toContain("not seen you connect from before");
    expect(dm?.text).not.toMatch(/\n\s*\n/);
    expect(logLines).toEqual([expect.stringMatching(/^vpnnotify: notified user=alice ip=81\.2\.69\.142 .*reason=first-login dm=U0ALICE$/)]);
  });

  it("suppresses a repeat from the same address or network within the renotify window, and logs it", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 1);
    await handleConnect(connect("alice", "london", t0), n);
    const same = await handleConnect(connect("alice", "london", t0 + HOUR), n);
    const sameNet = await handleConnect(connect("alice", "london", t0 + 2 * HOUR, "81.2.69.200"), n);
    expect([same.verdict, sameNet.verdict]).toEqual(["suppressed", "suppressed"]);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    expect(logLines.at(-1)).toMatch(/^vpnnotify: suppressed user=alice ip=81\.2\.69\.200 .*reason=known-place/);
    // Every alert is spooled until delivered; a suppressed login leaves nothing behind.
    expect(await n.spool.status()).toEqual({ pending: 0, dead: 0 });
  });

  it("tells the user again once the renotify window has passed", async () => {
    const n = notifier({ policy: { renotifyAfterDays: 7 } });
    const t0 = Date.UTC(2026, 9, 1);
    await handleConnect(connect("alice", "london", t0), n);
    const later = await handleConnect(connect("alice", "london", t0 + 8 * DAY), n);
    expect(later).toMatchObject({ verdict: "notified", reason: "renotify" });
    expect(slack.messagesTo("U0ALICE")).toHaveLength(2);
  });

  it("a new place in a known country is a DM only; a new country also goes to the security channel", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 2, 8);
    await handleConnect(connect("alice", "london", t0), n);
    const reading = await handleConnect(connect("alice", "reading", t0 + 5 * HOUR), n);
    expect(reading).toMatchObject({ verdict: "notified", reason: "new-place", flags: [] });
    const paris = await handleConnect(connect("alice", "paris", t0 + 30 * HOUR), n);
    expect(paris).toMatchObject({ verdict: "escalated", reason: "new-place", dm: "U0ALICE", securityChannel: SECURITY });
    expect(paris.flags).toEqual(["new country"]);
    const [alert] = slack.messagesTo(SECURITY);
    expect(alert?.text).toContain("*alice* (<@U0ALICE>) on vpn-eu-1");
    expect(alert?.text).toContain("Why: new country");
    expect(alert?.text).toContain("Paris, Île-de-France, France");
    expect(slack.messagesTo("U0ALICE").at(-1)?.text).toContain("country you have not connected from before");
  });

  it("flags impossible travel: London, then Sydney an hour later", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 3, 8);
    await handleConnect(connect("alice", "london", t0), n);
    const sydney = await handleConnect(connect("alice", "sydney", t0 + HOUR), n);
    expect(sydney.verdict).toBe("escalated");
    expect(sydney.flags).toEqual([
      "new country",
      expect.stringMatching(/^impossible travel: 169\d\d km from London, England, United Kingdom \(169\d\d km\/h\)$/),
    ]);
    const alert = slack.messagesTo(SECURITY)[0]?.text ?? "";
    expect(alert).toContain("Previous login: London, England, United Kingdom");
    expect(alert).toContain("Telstra &lt;Corp&gt;");
  });

  it("counts a journey from when the last session ended: a day-long London session, then Sydney 4 h after it", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 3, 8);
    await handleConnect(connect("alice", "london", t0), n);
    const ended = await handleDisconnect({ ...connect("alice", "london", t0 + 20 * HOUR), kind: "disconnect", durationSec: 72_000 }, n);
    expect(ended.verdict).toBe("ended");
    expect(logLines.at(-1)).toBe(`vpnnotify: session ended user=alice ip=${PLACES.london.ip} duration=72000s`);
    // 24 h after the connect would be a plausible 708 km/h; 4 h after the session ended it is not.
    const sydney = await handleConnect(connect("alice", "sydney", t0 + 24 * HOUR), n);
    expect(sydney.flags).toContainEqual(expect.stringMatching(/^impossible travel: 169\d\d km from London.* \(42\d\d km\/h\)$/));
  });

  it("does not call a short hop travel, and allows long trips that take long enough", async () => {
    const n = notifier({ policy: { knownBy: ["ip"] } });
    const t0 = Date.UTC(2026, 10, 4, 8);
    await handleConnect(connect("alice", "london", t0), n);
    const hop = await handleConnect(connect("alice", "londonOther", t0 + 60_000), n);
    expect(hop).toMatchObject({ verdict: "notified", reason: "new-place", flags: [] });
    const reading = await handleConnect(connect("alice", "reading", t0 + 2 * HOUR), n);
    expect(reading.flags).toEqual([]);
  });

  it("sends a login nobody can be told about to the security channel", async () => {
    const n = notifier();
    const outcome = await handleConnect(connect("mallory", "london", Date.UTC(2026, 10, 5)), n);
    expect(outcome).toMatchObject({ verdict: "escalated", securityChannel: SECURITY });
    expect(outcome.flags).toEqual(["nobody to tell: no Slack user has the directory's email address"]);
    expect(slack.messages.map((m) => m.to)).toEqual([SECURITY]);
  });

  it("a 100,000-character user name with newlines still reaches Slack, as one capped, escaped value", async () => {
    const n = notifier();
    const user = `mallory\n• Why: nothing, all fine\n${"x".repeat(100_000)}`;
    const outcome = await handleConnect(connect(user, "london", Date.UTC(2026, 10, 5)), n);
    expect(outcome).toMatchObject({ verdict: "escalated", securityChannel: SECURITY, errors: [] });
    const text = slack.messagesTo(SECURITY)[0]?.text ?? "";
    expect(text).toContain("*mallory\\n• Why: nothing, all fine\\nxxx");
    expect(text).toContain("… (100033 characters)*");
    expect(text.split("\n").filter((line) => line.startsWith("• Why:"))).toHaveLength(1);
    expect(logLines.at(-1)?.length).toBeLessThan(1_000);
  });

  it("takes the message templates from files, in the same template language", async () => {
    const userFile = join(dir, "user.tmpl");
    writeFileSync(userFile, "VPN login as {{user}} on {{server}} from {{location}}{{#newPlace}} (new place){{/newPlace}}\n");
    const n = notifier({ templates: { userFile } });
    await handleConnect(connect("alice", "paris", Date.UTC(2026, 10, 8)), n);
    expect(slack.messagesTo("U0ALICE")[0]?.text).toBe("VPN login as alice on vpn-eu-1 from Paris, Île-de-France, France (new place)");
    writeFileSync(userFile, "{{user}} {{password}}");
    expect(() => notifier({ templates: { userFile } })).toThrow(
      /templates\.userFile \(.*user\.tmpl\): unknown placeholder \{\{password\}\}/,
    );
    expect(() => notifier({ templates: { userFile: join(dir, "missing.tmpl") } })).toThrow(
      /templates\.userFile: cannot read .*missing\.tmpl \(ENOENT\)/,
    );
    expect(() => notifier({ templates: { user: "x", userFile } })).toThrow(/not both/);
  });

  it("refuses a template file that is not a regular file or is huge, at once (a FIFO or /dev/zero never hangs it)", () => {
    const fifo = join(dir, "user.fifo");
    execFileSync("mkfifo", [fifo]);
    expect(() => notifier({ templates: { userFile: fifo } })).toThrow(/templates\.userFile: .*user\.fifo is not a regular file/);
    expect(() => notifier({ templates: { userFile: "/dev/zero" } })).toThrow(/templates\.userFile: \/dev\/zero is not a regular file/);
    const huge = join(dir, "huge.tmpl");
    writeFileSync(huge, "{{user}} ".repeat(100_000));
    expect(() => notifier({ templates: { securityFile: huge } })).toThrow(
      /templates\.securityFile: .*huge\.tmpl is larger than 65536 bytes/,
    );
  });

  it("labels private addresses instead of looking them up", async () => {
    const n = notifier();
    const outcome = await handleConnect(connect("bob", "london", Date.UTC(2026, 10, 6), "10.20.30.40"), n);
    expect(outcome.place).toBe("private network");
    expect(slack.messagesTo("U0BOB")[0]?.text).toContain("10.20.30.40 port 51413: private network");
  });

  it("when Slack is down: reports failed, and the next login from that place tries again", async () => {
    const n = notifier();
    const t0 = Date.UTC(2026, 10, 7);
    slack.down();
    const failed = await handleConnect(connect("alice", "london", t0), n);
    expect(failed.verdict).toBe("failed");
    expect(failed.errors[0]).toMatch(/service_unavailable|HTTP 503/);
    expect(logLines.at(-1)).toMatch(/^vpnnotify: error: failed user=alice .*error=/);
    slack.up();
    const retried = await handleConnect(connect("alice", "london", t0 + 60_000), n);
    expect(retried).toMatchObject({ verdict: "notified", reason: "new-place" });
  });
});

describe("a login refused (onFailure reject) while its DM is already in flight (T50 N2)", () => {
  it("the worker answers 0 at the deadline with the DM held at Slack: that DM cannot be recalled, so a correction follows it", async () => {
    const n = notifier({ onFailure: "reject" }, { worker: true });
    const deferred = join(dir, `deferred-${Math.random().toString(36).slice(2)}`);
    writeFileSync(deferred, "2");
    // No post accepted yet in this worker: at its deadline the login is refused whatever the DM is doing.
    const event = { ...connect("alice", "london", Date.now()), deferredFile: deferred };
    const entry = await n.spool.enqueue(queuedLogin(event, Date.now() + 5_000));
    const release = slack.hold("chat.postMessage");
    const delivering = deliverEntry(entry, n);
    await slack.untilRequest(() => slack.callsTo("chat.postMessage").length > 0, "alice's DM");
    await waitFor(() => readFileSync(deferred, "utf8") === "0", 15_000, "the deadline's 0");
    release();
    expect(await delivering).toBe("delivered");
    expect(slack.messagesTo("U0ALICE").map((m) => m.text)).toEqual([
      expect.stringMatching(/^Hi alice, a VPN session just started under your name/),
      expect.stringMatching(
        /^Correction to the message before: that login was refused, no VPN session started\. Hi alice, someone just tried to start a VPN session \(it was refused: this alert could not be sent in time\) under your name/,
      ),
    ]);
    expect(logLines).toContainEqual(
      expect.stringMatching(/^vpnnotify: warn: answered 0 user=alice .*reason="its alert was not shown to be on its way by the deadline: /),
    );
  }, 30_000);
});
