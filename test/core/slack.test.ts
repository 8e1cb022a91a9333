import {
  createSlackClient,
  ExitCode,
  escapeSlackText,
  Secret,
  SlackApiError,
  SlackClient,
  SlackNotFoundError,
  SlackPermissionError,
  slackConfigSchema,
  slackPlainText,
} from "@opsguard/core";
import { SLACK_ALL_SCOPES, SLACK_LAB, SLACK_SIM_TOKEN, SlackSim, slackComponent, slapdComponent, startLab } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const READ_ONLY_TOKEN = "xoxb-3333-4444-readonlytoken";
const sim = new SlackSim({ tokens: { [SLACK_SIM_TOKEN]: SLACK_ALL_SCOPES, [READ_ONLY_TOKEN]: ["users:read", "channels:read"] } });

function client(options: Partial<ConstructorParameters<typeof SlackClient>[0]> = {}): SlackClient {
  return new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: sim.apiUrl, timeoutMs: 2_000, ...options });
}

/** Every text a user could see of an error. */
function visible(error: unknown): string {
  const e = error as Error & { hint?: string };
  return [e.message, e.hint ?? "", String(e), JSON.stringify(e), e.stack ?? ""].join("\n");
}

beforeAll(async () => {
  await sim.start();
  sim
    .addUser({ id: "U01ALICE", name: "alice", email: "alice@example.com", tz: "Europe/Berlin" })
    .addUser({ id: "U02BOB", name: "bob", email: "Bob@Example.com" })
    .addChannel({ id: "C01OPS", name: "ops", topic: "quiet day" })
    .addChannel({ id: "C02ELSEWHERE", name: "elsewhere", is_member: false })
    .addUsergroup({ id: "S01ONCALL", handle: "oncall", users: ["U01ALICE"] });
});

afterAll(() => sim.stop());

beforeEach(() => {
  sim.up();
  sim.requests.length = 0;
});

