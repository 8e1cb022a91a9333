import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGitLabClient, type HttpClient, Secret, SlackClient } from "@opsguard/core";
import { GitLabAccess, GitLabSim, SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deputize } from "../src/build";
import { formatDiff } from "../src/format";
import { type Person, person } from "../src/people";
import { runOnce } from "../src/run";
import { GitLabGroupSink } from "../src/sinks/gitlab";
import { composeTopic, parseTopic, SlackSink } from "../src/sinks/slack";
import { DeputizeState } from "../src/state";
import { fakeSource } from "./fake-source";

describe("Slack topic", () => {
  it("keeps the rest of the topic and reads back what it wrote", () => {
    const topic = composeTopic(["@alice", "<@U0BOB>"], "Runbook: https://wiki.example/oncall");
    expect(topic).toBe("On call: @alice, <@U0BOB> | Runbook: https://wiki.example/oncall");
    expect(parseTopic(topic)).toEqual({ names: ["alice", "U0BOB"], rest: "Runbook: https://wiki.example/oncall" });
    expect(parseTopic("Welcome to #oncall")).toEqual({ names: [], rest: "Welcome to #oncall" });
    expect(composeTopic([], "")).toBe("On call: nobody");
  });

  it("never exceeds Slack's 250 characters: the rest is cut first, then the list", () => {
    const long = composeTopic(["@alice"], "x".repeat(400));
    expect(long.length).toBe(250);
    expect(long.endsWith("…")).toBe(true);
    const many = Array.from({ length: 40 }, (_, i) => `@engineer${i}`);
    const crowded = composeTopic(many, "rest");
    expect(crowded.length).toBeLessThanOrEqual(250);
    expect(crowded).toMatch(/^On call: @engineer0, .* \+\d+ more/);
    expect(parseTopic(crowded).names.length).toBeLessThan(40);
  });
});

/** A person as a source could hand one over unchecked (person() refuses such e-mails): defence in depth. */
const raw = (email: string): Person => ({ key: email.toLowerCase(), email });

