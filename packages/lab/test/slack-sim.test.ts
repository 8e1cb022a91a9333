import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SLACK_SIM_TOKEN, SlackSim } from "../src/index";

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
    .addUser({ id: "U0ALICE", name: "alice", email: "alice@example.com" })
    .addChannel({ id: "C0PUBLIC", name: "public" })
    .addChannel({ id: "C0SECRET", name: "secret", is_private: true, is_member: false })
    .addChannel({ id: "C0OUTSIDE", name: "outside", is_member: false });
  await slack.start();
});
afterAll(() => slack.stop());

describe("Slack simulator quirks", () => {
  it("chat.postMessage refuses text over 4,000 characters with msg_too_long, HTTP 200, and posts nothing", async () => {
    const before = slack.messages.length;
    const tooLong = await call("chat.postMessage", { channel: "C0PUBLIC", text: "x".repeat(4_001) });
    expect(tooLong).toMatchObject({ status: 200, body: { ok: false, error: "msg_too_long" } });
    expect(slack.messages.length).toBe(before);
    // Characters count, not UTF-16 units: 4,000 emoji are 4,000 characters.
    const emoji = await call("chat.postMessage", { channel: "C0PUBLIC", text: "🔥".repeat(4_000) });
    expect(emoji.body.ok).toBe(true);
  });

  it("the text limit can be moved to the documented 40,000 or switched off", async () => {
    try {
      slack.quirks({ maxTextChars: 40_000 });
      expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "x".repeat(40_000) })).body.ok).toBe(true);
      expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "x".repeat(40_001) })).body.error).toBe("msg_too_long");
      slack.quirks({ maxTextChars: 0 });
      expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "x".repeat(50_000) })).body.ok).toBe(true);
    } finally {
      slack.quirks({ maxTextChars: 4_000 });
    }
  });

  it("chat.postMessage refuses more than 50 blocks, an over-long section and blocks that are not JSON", async () => {
    const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
    const fifty = Array.from({ length: 50 }, () => section("hi"));
    expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "t", blocks: fifty })).body.ok).toBe(true);
    const fiftyOne = [...fifty, section("one more")];
    expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "t", blocks: fiftyOne })).body.error).toBe("invalid_blocks");
    const long = [section("y".repeat(3_001))];
    expect((await call("chat.postMessage", { channel: "C0PUBLIC", text: "t", blocks: long })).body.error).toBe("invalid_blocks");
    const form = await fetch(`${slack.apiUrl}/chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${SLACK_SIM_TOKEN}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ channel: "C0PUBLIC", text: "t", blocks: "[{not json" }),
    });
    expect(await form.json()).toEqual({ ok: false, error: "invalid_blocks_format" });
  });

  it("conversations.setTopic stores the topic as sent: no links made of URLs or e-mails", async () => {
    const topic = "On call: alice@example.com | https://wiki.example/oncall & <b>";
    const reply = await call("conversations.setTopic", { channel: "C0PUBLIC", topic });
    expect(reply.body.ok).toBe(true);
    expect(slack.topic("C0PUBLIC")).toBe(topic);
    expect((reply.body.channel as { topic: { value: string } }).topic.value).toBe(topic);
    expect((await call("conversations.setTopic", { channel: "C0PUBLIC", topic: "z".repeat(251) })).body.error).toBe("too_long");
  });

  it("a private channel the bot is not in does not exist for it; a public one it is not in does", async () => {
    const info = await call("conversations.info", { channel: "C0SECRET" }, "GET");
    expect(info).toMatchObject({ status: 200, body: { ok: false, error: "channel_not_found" } });
    expect((await call("conversations.setTopic", { channel: "C0SECRET", topic: "x" })).body.error).toBe("channel_not_found");
    expect((await call("chat.postMessage", { channel: "C0SECRET", text: "x" })).body.error).toBe("channel_not_found");
    expect((await call("conversations.info", { channel: "C0OUTSIDE" }, "GET")).body.ok).toBe(true);
    expect((await call("chat.postMessage", { channel: "C0OUTSIDE", text: "x" })).body.error).toBe("not_in_channel");
    try {
      slack.quirks({ privateChannelsHidden: false });
      expect((await call("conversations.info", { channel: "C0SECRET" }, "GET")).body.ok).toBe(true);
    } finally {
      slack.quirks({ privateChannelsHidden: true });
    }
  });

  it("a rate limit is HTTP 429 with Retry-After and ok:false ratelimited", async () => {
    slack.rateLimit(1, 7, "users.info");
    const limited = await call("users.info", { user: "U0ALICE" }, "GET");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.body).toEqual({ ok: false, error: "ratelimited" });
    expect((await call("users.info", { user: "U0ALICE" }, "GET")).body.ok).toBe(true);
  });

  it("API errors are HTTP 200 with ok:false", async () => {
    expect(await call("users.info", { user: "U0NOBODY" }, "GET")).toMatchObject({
      status: 200,
      body: { ok: false, error: "user_not_found" },
    });
  });
});