describe("SlackClient against the simulator", () => {
  it("posts a message to a channel as JSON with a bearer token", async () => {
    const result = await client().postMessage({ channel: "C01OPS", text: "deploy done", blocks: [{ type: "section" }] });
    expect(result.channel).toBe("C01OPS");
    expect(sim.messagesTo("C01OPS").at(-1)).toMatchObject({ text: "deploy done", blocks: [{ type: "section" }], ts: result.ts });
    const [request] = sim.callsTo("chat.postMessage");
    expect(request?.method).toBe("POST");
    expect(request?.headers.authorization).toBe(`Bearer ${SLACK_SIM_TOKEN}`);
    expect(request?.headers["content-type"]).toBe("application/json; charset=utf-8");
  });

  it("sends a direct message when the channel is a user id", async () => {
    const result = await client().postMessage({ channel: "U01ALICE", text: "was this you?" });
    expect(result.channel).toMatch(/^D/);
    expect(sim.messagesTo("U01ALICE").map((m) => m.text)).toContain("was this you?");
  });

  it("reads with GET and keeps the token out of the URL", async () => {
    const user = await client().lookupUserByEmail("bob@example.com");
    expect(user).toMatchObject({ id: "U02BOB", name: "bob", profile: { email: "Bob@Example.com" } });
    const [request] = sim.callsTo("users.lookupByEmail");
    expect(request?.method).toBe("GET");
    expect(request?.query.get("email")).toBe("bob@example.com");
    expect(request?.query.has("token")).toBe(false);
    expect((await client().userInfo("U01ALICE")).tz).toBe("Europe/Berlin");
  });

  it("raises SlackNotFoundError for an unknown email, user or channel", async () => {
    const byEmail = await client()
      .lookupUserByEmail("nobody@example.com")
      .catch((e: unknown) => e);
    expect(byEmail).toBeInstanceOf(SlackNotFoundError);
    expect(byEmail).toMatchObject({ code: "users_not_found", method: "users.lookupByEmail", exitCode: ExitCode.DATA_ERR });
    await expect(client().userInfo("U404")).rejects.toBeInstanceOf(SlackNotFoundError);
    await expect(client().conversationInfo("C404")).rejects.toMatchObject({ code: "channel_not_found" });
  });

  it("sets a topic as sent (Slack does not linkify it), and compares a person's topic after undoing its markup", async () => {
    const plain = "On call: alice@example.com, runbook https://wiki.example.com/oncall";
    const channel = await client().setTopic("C01OPS", plain);
    expect(channel.topic?.value).toBe(plain);
    expect(channel.topic?.creator).toBe(sim.botUserId);
    const info = await client().conversationInfo("C01OPS");
    expect(info.topic?.value).toBe(plain);
    expect(info.topic?.last_set).toBeGreaterThan(0);
    // Typed in the Slack client, the same topic is stored with Slack's link markup.
    sim.addChannel({
      id: "C03TYPED",
      name: "typed",
      topic: "On call: <mailto:alice@example.com|alice@example.com>, runbook <https://wiki.example.com/oncall>",
    });
    expect(slackPlainText((await client().conversationInfo("C03TYPED")).topic?.value ?? "")).toBe(plain);
  });

  it("keeps markup the caller already wrote in a topic", async () => {
    const topic = "On call: <@U01ALICE> <mailto:bob@example.com|bob@example.com> <https://wiki.example.com|runbook>";
    expect((await client().setTopic("C01OPS", topic)).topic?.value).toBe(topic);
  });

  it("reports not_in_channel with the fix", async () => {
    const error = await client()
      .setTopic("C02ELSEWHERE", "x")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "not_in_channel", hint: "invite the app to the channel" });
  });

  it("lists and replaces user group members", async () => {
    expect(await client().usergroupMembers("S01ONCALL")).toEqual(["U01ALICE"]);
    expect(await client().setUsergroupMembers("S01ONCALL", ["U02BOB", "U01ALICE"])).toEqual(["U02BOB", "U01ALICE"]);
    expect(sim.usergroupMembers("S01ONCALL")).toEqual(["U02BOB", "U01ALICE"]);
    expect(sim.callsTo("usergroups.users.update")[0]?.body).toEqual({ usergroup: "S01ONCALL", users: "U02BOB,U01ALICE" });
    await expect(client().setUsergroupMembers("S01ONCALL", [])).rejects.toMatchObject({ code: "invalid_users" });
    await expect(client().usergroupMembers("S404")).rejects.toBeInstanceOf(SlackNotFoundError);
  });

  it("maps invalid_auth to a permission error that never shows the token", async () => {
    const token = "xoxb-9999-8888-notavalidtoken";
    const error = await client({ token: new Secret(token, "test") })
      .userInfo("U01ALICE")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackPermissionError);
    expect(error).toMatchObject({ code: "invalid_auth", exitCode: ExitCode.NO_PERM });
    expect(visible(error)).not.toContain(token);
  });

  it("names the missing scope", async () => {
    const error = await client({ token: new Secret(READ_ONLY_TOKEN, "test") })
      .lookupUserByEmail("alice@example.com")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackPermissionError);
    expect(error).toMatchObject({ code: "missing_scope", needed: "users:read.email" });
    expect((error as SlackPermissionError).hint).toContain("users:read.email");
    expect(visible(error)).not.toContain(READ_ONLY_TOKEN);
  });

  it("waits out a 429 with Retry-After and then succeeds", async () => {
    sim.rateLimit(1, 1, "users.info");
    const started = Date.now();
    expect((await client().userInfo("U01ALICE")).id).toBe("U01ALICE");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(sim.callsTo("users.info").map((r) => r.status)).toEqual([429, 200]);
  });

  it("gives up on a 429 storm after a bounded number of attempts", async () => {
    sim.rateLimit(100, 1);
    const error = await client({ retries: 1 })
      .userInfo("U01ALICE")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ratelimited", exitCode: ExitCode.TEMP_FAIL });
    expect(sim.callsTo("users.info")).toHaveLength(2);
  });

  it("fails at once when Retry-After is longer than it may wait", async () => {
    sim.rateLimit(1, 120);
    const error = await client({ maxRetryAfterMs: 5_000 })
      .usergroupMembers("S01ONCALL")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ratelimited", exitCode: ExitCode.TEMP_FAIL });
    expect(sim.callsTo("usergroups.users.list")).toHaveLength(1);
  });

  it("times out a slow Slack instead of hanging", async () => {
    sim.slow(3_000);
    const error = await client({ timeoutMs: 200, retries: 0 })
      .userInfo("U01ALICE")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: ExitCode.TEMP_FAIL });
    expect((error as Error).message).toMatch(/did not answer within 200 ms/);
  });

  it("does not repeat a message post when Slack answers 5xx, but retries an idempotent topic change", async () => {
    sim.down();
    const post = await client({ retries: 2 })
      .postMessage({ channel: "C01OPS", text: "once" })
      .catch((e: unknown) => e);
    expect(post).toMatchObject({ code: "service_unavailable", exitCode: ExitCode.UNAVAILABLE });
    expect(sim.callsTo("chat.postMessage")).toHaveLength(1);
    sim.up();
    sim.fault({ status: 503, body: { ok: false, error: "service_unavailable" } }, { times: 1, path: "/api/conversations.setTopic" });
    await client({ retries: 2 }).setTopic("C01OPS", "back");
    expect(sim.callsTo("conversations.setTopic").map((r) => r.status)).toEqual([503, 200]);
  });

  it("is built from a config block with a secret reference", async () => {
    const config = slackConfigSchema.parse({ token: "env:TEST_SLACK_TOKEN", baseUrl: sim.apiUrl, timeoutMs: 1_000 });
    const slack = createSlackClient(config, { env: { TEST_SLACK_TOKEN: SLACK_SIM_TOKEN } });
    expect((await slack.userInfo("U02BOB")).name).toBe("bob");
    expect(slackConfigSchema.safeParse({ token: "xoxb-literal-token" }).success).toBe(false);
  });

  it("turns a non-Slack answer into an error naming the method", async () => {
    const error = await new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "t"), baseUrl: sim.url, retries: 0 })
      .userInfo("U01ALICE")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(visible(error)).not.toContain(SLACK_SIM_TOKEN);
  });
});

