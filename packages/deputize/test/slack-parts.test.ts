import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LdapClient, Logger } from "@opsguard/core";
import { PagerDutySim, SLACK_SIM_TOKEN, SlackSim, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildDeputize } from "../src/build";
import { configSchema } from "../src/config";
import { formatStatus } from "../src/format";
import { runOnce } from "../src/run";
import { MAX_MESSAGE_ATTEMPTS } from "../src/state";

/**
 * The Slack sink's parts (topic, user group, hand-off message) are separate promises: each is
 * applied and reported on its own, and a message that did not get through is kept and sent on a
 * later run, never lost. Against the real slapd and the Slack/PagerDuty simulators.
 */

const CHANNEL = "C0HANDOFF1";
const USERGROUP = "S0HANDOFF1";
let lab: SlapdLab;
let admin: LdapClient;
let stateDir = "";
const pd = new PagerDutySim();
const slack = new SlackSim();
const env = { PD_TOKEN: pd.token, SLACK_TOKEN: SLACK_SIM_TOKEN };

function onCall(who: string): void {
  const now = Date.now();
  const schedule = pd.schedules[0];
  if (schedule) schedule.shifts = [{ userId: `PU${who.toUpperCase()}`, start: new Date(now - 3_600_000), end: new Date(now + 3_600_000) }];
}

const logLines: string[] = [];
const log = new Logger({
  tool: "deputize",
  level: "warn",
  stream: { write: (s: string) => logLines.push(s) } as unknown as NodeJS.WritableStream,
});

async function run(dryRun = false, announceChannels: string[] = []) {
  const config = configSchema.parse({
    sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
    ldap: lab.connection({ bindDn: lab.serviceDn, bindPassword: lab.servicePasswordFile }),
    sinks: [
      { type: "ldap-group", name: "ldap", group: lab.groups.oncall, peopleBase: lab.peopleDn },
      {
        type: "slack",
        name: "slack",
        token: "env:SLACK_TOKEN",
        baseUrl: slack.apiUrl,
        channel: CHANNEL,
        usergroup: USERGROUP,
        announceChannels,
      },
    ],
    stateDir,
    retries: 0,
    timeoutMs: 3000,
  });
  const dep = buildDeputize(config, { env, log });
  try {
    return await runOnce(dep, { dryRun, log });
  } finally {
    await dep.close();
  }
}

async function ldapMembers(): Promise<string[]> {
  const entry = await admin.read(lab.groups.oncall, ["member"]);
  return (entry?.get("member") ?? []).map((v) => /^uid=([^,]+)/.exec(v)?.[1] ?? v).sort();
}

const postFails = (error: string, times = 1) =>
  slack.fault({ status: 200, body: { ok: false, error } }, { path: "/api/chat.postMessage", times });

/** bob announced and recorded (whoever the topic showed before: alice, then bob), then carol's hand-off post fails. */
async function carolsHandOffFails(): Promise<void> {
  onCall("alice");
  expect((await run()).exitCode).toBe(0);
  onCall("bob");
  expect((await run()).exitCode).toBe(0);
  onCall("carol");
  postFails("internal_error");
  expect((await run()).exitCode).toBe(2);
}

beforeAll(async () => {
  lab = await startSlapd();
  admin = lab.adminClient();
  await Promise.all([pd.start(), slack.start()]);
  for (const p of ["alice", "bob", "carol"]) {
    pd.addUser({ id: `PU${p.toUpperCase()}`, name: p, email: `${p}@opsguard.test` });
    slack.addUser({ id: `U0${p.toUpperCase()}00`, name: p, email: `${p}@opsguard.test` });
  }
  pd.addSchedule({ id: "PSRE001", name: "SRE", shifts: [] });
  pd.addEscalationPolicy({ id: "PEPSRE1", name: "SRE", rules: [{ schedules: ["PSRE001"] }] });
  slack.addChannel({ id: CHANNEL, name: "oncall", topic: "On call: @bob | Runbook" });
  slack.addUsergroup({ id: USERGROUP, handle: "oncall", users: ["U0BOB00"] });
});

afterAll(async () => {
  await admin?.close();
  await Promise.all([lab?.stop(), pd.stop(), slack.stop()]);
});

beforeEach(() => {
  slack.clearFaults();
  // Each test starts from an empty channel history too, not only from an empty state dir.
  slack.messages.length = 0;
  logLines.length = 0;
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  stateDir = mkdtempSync(join(tmpdir(), "deputize-parts-"));
});

