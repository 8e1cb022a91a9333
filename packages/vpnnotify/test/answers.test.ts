import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, Secret, UnavailableError } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAnswerServer } from "../src/answers";
import { configSchema } from "../src/config";
import { MAX_MARKS_FILE_BYTES, marksFileOf } from "../src/file-store";
import { deliverEntry, handleConnect } from "../src/notify";
import { createNotifier } from "../src/runtime";
import { CLI, PLACES, runInProc, syslogServer, waitFor, writeGeoDatabases } from "./fixtures";

/**
 * The DM's "was this you?" buttons and `vpnnotify serve`. The lab's Slack simulator does not model
 * interactivity (it never posts to a request URL), so these tests send what Slack sends, as its docs
 * describe: a form body with a block_actions `payload`, signed with the app's signing secret
 * (X-Slack-Signature, v0 HMAC-SHA256 over "v0:<timestamp>:<body>", X-Slack-Request-Timestamp).
 */

const SECURITY = "C0SECURITY";
const SIGNING_SECRET = "lab-signing-secret-0123456789abcdef";
let dir: string;
let slack: SlackSim;
let geo: { city: string; asn: string };
let logLines: string[];

function config(extra: Record<string, unknown> = {}) {
  const id = Math.random().toString(36).slice(2);
  return {
    server: { name: "vpn-eu-1" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: slack.apiUrl },
    securityChannel: SECURITY,
    directory: { emailDomain: "example.org" },
    geoip: { city: geo.city, asn: geo.asn },
    state: { file: join(dir, `state-${id}.json`) },
    spool: { dir: join(dir, `spool-${id}`) },
    answers: { signingSecret: "env:TEST_SIGNING_SECRET", listen: "127.0.0.1:0" },
    ...extra,
  };
}

function notifier() {
  const stream = { write: (line: string) => logLines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  return createNotifier(configSchema.parse(config()), new Logger({ tool: "vpnnotify", level: "info", stream }));
}

/** A block_actions request as Slack posts it when `user` clicks `actionId` on the DM `message`. */
/** The "was this you?" answer server for n, on a free loopback port, signed with SIGNING_SECRET. */
function answerServer(n: ReturnType<typeof notifier>) {
  return startAnswerServer(n, { signingSecret: new Secret(SIGNING_SECRET, "test"), host: "127.0.0.1", port: 0, path: "/slack/actions" });
}

function interaction(
  message: { blocks?: unknown[] | undefined },
  actionId: string,
  user: string,
  secret = SIGNING_SECRET,
  now = Date.now(),
) {
  const actions = (message.blocks?.[1] as { elements: { action_id: string; value: string }[] } | undefined)?.elements ?? [];
  const button = actions.find((a) => a.action_id === actionId);
  return signed(
    {
      type: "block_actions",
      user: { id: user, username: "alice", team_id: "T0LAB" },
      actions: [{ type: "button", block_id: "vpnnotify_answer", action_id: actionId, value: button?.value, action_ts: "1.2" }],
    },
    secret,
    now,
  );
}

/** A form body with `payload`, signed as Slack signs it. */
function signed(payload: unknown, secret = SIGNING_SECRET, now = Date.now()) {
  return signedBody(`payload=${encodeURIComponent(JSON.stringify(payload))}`, secret, now);
}

function signedBody(body: string, secret = SIGNING_SECRET, now = Date.now()) {
  const timestamp = String(Math.floor(now / 1000));
  const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
  return {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
    },
    body,
  };
}

