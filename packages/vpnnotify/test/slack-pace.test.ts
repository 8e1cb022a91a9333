import { Secret } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacedSlackClient } from "../src/slack-pace";

/** The worker's Slack client against the simulator: Slack's documented pace, and 429s waited out. */

const slack = new SlackSim();
let client: PacedSlackClient;

beforeAll(async () => {
  slack.addChannel({ id: "C0SECURITY", name: "security-alerts" });
  for (const id of ["U0A", "U0B", "U0C"]) slack.addUser({ id, name: id.toLowerCase() });
  await slack.start();
  client = new PacedSlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl, timeoutMs: 5_000, maxWaitMs: 10_000 });
});
afterAll(() => slack.stop());

/** When each message reached the simulator, in ms from `start`. */
async function postAll(channels: string[]): Promise<number[]> {
  const start = Date.now();
  return Promise.all(channels.map((channel, i) => client.postMessage({ channel, text: `m${i}` }).then(() => Date.now() - start)));
}

describe("PacedSlackClient", () => {
  it("posts to one channel at most once a second, to different channels at once", async () => {
    // The third post to one channel may not leave before two one-second slots have passed.
    const same = await postAll(["C0SECURITY", "C0SECURITY", "C0SECURITY"]);
    expect(Math.max(...same)).toBeGreaterThanOrEqual(2_000);
    const spread = await postAll(["U0A", "U0B", "U0C"]);
    // No pacing between channels: paced, the third would wait two one-second slots.
    expect(Math.max(...spread)).toBeLessThan(1_900);
  });

  it("a 429 on every channel (the limit workspace-wide) holds each post back for Retry-After, then each goes out once", async () => {
    const before = slack.messages.length;
    slack.rateLimitFor(1_500, "chat.postMessage");
    const times = await postAll(["U0A", "U0B", "U0C"]);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(1_400);
    expect(slack.messages.length - before).toBe(3);
    // Each waited once instead of hammering Slack while limited.
    expect(slack.callsTo("chat.postMessage").filter((r) => r.status === 429).length).toBeLessThanOrEqual(3);
  });

  it("a Retry-After past maxWaitMs fails the post as rate limited (the alert stays spooled)", async () => {
    const impatient = new PacedSlackClient({ token: new Secret(SLACK_SIM_TOKEN, "test"), baseUrl: slack.apiUrl, maxWaitMs: 1_000 });
    slack.rateLimitFor(5_000, "chat.postMessage");
    await expect(impatient.postMessage({ channel: "U0A", text: "x" })).rejects.toThrow(/ratelimited/);
    slack.up();
  });
});