const historyFails = (body: Record<string, unknown>, status = 200) =>
  slack.fault({ status, body: { ok: false, ...body } }, { path: "/api/conversations.history", times: 1 });

const resetChannel = () => {
  slack.addChannel({ id: CHANNEL, name: "oncall", topic: "On call: @bob | Runbook" });
  slack.addUsergroup({ id: USERGROUP, handle: "oncall", users: ["U0BOB00"] });
};

/** A run whose only sink is the Slack one (its exit code is the run's), from bob on call in the channel and the group. */
async function runSlackOnly() {
  const config = configSchema.parse({
    sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
    sinks: [{ type: "slack", name: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: CHANNEL, usergroup: USERGROUP }],
    stateDir,
    retries: 0,
    timeoutMs: 3000,
  });
  const dep = buildDeputize(config, { env, log });
  return runOnce(dep, { dryRun: false, log }).finally(() => dep.close());
}

describe("Slack sink parts", () => {
  it("a message that failed after the topic was set is kept, shown in status and sent on the next run", async () => {
    onCall("alice");
    postFails("internal_error");
    const first = await run();
    expect(first.exitCode).toBe(2);
    const sink = first.sinks[1];
    expect(sink?.status).toBe("partly-changed");
    expect(sink?.parts).toEqual([
      { part: "topic", status: "applied" },
      { part: "usergroup", status: "applied" },
      { part: "message", status: "failed", reason: "Slack chat.postMessage failed: internal_error (Slack is having trouble; retry later)" },
    ]);
    expect(await ldapMembers()).toEqual(["alice"]);
    expect(slack.topic(CHANNEL)).toBe("On call: <@U0ALICE00> | Runbook");
    expect(slack.messagesTo(CHANNEL)).toEqual([]);

    const status = await run(true);
    expect(status.sinks[1]?.plan?.pendingMessages).toEqual([
      expect.objectContaining({
        channel: CHANNEL,
        attempts: 1,
        maxAttempts: MAX_MESSAGE_ATTEMPTS,
        text: "On-call hand-off: on call now: <@U0ALICE00> (off duty: @bob)",
      }),
    ]);
    expect(status.sinks[1]?.plan?.deliveries).toMatchObject({
      topic: { status: "delivered" },
      usergroup: { status: "delivered" },
      message: { status: "failed", error: expect.stringMatching(/internal_error.*retried on the next run \(1 of 5\)/) },
    });
    // As `deputize status` shows it.
    expect(formatStatus(status)).toMatch(
      /LAST DELIVERIES\nslack topic: delivered \S+\nslack usergroup: delivered \S+\nslack message: failed \S+: Slack chat\.postMessage failed: internal_error .*; retried on the next run \(1 of 5\)\nslack message to C0HANDOFF1 pending since \S+, 1 of 5 attempts failed; next run retries: "On-call hand-off: on call now: <@U0ALICE00> \(off duty: @bob\)"\n$/,
    );
    expect(status.sinks[1]?.plan?.updates).toEqual([
      'message (attempt 2 of 5): "On-call hand-off: on call now: <@U0ALICE00> (off duty: @bob)"',
    ]);

    const second = await run();
    expect(second.exitCode).toBe(0);
    expect(slack.messagesTo(CHANNEL).map((m) => m.text)).toEqual(["On-call hand-off: on call now: <@U0ALICE00> (off duty: @bob)"]);
    const after = await run(true);
    expect(after.sinks[1]?.plan?.pendingMessages).toBeUndefined();
    expect(after.sinks[1]?.plan?.deliveries?.message?.status).toBe("delivered");
    expect(after.sinks[1]?.status).toBe("unchanged");
  });

  it("a hand-off made stale by the source going back is shown as never sent, dropped once, and not posted (T56 F1)", async () => {
    await carolsHandOffFails();
    // Back to bob before carol's hand-off got through: it must not be announced any more.
    onCall("bob");
    const status = await run(true);
    expect(status.sinks[1]?.plan?.pendingMessages).toEqual([expect.objectContaining({ attempts: 1, next: "drop" })]);
    expect(formatStatus(status)).toMatch(
      /slack message to C0HANDOFF1 pending since \S+, 1 of 5 attempts failed; never sent, the next run drops it \(on call again: the set last announced\): "On-call hand-off: on call now: <@U0CAROL00> \(off duty: <@U0BOB00>\)"\n$/,
    );
    expect(formatStatus(status)).not.toMatch(/next run retries/);
    const posts = slack.messagesTo(CHANNEL).length;
    const dropped = await run();
    expect(dropped.exitCode).toBe(0);
    // Topic and user group go back to bob; carol's hand-off is dropped, said once.
    expect(dropped.sinks[1]?.plan?.updates).toContain(
      'message: drop the unsent hand-off "On-call hand-off: on call now: <@U0CAROL00> (off duty: <@U0BOB00>)" (on call again: the set last announced)',
    );
    expect(slack.messagesTo(CHANNEL)).toHaveLength(posts);
    const after = await run(true);
    expect(after.sinks[1]?.plan?.pendingMessages).toBeUndefined();
    expect(after.sinks[1]?.status).toBe("unchanged");
    // LAST DELIVERIES says it was dropped, no longer that the next run retries it (T59 N2).
    expect(after.sinks[1]?.plan?.deliveries?.message).toEqual({
      status: "dropped",
      at: expect.any(String),
      error: expect.stringMatching(
        /^never sent \(on call again: the set last announced\); last attempt failed \S+: Slack chat\.postMessage failed: internal_error \(Slack is having trouble; retry later\)$/,
      ),
    });
    expect(formatStatus(after)).toMatch(
      /slack message: dropped \S+: never sent \(on call again: the set last announced\); last attempt failed/,
    );
    expect(formatStatus(after)).not.toMatch(/retried on the next run/);
    // Kept in the file as the failed attempt it was, plus when it was dropped: still version 1, so an older
    // deputize reads the file (it ignores the extra key) instead of setting it aside as corrupt.
    const saved = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8"));
    expect(saved.version).toBe(1);
    expect(saved.deliveries.slack.message).toEqual({
      status: "failed",
      at: expect.any(String),
      error: expect.any(String),
      dropped: expect.any(String),
    });
  });

  it("a pending hand-off for a set no longer on call is replaced by the new one, as status says", async () => {
    await carolsHandOffFails();
    onCall("alice");
    const status = await run(true);
    expect(status.sinks[1]?.plan?.pendingMessages).toEqual([expect.objectContaining({ next: "replace" })]);
    expect(formatStatus(status)).toMatch(
      /1 of 5 attempts failed; not retried, the next run posts the hand-off of who is on call now instead: /,
    );
    expect((await run()).exitCode).toBe(0);
    expect(
      slack
        .messagesTo(CHANNEL)
        .map((m) => m.text)
        .at(-1),
    ).toBe("On-call hand-off: on call now: <@U0ALICE00> (off duty: <@U0BOB00>)");
  });

  it("a delivery error that echoes the bot token is redacted before it is written to the state file", async () => {
    onCall("carol");
    slack.fault(
      { status: 500, body: `upstream said: Authorization: Bearer ${SLACK_SIM_TOKEN}` },
      { path: "/api/chat.postMessage", times: 1 },
    );
    const report = await run();
    expect(report.sinks[1]?.parts?.find((p) => p.part === "message")?.status).toBe("failed");
    const saved = readFileSync(join(stateDir, "state.json"), "utf8");
    expect(saved).toContain("[redacted]");
    expect(saved).not.toContain(SLACK_SIM_TOKEN);
  });

  it("gives a message up after the attempts allowed, says so, and does not retry it again", async () => {
    onCall("bob");
    postFails("internal_error", MAX_MESSAGE_ATTEMPTS);
    const codes: number[] = [];
    for (let i = 0; i < MAX_MESSAGE_ATTEMPTS; i++) codes.push((await run()).exitCode);
    expect(codes).toEqual(Array(MAX_MESSAGE_ATTEMPTS).fill(2));
    const posts = slack.callsTo("chat.postMessage").length;
    logLines.length = 0;
    const quiet = await run();
    expect(quiet.exitCode).toBe(0);
    // Not retried, but not silent either: every run says so on stderr.
    expect(logLines.join("")).toMatch(/warn: slack: message was never delivered and is not retried: .*gave up after 5 attempts/);
    logLines.length = 0;
    await run();
    expect(logLines.join("")).toMatch(/warn: slack: message was never delivered and is not retried/);
    expect(slack.callsTo("chat.postMessage").length).toBe(posts);
    expect(quiet.sinks[1]?.plan?.deliveries?.message).toMatchObject({
      status: "gave-up",
      error: expect.stringMatching(/gave up after 5 attempts/),
    });
    expect(slack.messagesTo(CHANNEL).filter((m) => m.text?.includes("on call now: <@U0BOB00>"))).toEqual([]);
  });

  it("the last attempt failing is Slack's failure like the ones before, not an internal error; the message's text is kept (T56 F11)", async () => {
    resetChannel();
    onCall("carol");
    postFails("fatal_error", MAX_MESSAGE_ATTEMPTS);
    const reports = [];
    for (let i = 0; i < MAX_MESSAGE_ATTEMPTS; i++) reports.push(await runSlackOnly());
    // The first run also set the topic and the user group (2); then Slack's fatal_error is "unavailable" (69)
    // on every attempt, the fifth included.
    expect(reports.map((r) => r.exitCode)).toEqual([2, 69, 69, 69, 69]);
    const text = "On-call hand-off: on call now: <@U0CAROL00> (off duty: @bob)";
    const last = reports.at(-1)?.sinks[0];
    expect(last?.parts).toEqual([
      {
        part: "message",
        status: "failed",
        reason: `Slack chat.postMessage failed: fatal_error (Slack is having trouble; retry later); gave up after 5 attempts, not retried: "${text}"`,
      },
    ]);
    expect(last?.reason).not.toMatch(/internal error|report it/);
    // Not lost without a trace: status shows the text that was never delivered.
    expect(formatStatus(await run(true))).toContain(`slack message: gave up `);
    expect(formatStatus(await run(true))).toContain(`gave up after 5 attempts, not retried: "${text}"`);
    expect(slack.messagesTo(CHANNEL).filter((m) => m.text === text)).toEqual([]);
  });

  it("a Slack sink refused everything for permissions (not in the channel, user groups not allowed) exits 77, not 65 (T56 F6)", async () => {
    resetChannel();
    onCall("carol");
    slack.fault({ status: 200, body: { ok: false, error: "not_in_channel" } }, { path: "/api/conversations.setTopic", times: 1 });
    slack.fault({ status: 200, body: { ok: false, error: "permission_denied" } }, { path: "/api/usergroups.users.update", times: 1 });
    historyFails({ error: "not_in_channel" });
    const report = await runSlackOnly();
    expect(report.sinks[0]?.parts).toEqual([
      { part: "topic", status: "failed", reason: "Slack conversations.setTopic failed: not_in_channel (invite the app to the channel)" },
      {
        part: "usergroup",
        status: "failed",
        reason:
          "Slack usergroups.users.update failed: permission_denied (Slack does not let this app do that here; for user groups a workspace setting decides who may change them: ask a Slack admin)",
      },
      { part: "message", status: "failed", reason: "Slack conversations.history failed: not_in_channel (invite the app to the channel)" },
    ]);
    expect(report.sinks[0]?.status).toBe("failed");
    expect(report.exitCode).toBe(77);
  });

  it("a topic Slack refuses does not cost the user group or the message; the topic is retried next run", async () => {
    onCall("carol");
    slack.fault({ status: 200, body: { ok: false, error: "not_in_channel" } }, { path: "/api/conversations.setTopic", times: 1 });
    const report = await run();
    expect(report.exitCode).toBe(2);
    expect(report.sinks[1]?.parts).toEqual([
      { part: "topic", status: "failed", reason: "Slack conversations.setTopic failed: not_in_channel (invite the app to the channel)" },
      { part: "usergroup", status: "applied" },
      { part: "message", status: "applied" },
    ]);
    expect(slack.usergroupMembers(USERGROUP)).toEqual(["U0CAROL00"]);
    expect(slack.messagesTo(CHANNEL).at(-1)?.text).toMatch(/^On-call hand-off: on call now: <@U0CAROL00>/);
    const messages = slack.messagesTo(CHANNEL).length;
    const next = await run();
    expect(next.exitCode).toBe(0);
    expect(next.sinks[1]?.parts).toEqual([{ part: "topic", status: "applied" }]);
    expect(slack.topic(CHANNEL)).toBe("On call: <@U0CAROL00> | Runbook");
    expect(slack.messagesTo(CHANNEL).length).toBe(messages);
  });

  it("announces to several channels, each delivered and retried on its own", async () => {
    slack.addChannel({ id: "C0SREANN01", name: "sre" }).addChannel({ id: "C0OPSANN01", name: "ops" });
    onCall("bob");
    slack.fault({ status: 200, body: { ok: false, error: "internal_error" } }, { path: "/api/chat.postMessage", times: 1 });
    const announce = ["C0SREANN01", "C0OPSANN01"];
    const first = await run(false, announce);
    expect(first.exitCode).toBe(2);
    // The fault hit the first post (the sink's own channel); the two others went out.
    expect(first.sinks[1]?.parts?.map((p) => [p.part, p.status])).toEqual([
      ["topic", "applied"],
      ["usergroup", "applied"],
      ["message", "failed"],
      ["message C0SREANN01", "applied"],
      ["message C0OPSANN01", "applied"],
    ]);
    const text = slack.messagesTo("C0SREANN01").at(-1)?.text;
    expect(text).toMatch(/^On-call hand-off: on call now: <@U0BOB00>/);
    expect(slack.messagesTo("C0OPSANN01").at(-1)?.text).toBe(text);
    const second = await run(false, announce);
    expect(second.exitCode).toBe(0);
    expect(second.sinks[1]?.parts).toEqual([{ part: "message", status: "applied" }]);
    expect(slack.messagesTo(CHANNEL).at(-1)?.text).toBe(text);
    expect(slack.messagesTo("C0SREANN01").filter((m) => m.text === text)).toHaveLength(1);
    expect((await run(false, announce)).sinks[1]?.status).toBe("unchanged");
  });

  it("a private channel the bot is not in: topic and message reported, the user group still set", async () => {
    onCall("alice");
    slack.addChannel({ id: "C0PRIVATE1", name: "private", is_private: true, is_member: false });
    const config = configSchema.parse({
      sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
      sinks: [
        { type: "slack", name: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: "C0PRIVATE1", usergroup: USERGROUP },
      ],
      stateDir,
      retries: 0,
    });
    const dep = buildDeputize(config, { env, log });
    const report = await runOnce(dep, { dryRun: false }).finally(() => dep.close());
    expect(report.exitCode).toBe(2);
    expect(report.sinks[0]?.plan?.unresolved).toEqual([
      "topic: Slack conversations.info failed: channel_not_found (check the channel id; a private channel stays invisible until the app is invited); left as it is",
    ]);
    expect(report.sinks[0]?.parts).toEqual([
      { part: "usergroup", status: "applied" },
      {
        part: "message",
        status: "failed",
        reason:
          "Slack conversations.history failed: channel_not_found (check the channel id; a private channel stays invisible until the app is invited)",
      },
    ]);
    expect(slack.usergroupMembers(USERGROUP)).toEqual(["U0ALICE00"]);
  });
  it("a history that cannot be read (Slack trouble, rate limit, not in channel) posts nothing: kept, shown in status, posted next run", async () => {
    const handoffs = () => slack.messagesTo(CHANNEL).filter((m) => m.text?.includes("<@U0CAROL00>")).length;
    onCall("alice");
    await run();
    onCall("carol");
    const before = handoffs();
    for (const fail of [
      () => historyFails({ error: "internal_error" }),
      () => historyFails({ error: "ratelimited" }, 429),
      () => historyFails({ error: "not_in_channel" }),
    ]) {
      fail();
      const report = await run();
      expect(report.exitCode).toBe(2);
      expect(report.sinks[1]?.parts?.find((p) => p.part === "message")).toMatchObject({ status: "failed" });
      expect(handoffs()).toBe(before);
      const status = formatStatus(await run(true));
      expect(status).toMatch(/slack message: failed .*history could not be checked, so nothing was posted; retried on the next run/);
      expect(status).toMatch(/message to C0HANDOFF1 pending since .*0 of 5 attempts failed/);
    }
    const next = await run();
    expect(next.exitCode).toBe(0);
    expect(handoffs()).toBe(before + 1);
  });

  it("only a missing history scope lets the hand-off go out unchecked (with a warning)", async () => {
    onCall("alice");
    await run();
    onCall("bob");
    const before = slack.messagesTo(CHANNEL).length;
    historyFails({ error: "missing_scope", needed: "channels:history", provided: "chat:write" });
    const report = await run();
    expect(report.exitCode).toBe(0);
    expect(slack.messagesTo(CHANNEL)).toHaveLength(before + 1);
    expect(logLines.join("")).toMatch(/cannot read C0HANDOFF1's history .*missing_scope.*; posting/);
  });
});
