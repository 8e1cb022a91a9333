import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, Secret } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SlackHealth } from "../src/slack-health";
import { PacedSlackClient } from "../src/slack-pace";
import { Verdicts } from "../src/verdicts";

/**
 * The onFailure reject verdict (T48 F4) as the worker's posts show Slack's state: the worker's Slack client against
 * the simulator, and OpenVPN's deferred answer files. Deadlines are set in the past where a test needs one reached,
 * so nothing here waits on a clock.
 */

const slack = new SlackSim();
let dir: string;
let lines: string[];
let n = 0;
const SECURITY = "C0SECURITY";

beforeAll(async () => {
  slack.addUser({ id: "U0A", name: "a" });
  slack.addUser({ id: "U0B", name: "b" });
  // Deactivated: Slack answers a DM to them user_disabled, for good.
  slack.addUser({ id: "U0Z", name: "z", deleted: true });
  // The app's channel for security posts, archived: Slack answers a post there is_archived until it is unarchived.
  slack.addChannel({ id: SECURITY, name: "security", is_archived: true });
  await slack.start();
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-verdicts-"));
});
afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  slack.up();
  lines = [];
});

/** The worker's Slack client, telling `health` of its posts (a second one posts to a channel again within its pace). */
function clientFor(health: SlackHealth): PacedSlackClient {
  return new PacedSlackClient({
    token: new Secret(SLACK_SIM_TOKEN, "test"),
    baseUrl: slack.apiUrl,
    timeoutMs: 5_000,
    maxWaitMs: 0,
    health,
  });
}