describe("GitLab approver group sink", () => {
  const gitlab = new GitLabSim();
  let http: HttpClient;

  beforeAll(async () => {
    await gitlab.start();
    for (const u of ["owner", "maint", "guest", "alice", "bob", "carol"])
      gitlab.addUser({ username: u, name: u, email: `${u}@opsguard.test` });
    gitlab.addUser({ username: "ekrause", name: "Erin Krause", email: "Erin@opsguard.test" });
    gitlab.addGroup("platform/approvers", {
      owner: GitLabAccess.OWNER,
      maint: GitLabAccess.MAINTAINER,
      guest: GitLabAccess.GUEST,
      bob: GitLabAccess.DEVELOPER,
    });
    http = createGitLabClient({ baseUrl: gitlab.url, token: new Secret(gitlab.token, "test"), auth: "bearer", retries: 3 });
  });
  afterAll(() => gitlab.stop());

  const sink = () =>
    new GitLabGroupSink({ name: "gitlab", http, group: "platform/approvers", accessLevel: GitLabAccess.DEVELOPER, pageSize: 1 });
  const on = (...names: string[]) => names.map((n) => person({ email: `${n}@opsguard.test`, uid: n }));

  it("pages through members one at a time and manages only its own access level", async () => {
    gitlab.requests.length = 0;
    const plan = await sink().plan(on("alice", "maint", "guest"));
    expect(gitlab.requests.filter((r) => r.path.endsWith("/members")).map((r) => r.query.get("page") ?? "1")).toEqual(["1", "2", "3", "4"]);
    expect(plan).toMatchObject({
      current: ["bob"],
      add: ["alice"],
      remove: ["bob"],
      unresolved: ["guest: already a member at level 10; left as it is"],
    });
    await plan.apply();
    expect(gitlab.membersOf("platform/approvers")).toEqual({ owner: 50, maint: 40, guest: 10, alice: 30 });
  });

  it("never removes owners or maintainers, even when nobody of them is on call", async () => {
    const plan = await sink().plan(on("carol"));
    expect(plan.remove).toEqual(["alice"]);
    await plan.apply();
    expect(gitlab.membersOf("platform/approvers")).toEqual({ owner: 50, maint: 40, guest: 10, carol: 30 });
  });

  it("honours 429 Retry-After while applying", async () => {
    const plan = await sink().plan(on("alice"));
    gitlab.fault(
      { status: 429, headers: { "retry-after": "0" }, body: { message: "429 Too Many Requests" } },
      { times: 2, method: "POST" },
    );
    await plan.apply();
    expect(gitlab.membersOf("platform/approvers")).toEqual({ owner: 50, maint: 40, guest: 10, alice: 30 });
    expect(gitlab.requests.filter((r) => r.method === "POST").map((r) => r.status)).toEqual([201, 201, 429, 429, 201]);
  });

  it("finds a person whose GitLab username differs from their uid by email, and keeps them on the next run", async () => {
    const erin = person({ email: "erin@opsguard.test", uid: "erin" });
    const plan = await sink().plan([erin, ...on("alice")]);
    expect(plan).toMatchObject({ add: ["ekrause"], remove: [], unresolved: [] });
    await plan.apply();
    expect(gitlab.membersOf("platform/approvers")).toMatchObject({ alice: 30, ekrause: 30 });
    expect(await sink().plan([erin, ...on("alice")])).toMatchObject({ add: [], remove: [], desired: ["alice", "ekrause"] });
    const off = await sink().plan(on("alice", "nobody"));
    expect(off).toMatchObject({ remove: ["ekrause"], unresolved: ["nobody: no GitLab user with this username or email"] });
  });

  it("never grants an account on a local-part match across domains: alice@evil.example is not GitLab's alice", async () => {
    const before = gitlab.writes().length;
    for (const email of ["alice@evil.example", "alice@opsguard.test)(mail=*"]) {
      const plan = await sink().plan([raw(email)]);
      expect(plan.add).toEqual([]);
      expect(plan.unresolved).toEqual([`${email}: no GitLab user with this email`]);
    }
    expect(gitlab.writes().length).toBe(before);
    // Known only by an exact e-mail (no trusted domain): found by that e-mail.
    expect(await sink().plan([person({ email: "carol@opsguard.test" })])).toMatchObject({ add: ["carol"], unresolved: [] });
    // With the domain trusted, the local part is the username; other domains still match only exactly.
    const trusting = new GitLabGroupSink({
      name: "gitlab",
      http,
      group: "platform/approvers",
      accessLevel: GitLabAccess.DEVELOPER,
      usernameDomains: ["OpsGuard.test"],
    });
    expect(await trusting.plan([person({ email: "bob@opsguard.test" }), person({ email: "carol@evil.example" })])).toMatchObject({
      add: ["bob"],
      unresolved: ["carol@evil.example: no GitLab user with this email"],
    });
  });

  it("reports GitLab's error message when the group does not exist", async () => {
    const missing = new GitLabGroupSink({ name: "gitlab", http, group: "platform/nope", accessLevel: 30 });
    await expect(missing.plan(on("alice"))).rejects.toThrow(/GitLab API answered HTTP 404: 404 Group Not Found/);
  });

  it("fences each membership call: once the lease is lost, the remaining calls are not made", async () => {
    await (await sink().plan(on("alice"))).apply();
    const plan = await sink().plan(on("bob", "carol"));
    expect([plan.add, plan.remove]).toEqual([["bob", "carol"], ["alice"]]);
    let fenced = 0;
    const lost = new Error("lease lost");
    const beforeWrite = async () => {
      if (++fenced > 1) throw lost;
    };
    gitlab.requests.length = 0;
    // The lost lease fails every later call before it is sent, and no removal goes ahead of a missing addition.
    expect(await plan.apply(beforeWrite)).toEqual([
      { part: "+ bob" },
      { part: "+ carol", error: lost },
      { part: "- alice", error: expect.objectContaining({ message: "not tried: an addition failed" }) },
    ]);
    expect(gitlab.writes()).toHaveLength(1);
    expect(gitlab.membersOf("platform/approvers")).toMatchObject({ alice: 30, bob: 30 });
    // The next run (lease held again) finishes the job.
    await (await sink().plan(on("bob", "carol"))).apply();
    expect(gitlab.membersOf("platform/approvers")).toEqual({ owner: 50, maint: 40, guest: 10, bob: 30, carol: 30 });
  });
  it("a half-applied change says which members were added and which removal failed, in the report and the diff (T56 F10)", async () => {
    await (await sink().plan(on("bob"))).apply();
    // GitLab's DELETE /groups/:id/members/:user_id failing with a 500 (more times than the client retries).
    gitlab.fault({ status: 500, body: { message: "500 Internal Server Error" } }, { times: 10, method: "DELETE" });
    const dep: Deputize = {
      sources: [fakeSource("rota", { SRE: on("alice", "carol") })],
      sinks: [sink()],
      state: undefined as unknown as Deputize["state"],
      settings: { lookAheadMinutes: 0, graceMinutes: 0, allowEmpty: false, maxRemovals: 2, stateDir: "/nonexistent" },
      lookAhead: { hours: 12, dm: undefined },
      close: async () => {},
    };
    const report = await runOnce(dep, { dryRun: false });
    gitlab.clearFaults();
    expect(gitlab.membersOf("platform/approvers")).toMatchObject({ alice: 30, bob: 30, carol: 30 });
    expect(report.exitCode).toBe(2);
    expect(report.sinks[0]).toMatchObject({
      status: "partly-changed",
      parts: [
        { part: "+ alice", status: "applied" },
        { part: "+ carol", status: "applied" },
        { part: "- bob", status: "failed", reason: expect.stringMatching(/^GitLab API answered HTTP 500/) },
      ],
    });
    expect(formatDiff(report, false)).toMatch(
      /^gitlab \(gitlab-group\): PARTLY changed: - bob: GitLab API answered HTTP 500[^\n]*\n {2}\+ alice\n {2}\+ carol\n {2}- bob \(not applied\)\n$/,
    );
    // The next run finishes the job.
    await (await sink().plan(on("alice", "carol"))).apply();
    expect(gitlab.membersOf("platform/approvers")).toEqual({ owner: 50, maint: 40, guest: 10, alice: 30, carol: 30 });
  });
});