describe("the Slack simulator speaks Slack's protocol", () => {
  const raw = (method: string, init: RequestInit = {}) =>
    fetch(`${sim.apiUrl}/${method}`, init).then((r) => r.json() as Promise<Record<string, unknown>>);

  it("answers a request without a token with HTTP 200 not_authed", async () => {
    const response = await fetch(`${sim.apiUrl}/users.info?user=U01ALICE`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: false, error: "not_authed" });
  });

  it("takes the token from a form body but not from a JSON body", async () => {
    const form = new URLSearchParams({ token: SLACK_SIM_TOKEN, user: "U01ALICE" });
    expect(await raw("users.info", { method: "POST", body: form })).toMatchObject({ ok: true, user: { id: "U01ALICE" } });
    const json = {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ token: SLACK_SIM_TOKEN }),
    };
    expect(await raw("chat.postMessage", json)).toEqual({ ok: false, error: "not_authed" });
  });

  it("does not read JSON bodies on read methods, and warns about a missing charset on writes", async () => {
    const auth = { authorization: `Bearer ${SLACK_SIM_TOKEN}` };
    const read = await raw("users.lookupByEmail", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ email: "alice@example.com" }),
    });
    expect(read).toEqual({ ok: false, error: "invalid_arguments" });
    const write = await raw("chat.postMessage", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ channel: "C01OPS", text: "hi" }),
    });
    expect(write).toMatchObject({ ok: true, warning: "missing_charset", response_metadata: { warnings: ["missing_charset"] } });
  });

  it("reports missing_scope with needed and provided, and the token's scopes in a header", async () => {
    const response = await fetch(`${sim.apiUrl}/usergroups.users.list?usergroup=S01ONCALL`, {
      headers: { authorization: `Bearer ${READ_ONLY_TOKEN}` },
    });
    expect(response.headers.get("x-oauth-scopes")).toBe("users:read,channels:read");
    expect(await response.json()).toEqual({
      ok: false,
      error: "missing_scope",
      needed: "usergroups:read",
      provided: "users:read,channels:read",
    });
  });

  it("refuses a topic over 250 characters and a message without text", async () => {
    await expect(client().setTopic("C01OPS", "x".repeat(251))).rejects.toMatchObject({ code: "too_long" });
    await expect(client().postMessage({ channel: "C01OPS", text: "" })).rejects.toMatchObject({ code: "no_text" });
  });
});

describe("the lab's Slack component", () => {
  it("offers a ready slack config and knows the directory's people", async () => {
    const lab = await startLab({ components: [slapdComponent, slackComponent] });
    try {
      const slack = createSlackClient(slackConfigSchema.parse(lab.sections.slack), {});
      const alice = await slack.lookupUserByEmail("alice@opsguard.test");
      expect(alice.name).toBe("alice");
      expect(alice.id).toMatch(/^U0ALICE/);
      expect((await slack.conversationInfo(SLACK_LAB.oncallChannel)).name).toBe("oncall");
      expect(await slack.usergroupMembers(SLACK_LAB.oncallGroup)).toEqual([]);
    } finally {
      await lab.stop();
    }
  });
});

describe("Slack text helpers", () => {
  it("escapes untrusted text so it cannot mention @channel or fake a link", () => {
    expect(escapeSlackText("<!channel> & <https://evil|bank>")).toBe("&lt;!channel&gt; &amp; &lt;https://evil|bank&gt;");
  });

  it("undoes links and entities but keeps mentions", () => {
    expect(slackPlainText("<@U01ALICE> <mailto:a@b.io|a@b.io> <https://x.io/p|docs> <https://y.io> a &amp; b &lt;3")).toBe(
      "<@U01ALICE> a@b.io docs https://y.io a & b <3",
    );
    expect(slackPlainText(escapeSlackText("a < b & c > d"))).toBe("a < b & c > d");
  });
});

describe("SlackApiError", () => {
  it("is one line naming the method and Slack's code", () => {
    const error = new SlackApiError("chat.postMessage", "too_many_attachments", ExitCode.DATA_ERR);
    expect(error.message).toBe("Slack chat.postMessage failed: too_many_attachments");
    expect(error.message).not.toContain("\n");
  });
});