/** A worker's verdicts; with `file`, the refusals file it shares with the workers before and after it. */
function setup(file?: string): { health: SlackHealth; client: PacedSlackClient; verdicts: Verdicts } {
  const stream = { write: (line: string) => lines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  const log = new Logger({ tool: "vpnnotify", level: "info", stream });
  const health = new SlackHealth(60_000, file === undefined ? undefined : { file, log });
  return { health, client: clientFor(health), verdicts: new Verdicts(log, health, SECURITY) };
}

/** A login waiting on its answer; `by` its deadline. */
function login(verdicts: Verdicts, by: number, user = `user${n + 1}`): { answered: Promise<string>; file: string } {
  const file = join(dir, `deferred-${++n}`);
  return { answered: verdicts.watch(`id-${n}`, { file, by }, { user, ip: "81.2.69.142" }), file };
}

describe("the verdict a login waiting on onFailure reject gets", () => {
  it("no post accepted yet: the logins wait; Slack's first accepted post lets every one in, each logged", async () => {
    const { client, verdicts } = setup();
    const far = Date.now() + 600_000;
    const waiting = [login(verdicts, far), login(verdicts, far)];
    expect(lines).toEqual([]);
    await client.postMessage({ channel: "U0A", text: "another login's DM" });
    expect(await Promise.all(waiting.map((w) => w.answered))).toEqual(["1", "1"]);
    expect(waiting.map((w) => readFileSync(w.file, "utf8"))).toEqual(["1", "1"]);
    expect(lines).toEqual([
      expect.stringMatching(/^vpnnotify: answered 1 user=user\d+ ip=81\.2\.69\.142 reason="queued, and Slack is accepting posts"$/),
      expect.stringMatching(/^vpnnotify: answered 1 user=user\d+ /),
    ]);
    // accepting still: a login queued now is let in at once
    expect(await login(verdicts, far).answered).toBe("1");
  });

  it("Slack's last post failed: a login whose deadline comes is refused, saying why; its own alert sent before that lets it in", async () => {
    const { client, verdicts } = setup();
    await client.postMessage({ channel: "U0A", text: "accepted" });
    slack.down();
    // another DM channel: the pace of one post a second per channel is no failure, and would hold this one back
    await expect(client.postMessage({ channel: "U0B", text: "refused" })).rejects.toThrow(/service_unavailable/);
    const late = login(verdicts, Date.now() - 1);
    expect(await late.answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /^vpnnotify: warn: answered 0 user=user\d+ ip=\S+ reason="its alert was not shown to be on its way by the deadline: Slack's last post failed: /,
    );
    const own = login(verdicts, Date.now() + 600_000);
    verdicts.settle(`id-${n}`, "1", "its alert went out");
    expect(await own.answered).toBe("1");
    // answered once: a later outcome does not change it
    verdicts.settle(`id-${n}`, "0", "its alert failed");
    expect(readFileSync(own.file, "utf8")).toBe("1");
  });

  it("the security channel's last post refused for good (archived): others' DMs accepted let nobody in; refused at the deadline until a post there is accepted", async () => {
    const { health, client, verdicts } = setup();
    await client.postMessage({ channel: "U0A", text: "a DM accepted" });
    await expect(client.postMessage({ channel: SECURITY, text: "a security post" })).rejects.toThrow(/is_archived/);
    await client.postMessage({ channel: "U0B", text: "another DM accepted" });
    const far = Date.now() + 600_000;
    const waiting = [login(verdicts, far), login(verdicts, far)];
    const late = login(verdicts, Date.now() - 1);
    expect(await late.answered).toBe("0");
    expect(readFileSync(late.file, "utf8")).toBe("0");
    expect(lines).toEqual([
      expect.stringMatching(
        /^vpnnotify: warn: answered 0 user=user\d+ ip=\S+ reason="its alert was not shown to be on its way by the deadline: Slack refuses posts to the security channel for good: is_archived"$/,
      ),
    ]);
    // still only DMs accepted: the waiting logins stay unanswered
    await clientFor(health).postMessage({ channel: "U0A", text: "a third DM accepted" });
    expect(verdicts.given(`id-${n - 2}`)).toBeUndefined();
    expect(verdicts.given(`id-${n - 1}`)).toBeUndefined();
    // unarchived: the channel's first accepted post lets every login waiting in
    slack.addChannel({ id: SECURITY, name: "security" });
    try {
      await clientFor(health).postMessage({ channel: SECURITY, text: "a security post accepted" });
      expect(await Promise.all(waiting.map((w) => w.answered))).toEqual(["1", "1"]);
    } finally {
      slack.addChannel({ id: SECURITY, name: "security", is_archived: true });
    }
  });

  it("a user whose last DM Slack refused for good (deactivated) is refused at the deadline; other users are still let in at once", async () => {
    const { health, client, verdicts } = setup();
    // the worker looked the user up for an earlier alert of theirs
    verdicts.recipient("zed", "U0Z");
    await expect(client.postMessage({ channel: "U0Z", text: "zed's DM" })).rejects.toThrow(/user_disabled/);
    await client.postMessage({ channel: "U0A", text: "another user's DM accepted" });
    expect(await login(verdicts, Date.now() + 600_000).answered).toBe("1");
    // the same user under another spelling is the same person
    const zed = login(verdicts, Date.now() - 1, " Zed");
    expect(await zed.answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /^vpnnotify: warn: answered 0 user=" Zed" ip=\S+ reason="its alert was not shown to be on its way by the deadline: Slack refuses this user's direct messages for good: user_disabled"$/,
    );
    // reactivated: their next DM accepted lets their waiting login in
    const waiting = login(verdicts, Date.now() + 600_000, "zed");
    await clientFor(health).postMessage({ channel: "U0B", text: "another user's DM accepted" });
    expect(verdicts.given(`id-${n}`)).toBeUndefined();
    slack.addUser({ id: "U0Z", name: "z" });
    try {
      await clientFor(health).postMessage({ channel: "U0Z", text: "zed's DM accepted" });
      expect(await waiting.answered).toBe("1");
    } finally {
      slack.addUser({ id: "U0Z", name: "z", deleted: true });
    }
  });

  it("a 429 on the security channel's post (its escalations paced there) holds back that channel only: users' DMs still go out and let the waiting logins in (T50 N4)", async () => {
    const { client, verdicts } = setup();
    await client.postMessage({ channel: "U0A", text: "accepted" });
    // Retry-After 30 s, longer than this client waits (maxWaitMs 0): the post fails as rate limited, and is retried later
    slack.rateLimit(1, 30, "chat.postMessage");
    await expect(client.postMessage({ channel: SECURITY, text: "an escalation" })).rejects.toThrow(/ratelimited/);
    const waiting = login(verdicts, Date.now() + 600_000);
    const posts = slack.callsTo("chat.postMessage").length;
    // Slack limits chat.postMessage per channel: a DM to a user is no post to the channel that was limited
    await client.postMessage({ channel: "U0B", text: "a DM" });
    expect(await waiting.answered).toBe("1");
    expect(await login(verdicts, Date.now() - 1).answered).toBe("1");
    // the limited channel itself waits out its Retry-After without asking Slack again
    await expect(client.postMessage({ channel: SECURITY, text: "another escalation" })).rejects.toThrow(/no turn to post/);
    expect(slack.callsTo("chat.postMessage").length).toBe(posts + 1);
  });

  it("a call other than a post (a new user's lookup) that hangs shows Slack not answering, as a hung post does (T50 N3)", async () => {
    const health = new SlackHealth(1_000);
    const client = clientFor(health);
    await client.postMessage({ channel: "U0A", text: "accepted" });
    const release = slack.hold("users.lookupByEmail");
    const lookup = client.call("users.lookupByEmail", { email: "nobody@example.com" }).catch((error: unknown) => error);
    await slack.untilRequest(() => slack.callsTo("users.lookupByEmail").length === 1, "the lookup at Slack");
    // within the stall bound it is one call on its way; past it, Slack is not shown to answer anything
    expect(health.accepting()).toBe(true);
    const later = Date.now() + 2_000;
    expect([health.accepting(later), health.why(later)]).toEqual([
      false,
      expect.stringMatching(/^a Slack call has had no answer for \d+ ms$/),
    ]);
    release();
    // answered with Slack's own no (no such user): it is answering, the proof stands
    expect(String(await lookup)).toMatch(/users_not_found/);
    expect(health.accepting()).toBe(true);
    // a lookup with no answer from Slack (down) undoes the proof, as a failed post does
    slack.down();
    await expect(client.call("users.lookupByEmail", { email: "nobody@example.com" })).rejects.toThrow();
    expect([health.accepting(), health.why()]).toEqual([false, expect.stringMatching(/^Slack's last call failed: /)]);
  });
});

describe("the refusals Slack gave, kept beside the spool for the next worker (T51 N5b: the worker exits when idle)", () => {
  it("a user whose DMs Slack refused in one worker is refused at the deadline in the next, before it has looked them up; until a DM to them is accepted", async () => {
    const file = join(mkdtempSync(join(dir, "spool-")), "slack-refusals.json");
    const first = setup(file);
    first.verdicts.recipient("zed", "U0Z");
    await expect(first.client.postMessage({ channel: "U0Z", text: "zed's DM" })).rejects.toThrow(/user_disabled/);
    await first.verdicts.saved();
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // the next worker: another user's DM accepted, then zed logs in again (no lookup of zed yet in this worker)
    const next = setup(file);
    await next.client.postMessage({ channel: "U0A", text: "another user's DM accepted" });
    expect(await login(next.verdicts, Date.now() + 600_000).answered).toBe("1");
    expect(await login(next.verdicts, Date.now() - 1, "Zed").answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /reason="its alert was not shown to be on its way by the deadline: Slack refuses this user's direct messages for good: user_disabled"$/,
    );

    // reactivated: a DM to them accepted clears it, for the workers after too
    slack.addUser({ id: "U0Z", name: "z" });
    try {
      await next.client.postMessage({ channel: "U0Z", text: "zed's DM accepted" });
    } finally {
      slack.addUser({ id: "U0Z", name: "z", deleted: true });
    }
    await next.verdicts.saved();
    const third = setup(file);
    await third.client.postMessage({ channel: "U0A", text: "another user's DM accepted" });
    expect(await login(third.verdicts, Date.now() + 600_000, "zed").answered).toBe("1");
  });

  it("the security channel refused in one worker: the next lets nobody in on others' DMs accepted", async () => {
    const file = join(mkdtempSync(join(dir, "spool-")), "slack-refusals.json");
    const first = setup(file);
    await expect(first.client.postMessage({ channel: SECURITY, text: "a security post" })).rejects.toThrow(/is_archived/);
    await first.verdicts.saved();

    const next = setup(file);
    await next.client.postMessage({ channel: "U0A", text: "a DM accepted" });
    const waiting = login(next.verdicts, Date.now() + 600_000);
    expect(await login(next.verdicts, Date.now() - 1).answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /reason="its alert was not shown to be on its way by the deadline: Slack refuses posts to the security channel for good: is_archived"$/,
    );
    expect(next.verdicts.given(`id-${n - 1}`)).toBeUndefined();
    next.verdicts.settle(`id-${n - 1}`, "1", "its alert went out");
    expect(await waiting.answered).toBe("1");
  });

  it("a worker that ended idle hands Slack's state to the next: its first login is judged as if queued a moment before (T50 N1); only once, and never a failure's", async () => {
    const file = join(mkdtempSync(join(dir, "spool-")), "slack-refusals.json");
    const first = setup(file);
    await first.client.postMessage({ channel: "U0A", text: "a DM accepted" });
    first.verdicts.handOver();
    await first.verdicts.saved();

    // the next worker, before any post of its own (Slack slow: its first alert's lookup and DM take their time)
    const next = setup(file);
    expect(await login(next.verdicts, Date.now() + 600_000).answered).toBe("1");
    expect(await login(next.verdicts, Date.now() - 1).answered).toBe("1");
    expect(lines.at(-1)).toMatch(/^vpnnotify: answered 1 user=\S+ ip=\S+ reason="queued, and Slack is accepting posts"$/);
    await next.verdicts.saved();

    // taken by that worker alone: one after it that was killed (never handed over) leaves the next with nothing
    const third = setup(file);
    expect(await login(third.verdicts, Date.now() - 1).answered).toBe("0");
    expect(lines.at(-1)).toMatch(/reason="its alert was not shown to be on its way by the deadline: no post accepted by Slack yet"$/);

    // a worker whose last post failed hands that over: the next refuses as it would have
    const failing = setup(file);
    await failing.client.postMessage({ channel: "U0A", text: "a DM accepted" });
    slack.down();
    await expect(failing.client.postMessage({ channel: "U0B", text: "refused" })).rejects.toThrow(/service_unavailable/);
    slack.up();
    failing.verdicts.handOver();
    await failing.verdicts.saved();
    const after = setup(file);
    expect(await login(after.verdicts, Date.now() - 1).answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /reason="its alert was not shown to be on its way by the deadline: Slack's last post failed: .*service_unavailable/,
    );

    // a state older than the proof's 30 s proves nothing, as in one worker
    writeFileSync(file, `${JSON.stringify({ channels: {}, users: {}, lastPost: { acceptedAt: Date.now() - 31_000 } })}\n`, { mode: 0o600 });
    const stale = setup(file);
    expect(await login(stale.verdicts, Date.now() - 1).answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /reason="its alert was not shown to be on its way by the deadline: no post accepted by Slack in the last 30 s"$/,
    );
  });

  it("a corrupt refusals file: one warn line, no crash, and no login let in before its own outcome (it could have held a refusal)", async () => {
    const file = join(mkdtempSync(join(dir, "spool-")), "slack-refusals.json");
    writeFileSync(file, '{"channels":{"U0Z":"user_dis', { mode: 0o600 });
    const { client, verdicts } = setup(file);
    // read when first needed (a post), not when the worker's notifier is made: `status` makes one and sends nothing
    expect(lines).toEqual([]);
    await client.postMessage({ channel: "U0A", text: "a DM accepted" });
    expect(lines).toEqual([
      expect.stringMatching(
        /^vpnnotify: warn: cannot read the Slack refusals earlier workers kept: no login is let in before its own alert's outcome file=\S+slack-refusals\.json error=/,
      ),
    ]);
    const waiting = login(verdicts, Date.now() + 600_000, "zed");
    expect(await login(verdicts, Date.now() - 1, "zed").answered).toBe("0");
    expect(lines.at(-1)).toMatch(
      /reason="its alert was not shown to be on its way by the deadline: the Slack refusals earlier workers kept could not be read: /,
    );
    // its own alert sent still lets a login in
    verdicts.settle(`id-${n - 1}`, "1", "its alert went out");
    expect(await waiting.answered).toBe("1");
  });
});