describe("Slack sink with a fresh state directory", () => {
  const slack = new SlackSim();
  const dir = mkdtempSync(join(tmpdir(), "deputize-slack-"));
  beforeAll(() => slack.start());
  afterAll(async () => {
    await slack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("does not re-announce people the topic already names, and announces a real change", async () => {
    slack.addChannel({ id: "C0FRESH", name: "fresh", topic: "On call: @alice | pager: 555-0100" });
    const sink = new SlackSink({
      name: "slack",
      slack: new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl }),
      state: new DeputizeState(dir),
      channel: "C0FRESH",
      topic: true,
      announce: true,
    });
    const same = await sink.plan([person({ email: "alice@opsguard.test", uid: "alice" })]);
    expect(same).toMatchObject({ add: [], remove: [], updates: [] });
    const handoff = await sink.plan([person({ email: "bob@opsguard.test", uid: "bob" })]);
    expect(handoff.updates).toEqual([
      'topic: "On call: @alice | pager: 555-0100" → "On call: @bob | pager: 555-0100"',
      'message: "On-call hand-off: on call now: @bob (off duty: @alice)"',
    ]);
    await handoff.apply();
    expect(slack.topic("C0FRESH")).toBe("On call: @bob | pager: 555-0100");
    expect(slack.messagesTo("C0FRESH").map((m) => m.text)).toEqual(["On-call hand-off: on call now: @bob (off duty: @alice)"]);
  });

  it("keeps the rest of the topic as Slack stored it: labelled links and entities survive, a cut never breaks one", async () => {
    const rest = "Runbook: <https://wiki.example/oncall|the runbook> &amp; pager";
    slack.addChannel({ id: "C0LINKS", name: "links", topic: rest });
    const sink = new SlackSink({
      name: "slack-links",
      slack: new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl }),
      state: new DeputizeState(join(dir, "links")),
      channel: "C0LINKS",
      topic: true,
      announce: false,
    });
    const plan = await sink.plan([person({ email: "alice@opsguard.test", uid: "alice" })]);
    await plan.apply();
    expect(slack.topic("C0LINKS")).toBe(`On call: @alice | ${rest}`);
    expect((await sink.plan([person({ email: "alice@opsguard.test", uid: "alice" })])).updates).toEqual([]);
    const cut = composeTopic(["@alice"], `${"x".repeat(200)} <https://wiki.example/a-long-page|runbook> &amp; more`);
    expect(cut).toBe(`On call: @alice | ${"x".repeat(200)} …`);
  });

  it("names people with real Slack mentions, keeps an old plain topic's people unannounced, and escapes markup", async () => {
    slack.addUser({ id: "U0CARLA", name: "carla", email: "carla@opsguard.test" });
    slack.addUser({ id: "U0DAN", name: "dan", email: "dan@opsguard.test" });
    slack.addChannel({ id: "C0MENTION", name: "mention", topic: "On call: @carla | a &lt;b&gt; &amp; c" });
    const sink = new SlackSink({
      name: "slack-mention",
      slack: new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl }),
      state: new DeputizeState(join(dir, "mention")),
      channel: "C0MENTION",
      topic: true,
      announce: true,
    });
    const carla = person({ email: "carla@opsguard.test", uid: "carla" });
    const migrate = await sink.plan([carla]);
    expect(migrate.updates).toEqual(['topic: "On call: @carla | a <b> & c" → "On call: <@U0CARLA> | a <b> & c"']);
    await migrate.apply();
    expect(slack.messagesTo("C0MENTION")).toEqual([]);
    expect(slack.topic("C0MENTION")).toBe("On call: <@U0CARLA> | a &lt;b&gt; &amp; c");
    expect((await sink.plan([carla])).updates).toEqual([]);

    const handoff = await sink.plan([person({ email: "dan@opsguard.test", uid: "dan" }), raw("x<!channel>@opsguard.test")]);
    await handoff.apply();
    expect(slack.topic("C0MENTION")).toBe("On call: <@U0DAN>, @x&lt;!channel&gt; | a &lt;b&gt; &amp; c");
    expect(slack.messagesTo("C0MENTION").map((m) => m.text)).toEqual([
      "On-call hand-off: on call now: <@U0DAN>, @x&lt;!channel&gt; (off duty: <@U0CARLA>)",
    ]);
    expect(handoff.unresolved).toEqual(["x<!channel>@opsguard.test: no Slack user with this email"]);
    expect((await sink.plan([person({ email: "dan@opsguard.test", uid: "dan" }), raw("x<!channel>@opsguard.test")])).updates).toEqual([]);
  });
});
