import { describe, expect, it } from "vitest";
import { Secret } from "../src/secret";
import { slackRequestProblem } from "../src/slack";

// Slack's worked example in "Verifying requests from Slack" (api.slack.com/authentication/verifying-requests-from-slack).
const SECRET = new Secret("8f742231b10e8888abcd99yyyzzz85a5", "test");
const TIMESTAMP = "1531420618";
const BODY = Buffer.from(
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
);
const SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
const NOW = 1531420618_000 + 60_000;

describe("slackRequestProblem", () => {
  it("accepts Slack's own documented example", () => {
    expect(
      slackRequestProblem({ signingSecret: SECRET, timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY, now: NOW }),
    ).toBeUndefined();
  });

  it("refuses a changed body, another secret, a missing or malformed signature, and a replay after 5 minutes", () => {
    const check = { signingSecret: SECRET, timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY, now: NOW };
    expect(slackRequestProblem({ ...check, body: Buffer.concat([BODY, Buffer.from("&x=1")]) })).toMatch(/does not match/);
    expect(slackRequestProblem({ ...check, signingSecret: new Secret("another-secret", "test") })).toMatch(/does not match/);
    expect(slackRequestProblem({ ...check, signature: undefined })).toMatch(/no valid X-Slack-Signature/);
    expect(slackRequestProblem({ ...check, signature: "v0=zz" })).toMatch(/no valid X-Slack-Signature/);
    expect(slackRequestProblem({ ...check, timestamp: undefined })).toMatch(/no X-Slack-Request-Timestamp/);
    expect(slackRequestProblem({ ...check, now: 1531420618_000 + 301_000 })).toMatch(/over 5 minutes/);
  });
});
