import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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

beforeAll(async () => {
  slack.addUser({ id: "U0A", name: "a" });
  slack.addUser({ id: "U0B", name: "b" });
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

function setup(): { health: SlackHealth; client: PacedSlackClient; verdicts: Verdicts } {
  const health = new SlackHealth(60_000);
  const client = new PacedSlackClient({
    token: new Secret(SLACK_SIM_TOKEN, "test"),
    baseUrl: slack.apiUrl,
    timeoutMs: 5_000,
    maxWaitMs: 0,
    health,
  });
  const stream = { write: (line: string) => lines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  return { health, client, verdicts: new Verdicts(new Logger({ tool: "vpnnotify", level: "info", stream }), health) };
}

/** A login waiting on its answer; `by` its deadline. */
function login(verdicts: Verdicts, by: number): { answered: Promise<string>; file: string } {
  const file = join(dir, `deferred-${++n}`);
  return { answered: verdicts.watch(`id-${n}`, { file, by }, { user: `user${n}`, ip: "81.2.69.142" }), file };
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
});