/** The same DM for another login of the user (its buttons name a login a millisecond later): an alert of its own. */
/** `vpnnotify serve` as a process, once it says where it listens; `stderr()` is all it wrote so far. */
async function startServe(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "serve"], {
    cwd: join(import.meta.dirname, "../../.."),
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  try {
    const url = await waitFor(() => /url=(\S+)/.exec(stderr)?.[1], 20_000, "the listening line");
    return { child, url, stderr: () => stderr };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

function otherLogin(message: { blocks?: unknown[] | undefined }): { blocks: unknown[] } {
  const blocks = JSON.parse(JSON.stringify(message.blocks ?? [])) as { elements?: { value: string }[] }[];
  for (const button of blocks[1]?.elements ?? []) {
    const ref = JSON.parse(button.value) as { t: number };
    button.value = JSON.stringify({ ...ref, t: ref.t + 1 });
  }
  return { blocks };
}

beforeAll(async () => {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  process.env.TEST_SIGNING_SECRET = SIGNING_SECRET;
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-answers-"));
  geo = writeGeoDatabases(dir);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addUser({ id: "U0MALLORY", name: "mallory", email: "mallory@example.org" });
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

describe('"was this you?" in one click', () => {
  it("the DM carries the two buttons; No reaches the security channel with the session, Yes is only logged", async () => {
    const n = notifier();
    const time = Date.UTC(2026, 10, 9, 14, 5);
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.paris.ip, port: 51413, time }, n);
    const dm = slack.messagesTo("U0ALICE")[0];
    expect(dm?.blocks?.[0]).toMatchObject({ type: "section", text: { type: "mrkdwn", text: dm?.text } });
    expect(JSON.stringify(dm?.blocks?.[1])).toMatch(/Yes, it was me.*No, it wasn't/);
    const server = await answerServer(n);
    try {
      const yes = await fetch(server.url, interaction(dm ?? {}, "vpnnotify_yes", "U0ALICE"));
      expect(yes.status).toBe(200);
      expect(slack.messagesTo(SECURITY)).toEqual([]);
      // logged once the store said the place is not a disowned one (after Slack has its answer)
      expect(await waitFor(() => logLines.find((l) => l.includes("answer: it was me")), 5_000, "the Yes line")).toMatch(
        /^vpnnotify: answer: it was me user=alice ip=90\.100\.1\.2 login=2026-11-09T14:05:00\.000Z slackUser=U0ALICE$/,
      );

      // "No" on another login's DM (this one has its answer: a second one is only logged)
      const no = await fetch(server.url, interaction(otherLogin(dm ?? {}), "vpnnotify_no", "U0ALICE"));
      expect(no.status).toBe(200);
      const alert = await waitFor(() => slack.messagesTo(SECURITY)[0], 5_000, "the escalation");
      expect(alert.text).toContain("*alice* (<@U0ALICE>) on vpn-eu-1");
      expect(alert.text).toContain("Why: the user answered that this login was NOT them");
      expect(alert.text).toContain("From: 90.100.1.2: Paris, Île-de-France, France (AS3215 Orange)");
      expect(alert.text).toContain("When: 9 Nov 2026, 14:05 UTC");
      // Slack has the escalation a moment before its spool entry is removed: wait for the removal, not luck.
      const until = Date.now() + 5_000;
      while ((await n.spool.status()).pending !== 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(await n.spool.status()).toMatchObject({ pending: 0 });
    } finally {
      await server.close();
    }
  });

  it("refuses a forged or replayed request, and ignores an answer from anyone but the DM's recipient", async () => {
    const n = notifier();
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.london.ip, time: Date.now() }, n);
    const dm = slack.messagesTo("U0ALICE")[0] ?? {};
    const server = await answerServer(n);
    try {
      const forged = await fetch(server.url, interaction(dm, "vpnnotify_no", "U0ALICE", "not-the-signing-secret"));
      expect(forged.status).toBe(401);
      expect(logLines.at(-1)).toMatch(/^vpnnotify: warn: refused a request that is not from Slack reason="signature does not match/);
      const replayed = await fetch(server.url, interaction(dm, "vpnnotify_no", "U0ALICE", SIGNING_SECRET, Date.now() - 10 * 60_000));
      expect(replayed.status).toBe(401);
      const tampered = interaction(dm, "vpnnotify_no", "U0ALICE");
      const altered = await fetch(server.url, { ...tampered, body: tampered.body.replace("alice", "bob") });
      expect(altered.status).toBe(401);
      const other = await fetch(server.url, interaction(dm, "vpnnotify_no", "U0MALLORY"));
      expect(other.status).toBe(200);
      expect(logLines.at(-1)).toMatch(
        /^vpnnotify: warn: ignored an answer from someone the alert was not sent to .*slackUser=U0MALLORY to=U0ALICE$/,
      );
      expect((await fetch(server.url)).status).toBe(405);
      expect(slack.messagesTo(SECURITY)).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("records each alert's answer once: a replayed request is refused (401), a double click on No escalates once (T48 F2)", async () => {
    const n = notifier();
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.paris.ip, time: Date.now() }, n);
    const dm = slack.messagesTo("U0ALICE")[0] ?? {};
    const server = await answerServer(n);
    try {
      // one signed request sent three times: Slack signed it once
      const request = interaction(dm, "vpnnotify_no", "U0ALICE");
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(server.url, request)).status);
      expect(statuses).toEqual([200, 401, 401]);
      expect(logLines.filter((l) => /^vpnnotify: warn: refused a request that is not from Slack reason="a replay: /.test(l))).toHaveLength(
        2,
      );
      // a double click: two requests, each signed (a second later), for the same alert
      const again = await fetch(server.url, interaction(dm, "vpnnotify_no", "U0ALICE", SIGNING_SECRET, Date.now() + 1_000));
      expect(again.status).toBe(200);
      expect(logLines.at(-1)).toMatch(
        /^vpnnotify: ignored a second answer for the same alert \(it was NOT me\): the first one stands user=alice .*first="it was NOT me" firstAt=\S+$/,
      );
      // a change of mind is logged at warning level, and acts no more than the first
      const yes = await fetch(server.url, interaction(dm, "vpnnotify_yes", "U0ALICE", SIGNING_SECRET, Date.now() + 2_000));
      expect(yes.status).toBe(200);
      expect(logLines.at(-1)).toMatch(/^vpnnotify: warn: ignored a second answer for the same alert \(it was me\): the first one stands /);
      // the later answers were acknowledged without spooling anything: the one escalation is all there is to send
      await waitFor(() => slack.messagesTo(SECURITY)[0], 5_000, "the escalation");
      // the escalation's entry leaves the spool just after Slack took it: wait for that, then look for a second one
      let status = await n.spool.status();
      for (const until = Date.now() + 5_000; status.pending > 0 && Date.now() < until; status = await n.spool.status()) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toMatchObject({ pending: 0 });
      expect(slack.messagesTo(SECURITY)).toHaveLength(1);
      expect(logLines.filter((l) => /answer: it was NOT me/.test(l))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('after "No", the next login from that address or network reaches the security channel, and the country is news again (T62 F0)', async () => {
    const n = notifier();
    const day = 86_400_000;
    const t0 = Date.now() - 10 * day;
    const connect = (ip: string, time: number) => handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip, time }, n);
    const securityPosts = () => slack.messagesTo(SECURITY).map((m) => m.text ?? "");
    // home, then the stolen credential used from Sydney five days later (new country: escalated), disowned
    expect(await connect(PLACES.london.ip, t0)).toMatchObject({ verdict: "notified" });
    expect(await connect(PLACES.sydney.ip, t0 + 5 * day)).toMatchObject({ verdict: "escalated", flags: ["new country"] });
    const server = await answerServer(n);
    try {
      const no = await fetch(server.url, interaction(slack.messagesTo("U0ALICE").at(-1) ?? {}, "vpnnotify_no", "U0ALICE"));
      expect(no.status).toBe(200);
      await waitFor(() => securityPosts().find((t) => t.includes("this login was NOT them")), 5_000, "the escalation");
      const disowned = `from where alice said a login was NOT them (the login of ${new Date(t0 + 5 * day).toISOString()})`;

      // the attacker again, from the address and from its /24 a day later: told to security, not a quiet known place
      for (const [ip, time] of [
        [PLACES.sydney.ip, t0 + 6 * day],
        ["1.128.3.99", t0 + 6 * day + 60_000],
      ] as const) {
        const again = await connect(ip, time);
        expect(again).toMatchObject({ verdict: "escalated", reason: "disowned-place", securityChannel: SECURITY });
        expect(again.flags).toContain(disowned);
        expect(securityPosts().at(-1)).toContain(disowned);
      }
      // a "Yes" on that later alert (the attacker may hold the Slack session too) does not make the place theirs
      const yes = await fetch(server.url, interaction(slack.messagesTo("U0ALICE").at(-1) ?? {}, "vpnnotify_yes", "U0ALICE"));
      expect(yes.status).toBe(200);
      await waitFor(() => logLines.find((l) => l.includes("answer: it was me")), 5_000, "the Yes line");
      expect(logLines.find((l) => l.includes("answer: it was me"))).toMatch(
        /^vpnnotify: warn: answer: it was me, from where this user said a login was NOT them: the place stays disowned user=alice ip=1\.128\.3\.99 .* disowned=\S+$/,
      );
      const afterYes = await connect(PLACES.sydney.ip, t0 + 6 * day + 120_000);
      expect(afterYes).toMatchObject({ verdict: "escalated", reason: "disowned-place" });

      // another network of that country: Australia counts as new, on the strength of the disowned login alone it was not
      expect(await connect("1.128.200.1", t0 + 7 * day)).toMatchObject({ verdict: "escalated", flags: ["new country"] });
      // the places the user had before stay theirs
      expect(await connect(PLACES.london.ip, t0 + 9 * day)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
    } finally {
      await server.close();
    }
  });

  it('a "No" whose place the store cannot mark says so to the security channel and stays spooled until it is marked', async () => {
    const n = notifier();
    const problem = `redis 10.0.0.5:6379 is unavailable: ${"Connection is closed. ".repeat(5)}(check state.redis)`;
    const t0 = Date.now() - 86_400_000;
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.london.ip, time: t0 - 86_400_000 }, n);
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.sydney.ip, time: t0 }, n);
    const store = n.store;
    // the store goes down for writes (Redis unreachable) just as the "No" comes
    n.store = {
      name: store.name,
      get: (user) => store.get(user),
      listMarks: (user) => store.listMarks(user),
      removeMarks: () => Promise.reject(new UnavailableError(problem)),
      close: () => store.close(),
      // As long as a real one can be (T64 N9): a flag is cut at 200 characters, which ate "may pass quietly".
      update: () => Promise.reject(new UnavailableError(problem)),
    };
    const server = await answerServer(n);
    try {
      expect((await fetch(server.url, interaction(slack.messagesTo("U0ALICE").at(-1) ?? {}, "vpnnotify_no", "U0ALICE"))).status).toBe(200);
      const alert = await waitFor(
        () => slack.messagesTo(SECURITY).at(-1)?.text?.includes("NOT them") && slack.messagesTo(SECURITY).at(-1),
        5_000,
        "the escalation",
      );
      expect(alert.text).toContain(
        "its place could not be marked as not theirs: until it is, a login from there may pass quietly (redis 10.0.0.5:6379 is unavailable: Connection is closed.",
      );
      // kept for flush: the escalation went out, the mark did not
      let status = await n.spool.status();
      for (const until = Date.now() + 5_000; !status.lastError && Date.now() < until; status = await n.spool.status()) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toMatchObject({
        pending: 1,
        lastError: `cannot mark the disowned place in the store: ${problem}`,
      });
      // the store back, the retry marks the place without posting again
      n.store = store;
      const [entry] = await n.spool.list();
      expect(entry && (await deliverEntry(entry, n))).toBe("delivered");
      expect(slack.messagesTo(SECURITY).filter((m) => m.text?.includes("NOT them"))).toHaveLength(1);
      // the log says what it did: marked, nothing posted (not "delivered late", T64 N9)
      expect(logLines.at(-1)).toMatch(
        /^vpnnotify: marked late: the place of the login the user said was NOT them is now disowned \(nothing posted now: the security channel was told when they answered\) user=alice ip=1\.128\.3\.4 /,
      );
      expect(logLines.at(-1)).not.toContain("security=");
      const again = await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.sydney.ip, time: Date.now() }, n);
      expect(again).toMatchObject({ verdict: "escalated", reason: "disowned-place" });
    } finally {
      await server.close();
    }
  });

  it('a "No" after a "Yes" on the same alert reaches the security channel as a changed answer; "Yes" after "No" does not count (T62 F1)', async () => {
    const n = notifier();
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.paris.ip, time: Date.now() }, n);
    const dm = slack.messagesTo("U0ALICE")[0] ?? {};
    const server = await answerServer(n);
    try {
      expect((await fetch(server.url, interaction(dm, "vpnnotify_yes", "U0ALICE"))).status).toBe(200);
      expect(slack.messagesTo(SECURITY)).toEqual([]);
      const no = await fetch(server.url, interaction(dm, "vpnnotify_no", "U0ALICE", SIGNING_SECRET, Date.now() + 1_000));
      expect(no.status).toBe(200);
      expect(logLines).toContainEqual(
        expect.stringMatching(/^vpnnotify: warn: answer changed to: it was NOT me user=alice .*first="it was me" firstAt=\S+$/),
      );
      const alert = await waitFor(() => slack.messagesTo(SECURITY)[0], 5_000, "the escalation");
      expect(alert.text).toContain("Why: the user changed their answer to: it was NOT me (their first answer was: it was me)");
      // the "No" stands: a "Yes" again is ignored, at warning level
      const yes = await fetch(server.url, interaction(dm, "vpnnotify_yes", "U0ALICE", SIGNING_SECRET, Date.now() + 2_000));
      expect(yes.status).toBe(200);
      expect(logLines.at(-1)).toMatch(
        /^vpnnotify: warn: ignored a second answer for the same alert \(it was me\): the first one stands .*first="it was NOT me"/,
      );
      expect(slack.messagesTo(SECURITY)).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("refuses a payload with two answers: Slack sends one per click (T62 F9)", async () => {
    const n = notifier();
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.paris.ip, time: Date.now() }, n);
    const buttons = (
      (slack.messagesTo("U0ALICE")[0]?.blocks?.[1] as { elements?: { action_id: string; value: string }[] } | undefined)?.elements ?? []
    ).map((b) => ({ type: "button", block_id: "vpnnotify_answer", action_id: b.action_id, value: b.value, action_ts: "1.2" }));
    const server = await answerServer(n);
    try {
      const both = await fetch(server.url, signed({ type: "block_actions", user: { id: "U0ALICE" }, actions: buttons }));
      expect(both.status).toBe(400);
      expect(logLines.at(-1)).toBe(
        'vpnnotify: warn: refused an interaction reason="the payload carries 2 answers (Slack sends one per click)"',
      );
      expect(logLines.filter((l) => l.includes("answer: it was"))).toEqual([]);
      // the DM's own answer still counts afterwards
      const no = await fetch(
        server.url,
        signed({ type: "block_actions", user: { id: "U0ALICE" }, actions: [buttons[1]] }, SIGNING_SECRET, Date.now() + 1_000),
      );
      expect(no.status).toBe(200);
      await waitFor(() => slack.messagesTo(SECURITY)[0], 5_000, "the escalation");
    } finally {
      await server.close();
    }
  });

  it("logs a request refused as too large, as every refusal (T62 F7)", async () => {
    const server = await answerServer(notifier());
    try {
      const large = await fetch(server.url, signedBody(`payload=${"x".repeat(100 * 1024)}`));
      expect(large.status).toBe(413);
      expect(logLines.at(-1)).toBe(
        'vpnnotify: warn: refused a request reason="too large: over 65536 bytes (a button\'s answer is a few KiB)" from=127.0.0.1',
      );
    } finally {
      await server.close();
    }
  });

  it("vpnnotify serve refuses to start (78) on a spool it cannot write, before it listens (T62 F10)", async () => {
    const conf = config();
    mkdirSync(conf.spool.dir, { mode: 0o700 });
    // another user's spool: root may not keep alerts in it (core's private-directory rule), as the flush timer's user
    chownSync(conf.spool.dir, 4242, 4242);
    const path = join(dir, "serve-foreign-spool.json");
    writeFileSync(path, JSON.stringify(conf));
    const run = await runInProc(["serve"], { VPNNOTIFY_CONFIG: path });
    expect(run.code).toBe(78);
    expect(run.stderr).not.toContain("listening");
    expect(run.stderr).toMatch(
      new RegExp(
        `^vpnnotify: cannot read or write the spool directory ${conf.spool.dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: it belongs to uid 4242, mode 0700`,
      ),
    );
    expect(run.stderr).toContain("chown USER");
  });

  it.runIf(process.getuid?.() === 0)(
    "vpnnotify flush as root on the hook user's spool is refused at start (78), naming the user to run it as, never advising a chown to root (T64 N1)",
    async () => {
      const conf = config();
      mkdirSync(conf.spool.dir, { mode: 0o700 });
      // nobody's spool, as the hooks' user owns it; a spooled alert in it that root's flush must not deliver
      chownSync(conf.spool.dir, 65534, 65534);
      const entry = join(conf.spool.dir, "1-0000abcd.json");
      writeFileSync(entry, "{}\n", { mode: 0o600 });
      const path = join(dir, "flush-as-root.json");
      writeFileSync(path, JSON.stringify(conf));
      const run = await runInProc(["flush"], { VPNNOTIFY_CONFIG: path });
      expect(run.code).toBe(78);
      expect(run.stderr).toBe(
        `vpnnotify: the spool directory ${conf.spool.dir} belongs to nobody (uid 65534), the user the hooks run as; as root, flush would deliver its alerts without being able to record them in that user's state (run it as nobody: sudo -u nobody vpnnotify --config ${path} flush)\n`,
      );
      expect(readFileSync(entry, "utf8")).toBe("{}\n");
      // the spool root's (or none yet), the state nobody's: the same refusal, naming the state directory
      const stateDir = join(dir, `state-${Math.random().toString(36).slice(2)}`);
      mkdirSync(stateDir, { mode: 0o700 });
      chownSync(stateDir, 65534, 65534);
      writeFileSync(path, JSON.stringify({ ...config(), state: { file: join(stateDir, "state.json") } }));
      const onState = await runInProc(["flush"], { VPNNOTIFY_CONFIG: path });
      expect([onState.code, onState.stderr]).toEqual([
        78,
        `vpnnotify: the state directory ${stateDir} belongs to nobody (uid 65534), the user the hooks run as; as root, flush would deliver its alerts without being able to record them in that user's state (run it as nobody: sudo -u nobody vpnnotify --config ${path} flush)\n`,
      ]);
    },
  );

  it('vpnnotify serve: a "No", and the marks file full with its oldest marks dropped, are in log.file and syslog too, not only on stderr (T71 N7)', async () => {
    const logFile = join(dir, `serve-${Math.random().toString(36).slice(2)}.log`);
    const conf = config({ log: { file: logFile } });
    const path = join(dir, "serve-records.json");
    writeFileSync(path, JSON.stringify(conf));
    // The DM whose "No" serve answers: a login handled with the same config.
    const n = createNotifier(configSchema.parse(conf), new Logger({ tool: "vpnnotify", level: "silent" }));
    await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.sydney.ip, time: Date.now() - 60_000 }, n);
    const dm = slack.messagesTo("U0ALICE").at(-1) ?? {};
    // Other users' older marks, a few dozen bytes under the cap: the "No"'s two marks cross it and drop the oldest.
    const users: Record<string, Record<string, { login: number; answeredAt: number }>> = {};
    let size = JSON.stringify({ version: 1, users: {} }).length + 1;
    const then = Date.now() - 300 * 86_400_000;
    for (let i = 0; ; i++) {
      const entry = {
        [`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`]: { login: then + i * 1000, answeredAt: then + i * 1000 + 1 },
      };
      const bytes = JSON.stringify({ [`user${i}`]: entry }).length - 1;
      if (size + bytes > MAX_MARKS_FILE_BYTES - 60) break;
      users[`user${i}`] = entry;
      size += bytes;
    }
    writeFileSync(marksFileOf(conf.state.file), `${JSON.stringify({ version: 1, users })}\n`, { mode: 0o600 });
    const syslog = await syslogServer();
    const serve = await startServe({ PATH: syslog.path, VPNNOTIFY_CONFIG: path });
    const { child, url } = serve;
    try {
      expect((await fetch(url, interaction(dm, "vpnnotify_no", "U0ALICE"))).status).toBe(200);
      const no = /^vpnnotify: warn: answer: it was NOT me user=alice ip=1\.128\.3\.4 /m;
      const full = /^vpnnotify: warn: the "not me" marks file is full: its oldest marks were dropped to keep it readable .*dropped=\d+/m;
      await waitFor(() => full.test(serve.stderr()), 20_000, "the marks-full line on stderr");
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      // stderr (the journal under systemd) as before; log.file and syslog now too, as the README tells operators to look
      expect(serve.stderr()).toMatch(no);
      const logged = readFileSync(logFile, "utf8");
      expect(logged).toMatch(no);
      expect(logged).toMatch(full);
      const messages = await waitFor(
        () => {
          const ours = syslog.lines.filter((l) => l.includes(" vpnnotify "));
          return (
            ours.some((l) => l.includes("answer: it was NOT me user=alice")) && ours.some((l) => l.includes("marks file is full")) && ours
          );
        },
        5_000,
        "the syslog messages",
      );
      // warnings only: the "listening" and "stopped" lines stay serve's own (stderr)
      expect(messages.some((l) => l.includes("listening"))).toBe(false);
      expect(logged).not.toContain("listening");
    } finally {
      child.kill("SIGKILL");
      await syslog.close();
    }
  });

  it("vpnnotify serve: listens where configured, answers signed requests, and stops on SIGTERM", async () => {
    const path = join(dir, "serve.json");
    writeFileSync(path, JSON.stringify(config()));
    const serve = await startServe({ VPNNOTIFY_CONFIG: path });
    const { child, url } = serve;
    try {
      expect(serve.stderr()).toMatch(/^vpnnotify: listening for Slack's button answers url=http:\/\/127\.0\.0\.1:\d+\/slack\/actions$/m);
      const forged = await fetch(
        url,
        interaction({ blocks: [{}, { elements: [{ action_id: "vpnnotify_no", value: "{}" }] }] }, "vpnnotify_no", "U0ALICE", "wrong"),
      );
      expect(forged.status).toBe(401);
      // A second server on the same port: one line saying why, no stack trace.
      const taken = JSON.parse(JSON.stringify(config()));
      taken.answers.listen = new URL(url).host;
      writeFileSync(join(dir, "taken.json"), JSON.stringify(taken));
      const second = await runInProc(["serve"], { VPNNOTIFY_CONFIG: join(dir, "taken.json") });
      expect(second.code).toBe(69);
      expect(second.stderr).toMatch(/^vpnnotify: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE \(check answers\.listen/);
      const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
      child.kill("SIGTERM");
      // a clean stop (0, as systemd expects of a stop it asked for), said in the log
      expect(await exited).toBe(0);
      expect(serve.stderr()).toMatch(
        /^vpnnotify: stopped by SIGTERM: no longer answering Slack's buttons url=http:\/\/127\.0\.0\.1:\d+\/slack\/actions$/m,
      );
    } finally {
      child.kill("SIGKILL");
    }
  });
});
