import { join } from "node:path";
import { describeError, exitCodeOf, Secret, SlackApiError, SlackClient } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SLACK_SIM_TOKEN, SlackSim } from "../src/index";
import { Contract, contractsDir } from "./contract";

/** The Slack simulator's documented quirks, each seen as a client sees it on the wire. */

const slack = new SlackSim();

async function call(method: string, args: Record<string, unknown>, http: "GET" | "POST" = "POST") {
  const headers: Record<string, string> = { authorization: `Bearer ${SLACK_SIM_TOKEN}` };
  let url = `${slack.apiUrl}/${method}`;
  let body: string | undefined;
  if (http === "GET") url += `?${new URLSearchParams(args as Record<string, string>)}`;
  else {
    headers["content-type"] = "application/json; charset=utf-8";
    body = JSON.stringify(args);
  }
  const response = await fetch(url, { method: http, headers, ...(body ? { body } : {}) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  slack
    .addUser({ id: "U0ALICE001", name: "alice", email: "alice@example.com" })
    .addChannel({ id: "C0PUBLIC01", name: "public" })
    .addChannel({ id: "C0SECRET01", name: "secret", is_private: true, is_member: false })
    .addChannel({ id: "C0OUTSIDE1", name: "outside", is_member: false });
  await slack.start();
});
afterAll(() => slack.stop());

describe("Slack simulator quirks", () => {
  it("chat.postMessage refuses text over 4,000 characters with msg_too_long, HTTP 200, and posts nothing", async () => {
    const before = slack.messages.length;
    const tooLong = await call("chat.postMessage", { channel: "C0PUBLIC01", text: "x".repeat(4_001) });
    expect(tooLong).toMatchObject({ status: 200, body: { ok: false, error: "msg_too_long" } });
    expect(slack.messages.length).toBe(before);
    // Characters count, not UTF-16 units: 4,000 emoji are 4,000 characters.
    const emoji = await call("chat.postMessage", { channel: "C0PUBLIC01", text: "🔥".repeat(4_000) });
    expect(emoji.body.ok).toBe(true);
  });

  it("the text limit can be moved to the documented 40,000 or switched off", async () => {
    try {
      slack.quirks({ maxTextChars: 40_000 });
      expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "x".repeat(40_000) })).body.ok).toBe(true);
      expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "x".repeat(40_001) })).body.error).toBe("msg_too_long");
      slack.quirks({ maxTextChars: 0 });
      expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "x".repeat(50_000) })).body.ok).toBe(true);
    } finally {
      slack.quirks({ maxTextChars: 4_000 });
    }
  });

  it("chat.postMessage refuses more than 50 blocks, an over-long section and blocks that are not JSON", async () => {
    const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
    const fifty = Array.from({ length: 50 }, () => section("hi"));
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "t", blocks: fifty })).body.ok).toBe(true);
    const fiftyOne = [...fifty, section("one more")];
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "t", blocks: fiftyOne })).body.error).toBe("invalid_blocks");
    const long = [section("y".repeat(3_001))];
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "t", blocks: long })).body.error).toBe("invalid_blocks");
    const form = await fetch(`${slack.apiUrl}/chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${SLACK_SIM_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ channel: "C0PUBLIC01", text: "t", blocks: "[{not json" }),
    });
    expect(await form.json()).toEqual({ ok: false, error: "invalid_blocks_format" });
  });

  it("conversations.setTopic stores the topic as sent: no links made of URLs or e-mails", async () => {
    const topic = "On call: alice@example.com | https://wiki.example/oncall & <b>";
    const reply = await call("conversations.setTopic", { channel: "C0PUBLIC01", topic });
    expect(reply.body.ok).toBe(true);
    expect(slack.topic("C0PUBLIC01")).toBe(topic);
    expect((reply.body.channel as { topic: { value: string } }).topic.value).toBe(topic);
    expect((await call("conversations.setTopic", { channel: "C0PUBLIC01", topic: "z".repeat(251) })).body.error).toBe("too_long");
  });

  it("a private channel the bot is not in does not exist for it; a public one it is not in does", async () => {
    const info = await call("conversations.info", { channel: "C0SECRET01" }, "GET");
    expect(info).toMatchObject({ status: 200, body: { ok: false, error: "channel_not_found" } });
    expect((await call("conversations.setTopic", { channel: "C0SECRET01", topic: "x" })).body.error).toBe("channel_not_found");
    expect((await call("chat.postMessage", { channel: "C0SECRET01", text: "x" })).body.error).toBe("channel_not_found");
    expect((await call("conversations.info", { channel: "C0OUTSIDE1" }, "GET")).body.ok).toBe(true);
    expect((await call("chat.postMessage", { channel: "C0OUTSIDE1", text: "x" })).body.error).toBe("not_in_channel");
    try {
      slack.quirks({ privateChannelsHidden: false });
      expect((await call("conversations.info", { channel: "C0SECRET01" }, "GET")).body.ok).toBe(true);
    } finally {
      slack.quirks({ privateChannelsHidden: true });
    }
  });

  it("a rate limit is HTTP 429 with Retry-After and ok:false ratelimited", async () => {
    slack.rateLimit(1, 7, "users.info");
    const limited = await call("users.info", { user: "U0ALICE001" }, "GET");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.body).toEqual({ ok: false, error: "ratelimited" });
    expect((await call("users.info", { user: "U0ALICE001" }, "GET")).body.ok).toBe(true);
  });

  it("a workspace-wide rate limit for a while: 429 with Retry-After counting down to its end, for every channel, then posts go through", async () => {
    slack.rateLimitFor(2_500, "chat.postMessage");
    const before = slack.messages.length;
    const first = await call("chat.postMessage", { channel: "C0PUBLIC01", text: "one" });
    expect(first).toMatchObject({ status: 429, body: { ok: false, error: "ratelimited" } });
    expect(first.headers.get("retry-after")).toBe("3");
    // Per method and workspace (chat.postMessage's workspace-wide limit): a DM is held back as well; other methods are not.
    expect((await call("chat.postMessage", { channel: "U0ALICE001", text: "two" })).status).toBe(429);
    expect((await call("users.info", { user: "U0ALICE001" }, "GET")).body.ok).toBe(true);
    expect(slack.messages.length).toBe(before);
    slack.rateLimitFor(0);
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "three" })).body.ok).toBe(true);
  });

  it("a per-channel rate limit on chat.postMessage: posts to that channel get 429 with Retry-After, posts to another channel go through", async () => {
    slack.rateLimitChannelFor(2_500, "C0PUBLIC01");
    const before = slack.messages.length;
    const limited = await call("chat.postMessage", { channel: "C0PUBLIC01", text: "one" });
    expect(limited).toMatchObject({ status: 429, body: { ok: false, error: "ratelimited" } });
    expect(limited.headers.get("retry-after")).toBe("3");
    expect((await call("chat.postMessage", { channel: "U0ALICE001", text: "two" })).body).toMatchObject({ ok: true });
    expect(slack.messages.slice(before).map((m) => m.text)).toEqual(["two"]);
    slack.rateLimitChannelFor(0, "C0PUBLIC01");
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "three" })).body.ok).toBe(true);
  });

  it("a held answer: the call is carried out and seen at once, answered only when the test lets it go; the next call is not held", async () => {
    const before = slack.callsTo("chat.postMessage").length;
    const release = slack.hold("chat.postMessage");
    let answered = false;
    const held = call("chat.postMessage", { channel: "C0PUBLIC01", text: "held" }).then((r) => {
      answered = true;
      return r;
    });
    try {
      await slack.untilRequest(() => slack.callsTo("chat.postMessage").length > before, "the held post");
      expect(slack.messages.at(-1)?.text).toBe("held");
      // A whole call made after it is answered while the first still waits.
      expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "after" })).body.ok).toBe(true);
      expect(answered).toBe(false);
    } finally {
      release();
    }
    expect((await held).body).toMatchObject({ ok: true, message: { text: "held" } });
  });

  it("API errors are HTTP 200 with ok:false", async () => {
    expect(await call("users.info", { user: "U0NOBODY01" }, "GET")).toMatchObject({
      status: 200,
      body: { ok: false, error: "user_not_found" },
    });
  });
});

describe("core's SlackClient against the simulator's quirks", () => {
  const client = () => new SlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl, retries: 1 });

  it("names msg_too_long and a hidden private channel with a hint, and rides out one 429", async () => {
    const long = await client()
      .postMessage({ channel: "C0PUBLIC01", text: "x".repeat(4_001) })
      .catch((e: unknown) => e);
    expect(long).toBeInstanceOf(SlackApiError);
    expect(describeError(long)).toBe(
      "Slack chat.postMessage failed: msg_too_long (the message text is too long for Slack; keep it under 4,000 characters)",
    );
    expect(exitCodeOf(long)).toBe(65);
    const hidden = await client()
      .conversationInfo("C0SECRET01")
      .catch((e: unknown) => e);
    expect(describeError(hidden)).toMatch(
      /channel_not_found \(check the channel id; a private channel stays invisible until the app is invited\)/,
    );
    slack.rateLimit(1, 0, "users.info");
    expect((await client().userInfo("U0ALICE001")).name).toBe("alice");
  });
});

const dir = contractsDir();

describe("conversations.history and message metadata", () => {
  it("auth.test names the bot (user_id, bot_id) without any scope; history tells the bot's messages from others'", async () => {
    const me = await call("auth.test", {}, "GET");
    expect(me.body).toMatchObject({ ok: true, user_id: slack.botUserId, bot_id: slack.botId });
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "from the bot" });
    slack.postAs({ user: "U0ALICE001" }, "C0PUBLIC01", "from a person");
    const history = await call("conversations.history", { channel: "C0PUBLIC01", limit: "2" }, "GET");
    expect(history.body.messages).toEqual([
      expect.objectContaining({ text: "from a person", user: "U0ALICE001" }),
      expect.objectContaining({ text: "from the bot", user: slack.botUserId, bot_id: slack.botId }),
    ]);
    expect((history.body.messages as Array<Record<string, unknown>>)[0]?.bot_id).toBeUndefined();
  });

  it("lists a channel newest first, pages with a cursor, and shows metadata only when asked", async () => {
    const meta = { event_type: "deputize_handoff", event_payload: { set: "abc" } };
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "first", metadata: meta });
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "second" });
    const first = await call("conversations.history", { channel: "C0PUBLIC01", limit: "1" }, "GET");
    expect(first.body).toMatchObject({ ok: true, has_more: true, messages: [{ text: "second" }] });
    const cursor = (first.body.response_metadata as { next_cursor: string }).next_cursor;
    const next = await call("conversations.history", { channel: "C0PUBLIC01", limit: "1", cursor, include_all_metadata: "true" }, "GET");
    expect(next.body.messages).toEqual([expect.objectContaining({ text: "first", metadata: meta })]);
    const plain = await call("conversations.history", { channel: "C0PUBLIC01", limit: "1", cursor }, "GET");
    expect((plain.body.messages as Array<Record<string, unknown>>)[0]?.metadata).toBeUndefined();
    expect((await call("conversations.history", { channel: "C0OUTSIDE1" }, "GET")).body).toEqual({ ok: false, error: "not_in_channel" });
    expect((await call("chat.postMessage", { channel: "C0PUBLIC01", text: "x", metadata: { event_type: "t" } })).body).toMatchObject({
      error: "invalid_metadata_schema",
    });
  });
});

describe.skipIf(!dir)("Slack simulator against Slack's Web API OpenAPI description", () => {
  const contract = dir ? slackContract(dir) : undefined;

  it("every answer given in this file is one the contract (with the live docs' additions) allows", async () => {
    await call("users.lookupByEmail", { email: "alice@example.com" }, "GET");
    await call("users.lookupByEmail", { email: "nobody@example.com" }, "GET");
    await call("conversations.info", { channel: "C0PUBLIC01" }, "GET");
    await call("usergroups.users.list", { usergroup: "S0NONE" }, "GET");
    await call("chat.postMessage", { channel: "U0ALICE001", text: "hello" });
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "one", metadata: { event_type: "t", event_payload: { n: 1 } } });
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "two" });
    await call("chat.postMessage", { channel: "C0PUBLIC01", text: "bad", metadata: "{not json" });
    await call("conversations.history", { channel: "C0PUBLIC01", limit: "1", include_all_metadata: "true" }, "GET");
    await call("conversations.history", { channel: "C0OUTSIDE1" }, "GET");
    await call("auth.test", {}, "GET");
    slack.postAs({ user: "U0ALICE001" }, "C0PUBLIC01", "a person's message", { event_type: "t", event_payload: { n: 2 } });
    await call("conversations.history", { channel: "C0PUBLIC01", limit: "2", include_all_metadata: "true" }, "GET");
    const answered = slack.requests.filter((r) => r.path.startsWith("/api/"));
    expect(answered.length).toBeGreaterThan(20);
    const problems = answered.flatMap(
      (r) => contract?.check(r.method === "GET" ? "GET" : "POST", r.path, r.status, r.response) ?? ["no contract"],
    );
    expect(problems).toEqual([]);
  });

  it("the check fails on answers the contract forbids", () => {
    const postOk = {
      ok: true,
      channel: "C0PUBLIC01",
      ts: "1700000000.000001",
      message: { type: "message", text: "x", ts: "1700000000.000001", user: "U0BOT0001" },
    };
    expect(contract?.check("POST", "/api/chat.postMessage", 200, postOk)).toEqual([]);
    expect(contract?.check("POST", "/api/chat.postMessage", 200, { ...postOk, ts: 1.5 }).join("\n")).toMatch(/ts must be string/);
    expect(contract?.check("POST", "/api/chat.postMessage", 200, { ...postOk, delivered: true }).join("\n")).toMatch(
      /additional properties/,
    );
    expect(contract?.check("POST", "/api/chat.postMessage", 200, { ok: false, error: "message_too_long" }).join("\n")).toMatch(
      /allowed values/,
    );
    expect(contract?.check("GET", "/api/conversations.info", 200, { ok: false })).not.toEqual([]);
  });
});

/**
 * Slack's OpenAPI v2 description is from 2021 (archived); where the live method docs list more,
 * they win. Each addition below names the page that documents it.
 */
function slackContract(contracts: string): Contract {
  const contract = new Contract(join(contracts, "slack", "web-openapi-v2.json"), {
    style: "swagger2",
    basePath: "/api",
    // Slack answers errors with HTTP 200 and ok:false ("default" in the spec); 429s carry the same body.
    responseKey: (_status, body) => ((body as { ok?: unknown } | undefined)?.ok === true ? "200" : "default"),
  });
  const moreErrors: Record<string, { doc: string; errors: string[] }> = {
    // https://docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with {"ok":false,"error":"ratelimited"} on every method.
    "*": { doc: "rate-limits", errors: ["ratelimited", "invalid_arguments", "service_unavailable", "fatal_error", "internal_error"] },
    // https://docs.slack.dev/reference/methods/chat.postMessage (errors table)
    "/chat.postMessage": {
      doc: "chat.postMessage",
      errors: [
        "invalid_blocks",
        "invalid_blocks_format",
        "user_disabled",
        "missing_scope",
        "invalid_metadata_format",
        "invalid_metadata_schema",
      ],
    },
    // https://docs.slack.dev/reference/methods/conversations.history (errors table)
    "/conversations.history": { doc: "conversations.history", errors: ["not_in_channel"] },
    // https://docs.slack.dev/reference/methods/usergroups.users.list and usergroups.users.update (errors tables)
    "/usergroups.users.list": { doc: "usergroups.users.list", errors: ["no_such_subteam", "missing_scope"] },
    "/usergroups.users.update": {
      doc: "usergroups.users.update",
      errors: ["no_such_subteam", "invalid_users", "no_users_provided", "missing_scope"],
    },
    // https://docs.slack.dev/reference/methods/users.info and users.lookupByEmail (errors tables)
    "/users.info": { doc: "users.info", errors: ["missing_scope"] },
    "/users.lookupByEmail": { doc: "users.lookupByEmail", errors: ["missing_scope"] },
  };
  const definitions = contract.spec.definitions as Record<string, { properties: Record<string, unknown> }>;
  // https://docs.slack.dev/messaging/message-metadata: messages carry `metadata` (event_type, event_payload)
  // when asked for with include_all_metadata (2022, after the spec).
  if (definitions.objs_message) {
    definitions.objs_message.properties.metadata = {
      type: "object",
      required: ["event_type", "event_payload"],
      properties: { event_type: { type: "string" }, event_payload: { type: "object" } },
    };
  }
  const history = (
    contract.spec.paths as Record<string, Record<string, { responses: Record<string, { schema: Record<string, unknown> }> }>>
  )["/conversations.history"]?.get?.responses["200"]?.schema;
  if (history) {
    const props = history.properties as Record<string, Record<string, unknown>>;
    // https://docs.slack.dev/reference/methods/conversations.history: cursor paging through
    // response_metadata.next_cursor; an empty channel or page answers messages: [].
    props.response_metadata = { type: "object", properties: { next_cursor: { type: "string" } } };
    if (props.messages) delete props.messages.minItems;
  }
  const paths = contract.spec.paths as Record<string, Record<string, { responses: { default: { schema: SlackErrorSchema } } }>>;
  for (const [path, methods] of Object.entries(paths)) {
    for (const operation of Object.values(methods)) {
      const schema = operation.responses?.default?.schema;
      if (!schema?.properties?.error?.enum) continue;
      const extra = [...(moreErrors["*"]?.errors ?? []), ...(moreErrors[path]?.errors ?? [])];
      schema.properties.error.enum = [...new Set([...schema.properties.error.enum, ...extra])];
      // missing_scope answers carry needed/provided (https://docs.slack.dev/authentication/tokens#scopes).
      schema.properties.needed ??= { type: "string" };
      schema.properties.provided ??= { type: "string" };
    }
  }
  return contract;
}

interface SlackErrorSchema {
  properties?: { error?: { enum?: string[] }; needed?: unknown; provided?: unknown };
}
